"""Encoders (MLP, Nature DQN CNN, MinAtar's CNN), the Q network built on them, plain or
dueling (Wang et al. 2016: the last hidden layer split into a value and an advantage stream),
and the weight initialisations.

Initialisation `default` keeps PyTorch's defaults for linear and convolutional layers
(Kaiming-uniform with a = √5, i.e. weights and biases uniform in ±1/√fan_in), with which SB3 and
CleanRL report their DQN results. The others set every weight and zero every bias. The head's
biases always start at zero, so initial Q values are centred on zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class OneHot(nn.Module):
    """Discrete states (int64) → one-hot float vectors."""

    def __init__(self, num_states: int):
        super().__init__()
        self.num_states = num_states

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(states.long(), self.num_states).float()


def mlp(input_size: int, hidden_sizes: Sequence[int]) -> nn.Sequential:
    """Linear + ReLU layers of the given sizes."""
    layers: list[nn.Module] = []
    for size in hidden_sizes:
        layers += [nn.Linear(input_size, size), nn.ReLU()]
        input_size = size
    return nn.Sequential(*layers)


def fully_connected(
    convolutions: nn.Module, observation_shape: Sequence[int], features: int | None
) -> tuple[nn.Module, int]:
    """The layer after a CNN's convolutions: Linear + ReLU of `features` units on their flattened
    output (nothing if None), and the width that comes out."""
    with torch.no_grad():
        flat_size = convolutions(torch.zeros(1, *observation_shape)).shape[1]
    if features is None:
        return nn.Identity(), flat_size
    return nn.Sequential(nn.Linear(flat_size, features), nn.ReLU()), features


NATURE_FEATURES = 512  # units of the Nature CNN's fully connected layer


class NatureCNN(nn.Module):
    """The convolutional torso of Mnih et al. 2015: 32×8×8/4, 64×4×4/2, 64×3×3/1, then a
    fully connected layer of `features` units (none if None: the flattened convolutions).
    Takes uint8 frames (C×H×W) and scales them to [0, 1] itself."""

    def __init__(self, observation_shape: Sequence[int], features: int | None = NATURE_FEATURES):
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
        self.linear, self.output_size = fully_connected(self.convolutions, observation_shape, features)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convolutions(frames.float() / 255.0))


MINATAR_FEATURES = 128  # units of the MinAtar network's fully connected layer


class MinAtarCNN(nn.Module):
    """The network of Young & Tian 2019 (MinAtar's examples/dqn.py): one convolution of 16
    filters, 3×3, stride 1, no padding, then a fully connected layer of `features` units (none
    if None: the flattened convolution; 16·8·8 = 1024 on a 10×10 grid). Takes binary planes
    (C×H×W uint8 of 0 and 1) as they are."""

    def __init__(self, observation_shape: Sequence[int], features: int | None = MINATAR_FEATURES):
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv2d(observation_shape[0], 16, kernel_size=3, stride=1), nn.ReLU(), nn.Flatten()
        )
        self.linear, self.output_size = fully_connected(self.convolutions, observation_shape, features)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convolutions(planes.float()))


# convolutional encoders: name → (class, the observation kind it reads, units of its fully connected layer)
CNNS: dict[str, tuple[type[nn.Module], str, int]] = {
    "nature_cnn": (NatureCNN, "pixel", NATURE_FEATURES),
    "minatar_cnn": (MinAtarCNN, "grid", MINATAR_FEATURES),
}
AUTO_ENCODERS = {"pixel": "nature_cnn", "grid": "minatar_cnn"}  # other kinds: mlp


class QNetwork(nn.Module):
    """An encoder followed by a head: by default a linear layer with one Q value per action.

    A head whose output is not Q values (a distribution per action, say quantiles of shape
    (N, actions, quantiles)) defines `q_values(output)`, which acting reads (the mean over the
    quantiles, for one); the loss reads the raw output."""

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(observations))

    def q_values(self, observations: torch.Tensor) -> torch.Tensor:
        output = self(observations)
        to_q_values = getattr(self.head, "q_values", None)
        return output if to_q_values is None else to_q_values(output)

    def heads(self) -> list[nn.Linear]:
        """The output layer (the head's last linear layer), which initialisation treats apart."""
        return [module for module in self.head.modules() if isinstance(module, nn.Linear)][-1:]


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
    """`inputs` unchanged, with the gradient flowing back through them multiplied by `scale`."""
    return _ScaleGradient.apply(inputs, scale)


def stream(input_size: int, hidden_sizes: Sequence[int], output_size: int) -> nn.Sequential:
    """Linear + ReLU hidden layers, then a linear output layer, in one flat Sequential (its
    output layer is the last module)."""
    hidden = mlp(input_size, hidden_sizes)
    return nn.Sequential(*hidden, nn.Linear(hidden_sizes[-1] if hidden_sizes else input_size, output_size))


class DuelingQNetwork(nn.Module):
    """The dueling architecture of Wang et al. 2016: a shared trunk, then a value stream V(s)
    and an advantage stream A(s, a), each with its own hidden layer, combined as
    Q(s, a) = V(s) + A(s, a) − mean_a' A(s, a') (eq. 9): the mean-subtracted advantage makes V
    and A identifiable.

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
    ):
        super().__init__()
        self.encoder = encoder
        self.value = stream(encoder_size, stream_hidden_sizes, 1)
        self.advantage = stream(encoder_size, stream_hidden_sizes, num_actions)
        self.trunk_gradient_scale = trunk_gradient_scale

    def q_values(self, observations: torch.Tensor) -> torch.Tensor:
        return self(observations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        features = scale_gradient(self.encoder(observations), self.trunk_gradient_scale)
        advantages = self.advantage(features)
        return self.value(features) + advantages - advantages.mean(dim=1, keepdim=True)

    def heads(self) -> list[nn.Linear]:
        return [self.value[-1], self.advantage[-1]]


def initialize(network: QNetwork | DuelingQNetwork, scheme: str) -> None:
    """Set the weights of every linear and convolutional layer by `scheme` (default keeps
    PyTorch's), then zero the biases of the head(s)."""
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
        if head.bias is not None:
            nn.init.zeros_(head.bias)


def encoder_hidden_sizes(encoder: str, kind: str, net_arch: Sequence[int]) -> tuple[str, list[int]]:
    """The encoder `auto` means for an observation kind, and its hidden sizes: a CNN's fully
    connected layer first, then net_arch."""
    if encoder == "auto":
        encoder = AUTO_ENCODERS.get(kind, "mlp")
    return encoder, [CNNS[encoder][2], *net_arch] if encoder in CNNS else list(net_arch)


def torso(
    kind: str, encoder: str, observation_shape: Sequence[int], hidden_sizes: Sequence[int], num_states: int | None
) -> tuple[nn.Module, int]:
    """The encoder with the given hidden layers, and its output size. For a CNN the first hidden
    size is its fully connected layer (no hidden sizes: the convolutions alone)."""
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
        body: nn.Module = cnn(observation_shape, hidden_sizes[0] if hidden_sizes else None)
        size = body.output_size
        if len(hidden_sizes) > 1:
            body = nn.Sequential(body, mlp(size, hidden_sizes[1:]))
            size = hidden_sizes[-1]
    elif kind == "discrete":
        body = nn.Sequential(OneHot(num_states), mlp(num_states, hidden_sizes))
        size = hidden_sizes[-1] if hidden_sizes else num_states
    elif kind == "vector":
        input_size = math.prod(observation_shape)
        body = nn.Sequential(nn.Flatten(), mlp(input_size, hidden_sizes))
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
    init: str = "default",
) -> QNetwork | DuelingQNetwork:
    """The Q network for an observation kind: Nature CNN for pixels, MinAtar's CNN for grids,
    MLP for vectors, one-hot + MLP for discrete states. `encoder` overrides the choice ('mlp',
    'nature_cnn' or 'minatar_cnn'). Dueling splits the last hidden layer into the two streams
    (see DuelingQNetwork)."""
    encoder, hidden_sizes = encoder_hidden_sizes(encoder, kind, net_arch)
    if dueling:
        trunk, size = torso(kind, encoder, observation_shape, hidden_sizes[:-1], num_states)
        network: QNetwork | DuelingQNetwork = DuelingQNetwork(trunk, size, hidden_sizes[-1:], num_actions)
    else:
        body, size = torso(kind, encoder, observation_shape, hidden_sizes, num_states)
        network = QNetwork(body, nn.Linear(size, num_actions))
    initialize(network, init)
    return network
