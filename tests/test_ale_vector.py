import numpy as np
import pytest
import torch

from rlkit.envs import EnvConfig, make_vector_env
from rlkit.envs.ale_vector import ale_game
from rlkit.errors import RlkitError
from rlkit.replay.buffer import ReplayBuffer
from rlkit.replay.frames import FrameReplay


def test_rom_names():
    assert ale_game("ALE/Pong-v5") == "pong" and ale_game("ALE/SpaceInvaders-v5") == "space_invaders"


def test_an_ale_py_without_autoreset_mode_is_named_in_one_line(monkeypatch):
    """ale-py 0.11.0's AtariVectorEnv has no autoreset_mode: one line naming the version needed."""
    import ale_py.vector_env

    class AtariVectorEnvOf0110:
        def __init__(self, game: str, num_envs: int, *, stack_num: int = 4): ...

    monkeypatch.setattr(ale_py.vector_env, "AtariVectorEnv", AtariVectorEnvOf0110)
    with pytest.raises(RlkitError, match=r"needs ale-py 0\.11\.1 or newer .* is installed; valid: pip install") as error:
        make_vector_env(EnvConfig(id="ALE/Pong-v5", vectorization="ale"), num_envs=2)
    assert "\n" not in str(error.value)


def test_life_losses_end_learner_episodes_and_statistics_keep_true_scores():
    envs = make_vector_env(EnvConfig(id="ALE/Breakout-v5", vectorization="ale"), num_envs=2, training=True)
    observations, _ = envs.reset(seed=0)
    assert observations.shape == (2, 4, 84, 84) and observations.dtype == np.uint8
    rng = np.random.default_rng(0)
    ends = np.zeros(2, dtype=int)
    clipped = np.zeros(2)
    for _ in range(5000):
        _, rewards, terminated, truncated, infos = envs.step(rng.integers(4, size=2))
        assert set(np.unique(rewards)) <= {0.0, 1.0}
        clipped += rewards
        ends += terminated | truncated
        if "final_info" in infos:
            env = int(np.flatnonzero(infos["final_info"]["_episode"])[0])
            assert ends[env] == 5, "Breakout: four lost lives end learner episodes before the game ends"
            assert infos["final_info"]["episode"]["r"][env] >= clipped[env]
            assert infos["final_info"]["episode"]["l"][env] > 0
            break
    else:
        raise AssertionError("no game ended")


def test_frame_replay_rebuilds_the_ale_stacks_with_their_blank_padding():
    envs = make_vector_env(EnvConfig(id="ALE/Breakout-v5", vectorization="ale", max_frames=400), num_envs=2)
    observations, _ = envs.reset(seed=1)
    naive = ReplayBuffer(600, [4, 84, 84], np.uint8)
    lean = FrameReplay(600, 2, [4, 84, 84])
    rng = np.random.default_rng(1)
    episode_ends = 0
    for _ in range(300):
        actions = rng.integers(4, size=2)
        next_observations, rewards, terminated, truncated, infos = envs.step(actions)
        real_next = next_observations.copy()
        if "final_obs" in infos:
            for i in np.flatnonzero(infos["_final_obs"]):
                real_next[i] = infos["final_obs"][i]
        episode_ends += int((terminated | truncated).sum())
        for buffer in (naive, lean):
            buffer.add(observations, actions, rewards, real_next, terminated, truncated)
        observations = next_observations
    assert episode_ends >= 2
    indices = np.arange(len(naive))
    assert lean.frames_stored(indices).all()
    for name, a, b in zip(naive.batch(indices)._fields, naive.batch(indices), lean.batch(indices)):
        assert torch.equal(a, b), name


def test_dqn_trains_with_the_ale_vector_env(cli, tmp_path):
    code, _, err = cli(
        "train",
        "--agent",
        "dqn-atari",
        "--env",
        "pong",
        "--steps",
        1200,
        "--set",
        "env.vectorization=ale",
        "--set",
        "env.num_envs=4",
        "--set",
        "buffer_size=1000",
        "--set",
        "learning_starts=400",
        "--set",
        "eval_interval=0",
        "--set",
        "final_eval_episodes=1",
        "--set",
        "env.max_frames=1500",
        "--set",
        "torch_threads=2",
        "--run-dir",
        tmp_path,
        "--no-progress",
    )
    assert code == 0, err
    assert next(tmp_path.glob("pong/dqn-atari/*/checkpoints/step-000000001200")).is_dir()
