"""ale-py's own threaded vector env (`ale_py.vector_env.AtariVectorEnv`) with rlkit's episode
semantics: statistics of true game scores in infos['final_info'] like gymnasium's
RecordEpisodeStatistics, and life loss as termination and reward clipping for training only.

The ALE does the preprocessing itself (no-op reset, frame skip with max-pooling, 84×84
grayscale, frame stack, FIRE on reset). Where it differs from the single-env stack of
rlkit.envs: a new episode's stack is padded with blank frames instead of copies of its first
frame (the frame replay reproduces either padding), frames are resized by the ALE rather than
OpenCV (about 0.3% of pixels differ by a few grey levels), and after a lost life the game
simply goes on: no no-op step, no FIRE, and the stack continues.

Episode lengths count what the single-env stack's statistics count: every emulator frame from
the game's reset to its end, reset no-ops and FIRE included (the ALE's episode frame counter).
Here the reset presses FIRE for one frame and draws its no-ops its own way, nothing is played
after a lost life, and max_frames limits only the frames of the agent's actions, so a
truncated game's length is max_frames plus its reset frames (and no game ends in a reset).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from rlkit.errors import RlkitError


def ale_game(env_id: str) -> str:
    """'ALE/SpaceInvaders-v5' → 'space_invaders', the ROM name AtariVectorEnv takes."""
    name = env_id.split("/", 1)[-1].split("-v", 1)[0]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class AleVectorEpisodes(gym.vector.VectorWrapper):
    """Episode statistics on raw rewards; life-loss termination and reward clipping on demand."""

    def __init__(self, env: gym.vector.VectorEnv, terminal_on_life_loss: bool, clip_reward: bool):
        super().__init__(env)
        self.terminal_on_life_loss = terminal_on_life_loss
        self.clip_reward = clip_reward
        self.returns = np.zeros(self.num_envs)
        self.game_starts = np.zeros(self.num_envs, dtype=np.int64)
        self.lives = np.zeros(self.num_envs, dtype=np.int64)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if isinstance(seed, list):  # one seed per env, as gymnasium's vector envs take them;
            seed = np.array([value % 2**31 for value in seed], dtype=np.int64)  # the ALE keeps a C int
        observations, infos = self.env.reset(seed=seed, options=options)
        self.returns[:] = 0.0
        self.game_starts = _game_starts(infos)
        self.lives = np.asarray(infos["lives"]).copy()
        return observations, infos

    def step(self, actions: np.ndarray):
        observations, rewards, terminated, truncated, infos = self.env.step(actions)
        self.returns += rewards
        game_starts = _game_starts(infos)  # a game that ended this step was reset in it
        lengths = game_starts - self.game_starts
        self.game_starts = game_starts
        game_over = terminated | truncated
        if game_over.any():
            final_info = {
                "episode": {"r": np.where(game_over, self.returns, 0.0), "l": np.where(game_over, lengths, 0)},
                "_episode": game_over.copy(),
            }
            infos = {**infos, "final_info": final_info, "_final_info": game_over.copy(), "_final_obs": game_over.copy()}
            self.returns[game_over] = 0.0
        lives = np.asarray(infos["lives"])
        if self.terminal_on_life_loss:
            terminated = terminated | ((lives < self.lives) & (lives > 0) & ~game_over)
        self.lives = lives.copy()
        if self.clip_reward:
            rewards = np.sign(rewards)
        return observations, rewards.astype(np.float32), terminated, truncated, infos


def _game_starts(infos: dict[str, Any]) -> np.ndarray:
    """The emulator frame at which each env's current game was reset."""
    return np.asarray(infos["frame_number"], dtype=np.int64) - np.asarray(infos["episode_frame_number"], dtype=np.int64)


ALE_VECTOR_VERSION = "0.11.1"  # AtariVectorEnv came in ale-py 0.11.0, its autoreset_mode in 0.11.1


def atari_vector_env_class() -> type:
    """ale-py's AtariVectorEnv, or one line naming the ale-py it needs."""
    try:
        from ale_py.vector_env import AtariVectorEnv

        if "autoreset_mode" in inspect.signature(AtariVectorEnv).parameters:
            return AtariVectorEnv
    except ImportError:
        pass
    try:
        installed = f"ale-py {importlib.metadata.version('ale-py')} is installed"
    except importlib.metadata.PackageNotFoundError:
        installed = "ale-py is not installed"
    raise RlkitError(
        f"env.vectorization = 'ale' needs ale-py {ALE_VECTOR_VERSION} or newer (AtariVectorEnv with autoreset_mode), "
        f"{installed}; valid: pip install 'ale-py>={ALE_VECTOR_VERSION}', or vectorization sync or async"
    )


def make_ale_vector_env(config: Any, num_envs: int, training: bool) -> gym.vector.VectorEnv:
    """An AtariVectorEnv for `config` (an rlkit.envs.EnvConfig of an ALE id)."""
    env = atari_vector_env_class()(
        ale_game(config.id),
        num_envs,
        autoreset_mode=AutoresetMode.SAME_STEP,
        noop_max=config.noop_max,
        frameskip=config.frame_skip,
        maxpool=True,
        img_height=config.screen_size,
        img_width=config.screen_size,
        grayscale=True,
        stack_num=config.frame_stack,
        episodic_life=False,
        reward_clipping=False,
        use_fire_reset=True,
        repeat_action_probability=config.repeat_action_probability,
        full_action_space=config.full_action_space,
        max_num_frames_per_episode=config.max_frames,
    )
    return AleVectorEpisodes(
        env,
        terminal_on_life_loss=training and config.terminal_on_life_loss,
        clip_reward=training and config.clip_reward,
    )
