"""Importance weights normalised over the whole buffer: the min-tree beside the sum-tree."""

import numpy as np
import pytest

from rlkit.agents.dqn import DQNAgent, DQNConfig
from rlkit.replay.buffer import Prioritization, ReplayBuffer
from rlkit.replay.sampling import MinTree, PrioritizedSampler, SumTree


def test_min_tree_tracks_the_smallest_leaf():
    tree = MinTree(5)
    assert tree.root() == np.inf  # nothing stored
    tree.set(np.arange(5), np.array([3.0, 1.0, 4.0, 1.5, 9.0]))
    assert tree.root() == 1.0
    tree.set(np.array([1]), np.array([np.inf]))  # taken out of sampling
    assert tree.root() == 1.5
    tree.set(np.array([4, 4]), np.array([0.2, 7.0]))  # the last of a repeated index wins
    assert tree.root() == 1.5


def test_buffer_wide_weights_divide_by_the_least_likely_stored_transition():
    sampler = PrioritizedSampler(8, np.random.default_rng(0), alpha=1.0, eps=0.5, weight_normalization="buffer")
    sampler.added(np.arange(4))
    sampler.update(np.arange(4), np.array([0.5, -1.5, 3.5, 0.0]))  # priorities 1, 2, 4, 0.5
    probabilities = np.array([1, 2, 4, 0.5]) / 7.5
    beta = 0.4
    largest = (4 * probabilities.min()) ** -beta  # transition 3, whether sampled or not
    weights = sampler.weights(np.array([0, 2]), 4, beta)
    np.testing.assert_allclose(weights, (4 * probabilities[[0, 2]]) ** -beta / largest, rtol=1e-6)
    assert weights.max() < 1.0  # the batch's largest weight is not 1 unless it holds the rarest
    batch_max = PrioritizedSampler(8, np.random.default_rng(0), alpha=1.0, eps=0.5)
    batch_max.added(np.arange(4))
    batch_max.update(np.arange(4), np.array([0.5, -1.5, 3.5, 0.0]))
    np.testing.assert_allclose(batch_max.weights(np.array([0, 2]), 4, beta).max(), 1.0)


def test_excluded_transitions_do_not_set_the_buffer_minimum():
    sampler = PrioritizedSampler(4, np.random.default_rng(0), alpha=1.0, eps=0.5, weight_normalization="buffer")
    sampler.added(np.arange(4))
    sampler.update(np.arange(4), np.array([0.5, 1.5, 3.5, 2.5]))  # 1, 2, 4, 3
    sampler.exclude(np.array([0]))  # its frames are gone
    assert sampler.min_tree.root() == 2.0
    assert np.isfinite(sampler.weights(np.arange(1, 4), 4, 1.0)).all()


def test_the_min_tree_travels_in_the_replay_state():
    settings = Prioritization(0.6, 1e-6, "buffer")
    replay = ReplayBuffer(8, [1], np.float32, prioritized=settings)
    for t in range(5):
        replay.add(*(np.array([x]) for x in (np.float32([t]), 0, np.float32(t), np.float32([t + 1]), False, False)))
    replay.update_priorities(np.arange(5), np.array([0.1, 2.0, 0.01, 3.0, 1.0]))
    restored = ReplayBuffer(8, [1], np.float32, prioritized=settings)
    restored.load_state_arrays(replay.state_arrays())
    assert restored.sampler.min_tree.root() == replay.sampler.min_tree.root()
    np.testing.assert_array_equal(
        restored.sampler.weights(np.arange(5), 5, 0.5), replay.sampler.weights(np.arange(5), 5, 0.5)
    )


def test_unknown_normalization_is_refused():
    with pytest.raises(ValueError, match="valid: batch, buffer"):
        PrioritizedSampler(4, np.random.default_rng(0), alpha=1.0, eps=0.5, weight_normalization="global")


def test_the_agent_passes_the_choice_to_its_replay():
    info = {"kind": "vector", "observation_shape": [3], "observation_dtype": "float32", "num_actions": 2}
    agent = DQNAgent(DQNConfig(net_arch=[8], prioritized_replay=True, per_weights="buffer"), info, 100, seed=0)
    assert agent.replay.sampler.min_tree is not None


def test_every_inner_node_is_the_combination_of_its_children_after_repeated_sets():
    """Batches with repeated and unsorted leaves, on a capacity that is not a power of two: every
    node equals the sum (or minimum) of its two children, and a repeated leaf keeps its last value."""
    rng = np.random.default_rng(3)
    sums, minima = SumTree(1000), MinTree(1000)
    expected = np.zeros(1000)
    for size in (1, 2, 7, 128, 300):
        for _ in range(20):
            indices = rng.integers(0, 1000, size)
            values = rng.random(size)
            sums.set(indices, values)
            minima.set(indices, values)
            expected[indices] = values  # numpy's assignment: the last of a repeated index wins
    np.testing.assert_array_equal(sums.leaves(), expected)
    inner = np.arange(1, sums.first_leaf)
    np.testing.assert_array_equal(sums.nodes[inner], sums.nodes[2 * inner] + sums.nodes[2 * inner + 1])
    np.testing.assert_array_equal(minima.nodes[inner], np.minimum(minima.nodes[2 * inner], minima.nodes[2 * inner + 1]))
    assert np.isclose(sums.total(), expected.sum())
