"""The DQN family's switches: each changes what it should and nothing else."""

import json

import numpy as np
import pytest
import torch
from conftest import td_loss_gradcheck

from rlkit.agents.dqn import DQNAgent, DQNConfig, make_optimizer
from rlkit.agents.exploration import boltzmann, boltzmann_probabilities
from rlkit.agents.networks import DuelingQNetwork, QNetwork, build_q_network
from rlkit.agents.normalization import RunningNormalizer
from rlkit.agents.qlearning import QLearningAgent, QLearningConfig
from rlkit.config import build_config
from rlkit.replay.buffer import ReplayBuffer, n_step_windows
from rlkit.replay.sampling import PrioritizedSampler, SumTree
from rlkit.replay.transition import Transition

VECTOR_INFO = {
    "kind": "vector",
    "observation_shape": [3],
    "observation_dtype": "float32",
    "num_states": None,
    "num_actions": 2,
}


def _step(rewards, terminated=None, truncated=None, observation=0.0) -> Transition:
    """One vector step of len(rewards) envs; observations carry `observation` (+0.5 for the next)."""
    count = len(rewards)
    observations = np.full((count, 3), observation, dtype=np.float32)
    return Transition(
        observations,
        np.zeros(count, dtype=np.int64),
        np.asarray(rewards, dtype=np.float32),
        observations + 0.5,
        np.zeros(count, bool) if terminated is None else np.asarray(terminated),
        np.zeros(count, bool) if truncated is None else np.asarray(truncated),
    )


# ----------------------------------------------------------------------------- n-step returns


def test_n_step_returns_match_a_hand_computation_across_two_envs():
    gamma = 0.5
    buffer = ReplayBuffer(20, [3], np.float32, num_envs=2, n_steps=3, gamma=gamma)
    # env 0: rewards 1, 2, 4 then terminated at its 3rd step, then 8, 16 (ongoing)
    # env 1: rewards 10, 20 then truncated at its 2nd step, then 30, 40, 50 (ongoing)
    env0 = [(1, False, False), (2, False, False), (4, True, False), (8, False, False), (16, False, False)]
    env1 = [(10, False, False), (20, False, True), (30, False, False), (40, False, False), (50, False, False)]
    for t, (a, b) in enumerate(zip(env0, env1)):
        buffer.add(*_step([a[0], b[0]], [a[1], b[1]], [a[2], b[2]], observation=t))
    batch = buffer.batch(np.arange(10))
    expected = {  # index: (return, discount γ^m, index of the window's last transition, terminated, truncated)
        0: (1 + 0.5 * 2 + 0.25 * 4, 0.125, 4, True, False),  # window of 3 ends on the termination
        2: (2 + 0.5 * 4, 0.25, 4, True, False),  # cut by the episode end inside the window
        4: (4, 0.5, 4, True, False),
        6: (8 + 0.5 * 16, 0.25, 8, False, False),  # cut: nothing newer stored yet
        8: (16, 0.5, 8, False, False),
        1: (10 + 0.5 * 20, 0.25, 3, False, True),  # truncation ends the window but still bootstraps
        3: (20, 0.5, 3, False, True),
        5: (30 + 0.5 * 40 + 0.25 * 50, 0.125, 9, False, False),  # a full window
        7: (40 + 0.5 * 50, 0.25, 9, False, False),
        9: (50, 0.5, 9, False, False),
    }
    for index, (ret, discount, last, terminated, truncated) in expected.items():
        assert batch.rewards[index].item() == pytest.approx(ret), index
        assert batch.discounts[index].item() == pytest.approx(discount), index
        assert batch.next_observations[index, 0].item() == pytest.approx(buffer.next_observations[last, 0]), index
        assert batch.terminated[index].item() == terminated and batch.truncated[index].item() == truncated, index
        assert batch.observations[index, 0].item() == index // 2  # the window's first observation


def test_n_step_windows_follow_the_ring_after_wrap_around():
    rewards = np.array([5.0, 6.0, 1.0, 2.0, 3.0, 4.0])  # written 1, 2, 3, 4, then 5, 6 over the start
    ends = np.zeros(6, dtype=bool)
    returns, last, discounts = n_step_windows(np.array([4, 5]), rewards, ends, ends, 2, 1, 3, 1.0)
    np.testing.assert_allclose(returns, [3 + 4 + 5, 4 + 5 + 6])
    assert last.tolist() == [0, 1]
    np.testing.assert_allclose(discounts, [1.0, 1.0])


def test_one_step_batches_are_the_stored_transitions():
    buffer = ReplayBuffer(10, [3], np.float32, gamma=0.9)
    for t in range(4):
        buffer.add(*_step([t + 1.0], observation=t))
    batch = buffer.batch(np.arange(4))
    torch.testing.assert_close(batch.rewards, torch.tensor([1.0, 2.0, 3.0, 4.0]))
    torch.testing.assert_close(batch.next_observations, torch.from_numpy(buffer.next_observations[:4]))
    torch.testing.assert_close(batch.discounts, torch.full((4,), 0.9))
    torch.testing.assert_close(batch.weights, torch.ones(4))


def test_n_step_replay_refuses_a_batch_that_is_not_one_per_env():
    buffer = ReplayBuffer(10, [3], np.float32, num_envs=2, n_steps=3)
    with pytest.raises(ValueError, match="one transition per env"):
        buffer.add(*_step([1.0, 2.0, 3.0]))


def test_agent_target_uses_the_n_step_discount():
    config = DQNConfig(net_arch=[8], n_steps=3, gamma=0.5)
    agent = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=0)
    for t, reward in enumerate([1.0, 2.0, 4.0, 8.0]):
        agent.replay.add(*_step([reward], observation=t))
    batch = agent.replay.batch(np.array([0]))
    with torch.no_grad():
        next_value = agent.target_network(batch.next_observations).max(dim=1).values
        _, q_values, td_errors = agent.td_loss(batch)
    expected = 1 + 0.5 * 2 + 0.25 * 4 + 0.125 * next_value
    torch.testing.assert_close(td_errors + q_values, expected)


# ----------------------------------------------------------------------------- prioritized replay


def test_sum_tree_sums_and_finds_prefix_sums():
    tree = SumTree(5)
    tree.set(np.arange(5), np.array([1.0, 0.0, 3.0, 2.0, 4.0]))
    assert tree.total() == 10.0
    assert tree.find(np.array([0.0, 0.99, 1.0, 3.99, 4.0, 5.99, 6.0, 9.99])).tolist() == [0, 0, 2, 2, 3, 3, 4, 4]
    tree.set(np.array([4, 4]), np.array([7.0, 0.5]))  # the last of a repeated index wins
    assert tree.total() == 6.5 and tree.get(np.array([4]))[0] == 0.5


def test_prioritized_sampling_frequencies_follow_the_priorities():
    rng = np.random.default_rng(0)
    sampler = PrioritizedSampler(8, rng, alpha=0.5, eps=1e-6)
    sampler.added(np.arange(8))
    td_errors = np.array([0.0, 1.0, 4.0, 9.0, 16.0, 0.25, 2.25, 0.0])
    sampler.update(np.arange(8), td_errors)
    draws = 200_000
    counts = np.bincount(np.concatenate([sampler.sample(64, 8) for _ in range(draws // 64)]), minlength=8)
    expected = (np.abs(td_errors) + 1e-6) ** 0.5
    expected /= expected.sum()
    frequencies = counts / counts.sum()
    sigma = np.sqrt(expected * (1 - expected) / counts.sum())
    assert np.all(np.abs(frequencies - expected) < 5 * sigma + 1e-9), (frequencies, expected)


def test_importance_weights_and_new_transitions_get_the_largest_priority():
    sampler = PrioritizedSampler(4, np.random.default_rng(0), alpha=1.0, eps=0.5)
    sampler.added(np.arange(3))
    sampler.update(np.array([0, 1, 2]), np.array([0.5, -1.5, 3.5]))  # priorities 1, 2, 4
    sampler.added(np.array([3]))  # the largest so far, 4
    probabilities = np.array([1, 2, 4, 4]) / 11
    np.testing.assert_allclose(sampler.probabilities(np.arange(4)), probabilities)
    beta = 0.4
    expected = (4 * probabilities) ** -beta
    expected /= expected.max()  # normalised by the batch's largest weight
    np.testing.assert_allclose(sampler.weights(np.arange(4), 4, beta), expected, rtol=1e-6)
    np.testing.assert_allclose(sampler.weights(np.array([2, 3]), 4, beta), [1.0, 1.0])


def test_alpha_zero_is_uniform_with_unit_weights():
    sampler = PrioritizedSampler(6, np.random.default_rng(0), alpha=0.0, eps=1e-6)
    sampler.added(np.arange(6))
    sampler.update(np.arange(6), np.array([0.0, 1.0, 10.0, 100.0, 3.0, 0.1]))
    np.testing.assert_allclose(sampler.probabilities(np.arange(6)), np.full(6, 1 / 6))
    np.testing.assert_allclose(sampler.weights(np.arange(6), 6, 1.0), np.ones(6))


def test_agent_updates_priorities_from_the_new_td_errors_and_weights_the_loss():
    config = DQNConfig(net_arch=[8], prioritized_replay=True, per_alpha=0.7, per_eps=0.01, learning_rate=1e-9)
    agent = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=0)
    for t in range(6):
        agent.replay.add(*_step([float(t)], observation=t))
    batch = agent.replay.sample(4, beta=0.5)
    with torch.no_grad():
        _, _, td_errors = agent.td_loss(batch)
    agent.update(batch)
    indices = batch.indices.numpy()
    leaves = agent.replay.sampler.tree.get(indices)
    np.testing.assert_allclose(leaves, (np.abs(td_errors.numpy()) + 0.01) ** 0.7, rtol=1e-4)
    # the loss is the weighted mean of the per-sample Huber losses
    weighted = batch._replace(weights=torch.tensor([1.0, 0.0, 0.0, 0.0]))
    with torch.no_grad():
        loss, q_values, td_errors = agent.td_loss(weighted)
    expected = torch.nn.functional.smooth_l1_loss(q_values[:1], (q_values + td_errors)[:1]) / 4
    torch.testing.assert_close(loss, expected)


def test_per_beta_anneals_to_one():
    agent = DQNAgent(DQNConfig(prioritized_replay=True, per_beta=0.4), VECTOR_INFO, total_steps=1000, seed=0)
    assert [agent.per_beta(step) for step in (0, 500, 1000, 2000)] == pytest.approx([0.4, 0.7, 1.0, 1.0])
    assert agent.schedule_values(500)["train/per_beta"] == pytest.approx(0.7)
    assert "train/per_beta" not in DQNAgent(DQNConfig(), VECTOR_INFO, 1000, 0).schedule_values(500)


# ----------------------------------------------------------------------------- dueling head


def test_dueling_head_is_value_plus_mean_subtracted_advantage():
    network = build_q_network("vector", [3], 4, [16], dueling=True)
    assert isinstance(network, DuelingQNetwork)
    observations = torch.randn(10, 3)
    with torch.no_grad():
        features = network.encoder(observations)
        value, advantage = network.value(features), network.advantage(features)
        q_values = network(observations)
    torch.testing.assert_close(q_values.mean(dim=1, keepdim=True), value)  # mean over actions is V
    torch.testing.assert_close(q_values - q_values.mean(dim=1, keepdim=True), advantage - advantage.mean(1, True))
    assert isinstance(build_q_network("vector", [3], 4, [16]), QNetwork)


# ----------------------------------------------------------------------------- gradient check


@pytest.mark.parametrize("dueling", [False, True])
def test_td_loss_gradients_match_finite_differences_in_float64(dueling):
    torch.manual_seed(0)
    info = {**VECTOR_INFO, "observation_shape": [4], "num_actions": 3}
    config = DQNConfig(net_arch=[6], dueling=dueling, double_q=True)
    agent = DQNAgent(config, info, total_steps=10, seed=0)
    assert td_loss_gradcheck(agent)


# ----------------------------------------------------------------------------- exploration


def test_softmax_action_frequencies_follow_the_boltzmann_distribution():
    q_values = np.array([[1.0, 2.0, 0.0, 1.5]])
    temperature = 0.7
    expected = np.exp(q_values[0] / temperature) / np.exp(q_values[0] / temperature).sum()
    np.testing.assert_allclose(boltzmann_probabilities(q_values, temperature)[0], expected)
    draws = 100_000
    actions = boltzmann(np.repeat(q_values, draws, axis=0), temperature, np.random.default_rng(0))
    frequencies = np.bincount(actions, minlength=4) / draws
    assert np.all(np.abs(frequencies - expected) < 5 * np.sqrt(expected * (1 - expected) / draws))


def test_softmax_is_stable_for_large_q_values_and_greedy_at_low_temperature():
    actions = boltzmann(np.array([[1e6, 1e6 + 50.0]] * 100), 0.01, np.random.default_rng(0))
    assert (actions == 1).all()


def test_qtable_softmax_exploration_draws_from_its_row():
    config = QLearningConfig(exploration="softmax", exploration_initial_temperature=2.0, exploration_fraction=0.5)
    info = {"kind": "discrete", "num_states": 3, "num_actions": 3, "observation_shape": []}
    agent = QLearningAgent(config, info, total_steps=1000, seed=0)
    agent.q_table[1] = [0.0, 2.0, 1.0]
    actions = agent.act(np.ones(50_000, dtype=np.int64), step=0)
    expected = boltzmann_probabilities(agent.q_table[1:2], 2.0)[0]
    frequencies = np.bincount(actions, minlength=3) / len(actions)
    assert np.all(np.abs(frequencies - expected) < 0.01)
    assert agent.schedule_values(250) == {"train/temperature": pytest.approx(1.005), "train/learning_rate": 1e-4}


def test_dqn_softmax_exploration_draws_from_the_network_q_values():
    config = DQNConfig(net_arch=[8], exploration="softmax", exploration_initial_temperature=0.5, learning_starts=0)
    agent = DQNAgent(config, VECTOR_INFO, total_steps=1000, seed=0)
    observations = np.full((40_000, 3), 0.3, dtype=np.float32)
    with torch.no_grad():
        agent.q_network.head.bias.copy_(torch.tensor([0.0, 0.4]))
    expected = boltzmann_probabilities(agent.q_values(observations[:1]).numpy(), 0.5)[0]
    frequencies = np.bincount(agent.act(observations, step=0), minlength=2) / len(observations)
    assert np.all(np.abs(frequencies - expected) < 0.015)
    assert "train/temperature" in agent.schedule_values(0) and "train/epsilon" not in agent.schedule_values(0)


def test_temperature_schedule_values():
    config = DQNConfig(
        exploration_initial_temperature=10.0, exploration_final_temperature=0.5, exploration_fraction=0.5
    )
    assert [config.temperature_at(step, 1000) for step in (0, 250, 500, 900)] == pytest.approx([10, 5.25, 0.5, 0.5])


def test_exponential_learning_rate_schedule_values():
    config = DQNConfig(learning_rate=1e-3, lr_schedule="exponential", lr_decay_rate=0.5, lr_decay_steps=100)
    assert [config.learning_rate_at(step, 1000) for step in (0, 100, 250)] == pytest.approx([1e-3, 5e-4, 1e-3 / 2**2.5])


# ----------------------------------------------------------------------------- optimizers, initialisation


def test_optimizers_are_built_with_their_settings():
    parameters = [torch.nn.Parameter(torch.zeros(2))]
    rmsprop = make_optimizer(
        parameters, DQNConfig(optimizer="rmsprop", rmsprop_alpha=0.95, rmsprop_eps=0.01, rmsprop_centered=True)
    )
    assert isinstance(rmsprop, torch.optim.RMSprop)
    group = rmsprop.param_groups[0]
    assert (group["alpha"], group["eps"], group["centered"]) == (0.95, 0.01, True)
    sgd = make_optimizer(parameters, DQNConfig(optimizer="sgd", sgd_momentum=0.8, learning_rate=0.1))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.8
    adam = make_optimizer(parameters, DQNConfig())
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["eps"] == 1e-8


def test_nature_preset_is_rmsprop_with_the_paper_settings():
    config = build_config("dqn-nature", "pong")
    agent = config.agent
    assert (agent.optimizer, agent.learning_rate, agent.rmsprop_alpha, agent.rmsprop_centered) == (
        "rmsprop",
        2.5e-4,
        0.95,
        True,
    )
    assert (agent.target_update_interval, agent.buffer_size, agent.exploration_final_eps) == (10_000, 1_000_000, 0.1)


@pytest.mark.parametrize("scheme", ["kaiming", "xavier", "orthogonal"])
def test_initialisations_set_every_layer_and_zero_the_biases(scheme):
    torch.manual_seed(0)
    network = build_q_network("vector", [400], 300, [400, 400], init=scheme)
    hidden = network.encoder[1][2].weight.detach()  # the second 400 × 400 layer
    fan_in = fan_out = 400
    if scheme == "kaiming":
        assert hidden.std().item() == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
    elif scheme == "xavier":
        bound = np.sqrt(2) * np.sqrt(6 / (fan_in + fan_out))
        assert hidden.abs().max().item() <= bound and hidden.abs().max().item() > 0.99 * bound
    else:
        torch.testing.assert_close(hidden @ hidden.T, 2 * torch.eye(400), atol=1e-4, rtol=0)
    for module in network.modules():
        if isinstance(module, torch.nn.Linear):
            assert torch.count_nonzero(module.bias) == 0
    head = network.head.weight.detach()
    gain_free = {"kaiming": np.sqrt(1 / 400), "xavier": np.sqrt(2 / (400 + 300)), "orthogonal": None}[scheme]
    if gain_free is not None:
        assert head.std().item() == pytest.approx(gain_free, rel=0.03)


def test_default_initialisation_keeps_pytorch_defaults():
    torch.manual_seed(0)
    network = build_q_network("vector", [4], 2, [64])
    first = network.encoder[1][0]
    bound = 1 / np.sqrt(4)
    assert first.weight.abs().max().item() <= bound and torch.count_nonzero(first.bias) > 0
    assert torch.count_nonzero(network.head.bias) == 0


# ----------------------------------------------------------------------------- observation normalisation


def test_running_normalizer_matches_the_statistics_of_everything_seen():
    rng = np.random.default_rng(0)
    batches = [rng.normal(5.0, 3.0, size=(size, 3)) for size in (1, 7, 30, 2)]
    normalizer = RunningNormalizer([3])
    for batch in batches:
        normalizer.update(batch)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(normalizer.mean.numpy(), everything.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(normalizer.var.numpy(), everything.var(axis=0), rtol=1e-10)
    scaled = normalizer(torch.as_tensor(everything, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-5)
    assert normalizer(torch.full((1, 3), 1e6)).max().item() == 10.0  # clipped


def test_normalizer_is_in_the_agent_state_and_only_for_vector_observations():
    from rlkit.errors import RlkitError

    config = DQNConfig(net_arch=[8], normalize_observations=True)
    agent = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=0)
    for t in range(5):
        agent.observe(_step([1.0], observation=10.0 * t), step=t + 1)
    tensors, meta = agent.state()
    assert tensors["obs_normalizer.mean"].tolist() == pytest.approx([20.0] * 3)
    restored = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=0)
    restored.load_state(tensors, json.loads(json.dumps(meta)))
    observations = np.full((1, 3), 20.0, dtype=np.float32)
    torch.testing.assert_close(restored.q_values(observations), agent.q_values(observations))
    with pytest.raises(RlkitError, match="no observation statistics"):
        restored.load_state({k: v for k, v in tensors.items() if "normalizer" not in k}, meta)
    with pytest.raises(RlkitError, match="needs vector observations"):
        DQNAgent(config, {**VECTOR_INFO, "kind": "discrete", "num_states": 4}, total_steps=100, seed=0)
