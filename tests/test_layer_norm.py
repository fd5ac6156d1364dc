"""agent.layer_norm: LayerNorm after every hidden fully connected layer of a DQN-family network,
before its ReLU; never after an output layer, never on the convolutions."""

import pytest
import torch
from torch import nn

from rlkit.agents.dqn import DQNAgent, DQNConfig
from rlkit.agents.networks import NoisyLinear
from rlkit.config import build_config

VECTOR = {"kind": "vector", "observation_shape": [4], "observation_dtype": "float32", "num_states": None}
GRID = {"kind": "grid", "observation_shape": [4, 10, 10], "observation_dtype": "uint8", "num_states": None}


def _network(info: dict, **settings) -> nn.Module:
    config = DQNConfig(learning_starts=10, buffer_size=100, batch_size=8, **settings)
    return DQNAgent(config, {**info, "num_actions": 3}, total_steps=100, seed=0).q_network


def _leaves(module: nn.Module) -> list[nn.Module]:
    """The layers, in order (the head that reads the output is not one)."""
    return [
        m
        for m in module.modules()
        if not list(m.children()) and isinstance(m, (nn.Linear, nn.Conv2d, nn.LayerNorm, nn.ReLU, NoisyLinear))
    ]


def _kinds(module: nn.Module) -> list[str]:
    return [type(m).__name__ for m in _leaves(module)]


def test_off_by_default_no_network_has_a_layer_norm():
    for info in (VECTOR, GRID):
        assert not any(isinstance(m, nn.LayerNorm) for m in _network(info, net_arch=[32, 32]).modules())


def test_mlp_normalises_each_hidden_layer_before_its_relu_and_not_the_output():
    network = _network(VECTOR, net_arch=[32, 16], layer_norm=True)
    assert _kinds(network) == ["Linear", "LayerNorm", "ReLU", "Linear", "LayerNorm", "ReLU", "Linear"]
    norms = [m for m in network.modules() if isinstance(m, nn.LayerNorm)]
    assert [norm.normalized_shape for norm in norms] == [(32,), (16,)]


def test_minatar_cnn_normalises_its_fully_connected_layer_not_its_convolution():
    network = _network(GRID, net_arch=[], layer_norm=True)
    assert _kinds(network) == ["Conv2d", "ReLU", "Linear", "LayerNorm", "ReLU", "Linear"]


def test_dueling_streams_normalise_their_hidden_layers_under_noise_too():
    network = _network(VECTOR, net_arch=[32, 32], layer_norm=True, dueling=True, noisy=True)
    assert _kinds(network.encoder) == ["NoisyLinear", "LayerNorm", "ReLU"]
    for stream in (network.value, network.advantage):
        assert _kinds(stream) == ["NoisyLinear", "LayerNorm", "ReLU", "NoisyLinear"]
        assert isinstance(stream[-1], NoisyLinear)


def test_each_hidden_layer_reaches_its_relu_with_zero_mean_and_unit_variance_per_sample():
    network = _network(VECTOR, net_arch=[64, 64], layer_norm=True)
    seen = []
    for module in network.modules():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(lambda _, inputs, __: seen.append(inputs[0].detach()))
    network(torch.randn(5, 4) * 100 + 30)  # far from the scale the layers were initialised for
    assert len(seen) == 2
    for pre_activation in seen:
        assert torch.allclose(pre_activation.mean(dim=1), torch.zeros(5), atol=1e-5)
        assert torch.allclose(pre_activation.var(dim=1, unbiased=False), torch.ones(5), atol=1e-3)


@pytest.mark.parametrize("agent", ["dqn", "c51", "rainbow", "rainbow-minatar-fast"])
def test_every_dqn_family_preset_takes_the_switch(agent):
    env = "minatar-breakout" if "minatar" in agent else "cartpole"
    config = build_config(agent, env, 1000, 0, ["layer_norm=true"])
    assert config.agent.layer_norm is True
    assert build_config(agent, env, 1000, 0, []).agent.layer_norm is False
