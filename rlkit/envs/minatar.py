"""MinAtar (Young & Tian 2019): five Atari analogues on a 10×10 grid of n binary planes, as a
gymnasium env with channels-first uint8 observations, and a colour picture of a grid.

rlkit builds these envs itself from `minatar.Environment` rather than through `minatar.gym`
(minatar 1.0.15), whose env gives channels-last bool observations, keeps the game's
sticky-action memory across resets, seeds the game apart from gymnasium's `np_random`, and
draws its `rgb_array` frames as 10×10 float pictures through seaborn. Nor are the ids
registered with gymnasium: gymnasium 1.x loads no plugin entry points, and
`minatar.gym.register_envs()` would bind the same names to its own env. `rlkit.envs.make_env`
builds `MinAtar/<Game>-v0` here; the minatar package is imported only then, so configs and
presets work without it.
"""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym
import numpy as np

from rlkit.errors import RlkitError

PREFIX = "MinAtar/"
VERSION = "-v0"
GAMES = {  # the id's name → minatar's game name
    "Asterix": "asterix",
    "Breakout": "breakout",
    "Freeway": "freeway",
    "Seaquest": "seaquest",
    "SpaceInvaders": "space_invaders",
}
IDS = [f"{PREFIX}{name}{VERSION}" for name in GAMES]
INSTALL = "pip install 'rlkit[minatar]'"


def is_minatar(env_id: str) -> bool:
    return env_id.startswith(PREFIX)


def game_of(env_id: str) -> str:
    """minatar's name of the game that a MinAtar id names, or RlkitError with the valid ids."""
    name, _, version = env_id[len(PREFIX) :].partition("-")
    if name in GAMES and f"-{version}" == VERSION:
        return GAMES[name]
    if name in GAMES and version == "v1":
        raise RlkitError(
            f"{env_id} is minatar's own registration with the minimal action set; rlkit's id is "
            f"{PREFIX}{name}{VERSION} with env.minimal_actions = true"
        )
    close = difflib.get_close_matches(env_id, IDS, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise RlkitError(f"unknown MinAtar id {env_id!r}{hint}; valid: {', '.join(IDS)}")


def import_minatar() -> Any:
    """The minatar package, or RlkitError naming the extra that installs it."""
    try:
        import minatar
    except ImportError:
        raise RlkitError(
            f"MinAtar environments need the minatar package: {INSTALL} (minatar, GPL-3.0, "
            "which brings matplotlib, seaborn, pandas and scipy)"
        ) from None
    return minatar


class MinAtarEnv(gym.Env):
    """One MinAtar game. Observations are the game's n binary planes, channels first, as uint8
    (n × 10 × 10); actions are all 6 (no-op, left, up, right, down, fire) or, with
    `minimal_actions`, the game's own subset. With probability `sticky_action_prob` the game
    repeats its previous action instead of the chosen one; that memory starts at no-op on every
    reset. The game and its sticky actions draw from gymnasium's `np_random`, so
    `reset(seed=...)` seeds them and the generator's state is all there is to save."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        game: str,
        sticky_action_prob: float = 0.1,
        minimal_actions: bool = False,
        difficulty_ramping: bool = True,
        render_mode: str | None = None,
    ):
        minatar = import_minatar()
        self.game = minatar.Environment(
            game, sticky_action_prob=sticky_action_prob, difficulty_ramping=difficulty_ramping
        )
        actions = self.game.minimal_action_set() if minimal_actions else range(self.game.num_actions())
        self.action_set = np.array(list(actions), dtype=np.int64)
        rows, columns, channels = self.game.state_shape()
        self.observation_space = gym.spaces.Box(0, 1, (channels, rows, columns), np.uint8)
        self.action_space = gym.spaces.Discrete(len(self.action_set))
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode {render_mode!r}; valid: None, rgb_array")
        self.render_mode = render_mode
        self._game_bit_generator: Any = None  # the bit generator the game draws from

    def _observation(self) -> np.ndarray:
        return np.ascontiguousarray(self.game.state().transpose(2, 0, 1), dtype=np.uint8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if self._game_bit_generator is not self.np_random.bit_generator:  # seeded anew
            random = np.random.RandomState(self.np_random.bit_generator)  # shares its state
            self.game.random = self.game.env.random = random
            self._game_bit_generator = self.np_random.bit_generator
        self.game.reset()
        self.game.last_action = 0
        return self._observation(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward, terminated = self.game.act(int(self.action_set[action]))
        return self._observation(), float(reward), bool(terminated), False, {}

    def render(self) -> np.ndarray | None:
        return grid_rgb(self._observation()) if self.render_mode == "rgb_array" else None


# One colour per channel, in channel order (matplotlib's tab10), on a black background. Where
# channels overlap, the highest one is drawn, as minatar's own display does.
PALETTE = np.array(
    [
        (31, 119, 180),  # blue
        (255, 127, 14),  # orange
        (44, 160, 44),  # green
        (214, 39, 40),  # red
        (148, 103, 189),  # purple
        (140, 86, 75),  # brown
        (227, 119, 194),  # pink
        (127, 127, 127),  # grey
        (188, 189, 34),  # olive
        (23, 190, 207),  # cyan
    ],
    dtype=np.uint8,
)
BACKGROUND = np.zeros(3, dtype=np.uint8)


def grid_rgb(observation: np.ndarray, cell: int = 16) -> np.ndarray:
    """An RGB picture (H·cell × W·cell × 3 uint8) of binary planes (C × H × W): each cell in the
    colour of its highest set channel (PALETTE, repeated past 10 channels), black where none is set."""
    planes = np.asarray(observation).astype(bool)
    channels = len(planes)
    highest = channels - 1 - np.argmax(planes[::-1], axis=0)
    colours = np.vstack([BACKGROUND, PALETTE[np.arange(channels) % len(PALETTE)]])
    picture = colours[np.where(planes.any(axis=0), highest + 1, 0)]
    return picture.repeat(cell, axis=0).repeat(cell, axis=1)
