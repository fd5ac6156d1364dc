"""The discretizer gives the states it always gave, so Q-tables learned before stay valid."""

import gymnasium as gym
import numpy as np
import pytest

from rlkit.config import build_config
from rlkit.envs import Discretizer, make_env
from rlkit.errors import RlkitError


class ReferenceDiscretizer(gym.ObservationWrapper):
    """rlkit's Discretizer as it was when the first Q-tables were learned (copied, not imported)."""

    def __init__(self, env: gym.Env, bins: list[int], low: list[float], high: list[float]):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise RlkitError(f"bins need a 1-D Box observation space, got {space}")
        dims = space.shape[0]
        low = list(low) if low else list(space.low)
        high = list(high) if high else list(space.high)
        for name, values in (("bins", bins), ("low", low), ("high", high)):
            if len(values) != dims:
                raise RlkitError(f"env.{name} has {len(values)} values; the observation has {dims} dimensions")
        if not np.all(np.isfinite(low + high)):
            raise RlkitError("env.low and env.high must be finite: give clip ranges for unbounded dimensions")
        if any(lo >= hi for lo, hi in zip(low, high)):
            raise RlkitError("env.low must be below env.high in every dimension")
        self.bins = tuple(int(b) for b in bins)
        self.edges = [np.linspace(lo, hi, b + 1)[1:-1] for lo, hi, b in zip(low, high, self.bins)]
        self.observation_space = gym.spaces.Discrete(int(np.prod(self.bins)))

    def observation(self, observation: np.ndarray) -> int:
        indices = tuple(int(np.searchsorted(e, x, side="right")) for e, x in zip(self.edges, observation))
        return int(np.ravel_multi_index(indices, self.bins))


def _preset_env_config(env: str):
    return build_config("qlearning", env).env


def _around(value: np.float32, steps: int = 2) -> list[np.float32]:
    """`value` and the `steps` float32 values on either side of it."""
    up, down = [value], [value]
    for _ in range(steps):
        up.append(np.nextafter(up[-1], np.float32(np.inf)))
        down.append(np.nextafter(down[-1], np.float32(-np.inf)))
    return down[:0:-1] + up


def _observations(reference: ReferenceDiscretizer, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Random float32 observations, a third of them outside [low, high], and every float32
    value at and two steps either side of each bin edge and bound (other dimensions random)."""
    rng = np.random.default_rng(0)
    span = high - low
    observations = [rng.uniform(low - span, high + span, size=(3000, len(low)))]
    for dim, edges in enumerate(reference.edges):
        for value in np.concatenate([edges, [low[dim], high[dim]]]).astype(np.float32):
            for x in _around(value):
                observation = rng.uniform(low, high)
                observation[dim] = x
                observations.append(observation[np.newaxis])
    return np.concatenate(observations).astype(np.float32)


@pytest.mark.parametrize("preset", ["cartpole", "mountaincar"])
def test_states_equal_the_reference_discretizer(preset):
    config = _preset_env_config(preset)
    assert config.bins, f"the {preset} preset for qlearning discretizes"
    reference = ReferenceDiscretizer(gym.make(config.id), config.bins, config.low, config.high)
    env = make_env(config)
    assert isinstance(env, Discretizer) and env.observation_space == reference.observation_space
    observations = _observations(reference, np.array(config.low), np.array(config.high))
    states = [env.observation(observation) for observation in observations]
    assert states == [reference.observation(observation) for observation in observations]
    assert all(type(state) is int for state in states)


def test_states_equal_the_reference_on_the_spaces_own_bounds():
    env = Discretizer(gym.make("MountainCar-v0"), [7, 5], [], [])
    reference = ReferenceDiscretizer(gym.make("MountainCar-v0"), [7, 5], [], [])
    space = gym.make("MountainCar-v0").observation_space
    observations = _observations(reference, space.low.astype(np.float64), space.high.astype(np.float64))
    assert [env.observation(o) for o in observations] == [reference.observation(o) for o in observations]


def test_infinite_observations_fall_in_the_end_bins():
    env = Discretizer(gym.make("CartPole-v1"), [1, 1, 2, 3], [-1, -1, -0.2, -3.0], [1, 1, 0.2, 3.0])
    assert env.observation(np.array([0, 0, np.inf, np.inf], dtype=np.float32)) == 5
    assert env.observation(np.array([0, 0, -np.inf, -np.inf], dtype=np.float32)) == 0


@pytest.mark.skipif(
    not hasattr(gym.wrappers, "DiscretizeObservation"), reason="gymnasium < 1.2.1 has no DiscretizeObservation"
)
def test_gymnasiums_discretizer_differs_at_float32_bin_edges():
    """The example in Discretizer's docstring. If this fails, gymnasium's wrapper may now give
    rlkit's states: see whether rlkit can use it instead."""
    config = _preset_env_config("mountaincar")
    assert (config.low, config.high) == ([-1.2, -0.07], [0.6, 0.07])  # MountainCar's own observation space
    ours = make_env(config)
    theirs = gym.wrappers.DiscretizeObservation(gym.make("MountainCar-v0"), tuple(config.bins))
    observation = np.array([-0.3, 0.0], dtype=np.float32)
    assert (ours.observation(observation), theirs.observation(observation)) == (190, 210)
