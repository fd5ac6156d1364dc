import numpy as np
import pytest
import torch

from rlkit.envs import EnvConfig, make_vector_env
from rlkit.replay.buffer import Prioritization, ReplayBuffer
from rlkit.replay.frames import FrameReplay


def _rollout(num_envs: int, steps: int, seed: int = 0):
    """Transitions of a real Atari vector env, with life-loss ends and time-limit truncations."""
    config = EnvConfig(id="ALE/Breakout-v5", terminal_on_life_loss=True, max_frames=400)
    envs = make_vector_env(config, num_envs)
    observations, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        actions = rng.integers(4, size=num_envs)
        next_observations, rewards, terminated, truncated, infos = envs.step(actions)
        real_next = next_observations.copy()
        if "final_obs" in infos:
            for i in np.flatnonzero(infos["_final_obs"]):
                real_next[i] = infos["final_obs"][i]
        yield observations, actions, rewards.astype(np.float32), real_next, terminated, truncated
        observations = next_observations
    envs.close()


@pytest.fixture(scope="module")
def transitions():
    return list(_rollout(num_envs=3, steps=400))


def _fill(transitions, capacity, num_envs, n_steps=1, prioritized=None):
    naive = ReplayBuffer(capacity, [4, 84, 84], np.uint8, num_envs=num_envs, n_steps=n_steps, prioritized=prioritized)
    lean = FrameReplay(capacity, num_envs, [4, 84, 84], n_steps=n_steps, prioritized=prioritized)
    for transition in transitions:
        naive.add(*transition)
        lean.add(*transition)
    return naive, lean


def _assert_same(naive, lean, indices):
    expected, actual = naive.batch(indices), lean.batch(indices)
    for name, a, b in zip(expected._fields, expected, actual):
        assert torch.equal(a, b), name


def test_same_batches_as_a_buffer_of_full_stacks(transitions):
    episode_ends = sum(int((t[4] | t[5]).sum()) for t in transitions)
    truncations = sum(int(t[5].sum()) for t in transitions)
    assert episode_ends >= 6 and truncations >= 1, "the rollout must cross episode ends and truncations"
    naive, lean = _fill(transitions, capacity=3 * 400, num_envs=3)
    _assert_same(naive, lean, np.arange(len(naive)))


def test_same_batches_after_wrap_around(transitions):
    naive, lean = _fill(transitions, capacity=150, num_envs=3)
    assert lean.position == naive.position and len(lean) == len(naive) == 150
    indices = np.arange(150)
    assert lean.frames_stored(indices).all()
    _assert_same(naive, lean, indices)


@pytest.mark.parametrize("capacity", [3 * 400, 150])
def test_n_step_prioritized_batches_match_a_buffer_of_full_stacks(transitions, capacity):
    naive, lean = _fill(transitions, capacity, num_envs=3, n_steps=3, prioritized=Prioritization(0.6, 1e-6))
    _assert_same(naive, lean, np.arange(len(naive)))
    td_errors = np.random.default_rng(1).exponential(size=len(naive))
    for buffer in (naive, lean):
        buffer.update_priorities(np.arange(len(naive)), td_errors)
    expected, actual = naive.sample(64, beta=0.5), lean.sample(64, beta=0.5)
    for name, a, b in zip(expected._fields, expected, actual):
        assert torch.equal(a, b), name
    assert (actual.discounts < 0.99**2).any() and (actual.weights < 1).any()  # real windows and weights


def test_first_stack_of_an_episode_is_padded_with_its_first_frame(transitions):
    _, lean = _fill(transitions[:1], capacity=30, num_envs=3)
    observations = lean.batch(np.arange(3)).observations
    for env in range(3):
        assert all(torch.equal(observations[env, k], observations[env, 0]) for k in range(4))
    assert (lean.written == 2).all()  # one frame for the reset observation, one for the next


def test_sampled_batches_match_and_are_uniform(transitions):
    naive, lean = _fill(transitions, capacity=300, num_envs=3)
    indices = lean.sample_indices(20_000)
    counts = np.bincount(indices, minlength=300)
    assert counts.min() > 0.5 * counts.mean() and counts.max() < 1.5 * counts.mean()
    _assert_same(naive, lean, indices[:64])


def test_bytes_per_transition_is_about_one_frame():
    lean = FrameReplay(1_000_000, 8, [4, 84, 84], device="meta")
    assert lean.nbytes() / 1_000_000 <= 7_500


def test_prioritized_replay_adds_only_the_priority_tree():
    uniform = FrameReplay(1_000_000, 8, [4, 84, 84], device="meta")
    prioritized = FrameReplay(
        1_000_000, 8, [4, 84, 84], device="meta", n_steps=3, prioritized=Prioritization(0.6, 1e-6)
    )
    extra = prioritized.nbytes() - uniform.nbytes()
    assert extra == 2 * 2**20 * 8  # float64 leaves and inner sums of a tree over 2^20 ≥ 10^6 slots
    assert extra / 1_000_000 < 17
