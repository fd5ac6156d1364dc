"""Encoders (MLP, Nature DQN CNN, MinAtar's CNN), the Q network built on them, plain or
dueling (Wang et al. 2016: the last hidden layer split into a value and an advantage stream),
the layer factory every fully connected layer comes from (plain or noisy, Fortunato et al.
2018), and the weight initialisations.

A network's output layer gives each action as many numbers as its head reads
(rlkit.agents.heads: one Q value, C51's atoms, QR-DQN's quantiles); the head shapes them and
turns them into Q values.

Initialisation `default` keeps PyTorch's defaults for linear and convolutional layers
(Kaiming-uniform with a = √5, i.e. weights and biases uniform in ±1/√fan_in), with which SB3 and
CleanRL report their DQN results. The others set every weight and zero every bias. The head's
biases always start at zero, so initial Q values are centred on zero. Noisy layers keep their
own initialisation (Fortunato et al. 2018, factorised: μ uniform in ±1/√fan_in, σ = σ0/√fan_in)
under every scheme, their output layer's bias μ zeroed too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rlkit.agents.heads import Head, QHead


class OneHot(nn.Module):
    """Discrete states (int64) → one-hot float vectors."""

    def __init__(self, num_states: int):
        super().__init__()
        self.num_states = num_states

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(states.long(), self.num_states).float()


class NoisyLinear(nn.Module):
    """A linear layer with factorised Gaussian noise on its weights (Fortunato et al. 2018,
    "Noisy Networks for Exploration", §3.2): y = (μ_w + σ_w ⊙ f(ε_out) f(ε_in)ᵀ) x + μ_b + σ_b ⊙
    f(ε_out), with f(x) = sgn(x) √|x| and ε drawn anew by `resample`. μ starts uniform in
    ±1/√fan_in and σ at σ0/√fan_in. With `noisy` off it is the linear layer of the means (what
    evaluation uses). The noise lives in buffers that checkpoints do not keep: it is drawn again
    from the agent's saved generator before every use."""

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_sigma = nn.Parameter(torch.empty(out_features, in_features))
        self.bias_mu = nn.Parameter(torch.empty(out_features))
        self.bias_sigma = nn.Parameter(torch.empty(out_features))
        self.register_buffer("noise_in", torch.zeros(in_features), persistent=False)
        self.register_buffer("noise_out", torch.zeros(out_features), persistent=False)
        self.noisy = True
        bound = 1.0 / math.sqrt(in_features)
        with torch.no_grad():
            self.weight_mu.uniform_(-bound, bound)
            self.bias_mu.uniform_(-bound, bound)
            self.weight_sigma.fill_(sigma0 * bound)
            self.bias_sigma.fill_(sigma0 * bound)

    @staticmethod
    def _scaled(noise: torch.Tensor) -> torch.Tensor:
        return noise.sign() * noise.abs().sqrt()

    def resample(self, generator: torch.Generator) -> None:
        """Draw ε_in and ε_out anew from `generator` (on the layer's device)."""
        device = self.noise_in.device
        self.noise_in.copy_(self._scaled(torch.randn(self.in_features, generator=generator, device=device)))
        self.noise_out.copy_(self._scaled(torch.randn(self.out_features, generator=generator, device=device)))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.noisy:
            return F.linear(inputs, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.noise_out, self.noise_in)
        return F.linear(inputs, weight, self.bias_mu + self.bias_sigma * self.noise_out)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


@dataclass(frozen=True)
class Layers:
    """The factory every fully connected layer of a Q network comes from: plain linear layers,
    or noisy ones (`noisy`, initial σ0 `sigma0`), optionally followed by LayerNorm in the hidden
    layers (`layer_norm`: Linear → LayerNorm → ReLU, as Ba et al. 2016 place it before the
    nonlinearity). Convolutions are never noisy."""

    noisy: bool = False
    sigma0: float = 0.5
    layer_norm: bool = False

    def linear(self, in_features: int, out_features: int) -> nn.Module:
        """One fully connected layer, noisy or plain."""
        if self.noisy:
            return NoisyLinear(in_features, out_features, self.sigma0)
        return nn.Linear(in_features, out_features)

    def hidden(self, in_features: int, out_features: int) -> list[nn.Module]:
        """A hidden layer: linear, LayerNorm if asked, ReLU."""
        norm = [nn.LayerNorm(out_features)] if self.layer_norm else []
        return [self.linear(in_features, out_features), *norm, nn.ReLU()]


PLAIN = Layers()


def noisy_layers(network: nn.Module) -> list[NoisyLinear]:
    """The noisy layers of a network, in module order."""
    return [module for module in network.modules() if isinstance(module, NoisyLinear)]


class Noise:
    """The noise of a network's noisy layers, drawn for all of them at once: their ε_in and
    ε_out become views into one buffer, so a fresh draw is a few tensor operations however many
    layers there are (a noisy layer's own `resample` draws for it alone). Made once the network
    is on its device; `on` switches every layer between noise and its means."""

    def __init__(self, network: nn.Module):
        self.layers = noisy_layers(network)
        sizes = [size for layer in self.layers for size in (layer.in_features, layer.out_features)]
        device = self.layers[0].weight_mu.device if self.layers else None
        self.buffer = torch.zeros(sum(sizes), device=device)
        views = self.buffer.split(sizes)
        for index, layer in enumerate(self.layers):
            layer.noise_in, layer.noise_out = views[2 * index], views[2 * index + 1]

    def __bool__(self) -> bool:
        return bool(self.layers)

    @torch.no_grad()
    def resample(self, generator: torch.Generator) -> None:
        """Fresh factorised noise for every layer: f(ε) = sgn(ε) √|ε| of standard normal ε."""
        self.buffer.normal_(generator=generator)
        self.buffer.copy_(self.buffer.sign() * self.buffer.abs().sqrt())

    def on(self, noisy: bool) -> None:
        for layer in self.layers:
            layer.noisy = noisy


def mlp(input_size: int, hidden_sizes: Sequence[int], layers: Layers = PLAIN) -> nn.Sequential:
    """Hidden layers of the given sizes (linear + ReLU, from the factory)."""
    modules: list[nn.Module] = []
    for size in hidden_sizes:
        modules += layers.hidden(input_size, size)
        input_size = size
    return nn.Sequential(*modules)


def fully_connected(
    convolutions: nn.Module, observation_shape: Sequence[int], features: int | None, layers: Layers = PLAIN
) -> tuple[nn.Module, int]:
    """The layer after a CNN's convolutions: a hidden layer of `features` units on their
    flattened output (nothing if None), and the width that comes out."""
    with torch.no_grad():
        flat_size = convolutions(torch.zeros(1, *observation_shape)).shape[1]
    if features is None:
        return nn.Identity(), flat_size
    return nn.Sequential(*layers.hidden(flat_size, features)), features


NATURE_FEATURES = 512  # units of the Nature CNN's fully connected layer


class NatureCNN(nn.Module):
    """The convolutional torso of Mnih et al. 2015: 32×8×8/4, 64×4×4/2, 64×3×3/1, then a
    fully connected layer of `features` units (none if None: the flattened convolutions).
    Takes uint8 frames (C×H×W) and scales them to [0, 1] itself."""

    def __init__(
        self, observation_shape: Sequence[int], features: int | None = NATURE_FEATURES, layers: Layers = PLAIN
    ):
        super().__init__()
        channels = observation_shape[0]
        self.convolutions = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.linear, self.output_size = fully_connected(self.convolutions, observation_shape, features, layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convolutions(frames.float() / 255.0))


MINATAR_FEATURES = 128  # units of the MinAtar network's fully connected layer


class MinAtarCNN(nn.Module):
    """The network of Young & Tian 2019 (MinAtar's examples/dqn.py): one convolution of 16
    filters, 3×3, stride 1, no padding, then a fully connected layer of `features` units (none
    if None: the flattened convolution; 16·8·8 = 1024 on a 10×10 grid). Takes binary planes
    (C×H×W uint8 of 0 and 1) as they are."""

    def __init__(
        self, observation_shape: Sequence[int], features: int | None = MINATAR_FEATURES, layers: Layers = PLAIN
    ):
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv2d(observation_shape[0], 16, kernel_size=3, stride=1), nn.ReLU(), nn.Flatten()
        )
        self.linear, self.output_size = fully_connected(self.convolutions, observation_shape, features, layers)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convolutions(planes.float()))


# convolutional encoders: name → (class, the observation kind it reads, units of its fully connected layer)
CNNS: dict[str, tuple[type[nn.Module], str, int]] = {
    "nature_cnn": (NatureCNN, "pixel", NATURE_FEATURES),
    "minatar_cnn": (MinAtarCNN, "grid", MINATAR_FEATURES),
}
AUTO_ENCODERS = {"pixel": "nature_cnn", "grid": "minatar_cnn"}  # other kinds: mlp


class QNetwork(nn.Module):
    """An encoder, then an output layer (`head`: actions × readout.outputs numbers), read by a
    head (`readout`, rlkit.agents.heads): one Q value per action by default, a distribution per
    action for C51 and QR-DQN. `forward` gives the shaped output the loss reads; `q_values`
    what acting maximises."""

    def __init__(self, encoder: nn.Module, head: nn.Module, readout: Head | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.readout = readout if readout is not None else QHead()

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.readout.shape(self.head(self.encoder(observations)))

    def q_values(self, observations: torch.Tensor) -> torch.Tensor:
        return self.readout.q_values(self(observations))

    def heads(self) -> list[nn.Module]:
        """The output layer, which initialisation treats apart."""
        return [self.head]


class _ScaleGradient(torch.autograd.Function):
    """Identity forward; the backward multiplies the incoming gradient by `scale`."""

    @staticmethod
    def forward(ctx: Any, inputs: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_output * ctx.scale, None


def scale_gradient(inputs: torch.Tensor, scale: float) -> torch.Tensor:
    """`inputs` unchanged, with the gradient flowing back through them multiplied by `scale`
    (with no gradient to scale, the identity itself: what tracing and export see)."""
    if not torch.is_grad_enabled():
        return inputs
    return _ScaleGradient.apply(inputs, scale)


def stream(input_size: int, hidden_sizes: Sequence[int], output_size: int, layers: Layers = PLAIN) -> nn.Sequential:
    """Hidden layers, then an output layer, in one flat Sequential (its output layer is the
    last module)."""
    hidden = mlp(input_size, hidden_sizes, layers)
    return nn.Sequential(*hidden, layers.linear(hidden_sizes[-1] if hidden_sizes else input_size, output_size))


class DuelingQNetwork(nn.Module):
    """The dueling architecture of Wang et al. 2016: a shared trunk, then a value stream V(s)
    and an advantage stream A(s, a), each with its own hidden layer, combined as
    Q(s, a) = V(s) + A(s, a) − mean_a' A(s, a') (eq. 9): the mean-subtracted advantage makes V
    and A identifiable.

    It wraps whatever head it is given: each stream outputs that head's numbers (one value, or
    a distribution's atoms or quantiles) for one "action" (V) or for every action (A), and the
    combination is taken number by number before the head reads it, as Rainbow combines C51's
    logits (Hessel et al. 2018, eq. 3 applied to logits).

    The split comes after the last shared layer. Of the plain network's hidden layers (the
    Nature CNN's 512-unit layer, then net_arch), the trunk keeps all but the last, and each
    stream gets its own copy of the last, then its output layer (1 unit for V, one per action
    for A). So with the Nature CNN and net_arch [] the trunk is the convolutions and each
    stream is Linear(flat, 512) + ReLU + Linear(512, 1 or A), as in the paper; with net_arch
    [256] on the CNN the trunk also holds the 512-unit layer and each stream starts with
    Linear(512, 256) + ReLU. An MLP with net_arch [256, 256] shares Linear 256 + ReLU, and each
    stream is Linear(256, 256) + ReLU + its output layer. An MLP with net_arch [] has no hidden
    layer to split: each stream is one linear layer on the (flattened or one-hot) input.

    The gradient that both streams send into the trunk is multiplied by `trunk_gradient_scale`
    (1/√2, Wang et al. §4.2) on its way in; the forward pass is unchanged.
    """

    def __init__(
        self,
        encoder: nn.Module,
        encoder_size: int,
        stream_hidden_sizes: Sequence[int],
        num_actions: int,
        trunk_gradient_scale: float = 2**-0.5,
        readout: Head | None = None,
        layers: Layers = PLAIN,
    ):
        super().__init__()
        self.encoder = encoder
        self.readout = readout if readout is not None else QHead()
        outputs = self.readout.outputs
        self.value = stream(encoder_size, stream_hidden_sizes, outputs, layers)
        self.advantage = stream(encoder_size, stream_hidden_sizes, num_actions * outputs, layers)
        self.trunk_gradient_scale = trunk_gradient_scale

    def q_values(self, observations: torch.Tensor) -> torch.Tensor:
        return self.readout.q_values(self(observations))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        features = scale_gradient(self.encoder(observations), self.trunk_gradient_scale)
        advantages = self.readout.shape(self.advantage(features))
        values = self.readout.shape(self.value(features))
        return values + advantages - advantages.mean(dim=1, keepdim=True)

    def heads(self) -> list[nn.Module]:
        return [self.value[-1], self.advantage[-1]]


def initialize(network: QNetwork | DuelingQNetwork, scheme: str) -> None:
    """Set the weights of every linear and convolutional layer by `scheme` (default keeps
    PyTorch's; noisy layers keep their own), then zero the biases (μ) of the head(s)."""
    heads = network.heads()
    if scheme != "default":
        for module in network.modules():
            if not isinstance(module, (nn.Linear, nn.Conv2d)):
                continue
            is_head = any(module is head for head in heads)
            if scheme == "kaiming":
                nn.init.kaiming_normal_(module.weight, nonlinearity="linear" if is_head else "relu")
            elif scheme == "xavier":
                nn.init.xavier_uniform_(module.weight, gain=1.0 if is_head else nn.init.calculate_gain("relu"))
            elif scheme == "orthogonal":
                nn.init.orthogonal_(module.weight, gain=1.0 if is_head else nn.init.calculate_gain("relu"))
            else:
                raise ValueError(f"unknown init {scheme!r}; valid: default, kaiming, xavier, orthogonal")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for head in heads:
        bias = head.bias_mu if isinstance(head, NoisyLinear) else head.bias
        if bias is not None:
            nn.init.zeros_(bias)


def encoder_hidden_sizes(encoder: str, kind: str, net_arch: Sequence[int]) -> tuple[str, list[int]]:
    """The encoder `auto` means for an observation kind, and its hidden sizes: a CNN's fully
    connected layer first, then net_arch."""
    if encoder == "auto":
        encoder = AUTO_ENCODERS.get(kind, "mlp")
    return encoder, [CNNS[encoder][2], *net_arch] if encoder in CNNS else list(net_arch)


def torso(
    kind: str,
    encoder: str,
    observation_shape: Sequence[int],
    hidden_sizes: Sequence[int],
    num_states: int | None,
    layers: Layers = PLAIN,
) -> tuple[nn.Module, int]:
    """The encoder with the given hidden layers (from the `layers` factory), and its output
    size. For a CNN the first hidden size is its fully connected layer (no hidden sizes: the
    convolutions alone)."""
    if kind == "grid" and encoder != "minatar_cnn":
        reads = (
            "84×84 Atari frames (pixel observations)" if encoder == "nature_cnn" else "vector or discrete observations"
        )
        raise ValueError(
            f"the {encoder} encoder reads {reads}; this env gives grid observations {list(observation_shape)} "
            f"(MinAtar's binary planes): set agent.encoder = 'auto', which picks MinAtar's network (one 3×3 "
            f"convolution of 16 filters, {MINATAR_FEATURES} units)"
        )
    if encoder in CNNS:
        cnn, cnn_kind, _ = CNNS[encoder]
        if kind != cnn_kind:
            needs = "pixel observations (C×H×W uint8)" if cnn_kind == "pixel" else "grid observations (binary planes)"
            raise ValueError(f"the {encoder} encoder needs {needs}, got {kind}")
        body: nn.Module = cnn(observation_shape, hidden_sizes[0] if hidden_sizes else None, layers)
        size = body.output_size
        if len(hidden_sizes) > 1:
            body = nn.Sequential(body, mlp(size, hidden_sizes[1:], layers))
            size = hidden_sizes[-1]
    elif kind == "discrete":
        body = nn.Sequential(OneHot(num_states), mlp(num_states, hidden_sizes, layers))
        size = hidden_sizes[-1] if hidden_sizes else num_states
    elif kind == "vector":
        input_size = math.prod(observation_shape)
        body = nn.Sequential(nn.Flatten(), mlp(input_size, hidden_sizes, layers))
        size = hidden_sizes[-1] if hidden_sizes else input_size
    else:
        raise ValueError(f"the mlp encoder needs vector or discrete observations, got {kind}")
    return body, size


def build_q_network(
    kind: str,
    observation_shape: Sequence[int],
    num_actions: int,
    net_arch: Sequence[int],
    encoder: str = "auto",
    num_states: int | None = None,
    dueling: bool = False,
    dueling_hidden: bool = True,
    init: str = "default",
    readout: Head | None = None,
    layers: Layers = PLAIN,
) -> QNetwork | DuelingQNetwork:
    """The Q network for an observation kind: Nature CNN for pixels, MinAtar's CNN for grids,
    MLP for vectors, one-hot + MLP for discrete states. `encoder` overrides the choice ('mlp',
    'nature_cnn' or 'minatar_cnn'). `readout` is the head its outputs are shaped for (one Q
    value per action if None); `layers` the factory of its fully connected layers. Dueling
    splits the last hidden layer into the two streams (see DuelingQNetwork); with
    `dueling_hidden` false the trunk keeps every hidden layer and each stream is one linear
    layer on it, as Revisiting Rainbow's dueling head (Obando-Ceron & Castro 2021) is built."""
    readout = readout if readout is not None else QHead()
    encoder, hidden_sizes = encoder_hidden_sizes(encoder, kind, net_arch)
    if dueling:
        split = len(hidden_sizes) - 1 if dueling_hidden else len(hidden_sizes)
        trunk, size = torso(kind, encoder, observation_shape, hidden_sizes[:split], num_states, layers)
        network: QNetwork | DuelingQNetwork = DuelingQNetwork(
            trunk, size, hidden_sizes[split:], num_actions, readout=readout, layers=layers
        )
    else:
        body, size = torso(kind, encoder, observation_shape, hidden_sizes, num_states, layers)
        network = QNetwork(body, layers.linear(size, num_actions * readout.outputs), readout)
    initialize(network, init)
    return network
