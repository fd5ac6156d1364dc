"""CartPole that records every seeded reset: the seed it was given and the first numbers its
generator then draws, so tests can check which random streams the envs of a run get."""

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

SEEDED_RESETS: list[tuple[int, tuple[int, ...]]] = []


class RecordingCartPole(CartPoleEnv):
    def reset(self, *, seed=None, options=None):
        if seed is not None:
            super(CartPoleEnv, self).reset(seed=seed)  # seeds np_random without drawing from it
            copy = np.random.Generator(type(self.np_random.bit_generator)())
            copy.bit_generator.state = self.np_random.bit_generator.state
            SEEDED_RESETS.append((seed, tuple(copy.bit_generator.random_raw(4).tolist())))
        return super().reset(seed=seed, options=options)


gym.register(id="RecordingCartPole-v0", entry_point=RecordingCartPole, max_episode_steps=500)
