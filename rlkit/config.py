"""Typed configs, preset loading, `--set key=value` overrides and validation.

A run's config has three sections: `env` (what to build, see rlkit.envs.EnvConfig), `train`
(the loop: steps, evaluation, checkpoints) and `agent` (the algorithm's hyperparameters, named
as Stable-Baselines3 names them). Values are applied in this order, later ones winning:
dataclass defaults, the agent preset, the env preset, the env preset's `[tuned.<agent preset>]`
table, `--steps`/`--seed`, and `--set` pairs. Any bad key or value raises RlkitError with one
line that names it and what is valid.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from rlkit.envs import EnvConfig, _option, check_env_id, is_atari
from rlkit.errors import RlkitError
from rlkit.schedules import linear, scheduled_value


@dataclass
class TrainConfig:
    """The training loop shared by all agents."""

    total_steps: int = _option(100_000, "environment steps to train for (all envs together)", min=1)
    schedule_steps: int = _option(
        0,
        "horizon of the ε and learning-rate schedules; 0: total_steps (a resume with --steps N keeps it with "
        "--keep-schedules or sets it to N with --extend-schedules)",
        min=0,
    )
    seed: int = _option(
        0, "seed of the run: every random stream (agent, replay, training and eval envs) is spawned from it", min=0
    )
    eval_interval: int = _option(10_000, "greedy evaluation every this many steps; 0: only at the end", min=0)
    eval_episodes: int = _option(10, "episodes per periodic evaluation", min=1)
    final_eval_episodes: int = _option(20, "episodes of the final evaluation written to eval.json", min=1)
    eval_epsilon: float = _option(0.0, "exploration rate while evaluating", min=0.0, max=1.0)
    eval_video: bool = _option(
        False, "pixel and grid envs: the first evaluation episode as an animated GIF in TensorBoard's images"
    )
    eval_num_envs: int = _option(1, "evaluation envs stepped together", min=1)
    log_interval: int = _option(1_000, "training metrics logged every this many steps", min=1)
    checkpoint_interval: int = _option(0, "checkpoint every this many steps; 0: only at the end", min=0)
    keep_checkpoints: int = _option(2, "latest checkpoints kept (the best is kept besides)", min=1)
    save_replay: bool = _option(False, "keep the replay buffer in checkpoints, for an exact resume")
    device: str = _option("auto", "torch device: auto (cuda if available), cpu, cuda, cuda:1, ...")
    torch_threads: int = _option(1, "torch CPU threads; 0 keeps torch's default", min=0)
    solved_return: float | None = _option(
        None,
        "greedy evaluation return that counts as solving the task, for the summaries of seed groups; "
        "unset: the env's registered reward_threshold",
    )
    stop_at_return: float | None = _option(
        None,
        "stop after the first periodic evaluation whose mean return reaches this (then the final "
        "evaluation runs; --resume trains on to total_steps); unset: train to total_steps",
    )


@dataclass
class AgentConfig:
    """Hyperparameters every agent shares."""

    gamma: float = _option(0.99, "discount factor", min=0.0, max=1.0)
    learning_rate: float = _option(
        1e-4, "step size (α for the Q-table, the optimizer's for DQN)", min=0.0, exclusive_min=True
    )
    lr_schedule: Literal["constant", "linear", "exponential"] = _option(
        "constant",
        "learning-rate schedule: constant, linear to learning_rate_final over "
        "lr_decay_steps, or exponential learning_rate × lr_decay_rate^(step/lr_decay_steps)",
    )
    learning_rate_final: float = _option(0.0, "end (linear) or floor (exponential) of the learning rate", min=0.0)
    lr_decay_steps: int = _option(0, "steps of the learning-rate decay; 0: total_steps", min=0)
    lr_decay_rate: float = _option(0.5, "factor per lr_decay_steps of the exponential schedule", min=0.0, max=1.0)
    exploration_fraction: float = _option(0.1, "fraction of total_steps over which ε decays", min=0.0, max=1.0)
    exploration_start: int = _option(
        0, "step at which the ε (and temperature) decay starts; before it they keep their initial value", min=0
    )
    exploration_initial_eps: float = _option(1.0, "ε at step 0", min=0.0, max=1.0)
    exploration_final_eps: float = _option(0.05, "ε after the decay", min=0.0, max=1.0)
    exploration: Literal["epsilon", "softmax"] = _option(
        "epsilon",
        "epsilon: a random action with probability ε, else the greedy one; softmax: actions drawn "
        "with probability ∝ exp(Q / temperature) (Boltzmann)",
    )
    exploration_initial_temperature: float = _option(
        1.0, "softmax temperature at step 0, in units of Q", min=0.0, exclusive_min=True
    )
    exploration_final_temperature: float = _option(
        0.01, "softmax temperature after exploration_fraction × total_steps", min=0.0, exclusive_min=True
    )

    def epsilon_at(self, step: int, horizon: int) -> float:
        """ε at `step`: linear from the initial to the final value over exploration_fraction × horizon
        steps from exploration_start."""
        duration = int(self.exploration_fraction * horizon)
        elapsed = step - self.exploration_start
        return linear(self.exploration_initial_eps, self.exploration_final_eps, duration, elapsed)

    def temperature_at(self, step: int, horizon: int) -> float:
        """Softmax temperature at `step`: linear over exploration_fraction × horizon from
        exploration_start, like ε."""
        duration = int(self.exploration_fraction * horizon)
        elapsed = step - self.exploration_start
        return linear(self.exploration_initial_temperature, self.exploration_final_temperature, duration, elapsed)

    def exploration_metric(self, step: int, horizon: int) -> dict[str, float]:
        """The exploration schedule's value under its metric name."""
        if self.exploration == "softmax":
            return {"train/temperature": self.temperature_at(step, horizon)}
        return {"train/epsilon": self.epsilon_at(step, horizon)}

    def learning_rate_at(self, step: int, horizon: int) -> float:
        """The learning rate at `step` under lr_schedule (decaying over lr_decay_steps or the horizon)."""
        return scheduled_value(
            self.lr_schedule,
            self.learning_rate,
            self.learning_rate_final,
            self.lr_decay_steps or horizon,
            step,
            self.lr_decay_rate,
        )


@dataclass
class QLearningConfig(AgentConfig):
    """Tabular Q-learning."""

    initial_q: float = _option(0.0, "initial value of every Q-table entry")


@dataclass
class DQNConfig(AgentConfig):
    """DQN with experience replay and a target network (Mnih et al. 2015)."""

    buffer_size: int = _option(100_000, "replay capacity in transitions", min=1)
    learning_starts: int = _option(1_000, "environment steps of random actions before learning", min=0)
    batch_size: int = _option(32, "transitions per gradient step", min=1)
    train_freq: int = _option(4, "environment steps between training rounds", min=1)
    gradient_steps: int = _option(1, "gradient steps per training round", min=1)
    target_update_interval: int = _option(1_000, "environment steps between target updates", min=1)
    tau: float = _option(
        1.0, "target update: 1 copies (hard), < 1 is Polyak averaging", min=0.0, max=1.0, exclusive_min=True
    )
    max_grad_norm: float = _option(10.0, "gradient-norm clip; 0: no clipping", min=0.0)
    net_arch: list[int] = _option([64, 64], "hidden-layer sizes of the MLP (and after the CNN)", item_min=1)
    encoder: Literal["auto", "mlp", "nature_cnn", "minatar_cnn"] = _option(
        "auto", "auto: nature_cnn for pixel observations, minatar_cnn for MinAtar grids, mlp for vectors"
    )
    double_q: bool = _option(False, "Double DQN targets (van Hasselt et al. 2016)")
    dueling: bool = _option(False, "dueling head: Q = V + A − mean(A) (Wang et al. 2016)")
    n_steps: int = _option(1, "n-step returns: bootstrap after n rewards (cut at episode ends)", min=1, max=100)
    prioritized_replay: bool = _option(False, "proportional prioritized replay (Schaul et al. 2016)")
    per_alpha: float = _option(0.6, "priority exponent: P(i) ∝ (|δ_i| + per_eps)^α; 0 is uniform", min=0.0)
    per_beta: float = _option(
        0.4, "importance-weight exponent at step 0, annealed linearly to 1 at the end", min=0.0, max=1.0
    )
    per_eps: float = _option(1e-6, "added to |δ| so no transition gets priority 0", min=0.0, exclusive_min=True)
    per_weights: Literal["batch", "buffer"] = _option(
        "batch",
        "importance weights divided by the largest of the batch (Dopamine) or of the whole buffer "
        "(Schaul et al. 2016; a min-tree beside the sum-tree)",
    )
    optimizer: Literal["adam", "rmsprop", "sgd"] = _option("adam", "adam, rmsprop or sgd (with momentum)")
    adam_eps: float = _option(1e-8, "Adam's epsilon", min=0.0, exclusive_min=True)
    rmsprop_alpha: float = _option(0.99, "RMSprop's squared-gradient decay", min=0.0, max=1.0)
    rmsprop_eps: float = _option(1e-8, "RMSprop's epsilon (added outside the square root)", min=0.0, exclusive_min=True)
    rmsprop_centered: bool = _option(False, "RMSprop divides by the gradient's variance instead of its second moment")
    sgd_momentum: float = _option(0.9, "SGD's momentum (0: plain SGD)", min=0.0, max=1.0)
    init: Literal["default", "kaiming", "xavier", "orthogonal"] = _option(
        "default",
        "weight initialisation: default (PyTorch's), kaiming (He normal), xavier (Glorot uniform) or "
        "orthogonal (gain √2, head gain 1); biases start at 0 except under default",
    )
    normalize_observations: bool = _option(
        False, "vector observations: scale by a running mean and std (saved in checkpoints)"
    )
    compile: bool = _option(False, "compile the TD loss with torch.compile (eager if compilation is unavailable)")
    replay_on_device: bool = _option(True, "keep the replay buffer on the learner's device (the GPU when there is one)")


AGENT_CONFIGS: dict[str, type[AgentConfig]] = {"qlearning": QLearningConfig, "dqn": DQNConfig}
SECTIONS = ("env", "train", "agent")


@dataclass
class RunConfig:
    """Everything one run needs: presets resolved, overrides applied, values validated."""

    algo: str
    agent_preset: str
    env_preset: str
    env: EnvConfig
    train: TrainConfig
    agent: AgentConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def env_name(self) -> str:
        return Path(self.env_preset).stem if self.env_preset.endswith(".toml") else self.env_preset.replace("/", "-")

    @property
    def agent_name(self) -> str:
        return Path(self.agent_preset).stem


# ----------------------------------------------------------------------------- presets


def _source_tree_presets(kind: str) -> Path | None:
    folder = Path(__file__).resolve().parent.parent / kind
    return folder if folder.is_dir() else None


def preset_files(kind: Literal["agents", "envs"]) -> dict[str, Any]:
    """Preset name → TOML file (a Path, or in an installed wheel a resources Traversable: the
    preset folders are data-only packages), from the source checkout or the installed package."""
    folder: Any = _source_tree_presets(kind) or resources.files(f"rlkit.presets.{kind}")
    files = [entry for entry in folder.iterdir() if entry.name.endswith(".toml")]
    return {entry.name[: -len(".toml")]: entry for entry in sorted(files, key=lambda entry: entry.name)}


def _read_toml(path: Any) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise RlkitError(f"{path}: not valid TOML: {error}") from error
    except UnicodeDecodeError as error:
        raise RlkitError(f"{path}: not valid TOML: not UTF-8 ({error.reason})") from error
    except OSError as error:
        raise RlkitError(f"{path}: cannot read: {error.strerror}") from error


def _looks_like_path(value: str) -> bool:
    return value.endswith(".toml") or ("/" in value and Path(value).exists())


def load_preset(kind: Literal["agents", "envs"], name: str) -> tuple[str, dict[str, Any]]:
    """The preset's display name and its TOML contents."""
    if _looks_like_path(name):
        path = Path(name)
        if not path.is_file():
            raise RlkitError(f"preset file {name} does not exist")
        return str(path), _read_toml(path)
    presets = preset_files(kind)
    if name not in presets:
        raise RlkitError(f"unknown {kind[:-1]} preset {name!r}{_suggest(name, presets)}; valid: {', '.join(presets)}")
    return name, _read_toml(presets[name])


def _suggest(name: str, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# ----------------------------------------------------------------------------- values


def _optional(kind: Any) -> Any | None:
    """The inner type of `X | None`, else None."""
    if isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind):
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return inner
    return None


def _type_name(kind: Any) -> str:
    if _optional(kind) is not None:
        return _type_name(_optional(kind))
    if typing.get_origin(kind) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(kind)))
    if typing.get_origin(kind) is list:
        return f"a list of {typing.get_args(kind)[0].__name__}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a table"}[kind]


def _check_value(key: str, value: Any, spec: dataclasses.Field, hints: dict[str, Any]) -> Any:
    """`value` converted to the field's type, or RlkitError naming the key and what is valid."""
    kind = hints[spec.name]
    if _optional(kind) is not None:
        if value is None:  # only from a saved config: TOML has no null
            return None
        kind = _optional(kind)
    origin = typing.get_origin(kind)
    wrong = RlkitError(f"{key} = {value!r} is not {_type_name(kind)}")
    if origin is Literal:
        if value not in typing.get_args(kind):
            raise RlkitError(f"{key} = {value!r} is not valid; valid: {', '.join(map(str, typing.get_args(kind)))}")
        return value
    if origin is list:
        item = typing.get_args(kind)[0]
        if not isinstance(value, list):
            raise wrong
        items = [_scalar(key, v, item, wrong) for v in value]
        least = spec.metadata.get("item_min")
        if least is not None and any(v < least for v in items):
            raise RlkitError(f"{key} = {value!r} is out of range; valid: every item >= {least}")
        return items
    value = _scalar(key, value, kind, wrong)
    low, high = spec.metadata.get("min"), spec.metadata.get("max")
    if low is not None and (value < low or spec.metadata.get("exclusive_min") and value == low):
        bound = f"> {low}" if spec.metadata.get("exclusive_min") else f">= {low}"
        raise RlkitError(
            f"{key} = {value!r} is out of range; valid: {bound}" + (f" and <= {high}" if high is not None else "")
        )
    if high is not None and value > high:
        raise RlkitError(f"{key} = {value!r} is out of range; valid: >= {low} and <= {high}")
    return value


def _scalar(key: str, value: Any, kind: type, wrong: RlkitError) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        if not math.isfinite(value):
            raise RlkitError(f"{key} = {value!r} is not a finite number")
        return float(value)
    if not isinstance(value, kind):
        raise wrong
    return value


def parse_value(text: str) -> Any:
    """A `--set` value read as TOML (3, 1e-4, true, [64, 64], "x"); bare words are strings."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise RlkitError(f"--set {text!r} is not key=value, e.g. --set learning_rate=3e-4")
    return key.strip(), parse_value(value.strip())


class _Sections:
    """The three config sections being assembled, with key lookup and validated assignment."""

    def __init__(self, agent_class: type[AgentConfig]):
        self.objects: dict[str, Any] = {"env": EnvConfig(), "train": TrainConfig(), "agent": agent_class()}
        self.fields = {name: {f.name: f for f in dataclasses.fields(obj)} for name, obj in self.objects.items()}
        self.hints = {name: typing.get_type_hints(type(obj)) for name, obj in self.objects.items()}

    def resolve(self, key: str) -> tuple[str, str]:
        section, dot, name = key.partition(".")
        if dot:
            if section not in self.fields:
                raise RlkitError(f"unknown section {section!r} in {key!r}; valid: {', '.join(SECTIONS)}")
            if name not in self.fields[section]:
                raise RlkitError(f"unknown key {key!r}{self._elsewhere(name, section)}")
            return section, name
        owners = [s for s in SECTIONS if key in self.fields[s]]
        if len(owners) == 1:
            return owners[0], key
        if len(owners) > 1:
            raise RlkitError(
                f"key {key!r} is in several sections; write one of " + ", ".join(f"{s}.{key}" for s in owners)
            )
        raise RlkitError(f"unknown key {key!r}{self._elsewhere(key)}")

    def _elsewhere(self, name: str, section: str | None = None) -> str:
        """The rest of an unknown key's message: the section or the other agent it belongs to,
        else the closest valid keys."""
        homes = [s for s in SECTIONS if s != section and name in self.fields[s]]
        if homes:
            return f": {name} is a key of {homes[0]}; write {homes[0]}.{name}"
        others = [a for a, cls in AGENT_CONFIGS.items() if name in {f.name for f in dataclasses.fields(cls)}]
        if others and section in (None, "agent"):
            algo = next(a for a, cls in AGENT_CONFIGS.items() if type(self.objects["agent"]) is cls)
            return (
                f": {name} is a hyperparameter of {' and '.join(others)} agents, and this run's agent is {algo}; "
                f"choose a {' or '.join(others)} preset with --agent (rlkit list), or see rlkit train --help-keys"
            )
        if section:
            return f"{_suggest(name, self.fields[section])}; valid keys of {section}: {', '.join(self.fields[section])}"
        everything = [k for s in SECTIONS for k in self.fields[s]]
        return f"{_suggest(name, everything)}; see rlkit train --help-keys for the valid keys"

    def set(self, key: str, value: Any, origin: str) -> None:
        section, name = self.resolve(key)
        spec = self.fields[section][name]
        try:
            checked = _check_value(f"{section}.{name}", value, spec, self.hints[section])
        except RlkitError as error:
            raise RlkitError(f"{error} (from {origin})") from None
        setattr(self.objects[section], name, checked)

    def update(self, table: dict[str, Any], origin: str, section: str | None = None) -> None:
        for key, value in table.items():
            self.set(f"{section}.{key}" if section else key, value, origin)


def _table(data: dict[str, Any], key: str, origin: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RlkitError(f"{origin}: [{key}] must be a table")
    return value


def _check_top_level(data: dict[str, Any], allowed: tuple[str, ...], origin: str) -> None:
    for key in data:
        if key not in allowed:
            raise RlkitError(
                f"{origin}: unknown top-level key {key!r}{_suggest(key, allowed)}; valid: {', '.join(allowed)}"
            )


def build_config(
    agent: str,
    env: str,
    steps: int | None = None,
    seed: int | None = None,
    overrides: typing.Sequence[str] = (),
    values: typing.Mapping[str, Any] | None = None,
) -> RunConfig:
    """Resolve presets and overrides into a validated RunConfig: `overrides` as `--set` takes
    them ("key=value" text), `values` as Python values ({"learning_rate": 1e-3}), applied last."""
    agent_name, agent_data = load_preset("agents", agent)
    _check_top_level(agent_data, ("description", "algo", "agent", "train", "env"), agent_name)
    algo = agent_data.get("algo")
    if algo not in AGENT_CONFIGS:
        raise RlkitError(f"{agent_name}: algo = {algo!r} is not valid; valid: {', '.join(AGENT_CONFIGS)}")
    sections = _Sections(AGENT_CONFIGS[algo])
    for section in SECTIONS:
        sections.update(_table(agent_data, section, agent_name), f"agent preset {agent_name}", section)

    env_name, env_data = _load_env(env)
    _check_top_level(env_data, ("description", "env", "train", "tuned"), env_name)
    for section in ("env", "train"):
        sections.update(_table(env_data, section, env_name), f"env preset {env_name}", section)
    tuned = _table(env_data, "tuned", env_name)
    sections.update(
        _table(tuned, Path(agent_name).stem, env_name), f"env preset {env_name} [tuned.{Path(agent_name).stem}]"
    )

    if steps is not None:
        sections.set("train.total_steps", steps, "--steps")
    if seed is not None:
        sections.set("train.seed", seed, "--seed")
    for text in overrides:
        key, value = parse_assignment(text)
        sections.set(key, value, f"--set {text}")
    for key, value in (values or {}).items():
        sections.set(key, list(value) if isinstance(value, tuple) else value, f"overrides[{key!r}]")

    env_config = sections.objects["env"]
    if not env_config.id:
        raise RlkitError(f"env preset {env_name} has no env.id")
    check_env_id(env_config.id)
    return RunConfig(algo, agent_name, env_name, env_config, sections.objects["train"], sections.objects["agent"])


def _load_env(env: str) -> tuple[str, dict[str, Any]]:
    """An env preset by name or path, or a bare gymnasium id wrapped as a preset."""
    if _looks_like_path(env) or env in preset_files("envs"):
        return load_preset("envs", env)
    if "-v" in env or is_atari(env):
        check_env_id(env)
        return env, {"env": {"id": env}}
    presets = preset_files("envs")
    raise RlkitError(
        f"unknown environment {env!r}{_suggest(env, presets)}; valid: a preset ({', '.join(presets)}), "
        "a registered gymnasium id such as CartPole-v1, or a path to a TOML file"
    )


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """Rebuild a RunConfig saved with `to_dict` (from a run folder or a checkpoint)."""
    try:
        algo = data["algo"]
        sections = _Sections(AGENT_CONFIGS[algo])
        for section in SECTIONS:
            sections.update(data[section], "saved config", section)
        return RunConfig(algo, data["agent_preset"], data["env_preset"], *(sections.objects[s] for s in SECTIONS))
    except (KeyError, TypeError, AttributeError) as error:
        raise RlkitError(f"saved config is incomplete or malformed ({type(error).__name__}: {error})") from None


def key_help() -> str:
    """Every key of every section with its default and help, for `--help-keys`."""
    lines = []
    for section, cls in (
        ("env", EnvConfig),
        ("train", TrainConfig),
        ("agent (qlearning)", QLearningConfig),
        ("agent (dqn)", DQNConfig),
    ):
        lines.append(f"[{section}]")
        shown = {f.name for f in dataclasses.fields(AgentConfig)} if cls is DQNConfig else set()
        for spec in dataclasses.fields(cls):
            if spec.name in shown:
                continue
            default = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
            lines.append(f"  {spec.name} = {json.dumps(default)}  — {spec.metadata['help']}")
    return "\n".join(lines)


__all__ = [
    "AgentConfig",
    "DQNConfig",
    "EnvConfig",
    "QLearningConfig",
    "RunConfig",
    "TrainConfig",
    "build_config",
    "config_from_dict",
    "key_help",
    "load_preset",
    "parse_value",
    "preset_files",
]
