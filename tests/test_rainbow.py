"""Rainbow's two parts beyond the 2016 family: distributional heads (C51, QR-DQN) and noisy
nets, checked against hand-computed values and finite differences, and composed with the
other switches, the presets and the bad input they refuse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import td_loss_gradcheck
from torch.nn import functional as F

import rlkit
from rlkit.agents.dqn import DQNAgent, DQNConfig
from rlkit.agents.heads import CategoricalHead, QuantileHead, categorical_projection, quantile_huber_loss
from rlkit.agents.networks import DuelingQNetwork, Layers, NoisyLinear, build_q_network
from rlkit.config import build_config
from rlkit.errors import RlkitError
from rlkit.replay.buffer import Batch

VECTOR_INFO = {
    "kind": "vector",
    "observation_shape": [4],
    "observation_dtype": "float32",
    "num_states": None,
    "num_actions": 3,
}


# ----------------------------------------------------------------------------- C51's projection


def test_the_categorical_projection_matches_a_hand_computation():
    support = torch.tensor([0.0, 1.0, 2.0])  # Δz = 1
    probabilities = torch.tensor([[0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.2, 0.5, 0.3]])
    rewards = torch.tensor([0.5, 0.7, -5.0])
    continues = torch.tensor([1.0, 0.0, 0.5])
    projected = categorical_projection(probabilities, rewards, continues, support)
    # row 0: atoms move to 0.5, 1.5 and 2.5 (clipped to 2, an atom: all its 0.3 stays there);
    # 0.2 splits 0.1/0.1 between atoms 0 and 1, 0.5 splits 0.25/0.25 between atoms 1 and 2
    # row 1: terminated, every atom moves to the reward 0.7: 30% to atom 0, 70% to atom 1
    # row 2: 0.5·z − 5 is below v_min for every atom: all of it on atom 0
    expected = torch.tensor([[0.1, 0.35, 0.55], [0.3, 0.7, 0.0], [1.0, 0.0, 0.0]])
    torch.testing.assert_close(projected, expected)


def test_the_projection_keeps_total_probability_and_the_mean_when_nothing_is_clipped():
    generator = torch.Generator().manual_seed(0)
    support = torch.linspace(-10, 10, 51)
    inner = (support.abs() <= 5).float()  # mass on [−5, 5] only, rewards in [−2, 2]: r + c z stays inside
    probabilities = torch.rand(64, 51, generator=generator) * inner
    probabilities /= probabilities.sum(dim=1, keepdim=True)
    rewards = (torch.rand(64, generator=generator) - 0.5) * 4
    continues = torch.full((64,), 0.99**3)
    projected = categorical_projection(probabilities, rewards, continues, support)
    torch.testing.assert_close(projected.sum(dim=1), torch.ones(64))
    # splitting each moved atom between its neighbours in proportion to closeness keeps the mean
    expected_mean = rewards + continues * (probabilities * support).sum(dim=1)
    torch.testing.assert_close((projected * support).sum(dim=1), expected_mean, atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------- QR-DQN's loss


def test_the_quantile_huber_loss_matches_a_hand_computation():
    quantiles = torch.tensor([[0.0, 1.0]])  # at τ̂ = 0.25 and 0.75
    targets = torch.tensor([[0.5, 3.0]])
    # θ_0 (τ̂ 0.25): u = 0.5 and 3.0, both ≥ 0: weight 0.25; Huber 0.125 and 2.5 → mean 0.328125
    # θ_1 (τ̂ 0.75): u = −0.5 (weight 0.25, Huber 0.125) and 2.0 (weight 0.75, Huber 1.5) → 0.578125
    torch.testing.assert_close(quantile_huber_loss(quantiles, targets), torch.tensor([0.90625]))


def test_the_quantile_loss_is_smallest_at_the_targets_quantiles():
    targets = torch.arange(100, dtype=torch.float64)[None, :]  # a uniform sample of 0..99
    quantiles = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([quantiles], lr=1.0)
    for _ in range(600):
        optimizer.zero_grad()
        quantile_huber_loss(quantiles, targets).sum().backward()
        optimizer.step()
    # the minimiser of the τ̂-quantile loss is the τ̂ quantile: 12.5%, 37.5%, 62.5%, 87.5% of 0..99
    np.testing.assert_allclose(quantiles.detach().numpy()[0], [12, 37, 62, 87], atol=1.5)


@pytest.mark.parametrize("head", [CategoricalHead(5, -2.0, 2.0), QuantileHead(4)], ids=["c51", "qr"])
def test_head_losses_match_finite_differences_in_float64(head):
    generator = torch.Generator().manual_seed(3)
    head = head.double()
    outputs = head.outputs
    output = torch.randn(6, 3, outputs, dtype=torch.float64, generator=generator, requires_grad=True)
    next_output = torch.randn(6, 3, outputs, dtype=torch.float64, generator=generator)
    batch = Batch(
        torch.zeros(6, 4),
        torch.tensor([0, 1, 2, 1, 0, 2]),
        torch.randn(6, dtype=torch.float64, generator=generator),
        torch.zeros(6, 4),
        torch.tensor([False, True, False, False, False, False]),
        torch.zeros(6, dtype=torch.bool),
        torch.full((6,), 0.9, dtype=torch.float64),
        torch.rand(6, dtype=torch.float64, generator=generator),
        torch.arange(6),
    )
    next_action = head.q_values(next_output).argmax(dim=1)
    assert torch.autograd.gradcheck(
        lambda o: head.loss(o, next_output, next_action, batch).loss, (output,), fast_mode=True
    )


@pytest.mark.parametrize("noisy", [False, True], ids=["plain", "noisy"])
@pytest.mark.parametrize("dueling", [False, True], ids=["single", "dueling"])
@pytest.mark.parametrize("head", ["c51", "qr"])
def test_distributional_td_loss_gradients_match_finite_differences(head, dueling, noisy):
    torch.manual_seed(0)
    config = DQNConfig(
        net_arch=[4],
        head=head,
        atoms=5,
        v_min=-3.0,
        v_max=3.0,
        quantiles=4,
        dueling=dueling,
        noisy=noisy,
        double_q=True,
    )
    agent = DQNAgent(config, VECTOR_INFO, total_steps=10, seed=0)
    for layer in agent.online_noise.layers + agent.target_noise.layers:
        layer.resample(agent.noise)
    assert td_loss_gradcheck(agent, fast_mode=True)


# ----------------------------------------------------------------------------- heads in networks


def test_a_distributional_network_acts_on_its_mean():
    head = CategoricalHead(11, -5.0, 5.0)
    network = build_q_network("vector", [4], 3, [16], readout=head)
    observations = torch.randn(7, 4)
    with torch.no_grad():
        logits = network(observations)
        assert logits.shape == (7, 3, 11)
        torch.testing.assert_close(network.q_values(observations), (logits.softmax(-1) * head.support).sum(-1))
    quantiles = build_q_network("vector", [4], 3, [16], readout=QuantileHead(8))
    with torch.no_grad():
        torch.testing.assert_close(quantiles.q_values(observations), quantiles(observations).mean(-1))


def test_the_dueling_network_combines_a_distributional_head_atom_by_atom():
    network = build_q_network("vector", [4], 3, [16, 16], dueling=True, readout=CategoricalHead(5, -1.0, 1.0))
    assert isinstance(network, DuelingQNetwork)
    assert network.value[-1].out_features == 5 and network.advantage[-1].out_features == 15
    observations = torch.randn(6, 4)
    with torch.no_grad():
        features = network.encoder(observations)
        value = network.value(features).view(6, 1, 5)
        advantage = network.advantage(features).view(6, 3, 5)
        torch.testing.assert_close(network(observations), value + advantage - advantage.mean(dim=1, keepdim=True))


# ----------------------------------------------------------------------------- noisy nets


def test_a_noisy_layer_is_factorised_gaussian_noise_around_its_means():
    torch.manual_seed(0)
    layer = NoisyLinear(9, 4, sigma0=0.5)
    bound = 1 / math.sqrt(9)
    assert layer.weight_mu.abs().max() <= bound and layer.bias_mu.abs().max() <= bound
    torch.testing.assert_close(layer.weight_sigma, torch.full((4, 9), 0.5 * bound))
    layer.resample(torch.Generator().manual_seed(1))
    draws = torch.Generator().manual_seed(1)
    f = lambda x: x.sign() * x.abs().sqrt()  # noqa: E731
    noise_in, noise_out = f(torch.randn(9, generator=draws)), f(torch.randn(4, generator=draws))
    inputs = torch.randn(5, 9)
    weight = layer.weight_mu + layer.weight_sigma * torch.outer(noise_out, noise_in)
    bias = layer.bias_mu + layer.bias_sigma * noise_out
    torch.testing.assert_close(layer(inputs), F.linear(inputs, weight, bias))
    layer.noisy = False
    torch.testing.assert_close(layer(inputs), F.linear(inputs, layer.weight_mu, layer.bias_mu))


def test_the_layer_factory_makes_every_fully_connected_layer_noisy_and_no_convolution():
    network = build_q_network("grid", [4, 10, 10], 6, [], dueling=True, layers=Layers(noisy=True))
    kinds = [
        type(m).__name__ for m in network.modules() if isinstance(m, (torch.nn.Linear, NoisyLinear, torch.nn.Conv2d))
    ]
    assert kinds == ["Conv2d", "NoisyLinear", "NoisyLinear", "NoisyLinear", "NoisyLinear"]
    for head in network.heads():  # the output layers' bias means start at zero
        assert torch.count_nonzero(head.bias_mu) == 0


def _noisy_agent(**values):
    config = build_config("rainbow", "cartpole", values={"env.num_envs": 2, "learning_starts": 0, **values})
    from rlkit.envs import describe

    return DQNAgent(config.agent, describe(config.env), 1_000, 0, num_envs=2)


def test_acting_draws_fresh_noise_and_evaluation_uses_the_mean_weights():
    agent = _noisy_agent()
    observations = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    first, second = agent.exploring_values(observations), agent.exploring_values(observations)
    assert not np.array_equal(first, second)  # fresh noise for every act
    state = agent.noise.get_state()
    greedy = agent.action_values(observations)
    assert torch.equal(agent.noise.get_state(), state)  # evaluation draws no noise...
    agent.online_noise.on(False)
    with torch.no_grad():
        means = agent.q_network.q_values(torch.as_tensor(observations)).numpy()
    np.testing.assert_array_equal(greedy, means)  # ...and acts on the means
    assert agent.schedule_values(10)["train/epsilon"] == 0.0


def test_every_update_draws_fresh_noise_for_both_networks():
    agent = _noisy_agent(batch_size=4)
    rng = np.random.default_rng(1)
    for _ in range(4):
        obs = rng.normal(size=(2, 4)).astype(np.float32)
        agent.replay.add(obs, np.array([0, 1]), np.ones(2), obs, np.zeros(2, bool), np.zeros(2, bool))
    noises = []
    for _ in range(2):
        agent.update(agent.replay.sample(4, 1.0))
        noises.append([layer.noise_in.clone() for layer in agent.online_noise.layers + agent.target_noise.layers])
    online, target = len(agent.online_noise.layers), len(agent.target_noise.layers)
    assert online == target > 0
    assert not any(torch.equal(a, b) for a, b in zip(noises[0], noises[1]))
    assert not torch.equal(noises[0][0], noises[0][online])  # the target's noise is its own


def _scalars(run_dir, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


def test_a_noisy_run_says_epsilon_is_off_and_its_policy_is_deterministic(tmp_path):
    result = rlkit.train(
        agent="rainbow",
        env="cartpole",
        steps=600,
        seed=2,
        run_dir=tmp_path,
        overrides={
            "train.eval_interval": 0,
            "train.final_eval_episodes": 2,
            "train.log_interval": 100,
            "learning_starts": 200,
        },
    )
    config = result.agent.config.agent
    assert config.noisy and config.exploration_initial_eps == config.exploration_final_eps == 0.0
    logged = _scalars(result.run_dir, "train/epsilon")
    assert logged and set(logged) == {0.0}
    policy = rlkit.load(result.run_dir)
    observation = np.array([0.01, -0.02, 0.03, 0.0], dtype=np.float32)
    assert np.array_equal(policy.q_values(observation), policy.q_values(observation))
    assert (
        rlkit.evaluate(policy, episodes=2, seed=5)["returns"] == rlkit.evaluate(policy, episodes=2, seed=5)["returns"]
    )


# ----------------------------------------------------------------------------- grids and frames


def test_rainbow_trains_on_minatar_grids_through_the_frame_replay(tmp_path):
    pytest.importorskip("minatar")
    result = rlkit.train(
        agent="rainbow",
        env="minatar-breakout",
        steps=400,
        seed=1,
        run_dir=tmp_path,
        overrides={
            "train.eval_interval": 0,
            "train.final_eval_episodes": 2,
            "learning_starts": 100,
            "batch_size": 16,
            "env.num_envs": 2,
        },
    )
    agent = result.agent.agent
    assert type(agent.replay).__name__ == "FrameReplay" and agent.gradient_steps_done > 0
    assert isinstance(agent.head, CategoricalHead) and agent.online_noise
    assert len(rlkit.evaluate(rlkit.load(result.run_dir), episodes=1, seed=0)["returns"]) == 1


# ----------------------------------------------------------------------------- presets and bad input


def test_the_presets_turn_on_what_their_names_say():
    c51, qr, rainbow = (build_config(name, "cartpole").agent for name in ("c51", "qrdqn", "rainbow"))
    assert (c51.head, c51.atoms, c51.v_min, c51.v_max) == ("c51", 51, 0.0, 100.0)  # cartpole's support
    assert (qr.head, qr.quantiles) == ("qr", 50)
    assert rainbow.head == "c51" and rainbow.noisy and rainbow.double_q and rainbow.dueling
    assert rainbow.n_steps == 3 and rainbow.prioritized_replay
    assert build_config("rainbow", "acrobot").agent.v_min == -100.0
    # a user's preset that extends c51 takes the env's support too
    assert build_config("c51", "acrobot").agent.v_max == 0.0


MINATAR_GAMES = ["asterix", "breakout", "freeway", "seaquest", "space-invaders"]


@pytest.mark.parametrize("game", MINATAR_GAMES)
def test_the_minatar_rainbow_presets_keep_one_set_of_values_on_every_game(game):
    """All six parts on every game; each preset's own support wins over the games' [tuned.dqn]
    one, and the fast preset samples dqn-minatar-fast's 8 transitions per env step."""
    slow = build_config("rainbow-minatar", f"minatar-{game}").agent
    fast = build_config("rainbow-minatar-fast", f"minatar-{game}").agent
    base = build_config("dqn-minatar-fast", f"minatar-{game}").agent
    for agent in (slow, fast):
        assert agent.head == "c51" and agent.noisy and agent.double_q and agent.dueling and not agent.dueling_hidden
        assert agent.n_steps == 3 and agent.prioritized_replay and agent.exploration_final_eps == 0.0
    assert (slow.v_min, slow.v_max) == (-100.0, 100.0)
    assert (fast.v_min, fast.v_max, fast.per_alpha, fast.per_beta) == (-10.0, 10.0, 0.5, 0.5)
    for key in ("learning_rate", "adam_eps", "batch_size", "train_freq", "learning_starts", "max_grad_norm"):
        assert getattr(fast, key) == getattr(base, key), key
    assert fast.batch_size / fast.train_freq == 8


def test_a_user_preset_extending_c51_gets_the_envs_support(tmp_path):
    preset = tmp_path / "mine.toml"
    preset.write_text('extends = "c51"\n[agent]\natoms = 21\n')
    config = build_config(str(preset), "cartpole").agent
    assert (config.atoms, config.v_min, config.v_max) == (21, 0.0, 100.0)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"head": "c51", "v_min": 5.0, "v_max": 1.0}, r"v_min = 5 is not below agent.v_max = 1"),
        ({"atoms": 1}, r"agent.atoms = 1 is out of range; valid: >= 2"),
        ({"quantiles": 1}, r"agent.quantiles = 1 is out of range; valid: >= 2"),
        ({"head": "iqn"}, r"agent.head = 'iqn' is not valid; valid: q, c51, qr"),
        ({"noisy": True, "exploration_final_eps": 0.1}, r"noisy = true explores with noise.*drop the ε key"),
        ({"noisy": True, "exploration": "softmax"}, r"noisy = true explores with noise"),
    ],
)
def test_bad_head_and_noise_settings_are_refused_in_one_line(values, message):
    with pytest.raises(RlkitError, match=message) as error:
        build_config("dqn", "cartpole", values=values)
    assert "\n" not in str(error.value)


def test_an_epsilon_key_from_a_preset_is_zeroed_by_noisy_nets_not_refused():
    config = build_config("dqn", "cartpole", values={"noisy": True}).agent  # dqn.toml sets ε keys
    assert config.exploration_initial_eps == config.exploration_final_eps == 0.0


def test_the_memory_estimate_counts_the_distributional_and_noisy_networks():
    small = DQNAgent.memory_estimate(DQNConfig(net_arch=[64]), VECTOR_INFO, 1, "cpu")["networks"].nbytes
    rainbow = DQNConfig(net_arch=[64], head="c51", noisy=True)
    large = DQNAgent.memory_estimate(rainbow, VECTOR_INFO, 1, "cpu")["networks"].nbytes
    # noisy layers hold μ and σ; the head gives 51 atoms per action
    plain_parameters = (4 * 64 + 64) + (64 * 3 + 3)
    rainbow_parameters = 2 * ((4 * 64 + 64) + (64 * 3 * 51 + 3 * 51))
    assert (small, large) == (plain_parameters * 4 * 5, rainbow_parameters * 4 * 5)
