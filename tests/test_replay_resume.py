"""Replay across a resume (episodes restart, so n-step windows must stop at the checkpoint),
the frame replay's validity when episodes are very short, and the replay RNG's state in a
checkpoint written before the replay exists."""

import numpy as np
import pytest
import torch

from rlkit.agents.dqn import DQNAgent, DQNConfig
from rlkit.config import build_config
from rlkit.replay.buffer import Prioritization, ReplayBuffer, n_step_windows
from rlkit.replay.frames import FrameReplay
from rlkit.run.trainer import Run, new_run_dir

PRIORITIZED = [None, Prioritization(0.6, 1e-6)]


def _vector_replay(prioritized):
    return ReplayBuffer(16, [1], np.float32, n_steps=3, gamma=0.5, prioritized=prioritized)


def _frame_replay(prioritized):
    return FrameReplay(16, 1, [2, 2, 2], n_steps=3, gamma=0.5, prioritized=prioritized)


def _observation(kind, frames):
    """A vector observation (the newest frame's value) or a stack of 2×2 frames of these values."""
    if kind == "vector":
        return np.array([[frames[-1]]], dtype=np.float32)
    return np.array([[np.full((2, 2), f, dtype=np.uint8) for f in frames]])


def _episode(replay, kind, first, rewards):
    """One env's episode: frames first, first + 1, ...; its transitions neither end nor truncate."""
    frames = [first, first]
    for k, reward in enumerate(rewards):
        following = [frames[-1], first + k + 1]
        replay.add(
            _observation(kind, frames),
            np.array([0]),
            np.array([reward], dtype=np.float32),
            _observation(kind, following),
            np.array([False]),
            np.array([False]),
        )
        frames = following


@pytest.mark.parametrize("prioritized", PRIORITIZED, ids=["uniform", "prioritized"])
@pytest.mark.parametrize("kind", ["vector", "frames"])
def test_n_step_windows_stop_at_a_resume(kind, prioritized):
    make = _vector_replay if kind == "vector" else _frame_replay
    before = make(prioritized)
    _episode(before, kind, first=10, rewards=[1.0, 2.0])  # episode A, cut by the checkpoint
    after = make(prioritized)
    after.load_state_arrays(before.state_arrays())  # the resumed run's replay
    _episode(after, kind, first=50, rewards=[100.0, 200.0])  # episode B
    batch = after.batch(np.array([0, 1]))
    np.testing.assert_allclose(batch.rewards.numpy(), [2.0, 2.0])  # 1 + 0.5·2 and 2
    np.testing.assert_allclose(batch.discounts.numpy(), [0.25, 0.5])
    assert not batch.terminated.any()  # the cut bootstraps, from A's own last next observation
    expected = torch.as_tensor(_observation(kind, [11, 12]))
    for next_observation in batch.next_observations:
        assert torch.equal(next_observation, expected[0])
    # B's own windows are untouched
    batch = after.batch(np.array([2]))
    np.testing.assert_allclose(batch.rewards.numpy(), [100.0 + 0.5 * 200.0])


def test_a_resume_in_the_middle_of_episodes_cuts_every_env_once(tmp_path):
    """CartPole episodes of random length on 3 envs, every switch on, stopped at a step that is
    no episode boundary: after the resume no n-step window of a transition stored before it
    reaches a transition stored after it."""
    sets = [
        "n_steps=3",
        "prioritized_replay=true",
        "dueling=true",
        "double_q=true",
        "normalize_observations=true",
        "save_replay=true",
        "learning_starts=30",
        "batch_size=8",
        "net_arch=[16]",
        "buffer_size=1000",
        "eval_interval=0",
        "final_eval_episodes=1",
        "env.num_envs=3",
    ]
    config = build_config("dqn", "cartpole", 300, 3, sets)
    folder = new_run_dir(config, tmp_path)
    assert Run(config, progress=False).train(folder, until=150) is None
    run = Run(config, progress=False)
    from rlkit.run import checkpoint

    run.restore(checkpoint.find(folder))
    replay = run.agent.replay
    boundary = replay.position  # transitions before this index were stored before the resume
    open_before = ~(replay.terminated | replay.truncated)[boundary - 3 : boundary]
    assert not open_before.any(), "each env's newest transition ends its episode at the resume"
    run.train(folder)
    replay = run.agent.replay
    indices = np.arange(boundary)
    _, last, _ = n_step_windows(
        indices, replay.rewards, replay.terminated, replay.truncated, replay.position, 3, 3, 0.99
    )
    assert (last < boundary).all()


# ------------------------------------------------------------------ very short episodes


def _one_step_episodes(replay, count, rng):
    for _ in range(count):
        first = rng.integers(1, 255, size=replay.num_envs, dtype=np.uint8)
        following = rng.integers(1, 255, size=replay.num_envs, dtype=np.uint8)
        observations = np.broadcast_to(first[:, None, None, None], (replay.num_envs, 4, 3, 3)).copy()
        next_observations = np.concatenate(
            [observations[:, 1:], np.broadcast_to(following[:, None, None, None], (replay.num_envs, 1, 3, 3))], axis=1
        )
        ended = rng.random(replay.num_envs) < 0.5
        replay.add(
            observations,
            np.zeros(replay.num_envs, dtype=np.int64),
            np.zeros(replay.num_envs, dtype=np.float32),
            next_observations,
            ended,
            ~ended,
        )


@pytest.mark.parametrize("prioritized", PRIORITIZED, ids=["uniform", "prioritized"])
def test_every_counted_transition_of_one_step_episodes_can_be_sampled(prioritized):
    replay = FrameReplay(256, 2, [4, 3, 3], seed=0, prioritized=prioritized)
    rng = np.random.default_rng(0)
    _one_step_episodes(replay, 400, rng)  # 800 transitions, 1,600 frames through rings of 140
    stored = replay.frames_stored(np.arange(replay.size))
    assert replay.size == 256 and 0 < stored.sum() < 256  # the frames ran out before the transitions
    assert len(replay) == stored.sum()  # len() counts exactly the transitions that can be sampled
    np.testing.assert_array_equal(~replay.invalid[: replay.size], stored)
    sampled = replay.sample_indices(20_000)
    assert stored[sampled].all()
    assert set(sampled) == set(np.flatnonzero(stored))  # every one of them is drawn
    # and each rebuilt stack is what the env gave: the first frame repeated, then the next one
    batch = replay.batch(np.flatnonzero(stored))
    observations, next_observations = batch.observations.numpy(), batch.next_observations.numpy()
    assert (observations == observations[:, :1]).all()
    assert (next_observations[:, :3] == observations[:, :3]).all()


def test_one_step_episodes_keep_about_half_the_capacity():
    replay = FrameReplay(3200, 1, [4, 3, 3])
    _one_step_episodes(replay, 10_000, np.random.default_rng(1))
    assert 0.5 <= len(replay) / 3200 <= 0.53  # (1 + 1/32) / 2 of it, as the docstring says


def test_validity_survives_a_checkpoint():
    replay = FrameReplay(256, 2, [4, 3, 3])
    _one_step_episodes(replay, 400, np.random.default_rng(2))
    restored = FrameReplay(256, 2, [4, 3, 3])
    restored.load_state_arrays(replay.state_arrays())
    assert len(restored) == len(replay)
    np.testing.assert_array_equal(restored.invalid, replay.invalid)
    _one_step_episodes(replay, 100, np.random.default_rng(3))
    _one_step_episodes(restored, 100, np.random.default_rng(3))
    np.testing.assert_array_equal(restored.invalid, replay.invalid)
    assert len(restored) == len(replay)


# ------------------------------------------------------------------ the replay RNG in a checkpoint


def test_a_checkpoint_before_the_replay_exists_keeps_its_rng_state():
    info = {"kind": "vector", "observation_shape": [3], "observation_dtype": "float32", "num_actions": 2}
    config = DQNConfig(net_arch=[8])
    trained = DQNAgent(config, info, total_steps=1000, seed=0)
    trained.replay.rng.random(7)  # the sampler has drawn
    tensors, meta = trained.state()
    resumed = DQNAgent(config, info, total_steps=1000, seed=0)  # a resume without the replay's contents
    resumed.load_state(tensors, meta)
    _, saved_again = resumed.state()  # written before the first observe allocates the replay
    assert saved_again["replay_rng"] == meta["replay_rng"]
    assert resumed.replay.rng.bit_generator.state == trained.replay.rng.bit_generator.state


def test_both_replay_memories_answer_the_replay_protocol():
    import inspect

    from rlkit.replay import Replay

    vectors = ReplayBuffer(8, (4,), np.float32, torch.device("cpu"), np.random.SeedSequence(0))
    frames = FrameReplay(8, 1, (4, 10, 10), torch.device("cpu"), np.random.SeedSequence(0), bit_planes=True)
    for replay in (vectors, frames):
        assert isinstance(replay, Replay)
        for name in ("add", "sample", "update_priorities", "end_episodes", "state_arrays", "load_state_arrays"):
            protocol = inspect.signature(getattr(Replay, name))
            assert list(inspect.signature(getattr(replay, name)).parameters) == list(protocol.parameters)[1:], name
