"""The dueling architecture of Wang et al. 2016: where the streams split, the Q identity, and the
1/√2 scaling of the gradient entering the shared trunk."""

import copy
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from rlkit.agents.heads import CategoricalHead
from rlkit.agents.networks import DuelingQNetwork, build_q_network

FRAMES = [4, 84, 84]


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(layer.in_features, layer.out_features) for layer in module.modules() if isinstance(layer, nn.Linear)]


def _convolutions(module: nn.Module) -> int:
    return sum(isinstance(layer, nn.Conv2d) for layer in module.modules())


def _randomized(network: nn.Module) -> nn.Module:
    """Every parameter drawn from N(0, 0.1²), head biases included, so no term of Q is zero."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return network


def _frames(batch: int) -> torch.Tensor:
    return torch.randint(0, 256, (batch, *FRAMES), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


# ----------------------------------------------------------------------------- structure


def test_mlp_streams_each_own_a_copy_of_the_last_hidden_layer():
    network = build_q_network("vector", [3], 5, [64, 64], dueling=True)
    assert isinstance(network, DuelingQNetwork)
    assert _linear_shapes(network.encoder) == [(3, 64)]  # net_arch[:-1] is shared
    assert _linear_shapes(network.value) == [(64, 64), (64, 1)]
    assert _linear_shapes(network.advantage) == [(64, 64), (64, 5)]
    assert network.value[0].weight is not network.advantage[0].weight
    assert network.heads() == [network.value[-1], network.advantage[-1]]


def test_nature_cnn_shares_the_convolutions_and_gives_each_stream_a_512_unit_layer():
    network = build_q_network("pixel", FRAMES, 6, [], dueling=True)
    assert _convolutions(network.encoder) == 3 and _linear_shapes(network.encoder) == []
    assert _linear_shapes(network.value) == [(3136, 512), (512, 1)]
    assert _linear_shapes(network.advantage) == [(3136, 512), (512, 6)]
    assert network.heads() == [network.value[-1], network.advantage[-1]]


def test_net_arch_on_the_cnn_moves_the_512_unit_layer_into_the_trunk():
    network = build_q_network("pixel", FRAMES, 6, [256], dueling=True)
    assert _convolutions(network.encoder) == 3 and _linear_shapes(network.encoder) == [(3136, 512)]
    assert _linear_shapes(network.value) == [(512, 256), (256, 1)]
    assert _linear_shapes(network.advantage) == [(512, 256), (256, 6)]


def test_without_hidden_layers_each_stream_is_one_linear_layer_on_the_input():
    network = build_q_network("vector", [3], 5, [], dueling=True)
    assert _linear_shapes(network.encoder) == []
    assert _linear_shapes(network.value) == [(3, 1)] and _linear_shapes(network.advantage) == [(3, 5)]


def test_linear_streams_share_every_hidden_layer():
    """dueling_hidden = false: the trunk keeps every hidden layer and each stream is one linear
    layer on it (Revisiting Rainbow's dueling head)."""
    network = build_q_network("vector", [3], 5, [64, 64], dueling=True, dueling_hidden=False)
    assert _linear_shapes(network.encoder) == [(3, 64), (64, 64)]
    assert _linear_shapes(network.value) == [(64, 1)] and _linear_shapes(network.advantage) == [(64, 5)]
    assert network.heads() == [network.value[-1], network.advantage[-1]]


def test_linear_streams_on_minatar_read_the_128_unit_layer_with_a_c51_head():
    network = build_q_network(
        "grid", [4, 10, 10], 6, [], dueling=True, dueling_hidden=False, readout=CategoricalHead(51, -10.0, 10.0)
    )
    assert _convolutions(network.encoder) == 1 and _linear_shapes(network.encoder) == [(1024, 128)]
    assert _linear_shapes(network.value) == [(128, 51)] and _linear_shapes(network.advantage) == [(128, 6 * 51)]
    planes = torch.randint(0, 2, (3, 4, 10, 10), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    assert network(planes).shape == (3, 6, 51)


def test_without_hidden_layers_both_kinds_of_stream_are_the_same():
    hidden = build_q_network("vector", [3], 5, [], dueling=True)
    linear = build_q_network("vector", [3], 5, [], dueling=True, dueling_hidden=False)
    assert _linear_shapes(hidden.value) == _linear_shapes(linear.value) == [(3, 1)]
    assert _linear_shapes(hidden.advantage) == _linear_shapes(linear.advantage) == [(3, 5)]


def test_parameter_names_are_flat_and_stable():
    network = build_q_network("vector", [3], 5, [64, 64], dueling=True)
    assert [name for name, _ in network.named_parameters()] == [
        "encoder.1.0.weight",
        "encoder.1.0.bias",
        "value.0.weight",
        "value.0.bias",
        "value.2.weight",
        "value.2.bias",
        "advantage.0.weight",
        "advantage.0.bias",
        "advantage.2.weight",
        "advantage.2.bias",
    ]


@pytest.mark.parametrize("scheme", ["default", "orthogonal"])
def test_initialisation_zeroes_the_biases_of_both_output_layers(scheme):
    network = build_q_network("vector", [3], 5, [64, 64], dueling=True, init=scheme)
    for head in network.heads():
        assert torch.count_nonzero(head.bias) == 0
    if scheme == "default":  # PyTorch's initialisation for the streams' hidden layers
        assert torch.count_nonzero(network.value[0].bias) > 0


# ----------------------------------------------------------------------------- Q = V + A − mean A


@pytest.mark.parametrize(
    ("kind", "shape", "net_arch", "observations"),
    [("vector", [3], [16, 16], torch.randn(7, 3)), ("pixel", FRAMES, [], _frames(3))],
)
def test_q_is_value_plus_mean_subtracted_advantage_layer_by_layer(kind, shape, net_arch, observations):
    network = _randomized(build_q_network(kind, shape, 4, net_arch, dueling=True))
    weights = dict(network.named_parameters())

    def stream(name: str, features: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(features @ weights[f"{name}.0.weight"].T + weights[f"{name}.0.bias"])
        return hidden @ weights[f"{name}.2.weight"].T + weights[f"{name}.2.bias"]

    with torch.no_grad():
        features = network.encoder(observations)
        value, advantage = stream("value", features), stream("advantage", features)
        q_values = network(observations)
    assert value.shape == (len(observations), 1)
    torch.testing.assert_close(q_values, value + advantage - advantage.mean(dim=1, keepdim=True))
    torch.testing.assert_close(q_values.mean(dim=1, keepdim=True), value)


# ----------------------------------------------------------------------------- gradient into the trunk


def _gradients(network: nn.Module, observations: torch.Tensor) -> dict[str, torch.Tensor]:
    network.zero_grad()
    q_values = network(observations)
    (q_values * torch.linspace(-1.0, 2.0, q_values.numel(), dtype=q_values.dtype).view_as(q_values)).sum().backward()
    return {name: parameter.grad.clone() for name, parameter in network.named_parameters()}


@pytest.mark.parametrize(
    ("kind", "shape", "net_arch", "observations", "dtype", "rtol"),
    [
        ("vector", [3], [8, 8], torch.randn(6, 3, dtype=torch.float64), torch.float64, 1e-12),
        ("pixel", FRAMES, [], _frames(2), torch.float32, 1e-5),  # NatureCNN computes in float32
    ],
)
def test_gradient_reaching_the_trunk_is_scaled_by_one_over_root_two(kind, shape, net_arch, observations, dtype, rtol):
    network = _randomized(build_q_network(kind, shape, 4, net_arch, dueling=True)).to(dtype)
    unscaled = copy.deepcopy(network)
    unscaled.trunk_gradient_scale = 1.0
    assert network.trunk_gradient_scale == 2**-0.5
    with torch.no_grad():
        assert torch.equal(network(observations), unscaled(observations))  # the forward pass is unchanged
    scaled_gradients, gradients = _gradients(network, observations), _gradients(unscaled, observations)
    trunk = [name for name in gradients if name.startswith("encoder.")]
    assert trunk and all(gradients[name].abs().sum() > 0 for name in trunk)
    for name, gradient in gradients.items():
        if name in trunk:
            tolerance = rtol * gradient.abs().max().item()  # float32 convolutions round at their largest terms
            torch.testing.assert_close(scaled_gradients[name], gradient / math.sqrt(2), rtol=rtol, atol=tolerance)
        else:  # the streams get their own gradients untouched
            assert torch.equal(scaled_gradients[name], gradient), name


# ----------------------------------------------------------------------------- finite differences


def _as_function(network: nn.Module, observations: torch.Tensor, names: list[str]):
    fixed = {name: p.detach() for name, p in network.named_parameters() if name not in names}
    return lambda *values: functional_call(network, {**fixed, **dict(zip(names, values))}, (observations,))


def test_dueling_network_gradients_match_finite_differences_in_float64():
    network = _randomized(build_q_network("vector", [4], 3, [5, 6], dueling=True)).double()
    observations = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    names = [name for name, _ in network.named_parameters()]
    streams = [name for name in names if not name.startswith("encoder.")]

    def inputs(chosen: list[str]) -> tuple[torch.Tensor, ...]:
        parameters = dict(network.named_parameters())
        return tuple(parameters[name].detach().clone().requires_grad_(True) for name in chosen)

    # the streams and the combination are exact derivatives, with the trunk scaling on
    assert torch.autograd.gradcheck(_as_function(network, observations, streams), inputs(streams))
    # the trunk's gradient is the true one × 1/√2 (Wang et al.'s heuristic), so only without it
    # does the whole network match finite differences
    assert not torch.autograd.gradcheck(
        _as_function(network, observations, names), inputs(names), raise_exception=False
    )
    network.trunk_gradient_scale = 1.0
    assert torch.autograd.gradcheck(_as_function(network, observations, names), inputs(names))
