import gymnasium as gym
import numpy as np
import pytest

from rlkit.envs import Discretizer, EnvConfig, describe, make_env, make_vector_env
from rlkit.errors import RlkitError


def test_vector_kind_shapes_and_dtypes():
    envs = make_vector_env(EnvConfig(id="CartPole-v1"), num_envs=3)
    observations, _ = envs.reset(seed=0)
    assert observations.shape == (3, 4) and observations.dtype == np.float32
    observations, rewards, terminated, truncated, _ = envs.step(np.zeros(3, dtype=np.int64))
    assert observations.shape == (3, 4) and rewards.shape == (3,) and terminated.dtype == np.bool_
    assert describe(EnvConfig(id="CartPole-v1"))["kind"] == "vector"


def test_discrete_kind_shapes_and_dtypes():
    info = describe(EnvConfig(id="Taxi-v4"))
    assert info == {
        "kind": "discrete",
        "observation_shape": [],
        "observation_dtype": "int64",
        "num_states": 500,
        "num_actions": 6,
        "grid": None,  # Taxi's states are not the cells of its map
        "action_names": ["south", "north", "east", "west", "pickup", "drop-off"],
    }
    grid = describe(EnvConfig(id="CliffWalking-v1"))["grid"]
    assert grid == {"tiles": ["." * 12] * 3 + ["S" + "C" * 10 + "G"], "arrows": "↑→↓←"}
    assert describe(EnvConfig(id="FrozenLake8x8-v1"))["grid"]["tiles"][0] == "SFFFFFFF"
    envs = make_vector_env(EnvConfig(id="Taxi-v4"), num_envs=2)
    observations, _ = envs.reset(seed=0)
    assert observations.shape == (2,) and np.issubdtype(observations.dtype, np.integer)


def test_vector_envs_are_seeded_reproducibly_and_differently():
    first, _ = make_vector_env(EnvConfig(id="CartPole-v1"), 2).reset(seed=7)
    second, _ = make_vector_env(EnvConfig(id="CartPole-v1"), 2).reset(seed=7)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])


def test_discretizer_bins_and_clipping():
    env = Discretizer(gym.make("CartPole-v1"), bins=[1, 1, 2, 3], low=[-1, -1, -0.2, -3.0], high=[1, 1, 0.2, 3.0])
    assert env.observation_space == gym.spaces.Discrete(6)
    # angle bins: < 0 | >= 0; angular velocity bins: < -1 | [-1, 1) | >= 1
    assert env.observation(np.array([0.0, 0.0, -0.1, -2.0])) == 0
    assert env.observation(np.array([0.0, 0.0, -0.1, 0.5])) == 1
    assert env.observation(np.array([0.0, 0.0, 0.1, 2.5])) == 5
    assert env.observation(np.array([9.0, -9.0, 5.0, 99.0])) == 5  # clipped to the top bins
    assert env.observation(np.array([0.0, 0.0, -5.0, -99.0])) == 0


def test_discretized_cartpole_gives_discrete_states():
    config = EnvConfig(id="CartPole-v1", bins=[1, 1, 6, 12], low=[-4.8, -3, -0.21, -3.5], high=[4.8, 3, 0.21, 3.5])
    assert describe(config)["kind"] == "discrete" and describe(config)["num_states"] == 72


@pytest.mark.parametrize(
    ("bins", "low", "message"),
    [
        ([2, 2], [], "env.bins has 2 values"),
        ([2, 2, 2, 2], [], "must be finite"),
        ([2, 2, 2, 2], [1, 1, 1], "env.low has 3 values"),
    ],
)
def test_discretizer_rejects_bad_settings(bins, low, message):
    with pytest.raises(RlkitError, match=message):
        make_env(EnvConfig(id="CartPole-v1", bins=bins, low=low, high=[]))


def test_unknown_env_id_suggests_close_names():
    with pytest.raises(RlkitError, match="did you mean CartPole-v1"):
        make_env(EnvConfig(id="CartPole-v9"))


def test_pixel_kind_is_the_dqn_atari_stack():
    env = make_env(EnvConfig(id="ALE/Pong-v5"))
    observation, _ = env.reset(seed=0)
    assert observation.shape == (4, 84, 84) and observation.dtype == np.uint8
    assert env.unwrapped._frameskip == 1  # skipping is done once, by AtariPreprocessing
    for _ in range(10):
        observation, reward, *_ = env.step(env.action_space.sample())
    assert observation.shape == (4, 84, 84) and observation.dtype == np.uint8
    assert describe(EnvConfig(id="ALE/Pong-v5"))["kind"] == "pixel"


def test_atari_training_clips_rewards_but_statistics_keep_true_scores():
    config = EnvConfig(id="ALE/Breakout-v5", terminal_on_life_loss=True, clip_reward=True)
    env = make_env(config, training=True)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    clipped, lives_lost, true_return = [], 0, None
    for _ in range(3000):
        _, reward, terminated, truncated, info = env.step(int(rng.integers(4)))
        clipped.append(reward)
        if "episode" in info:
            true_return = float(info["episode"]["r"])
            break
        if terminated:
            lives_lost += 1
            env.reset()
    assert set(np.unique(clipped)) <= {0.0, 1.0}
    assert lives_lost == 4, "Breakout has 5 lives: four life losses end an episode for the learner first"
    assert true_return is not None and true_return >= sum(clipped)


def test_atari_evaluation_env_plays_full_games_with_true_rewards():
    env = make_env(EnvConfig(id="ALE/Breakout-v5"), training=False)
    env.reset(seed=0)
    lives = env.unwrapped.ale.lives()
    rng = np.random.default_rng(0)
    for _ in range(3000):
        *_, terminated, truncated, info = env.step(int(rng.integers(4)))
        if terminated or truncated:
            break
    assert terminated and "episode" in info and env.unwrapped.ale.lives() == 0 and lives == 5


def test_fire_reset_is_added_for_games_that_need_it():
    def wrappers(env):
        names = []
        while isinstance(env, gym.Wrapper):
            names.append(type(env).__name__)
            env = env.env
        return names

    assert "FireReset" in wrappers(make_env(EnvConfig(id="ALE/Breakout-v5")))
    assert "RecordEpisodeStatistics" in wrappers(make_env(EnvConfig(id="ALE/Pong-v5")))


def test_qlearning_needs_discrete_actions():
    with pytest.raises(RlkitError, match="Discrete actions"):
        describe(EnvConfig(id="Pendulum-v1"))


def _same_infos(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if key == "t":  # an episode's wall-clock seconds (RecordEpisodeStatistics): differ by nature
            continue
        if isinstance(a[key], dict):
            _same_infos(a[key], b[key])
        elif a[key].dtype == object:  # final_obs: the observations themselves
            for x, y in zip(a[key], b[key]):
                np.testing.assert_array_equal(x, y)
        else:
            assert a[key].dtype == b[key].dtype
            np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize(
    "env_id, discretized", [("Taxi-v4", False), ("CartPole-v1", False), ("CartPole-v1", True), ("FrozenLake-v1", False)]
)
def test_one_env_vector_steps_exactly_as_gymnasiums_sync_vector_env(env_id, discretized):
    """make_vector_env's one-env vector (its direct step) against SyncVectorEnv itself: the same
    observations, rewards, flags and infos (final_obs, final_info, episode statistics, the env's
    own keys) through thousands of steps and many same-step resets."""
    from functools import partial

    from gymnasium.vector import AutoresetMode

    from rlkit.envs.one_env import OneEnvVector

    config = EnvConfig(id=env_id)
    if discretized:
        config = EnvConfig(id=env_id, bins=[1, 1, 6, 12], low=[-4.8, -3, -0.21, -3.5], high=[4.8, 3, 0.21, 3.5])
    ours = make_vector_env(config, 1)
    assert isinstance(ours, OneEnvVector)
    theirs = gym.vector.SyncVectorEnv([partial(make_env, config)], autoreset_mode=AutoresetMode.SAME_STEP)
    a, _ = ours.reset(seed=5)
    b, _ = theirs.reset(seed=5)
    np.testing.assert_array_equal(a, b)
    actions = np.random.default_rng(0).integers(ours.single_action_space.n, size=(3000, 1))
    resets, previous = 0, None
    for action in actions:
        mine, gyms = ours.step(action), theirs.step(action)
        if previous is not None:  # a returned observation is the caller's: later steps leave it alone
            np.testing.assert_array_equal(previous[0], previous[1])
        previous = (mine[0], mine[0].copy())
        for x, y in zip(mine[:4], gyms[:4]):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)
        _same_infos(mine[4], gyms[4])
        resets += int("final_obs" in mine[4])
    assert resets > 10
    ours.close()
    theirs.close()
