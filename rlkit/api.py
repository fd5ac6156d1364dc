"""rlkit's public API for scripts and notebooks: train, load, evaluate.

import rlkit

result = rlkit.train(agent="dqn", env="cartpole", steps=50_000, seed=3)
print(result.run_dir, result.evaluation["return_mean"])
policy = rlkit.load(result.run_dir)          # or a checkpoint folder
action = policy.act(observation)             # one observation, or a batch
rlkit.evaluate(policy, "cartpole", episodes=20)
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.agents import Agent
from rlkit.config import RunConfig, build_config
from rlkit.envs import USER_ENV_PREFIX, USER_ENVS, EnvConfig, describe, make_vector_env
from rlkit.errors import RlkitError
from rlkit.run import checkpoint
from rlkit.run.callbacks import Callback
from rlkit.run.evaluation import load_agent, play_episodes

EnvSpec = str | Callable[[], gym.Env] | gym.Env


class Policy:
    """A trained agent, for acting: `act` and `q_values` take one observation or a batch."""

    def __init__(self, agent: Agent, config: RunConfig, env_info: dict[str, Any], step: int | None = None):
        self.agent, self.config, self.env_info, self.step = agent, config, env_info, step
        self.rng = np.random.default_rng([config.train.seed, 7919])  # ties and ε of act(): no training stream

    def _batch(self, observation: Any) -> tuple[np.ndarray, bool]:
        """The observation as a batch of the env's dtype, and whether it was a single one."""
        if self.env_info.get("num_states") is not None:
            array = _states(observation, self.env_info["num_states"])
        else:
            try:
                array = np.asarray(observation, dtype=self.env_info["observation_dtype"])
            except (TypeError, ValueError) as error:
                raise RlkitError(f"observation of type {type(observation).__name__} is not numbers: {error}") from None
        shape = tuple(self.env_info["observation_shape"])
        if array.shape == shape:
            return array[None], True
        if array.shape[1:] == shape:
            return array, False
        raise RlkitError(
            f"observation of shape {array.shape}; this policy takes {shape} or a batch (N, {', '.join(map(str, shape))})"
        )

    def act(self, observation: Any, epsilon: float = 0.0, rng: np.random.Generator | None = None) -> Any:
        """The greedy action, or with probability `epsilon` (0 to 1) a uniformly random one: an
        int for one observation, an array for a batch. Tied maximal Q values: a Q-table
        (qlearning, expected-sarsa) picks one of them at random; a network (the DQN family) takes
        the first, the lowest action number. Random draws come from `rng`, else from the
        policy's own generator (seeded from the run's seed)."""
        _check_epsilon(epsilon)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise RlkitError(f"rng = {rng!r} is not a numpy Generator; give np.random.default_rng(seed), or None")
        batch, single = self._batch(observation)
        actions = self.agent.greedy_actions(batch, epsilon, rng or self.rng)
        return int(actions[0]) if single else np.asarray(actions)

    def q_values(self, observation: Any) -> np.ndarray:
        """Q(s, ·) for each observation: shape (actions,) for one, (N, actions) for a batch."""
        batch, single = self._batch(observation)
        values = self.agent.action_values(batch)
        return values[0] if single else values

    def __repr__(self) -> str:
        return f"Policy({self.config.agent_name} on {self.config.env.id}, step {self.step})"


def _states(observation: Any, num_states: int) -> np.ndarray:
    """A discrete-state observation (one state or a batch) as int64, each a whole number in [0, num_states)."""
    states = np.asarray(observation)
    valid = f"this policy takes whole numbers 0 to {num_states - 1} (its env's states)"
    if states.dtype.kind not in "iuf":
        raise RlkitError(f"state {observation!r} is not a whole number; {valid}")
    if states.size:
        whole = np.isfinite(states) & (states == np.round(states))
        if not whole.all():
            raise RlkitError(f"state {states[~whole].flat[0].item()!r} is not a whole number; {valid}")
        outside = (states < 0) | (states >= num_states)
        if outside.any():
            raise RlkitError(f"state {states[outside].flat[0].item()!r} is out of range; {valid}")
    return states.astype(np.int64)


def _is_number(value: Any) -> bool:
    """A real number: a Python or numpy int or float, never a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_epsilon(epsilon: Any) -> None:
    if not _is_number(epsilon) or not 0.0 <= float(epsilon) <= 1.0:
        raise RlkitError(f"epsilon = {epsilon!r} is not valid; valid: a number from 0 to 1")


def _check_count(name: str, value: Any, least: int) -> int:
    """`value` as an int, when it is a whole number (Python or numpy) of at least `least`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
        raise RlkitError(f"{name} = {value!r} is not valid; valid: a whole number, {least} or more")
    return int(value)


def _check_path(name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise RlkitError(f"{name} = {value!r} is not valid; valid: a path, as a str or pathlib.Path")
    return os.fspath(value)


def _check_callbacks(callbacks: Any) -> list[Callback]:
    """The callbacks as a list (one Callback alone is taken as a list of one), each an rlkit.Callback."""
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, (str, bytes, Mapping)) or not isinstance(callbacks, Iterable):
        raise RlkitError(f"callbacks = {callbacks!r} is not valid; valid: a list of rlkit.Callback objects")
    items = list(callbacks)
    for index, callback in enumerate(items):
        if not isinstance(callback, Callback):
            raise RlkitError(
                f"callbacks[{index}] = {callback!r} is not an rlkit.Callback; valid: instances of subclasses of "
                "rlkit.Callback"
            )
    return items


@dataclass
class TrainResult:
    """What rlkit.train returns: the run folder, the final evaluation (eval.json) and the policy."""

    run_dir: Path
    evaluation: dict[str, Any]
    agent: Policy


def _user_env(env: Callable[[], gym.Env] | gym.Env) -> str:
    """Register a function or an Env instance under an id of its own and return the id."""
    if isinstance(env, gym.Env):
        instance, lent = env, []

        def make(training: bool) -> gym.Env:
            if not training:
                try:
                    return copy.deepcopy(instance)
                except Exception as error:
                    raise RlkitError(
                        f"the Env instance given as env cannot be copied for evaluation ({type(error).__name__}: "
                        f"{error}); pass a function that returns a new env instead"
                    ) from None
            if lent:
                raise RlkitError(
                    "an Env instance gives one training env: keep env.num_envs = 1, or pass a function that "
                    "returns a new env (rlkit then makes as many as it needs)"
                )
            lent.append(True)
            return instance

        name = type(env.unwrapped).__name__
    elif callable(env):

        def make(training: bool) -> gym.Env:
            made = env()
            if not isinstance(made, gym.Env):
                raise RlkitError(f"env function {env!r} returned {type(made).__name__}, not a gymnasium.Env")
            return made

        name = getattr(env, "__name__", type(env).__name__)
    else:
        raise RlkitError(
            f"env = {env!r}: give a preset name, a gymnasium id, a function returning a gymnasium.Env, or an Env"
        )
    base = USER_ENV_PREFIX + (re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "env")
    number = 0
    while f"{base}-v{number}" in USER_ENVS:
        number += 1
    env_id = f"{base}-v{number}"
    USER_ENVS[env_id] = make
    return env_id


def train(
    agent: str = "dqn",
    env: EnvSpec = "cartpole",
    steps: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    run_dir: str | Path = "runs",
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> TrainResult:
    """Train a new run, as `rlkit train` does, in a new folder under `run_dir`.

    agent: a preset name or TOML file. env: a preset name, a gymnasium id, a function returning
    a gymnasium.Env (rlkit calls it for every training and evaluation env it needs), or an Env
    instance (the one training env; evaluation plays deep copies of it). overrides: config keys
    and values, e.g. {"learning_rate": 1e-3, "env.num_envs": 4}. callbacks: rlkit.Callback
    objects; one returning False ends the run cleanly (final evaluation, eval.json)."""
    from rlkit.run.trainer import Run, new_run_dir

    if not isinstance(agent, (str, os.PathLike)):
        raise RlkitError(f"agent = {agent!r} is not valid; valid: an agent preset name (rlkit list) or a TOML file")
    root = Path(_check_path("run_dir", run_dir))
    callbacks = _check_callbacks(callbacks)
    if isinstance(env, (str, os.PathLike)):
        config = build_config(os.fspath(agent), os.fspath(env), steps, seed, values=overrides)
    elif isinstance(env, gym.Env) or callable(env):
        env_id = _user_env(env)
        config = build_config(os.fspath(agent), env_id, steps, seed, values=overrides)
        if isinstance(env, gym.Env) and config.env.num_envs != 1:
            raise RlkitError(
                f"env.num_envs = {config.env.num_envs}, but an Env instance gives one training env: pass a "
                "function that returns a new env, or set env.num_envs = 1"
            )
    else:
        raise RlkitError(
            f"env = {env!r} is not valid; valid: a preset name, a gymnasium id, a TOML file, a function returning "
            "a gymnasium.Env, or an Env instance"
        )
    run = Run(config, progress=progress)
    folder = new_run_dir(config, root)
    evaluation = run.train(folder, callbacks=callbacks)
    return TrainResult(folder, evaluation, Policy(run.agent, config, run.env_info, run.step))


def load(path: str | Path, best: bool = False, device: str = "cpu") -> Policy:
    """The policy of a checkpoint folder, or of a run folder's latest checkpoint (its best with
    best=True). Needs no env: the checkpoint records the observations and actions."""
    agent, config, env_info, meta = load_agent(checkpoint.find(Path(_check_path("path", path)), best=best), device)
    return Policy(agent, config, env_info, meta.get("step"))


def evaluate(
    policy: Policy,
    env: EnvSpec | None = None,
    episodes: int = 10,
    seed: int = 0,
    epsilon: float = 0.0,
    num_envs: int = 1,
) -> dict[str, Any]:
    """Play `episodes` full episodes (true rewards) with the policy and summarise them:
    return_mean, return_std, returns, length_mean, ... The env defaults to the policy's own
    (with its preprocessing: bins, frame stacks); a preset, gymnasium id, function or Env
    instance may replace it. Every random draw comes from `seed`."""
    if not isinstance(policy, Policy):
        raise RlkitError(f"policy = {policy!r} is not valid; valid: a Policy, as rlkit.load or rlkit.train give")
    episodes, num_envs = _check_count("episodes", episodes, 1), _check_count("num_envs", num_envs, 1)
    seed = _check_count("seed", seed, 0)
    _check_epsilon(epsilon)
    env_config = _evaluation_env(policy, env)
    envs = make_vector_env(env_config, num_envs, training=False)
    try:
        space = envs.single_observation_space
        if list(space.shape) != list(policy.env_info["observation_shape"]):
            raise RlkitError(
                f"the env gives observations of shape {list(space.shape)}, the policy was trained on "
                f"{policy.env_info['observation_shape']}"
            )
        with torch.inference_mode():
            return play_episodes(policy.agent, envs, episodes, epsilon, np.random.SeedSequence(seed))
    finally:
        envs.close()


def _evaluation_env(policy: Policy, env: EnvSpec | None) -> EnvConfig:
    own = policy.config.env
    if env is None:
        return own
    if isinstance(env, str):
        if env in (own.id, policy.config.env_preset):
            return own
        return build_config(policy.config.agent_preset, env).env
    env_config = copy.deepcopy(own)
    env_config.id = _user_env(env)
    describe(env_config)  # refuses an env whose actions are not discrete
    return env_config
