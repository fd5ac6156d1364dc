"""A small env for checkpoint tests: each episode lasts exactly 10 steps, observations are
drawn from the env's own RNG, and reset() returns zeros without drawing from it. So a run
whose checkpoint falls on an episode boundary can be resumed bit for bit."""

import gymnasium as gym
import numpy as np

EPISODE_LENGTH = 10


class NoiseEnv(gym.Env):
    observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.observation = np.zeros(4, dtype=np.float32)
        return self.observation, {}

    def step(self, action):
        reward = float(self.observation[0] * (1.0 if action == 1 else -1.0))
        self.t += 1
        self.observation = self.np_random.normal(size=4).astype(np.float32)
        return self.observation, reward, self.t >= EPISODE_LENGTH, False, {}


gym.register(id="Noise-v0", entry_point=NoiseEnv)
