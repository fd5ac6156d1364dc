"""The shared environment wrapper: one entry point for vector, pixel, grid and discrete observations.

`make_env` builds one gymnasium env, `make_vector_env` a vector of them with seeds. Every env
records its episode statistics on the raw env, below any reward clipping or life-loss
termination, so the returns that get logged are true game scores.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from rlkit.envs.minatar import MinAtarEnv, game_of, is_minatar
from rlkit.envs.one_env import OneEnvVector
from rlkit.errors import RlkitError
from rlkit.options import option

ObservationKind = Literal["vector", "pixel", "grid", "discrete"]


@dataclass
class EnvConfig:
    """What environment to build and how to preprocess it."""

    id: str = option("", "gymnasium id, e.g. CartPole-v1 or ALE/Pong-v5, or a MinAtar id, e.g. MinAtar/Breakout-v0")
    kind: Literal["auto", "vector", "pixel", "grid", "discrete"] = option(
        "auto",
        "observation kind; auto: pixel for ALE ids, grid for MinAtar ids (binary planes), discrete for "
        "Discrete spaces or when bins are given, vector otherwise",
    )
    make_kwargs: dict = option(
        {},
        "extra keyword arguments for gymnasium.make (MinAtar: for rlkit.envs.minatar.MinAtarEnv, e.g. difficulty_ramping)",
    )
    num_envs: int = option(1, "environments stepped together during training", min=1)
    vectorization: Literal["sync", "async", "ale"] = option(
        "sync",
        "vector env: gymnasium's sync (one process) or async (one process per env), or, for "
        "Atari, ale (ale-py's threaded AtariVectorEnv)",
    )
    max_episode_steps: int = option(0, "time limit per episode; 0 keeps the registered one", min=0)
    bins: list[int] = option([], "discretizer: bins per observation dimension (empty: off)", item_min=1)
    low: list[float] = option([], "discretizer: lower clip per dimension (empty: the space's)")
    high: list[float] = option([], "discretizer: upper clip per dimension (empty: the space's)")
    noop_max: int = option(30, "Atari: at most this many no-op actions after reset", min=0)
    frame_skip: int = option(4, "Atari: repeat each action this many frames, max-pool the last two", min=1)
    screen_size: int = option(84, "Atari: frames resized to this square size", min=36)
    frame_stack: int = option(4, "Atari: frames stacked into one observation", min=1)
    terminal_on_life_loss: bool = option(True, "Atari, training only: a lost life ends the episode")
    clip_reward: bool = option(True, "Atari, training only: rewards clipped to their sign")
    repeat_action_probability: float = option(
        0.0, "Atari: sticky actions (0.25 in the Machado et al. 2018 protocol)", min=0.0, max=1.0
    )
    full_action_space: bool = option(False, "Atari: all 18 actions instead of the game's minimal set")
    max_frames: int = option(108_000, "Atari: truncate an episode after this many frames", min=1)
    sticky_action_prob: float = option(
        0.1,
        "MinAtar: probability that the game repeats its previous action instead of the chosen one "
        "(0.1, Young & Tian 2019; Atari's is repeat_action_probability)",
        min=0.0,
        max=1.0,
    )
    minimal_actions: bool = option(False, "MinAtar: only the game's distinct actions instead of all 6")


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/")


def _register_atari() -> None:
    try:
        import ale_py
    except ImportError as error:
        raise RlkitError(
            "Atari environments need ale-py: pip install 'rlkit[atari]' (ale-py, opencv-python-headless)"
        ) from error
    gym.register_envs(ale_py)


# envs given to rlkit.train as a function or an instance, by the id rlkit gave them; each entry
# makes one env: maker(training) (an instance is the training env itself, copied for evaluation)
USER_ENVS: dict[str, Callable[[bool], gym.Env]] = {}
USER_ENV_PREFIX = "rlkit-user/"


def check_env_id(env_id: str) -> None:
    """Raise RlkitError naming close registered ids when `env_id` is not a gymnasium id.
    'module:Name-v0' imports `module` first, so that it can register its own envs. MinAtar ids
    are rlkit's own (rlkit.envs.minatar) and need no package to be checked."""
    if env_id.startswith(USER_ENV_PREFIX):
        if env_id not in USER_ENVS:
            raise RlkitError(
                f"environment {env_id!r} was a function or Env instance given to rlkit.train in another "
                "process; pass the same env again (rlkit.evaluate(policy, env)), or register it with gymnasium"
            )
        return
    if is_minatar(env_id):
        game_of(env_id)
        return
    if is_atari(env_id):
        _register_atari()
    module, colon, name = env_id.rpartition(":")
    if colon:
        _import_env_module(env_id, module)
        env_id = name
    if env_id in gym.registry:
        entry_point = gym.registry[env_id].entry_point
        if isinstance(entry_point, str) and ":" in entry_point:  # "module:Class": its module must import
            module, _, attribute = entry_point.partition(":")
            if not hasattr(_import_env_module(env_id, module), attribute):
                raise RlkitError(f"environment {env_id!r}: module {module!r} has no {attribute!r} (its entry point)")
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise RlkitError(
        f"unknown environment id {env_id!r}{hint}; valid: a preset name (rlkit list) or a registered gymnasium id"
    )


def _import_env_module(env_id: str, module: str) -> Any:
    """Import the module of an env id, its error (missing, or raising on import) as one line."""
    try:
        return importlib.import_module(module)
    except gym.error.DependencyNotInstalled as error:
        raise RlkitError(f"environment {env_id} needs packages that are not installed: {error}") from None
    except Exception as error:  # a user's module may raise anything while it runs
        detail = " ".join(str(error).split()) or "no message"
        raise RlkitError(
            f"environment {env_id!r}: cannot import module {module!r} ({type(error).__name__}: {detail})"
        ) from None


class Discretizer(gym.ObservationWrapper):
    """Turns a small Box observation into one Discrete state: each dimension is clipped to
    [low, high] and cut into equal-width bins; the state is the flat index of the bin tuple
    (row-major: the last dimension varies fastest).

    gymnasium >= 1.2.1 has `gymnasium.wrappers.DiscretizeObservation`, which bins the same way
    (equal widths, values outside clipped into the end bins, row-major flat index, infinite
    bounds refused), but rlkit keeps this wrapper because that one differs in what it gives:
    - it has no bounds of its own: it bins the observation space's [low, high], so env.low and
      env.high would need another wrapper in front that declares them as the space;
    - it computes the bin edges in the space's dtype, float32 for every classic-control env,
      where this wrapper computes them in float64 from env.low and env.high (from the space's
      own bounds, in its dtype, only when those are empty). So observations within a few
      float32 steps of an edge fall into the neighbouring bin: with the mountaincar preset
      (20 bins over [-1.2, 0.6], the space's own bounds) a position of -0.3 (float32
      -0.30000001) is in bin 9 here (state 190 at velocity 0) and in bin 10 there (state 210);
      of the float32 values within 4 steps of an edge, 47 differ for that preset and 25 for
      the cartpole one, so Q-tables learned with this wrapper would not carry over exactly;
    - it exists only from gymnasium 1.2.1, and rlkit supports gymnasium 1.1.
    Matching this wrapper with it would take a float64 clipping wrapper in front of it: more
    code than the three lines it would replace."""

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


NOOP, FIRE = 0, 1  # ALE action indices; a game with FIRE has it as action 1


class FireReset(gym.Wrapper):
    """Press FIRE after each reset of the game, for games that do not start until it is pressed.
    The FIRE step cannot end the game: `_make_atari` keeps max_frames longer than a reset."""

    def reset(self, **kwargs):
        self.env.reset(**kwargs)
        observation, _, _, _, info = self.env.step(FIRE)
        return observation, info


class EpisodicLife(gym.Wrapper):
    """A lost life ends the episode for the learner, but the game goes on (Mnih et al. 2015).

    The step that loses a life also plays `new_life_actions` (a no-op, then FIRE in games that
    need it) and keeps where they lead for the next reset, which then continues the game
    without stepping it. So when one of those actions ends the game (a time limit can fall
    there), the step that lost the life carries the game's statistics in its info, which a
    SAME_STEP vector env reports in infos['final_info']. The learner sees the observation of the
    lost life and none of those actions' rewards; the game's statistics count their frames and
    rewards. Any other reset, or one given a seed or options, restarts the game."""

    def __init__(self, env: gym.Env, new_life_actions: tuple[int, ...] = (NOOP,)):
        super().__init__(env)
        self.new_life_actions = new_life_actions
        self.lives = 0
        self.next_life: tuple[Any, dict] | None = None  # observation and info of the next life's start

    def step(self, action):
        self.next_life = None
        observation, reward, terminated, truncated, info = self.env.step(action)
        if 0 < self.env.unwrapped.ale.lives() < self.lives:
            if not (terminated or truncated):
                info = self._start_next_life(info)
            terminated = True
        self.lives = self.env.unwrapped.ale.lives()
        return observation, reward, terminated, truncated, info

    def _start_next_life(self, info: dict) -> dict:
        """Play the new-life actions; `info` with the game's statistics added if they end it."""
        for action in self.new_life_actions:
            observation, _, terminated, truncated, next_info = self.env.step(action)
            if terminated or truncated:
                return {**info, **next_info}
        self.next_life = (observation, next_info)
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if self.next_life is None or seed is not None or options is not None:
            observation, info = self.env.reset(seed=seed, options=options)
        else:
            observation, info = self.next_life
        self.next_life = None
        self.lives = self.env.unwrapped.ale.lives()
        return observation, info


def _gym_make(env_id: str, **kwargs: Any) -> gym.Env:
    """gymnasium.make, with its errors (missing packages, bad keyword arguments) as one line."""
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as error:
        raise RlkitError(f"environment {env_id} needs packages that are not installed: {error}") from None
    except (TypeError, gym.error.Error) as error:
        raise RlkitError(f"environment {env_id} cannot be made with {kwargs}: {error}") from None


def _make_atari(config: EnvConfig, training: bool, render_mode: str | None) -> gym.Env:
    _register_atari()
    env = _gym_make(
        config.id,
        frameskip=1,  # AtariPreprocessing skips frames; the ALE must not skip as well
        repeat_action_probability=config.repeat_action_probability,
        full_action_space=config.full_action_space,
        max_num_frames_per_episode=config.max_frames,
        render_mode=render_mode,
        **config.make_kwargs,
    )
    fire = "FIRE" in env.unwrapped.get_action_meanings()
    reset_frames = config.noop_max + (config.frame_skip if fire else 0)
    if config.max_frames <= reset_frames:
        env.close()
        raise RlkitError(
            f"env.max_frames = {config.max_frames} can end a game of {config.id} during its reset (up to "
            f"{config.noop_max} no-op frames{f' and a {config.frame_skip}-frame FIRE step' if fire else ''}), "
            f"before the agent acts; set it above {reset_frames} or lower env.noop_max"
        )
    env = gym.wrappers.RecordEpisodeStatistics(env)
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=config.noop_max,
        frame_skip=config.frame_skip,
        screen_size=config.screen_size,
        grayscale_obs=True,
        scale_obs=False,
    )
    if fire:
        env = FireReset(env)
    if training and config.terminal_on_life_loss:
        env = EpisodicLife(env, new_life_actions=(NOOP, FIRE) if fire else (NOOP,))
    if training and config.clip_reward:
        env = gym.wrappers.TransformReward(env, np.sign)
    return gym.wrappers.FrameStackObservation(env, config.frame_stack)


def _make_minatar(config: EnvConfig, render_mode: str | None) -> gym.Env:
    """A MinAtar game as the paper plays it: no frame stack, no reward clipping, no episode end
    but the game's own (or env.max_episode_steps)."""
    if config.repeat_action_probability:
        raise RlkitError(
            f"env.repeat_action_probability is the ALE's sticky-action setting; for {config.id} set "
            "env.sticky_action_prob (0.1 by default, as in Young & Tian 2019)"
        )
    if config.full_action_space:
        raise RlkitError(
            f"env.full_action_space is the ALE's setting; {config.id} has all 6 actions unless env.minimal_actions = true"
        )
    settings = {"sticky_action_prob": config.sticky_action_prob, "minimal_actions": config.minimal_actions}
    try:
        env: gym.Env = MinAtarEnv(game_of(config.id), **settings, **config.make_kwargs, render_mode=render_mode)
    except TypeError as error:
        raise RlkitError(f"environment {config.id} cannot be made with {config.make_kwargs}: {error}") from None
    if config.max_episode_steps:
        env = gym.wrappers.TimeLimit(env, config.max_episode_steps)
    return gym.wrappers.RecordEpisodeStatistics(env)


def make_env(config: EnvConfig, training: bool = True, render_mode: str | None = None) -> gym.Env:
    """One env, preprocessed for its observation kind. `training=False` gives full games with
    true rewards (no life-loss termination, no reward clipping) for evaluation."""
    check_env_id(config.id)
    if is_minatar(config.id):
        return _make_minatar(config, render_mode)
    if is_atari(config.id) or config.kind == "pixel":
        if not is_atari(config.id):
            raise RlkitError(f"kind 'pixel' needs an Atari id (ALE/...), got {config.id!r}")
        return _make_atari(config, training, render_mode)
    if config.id in USER_ENVS:
        env = USER_ENVS[config.id](training)
        if config.max_episode_steps:
            env = gym.wrappers.TimeLimit(env, config.max_episode_steps)
    else:
        kwargs = dict(config.make_kwargs)
        if config.max_episode_steps:
            kwargs["max_episode_steps"] = config.max_episode_steps
        if render_mode:
            kwargs["render_mode"] = render_mode
        env = _gym_make(config.id, **kwargs)
    env = gym.wrappers.RecordEpisodeStatistics(env)
    if config.bins:
        env = Discretizer(env, config.bins, config.low, config.high)
    return env


def make_vector_env(
    config: EnvConfig, num_envs: int, training: bool = True, render_mode: str | None = None
) -> gym.vector.VectorEnv:
    """`num_envs` envs stepped together (one env: gymnasium's SyncVectorEnv with a direct step,
    rlkit.envs.one_env). A finished episode resets in the same step: the observation that ended
    it is in infos['final_obs'], its statistics in infos['final_info']."""
    if config.vectorization == "ale":
        if not is_atari(config.id) or render_mode:
            raise RlkitError(
                "env.vectorization = 'ale' is for Atari ids (ALE/...) without rendering; use sync or async"
            )
        if config.make_kwargs:
            raise RlkitError(
                "env.make_kwargs do not reach ale-py's AtariVectorEnv; use vectorization sync or async with them"
            )
        _register_atari()
        from rlkit.envs.ale_vector import make_ale_vector_env

        return make_ale_vector_env(config, num_envs, training)
    make = partial(make_env, config, training, render_mode)
    if num_envs == 1:
        return OneEnvVector(make, autoreset_mode=AutoresetMode.SAME_STEP)
    vector_class = gym.vector.AsyncVectorEnv if config.vectorization == "async" else gym.vector.SyncVectorEnv
    return vector_class([make] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)


def is_grid(space: gym.Space) -> bool:
    """Whether observations are binary planes (C×H×W uint8 of 0 and 1), as MinAtar's grids are."""
    return (
        isinstance(space, gym.spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and bool(np.all(space.low == 0) and np.all(space.high == 1))
    )


def observation_kind(config: EnvConfig, space: gym.Space) -> ObservationKind:
    """The observation kind of an env built from `config` whose observation space is `space`."""
    if isinstance(space, gym.spaces.Discrete):
        kind: ObservationKind = "discrete"
    elif is_grid(space):
        kind = "grid"
    elif isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3:
        kind = "pixel"
    elif isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        kind = "vector"
    else:
        raise RlkitError(
            f"{config.id} has observation space {space}; rlkit handles 1-D Box (vector), "
            "Atari frames (pixel), binary planes as uint8 C×H×W (grid) and Discrete (discrete) observations"
        )
    if config.kind not in ("auto", kind):
        raise RlkitError(f"env.kind is {config.kind!r} but {config.id} gives {kind} observations")
    return kind


GRID_ARROWS = {"FrozenLakeEnv": "←↓→↑", "CliffWalkingEnv": "↑→↓←"}  # action i moves this way
ACTION_NAMES = {  # the envs' own documentation of their actions, in action order
    "TaxiEnv": ["south", "north", "east", "west", "pickup", "drop-off"],
    "FrozenLakeEnv": ["left", "down", "right", "up"],
    "CliffWalkingEnv": ["up", "right", "down", "left"],
    "CartPoleEnv": ["push left", "push right"],
    "AcrobotEnv": ["torque -1", "torque 0", "torque +1"],
    "MountainCarEnv": ["push left", "no push", "push right"],
}


def action_names(env: gym.Env) -> list[str] | None:
    """What each action does, where the env says (the classic envs' documentation, the ALE's
    action meanings); None elsewhere."""
    world = env.unwrapped
    if hasattr(world, "get_action_meanings"):
        return [meaning.lower() for meaning in world.get_action_meanings()]
    names = ACTION_NAMES.get(type(world).__name__)
    return list(names) if names is not None and len(names) == env.action_space.n else None


def grid_map(env: gym.Env) -> dict[str, Any] | None:
    """For grid worlds whose states are cells (FrozenLake, CliffWalking): the map's rows of
    tiles and the direction of each action, so a greedy policy can be drawn on the map."""
    world = env.unwrapped
    name = type(world).__name__
    if name == "FrozenLakeEnv":
        tiles = ["".join(cell.decode() for cell in row) for row in world.desc]
    elif name == "CliffWalkingEnv":
        rows, columns = world.shape
        tiles = ["." * columns] * (rows - 1) + ["S" + "C" * (columns - 2) + "G"]
    else:
        return None
    return {"tiles": tiles, "arrows": GRID_ARROWS[name]}


def describe(config: EnvConfig) -> dict[str, Any]:
    """Observation kind, shapes and action count of the env that `config` builds (an
    evaluation env: a user's Env instance stays the training env)."""
    env = make_env(config, training=False)
    try:
        space, actions = env.observation_space, env.action_space
        if not isinstance(actions, gym.spaces.Discrete):
            raise RlkitError(f"{config.id} has action space {actions}; value-based agents need Discrete actions")
        kind = observation_kind(config, space)
        return {
            "kind": kind,
            "observation_shape": list(space.shape),
            "observation_dtype": str(space.dtype),
            "num_states": int(space.n) if kind == "discrete" else None,
            "num_actions": int(actions.n),
            "grid": grid_map(env) if kind == "discrete" and not config.bins else None,
            "action_names": action_names(env),
        }
    finally:
        env.close()
