"""Encoders (MLP, Nature DQN CNN), the Q network built on them, with a plain or a dueling
head, and the weight initialisations.

Initialisation `default` keeps PyTorch's defaults for linear and convolutional layers
(Kaiming-uniform with a = √5, i.e. weights and biases uniform in ±1/√fan_in), with which SB3 and
CleanRL report their DQN results. The others set every weight and zero every bias. The head's
biases always start at zero, so initial Q values are centred on zero.
"""

from __future__ import annotations

from collections.abc import Sequence

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


class NatureCNN(nn.Module):
    """The convolutional torso of Mnih et al. 2015: 32×8×8/4, 64×4×4/2, 64×3×3/1, then a
    fully connected layer. Takes uint8 frames (C×H×W) and scales them to [0, 1] itself."""

    def __init__(self, observation_shape: Sequence[int], features: int = 512):
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
        with torch.no_grad():
            flat_size = self.convolutions(torch.zeros(1, *observation_shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat_size, features), nn.ReLU())
        self.output_size = features

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convolutions(frames.float() / 255.0))


class QNetwork(nn.Module):
    """An encoder followed by a linear head with one Q value per action."""

    def __init__(self, encoder: nn.Module, encoder_size: int, num_actions: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder_size, num_actions)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(observations))

    def heads(self) -> list[nn.Linear]:
        return [self.head]


class DuelingQNetwork(nn.Module):
    """An encoder followed by a value stream V(s) and an advantage stream A(s, a), combined as
    Q(s, a) = V(s) + A(s, a) − mean_a' A(s, a') (Wang et al. 2016, eq. 9): the mean-subtracted
    advantage makes V and A identifiable."""

    def __init__(self, encoder: nn.Module, encoder_size: int, num_actions: int):
        super().__init__()
        self.encoder = encoder
        self.value = nn.Linear(encoder_size, 1)
        self.advantage = nn.Linear(encoder_size, num_actions)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        features = self.encoder(observations)
        advantages = self.advantage(features)
        return self.value(features) + advantages - advantages.mean(dim=1, keepdim=True)

    def heads(self) -> list[nn.Linear]:
        return [self.value, self.advantage]


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
            nn.init.zeros_(module.bias)
    for head in heads:
        nn.init.zeros_(head.bias)


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
    """The Q network for an observation kind: Nature CNN for pixels, MLP for vectors, one-hot
    + MLP for discrete states. `encoder` overrides the choice ('mlp' or 'nature_cnn')."""
    if encoder == "auto":
        encoder = "nature_cnn" if kind == "pixel" else "mlp"
    if encoder == "nature_cnn":
        if kind != "pixel":
            raise ValueError(f"the nature_cnn encoder needs pixel observations (C×H×W uint8), got {kind}")
        body: nn.Module = NatureCNN(observation_shape)
        size = body.output_size
        if net_arch:
            body = nn.Sequential(body, mlp(size, net_arch))
            size = net_arch[-1]
    elif kind == "discrete":
        body = nn.Sequential(OneHot(num_states), mlp(num_states, net_arch))
        size = net_arch[-1] if net_arch else num_states
    elif kind == "vector":
        input_size = int(torch.tensor(observation_shape).prod())
        body = nn.Sequential(nn.Flatten(), mlp(input_size, net_arch))
        size = net_arch[-1] if net_arch else input_size
    else:
        raise ValueError(f"the mlp encoder needs vector or discrete observations, got {kind}")
    network = (DuelingQNetwork if dueling else QNetwork)(body, size, num_actions)
    initialize(network, init)
    return network
