"""Atari episode statistics: every finished game is reported once, with its length in emulator
frames from the game's reset to its end (the ALE's episode frame counter), on both the
gymnasium stack and ale-py's vector env."""

from collections import defaultdict

import gymnasium as gym
import numpy as np
import pytest
from ale_py.env import AtariEnv
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from rlkit.envs import EnvConfig, make_env, make_vector_env
from rlkit.errors import RlkitError

Episode = tuple[int, float]  # (length in frames, return)


@pytest.fixture
def finished_games(monkeypatch) -> dict[AtariEnv, list[Episode]]:
    """The games each gymnasium AtariEnv finished: the ALE's episode frame counter when the game
    was reset, and the sum of the game's raw rewards."""
    games: dict[AtariEnv, list[Episode]] = defaultdict(list)
    real_reset, real_step = AtariEnv.reset, AtariEnv.step

    def reset(self, *args, **kwargs):
        if hasattr(self, "test_score"):
            games[self].append((self.ale.getEpisodeFrameNumber(), self.test_score))
        self.test_score = 0.0
        return real_reset(self, *args, **kwargs)

    def step(self, action):
        result = real_step(self, action)
        self.test_score += float(result[1])
        return result

    monkeypatch.setattr(AtariEnv, "reset", reset)
    monkeypatch.setattr(AtariEnv, "step", step)
    return games


def play(envs: gym.vector.VectorEnv, seed: int, steps: int, actions=None) -> list[list[Episode]]:
    """Step `envs` (random actions unless `actions` gives one for all envs); the episodes
    reported in infos['final_info'], per env, as the training loop reads them."""
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    reported: list[list[Episode]] = [[] for _ in range(envs.num_envs)]
    for _ in range(steps):
        if actions is None:
            step_actions = rng.integers(envs.single_action_space.n, size=envs.num_envs)
        else:
            step_actions = np.full(envs.num_envs, actions)
        *_, infos = envs.step(step_actions)
        final_info = infos.get("final_info", {})
        if "episode" in final_info:
            for i in np.flatnonzero(final_info["_episode"]):
                reported[i].append((int(final_info["episode"]["l"][i]), float(final_info["episode"]["r"][i])))
    return reported


def first_life_lost_at() -> int:
    """Breakout, no no-ops, always NOOP after FIRE: the ALE frame at the end of the step that
    loses the first life."""
    env = make_env(EnvConfig(id="ALE/Breakout-v5", noop_max=0), training=False)
    env.reset(seed=0)
    while env.unwrapped.ale.lives() == 5:
        env.step(0)
    return env.unwrapped.ale.getEpisodeFrameNumber()


@pytest.mark.parametrize(
    "frames_after_life_loss",
    [2, 6],  # the time limit falls in the new life's no-op step (frames 1-4), then in its FIRE step (5-8)
)
def test_a_game_ending_while_a_new_life_starts_is_reported_once(finished_games, frames_after_life_loss):
    max_frames = first_life_lost_at() + frames_after_life_loss
    config = EnvConfig(id="ALE/Breakout-v5", noop_max=0, max_frames=max_frames)
    envs = make_vector_env(config, num_envs=2, training=True)
    reported = play(envs, seed=0, steps=3 * max_frames // 4, actions=0)
    for i, env in enumerate(envs.envs):
        games = finished_games[env.unwrapped]
        assert len(games) >= 2 and all(length == max_frames for length, _ in games)
        assert reported[i] == games


def test_gymnasium_lengths_are_the_ale_episode_frame_counter(finished_games):
    """With no-ops, FIRE, the new lives' no-op and FIRE, time limits and game overs."""
    envs = make_vector_env(EnvConfig(id="ALE/Breakout-v5", max_frames=700), num_envs=2, training=True)
    reported = play(envs, seed=3, steps=600)
    for i, env in enumerate(envs.envs):
        games = finished_games[env.unwrapped]
        lengths = [length for length, _ in games]
        assert len(games) >= 3 and min(lengths) < 700 and max(lengths) == 700  # game overs and time limits
        assert reported[i] == games


def test_ale_vector_lengths_are_the_ale_episode_frame_counter():
    """Against an AtariVectorEnv that resets on the next step, whose info at the last step of a
    game still holds the ALE's episode frame counter."""
    max_frames = 700
    envs = make_vector_env(EnvConfig(id="ALE/Breakout-v5", vectorization="ale", max_frames=max_frames), num_envs=1)
    reference = AtariVectorEnv(
        "breakout",
        1,
        autoreset_mode=AutoresetMode.NEXT_STEP,
        noop_max=30,
        frameskip=4,
        reward_clipping=False,
        use_fire_reset=True,
        repeat_action_probability=0.0,
        max_num_frames_per_episode=max_frames,
    )
    envs.reset(seed=3)
    reference.reset(seed=3)
    rng = np.random.default_rng(3)
    reported, games, score = [], [], 0.0
    for _ in range(600):
        actions = rng.integers(4, size=1)
        *_, infos = envs.step(actions)
        if "episode" in infos.get("final_info", {}):
            episode = infos["final_info"]["episode"]
            reported.append((int(episode["l"][0]), float(episode["r"][0])))
        _, reward, terminated, truncated, info = reference.step(actions)
        score += float(reward[0])
        if terminated[0] or truncated[0]:
            games.append((int(info["episode_frame_number"][0]), score))
            score = 0.0
            reference.step(actions)  # the reset step
    assert len(games) >= 3 and any(length < max_frames for length, _ in games)
    assert any(length > max_frames for length, _ in games), "a time limit counts only the agent's frames"
    assert reported == games


@pytest.mark.parametrize(
    ("game", "max_frames", "steps"),
    [
        ("Freeway", 4 * 50 + 2, 120),  # time limits that fall inside a frame skip
        ("MsPacman", 108_000, 520),  # game overs inside a frame skip, after lost lives
    ],
)
def test_both_paths_report_the_same_lengths_when_they_play_the_same_frames(game, max_frames, steps):
    """Games without FIRE, no no-ops and no new-life steps (evaluation envs): both paths play the
    same frames for the same actions, so they must report the same episodes."""
    config = EnvConfig(id=f"ALE/{game}-v5", noop_max=0, max_frames=max_frames)
    single = play(make_vector_env(config, num_envs=2, training=False), seed=0, steps=steps)
    config.vectorization = "ale"
    ale = play(make_vector_env(config, num_envs=2, training=False), seed=0, steps=steps)
    assert all(single) and single == ale
    lengths = {length for episodes in ale for length, _ in episodes}
    assert any(length % 4 for length in lengths), "some game ends within the frames of its last step"
    if game == "Freeway":
        assert lengths == {max_frames}


def test_a_time_limit_that_can_end_a_game_in_its_reset_is_refused():
    with pytest.raises(RlkitError, match="set it above 34 or lower env.noop_max"):
        make_env(EnvConfig(id="ALE/Breakout-v5", max_frames=34))
    make_env(EnvConfig(id="ALE/Breakout-v5", max_frames=35)).close()
    make_env(EnvConfig(id="ALE/Freeway-v5", max_frames=31)).close()  # no FIRE step
