"""gymnasium's SyncVectorEnv around one env, stepped without the machinery that many envs need.

SyncVectorEnv.step loops over its envs, unbatches the actions through the action space,
batches the observations through the observation space and copies every result; for one env
that machinery costs several times what a small env's own step does (Taxi steps in about 7 µs).
OneEnvVector keeps everything of SyncVectorEnv (its envs, reset, call, render, close) and
replaces only the same-step-autoreset step for Box and Discrete observations with the direct
one-env equivalent: the same observations, rewards, flags and infos, as tests/test_envs.py
checks against SyncVectorEnv itself. That step keeps none of SyncVectorEnv's per-step
bookkeeping (its batched buffers and next-step autoreset flags), which only its own step reads.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode


class OneEnvVector(gym.vector.SyncVectorEnv):
    """A SyncVectorEnv of exactly one env, with a direct step (see the module's docstring)."""

    def __init__(self, env_fn: Any, autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP):
        super().__init__([env_fn], autoreset_mode=autoreset_mode)
        space = self.single_observation_space
        self._direct = autoreset_mode == AutoresetMode.SAME_STEP and isinstance(
            space, (gym.spaces.Box, gym.spaces.Discrete)
        )
        self._dtype = space.dtype

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._direct:
            return super().step(actions)
        env = self.envs[0]
        observation, reward, terminated, truncated, info = env.step(actions[0])
        infos: dict[str, Any] = {}
        if terminated or truncated:
            infos = self._add_info(infos, {"final_obs": observation, "final_info": info}, 0)
            observation, info = env.reset()
        if info:
            infos = self._add_info(infos, info, 0)
        return (
            np.array(observation, dtype=self._dtype)[None],  # a fresh array, as SyncVectorEnv copies
            np.array([reward], dtype=np.float64),
            np.array([terminated], dtype=np.bool_),
            np.array([truncated], dtype=np.bool_),
            infos,
        )
