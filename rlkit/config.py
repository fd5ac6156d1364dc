"""Typed configs, preset loading and composition, `--set` overrides and validation.

A run's config has three sections: `env` (what to build, see rlkit.envs.EnvConfig), `train`
(the loop: steps, evaluation, checkpoints) and `agent` (the algorithm's hyperparameters, named
as Stable-Baselines3 names them; each agent's config class comes from the registry). How agent
presets, env presets and their tuned tables compose is build_config's docstring. Any bad key or
value raises RlkitError with one line that names it and what is valid.
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

import numpy as np

from rlkit.agents import agent_spec, registry
from rlkit.agents.base import AgentConfig
from rlkit.envs import EnvConfig, check_env_id, is_atari
from rlkit.errors import RlkitError
from rlkit.options import option


@dataclass
class TrainConfig:
    """The training loop shared by all agents."""

    total_steps: int = option(100_000, "environment steps to train for (all envs together)", min=1)
    schedule_steps: int = option(
        0,
        "horizon of the ε and learning-rate schedules; 0: total_steps (a resume with --steps N keeps it with "
        "--keep-schedules or sets it to N with --extend-schedules)",
        min=0,
    )
    seed: int = option(
        0, "seed of the run: every random stream (agent, replay, training and eval envs) is spawned from it", min=0
    )
    eval_interval: int = option(10_000, "greedy evaluation every this many steps; 0: only at the end", min=0)
    eval_episodes: int = option(10, "episodes per periodic evaluation", min=1)
    final_eval_episodes: int = option(20, "episodes of the final evaluation written to eval.json", min=1)
    eval_epsilon: float = option(0.0, "exploration rate while evaluating", min=0.0, max=1.0)
    eval_video: bool = option(
        False, "pixel and grid envs: the first evaluation episode as an animated GIF in TensorBoard's images"
    )
    eval_num_envs: int = option(1, "evaluation envs stepped together", min=1)
    log_interval: int = option(1_000, "training metrics logged every this many steps", min=1)
    checkpoint_interval: int | None = option(
        None,
        "checkpoint every this many steps; unset: at each periodic evaluation (every tenth of the run "
        "when eval_interval is 0); 0: only at the end",
        min=0,
    )
    keep_checkpoints: int = option(2, "latest checkpoints kept (the best is kept besides)", min=1)
    save_replay: bool = option(
        True, "keep the replay buffer in step checkpoints, for an exact resume, when it fits save_replay_max_mb"
    )
    save_replay_max_mb: int = option(
        1024,
        "largest replay (at full capacity, in MiB) that checkpoints keep; above it they keep the weights and a "
        "resume starts with an empty replay",
        min=0,
    )
    device: str = option("auto", "torch device: auto (cuda if available), cpu, cuda, cuda:1, ...")
    torch_threads: int = option(1, "torch CPU threads; 0 keeps torch's default", min=0)
    deterministic: bool = option(
        False,
        "deterministic torch kernels (torch.use_deterministic_algorithms, cuDNN without autotuning, "
        "CUBLAS_WORKSPACE_CONFIG): a run on CUDA bit-identical from its seed, at some cost in speed; on the CPU "
        "runs are bit-identical without it",
    )
    solved_return: float | None = option(
        None,
        "greedy evaluation return that counts as solving the task, for the summaries of seed groups; "
        "unset: the env's registered reward_threshold",
    )
    stop_at_return: float | None = option(
        None,
        "stop after the first periodic evaluation whose mean return reaches this (then the final "
        "evaluation runs; --resume trains on to total_steps); unset: train to total_steps",
    )


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
        if path.is_dir():
            raise RlkitError(f"preset file {name} is a folder; give a TOML file, or a preset name (rlkit list)")
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
    value = _plain(value)
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


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as their Python equivalents (np.int64 as int, np.float32 as
    float, np.bool_ as bool, an array as a list), tuples as lists; anything else unchanged."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
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
        agents = registry()
        others = [a for a, spec in agents.items() if name in {f.name for f in dataclasses.fields(spec.config_class)}]
        if others and section in (None, "agent"):
            algo = next(a for a, spec in agents.items() if type(self.objects["agent"]) is spec.config_class)
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


def config_key(algo: str, key: str) -> tuple[str, str]:
    """(section, name) of a config key as --set takes it ("learning_rate", "train.seed"); an
    unknown key is one RlkitError naming what would be valid."""
    return _Sections(agent_spec(algo).config_class).resolve(key)


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


AGENT_PRESET_KEYS = ("description", "algo", "extends", "agent", "train", "env", "search")
ENV_PRESET_KEYS = ("description", "env", "train", "discretize", "tuned")
DISCRETIZE_KEYS = ("bins", "low", "high")


def _agent_chain(agent: str) -> list[tuple[str, dict[str, Any], bool]]:
    """The agent preset and the presets it `extends`, the base first: (display name, TOML data,
    whether the preset is specific). A built-in preset that extends nothing is generic (an
    algorithm's defaults, which an env's tuning replaces); one that extends another, or any
    preset file the user passes, is specific: its values win over the env's tuned tables."""
    chain: list[tuple[str, dict[str, Any], bool]] = []
    seen: list[str] = []  # each preset of the chain once: a file by its resolved path, whatever path named it
    name = agent
    while True:
        display, data = load_preset("agents", name)
        _check_top_level(data, AGENT_PRESET_KEYS, display)
        identity = str(Path(display).resolve()) if _looks_like_path(display) else display
        if identity in seen:  # the chain so far, in the order extends named its presets, then this one again
            names = " extends ".join([entry[0] for entry in chain] + [display])
            raise RlkitError(f"agent preset {agent}: extends makes a cycle ({names})")
        seen.append(identity)
        parent = data.get("extends")
        chain.append((display, data, parent is not None or not _built_in(name)))
        if parent is None:
            return chain[::-1]
        if not isinstance(parent, str):
            raise RlkitError(f"{display}: extends = {parent!r} is not valid; valid: an agent preset name or a path")
        if _looks_like_path(display) and parent.endswith(".toml") and not Path(parent).is_absolute():
            parent = str(Path(display).parent / parent)  # a relative path is read from the extending file's folder
        name = parent


def _built_in(name: str) -> bool:
    """Whether an agent preset is one of rlkit's own: given by name, or by a path into the
    presets folder (`--agent agents/dqn.toml` means what `--agent dqn` means)."""
    if not _looks_like_path(name):
        return True
    own = {Path(str(entry)).resolve() for entry in preset_files("agents").values()}
    return Path(name).resolve() in own


def _algo(chain: list[tuple[str, dict[str, Any], bool]]) -> str:
    """The algorithm of a preset chain: the base's `algo`, which an extending preset may repeat
    but not change."""
    algo = None
    for display, data, _ in chain:
        declared = data.get("algo")
        if declared is not None and algo is not None and declared != algo:
            raise RlkitError(
                f"{display}: algo = {declared!r}, but the preset it extends is {algo!r}; an extending preset keeps its algo"
            )
        algo = declared if declared is not None else algo
    if algo is None:
        raise RlkitError(f"{chain[-1][0]}: no algo; valid: {', '.join(registry())}")
    try:
        return agent_spec(algo).name
    except RlkitError as error:
        raise RlkitError(f"{chain[0][0]}: {error}") from None


def _tuned_tables(env_name: str, env_data: dict[str, Any]) -> dict[str, Any]:
    """An env preset's [tuned] table, its keys checked: one table per algorithm family, and
    [tuned.preset.<agent preset>] tables."""
    tuned = _table(env_data, "tuned", env_name)
    agents = registry()
    families = sorted({spec.family for spec in agents.values()})
    for key in tuned:
        if key != "preset" and key not in families:
            hint = f" (the {key} agent's family is {agents[key].family})" if key in agents else _suggest(key, families)
            raise RlkitError(
                f"{env_name}: [tuned.{key}] is not a family of agents{hint}; valid: "
                + ", ".join(f"[tuned.{family}]" for family in families)
                + ", [tuned.preset.<agent preset>]"
            )
    presets = preset_files("agents")
    for name, table in _table(tuned, "preset", env_name).items():
        if name not in presets or not isinstance(table, dict):
            what = "a table" if name in presets else f"an agent preset{_suggest(name, presets)}"
            raise RlkitError(f"{env_name}: [tuned.preset.{name}] must name {what}; valid: {', '.join(presets)}")
    return tuned


def build_config(
    agent: str,
    env: str,
    steps: int | None = None,
    seed: int | None = None,
    overrides: typing.Sequence[str] = (),
    values: typing.Mapping[str, Any] | None = None,
) -> RunConfig:
    """Resolve presets and overrides into a validated RunConfig: `overrides` as `--set` takes
    them ("key=value" text), `values` as Python values ({"learning_rate": 1e-3}), applied last.

    Later layers win: the agent config's defaults; a generic agent preset (a built-in one that
    extends nothing); the env preset's [env] and [train]; its [discretize] table for agents that
    need discrete states; its [tuned.<family>] table for the agent's family; the specific agent
    presets (those that extend another, and preset files the user passes), base first; the env
    preset's [tuned.preset.<agent preset>] table; then --steps, --seed, --set and `values`."""
    if values is not None and not isinstance(values, typing.Mapping):
        raise RlkitError(
            f"overrides is a {type(values).__name__}; valid: a mapping of config keys to values, "
            "e.g. {'learning_rate': 1e-3, 'env.num_envs': 4}"
        )
    for key in values or {}:
        if not isinstance(key, str):
            raise RlkitError(f"overrides key {key!r} is not a string; valid: a config key such as 'learning_rate'")
    chain = _agent_chain(agent)
    spec = agent_spec(_algo(chain))
    agent_name = chain[-1][0]
    sections = _Sections(spec.config_class)

    def apply_agent_presets(specific: bool) -> None:
        for display, data, is_specific in chain:
            if is_specific == specific:
                for section in SECTIONS:
                    sections.update(_table(data, section, display), f"agent preset {display}", section)

    apply_agent_presets(specific=False)
    env_name, env_data = _load_env(env)
    _check_top_level(env_data, ENV_PRESET_KEYS, env_name)
    for section in ("env", "train"):
        sections.update(_table(env_data, section, env_name), f"env preset {env_name}", section)
    discretize = _table(env_data, "discretize", env_name)
    _check_top_level(discretize, DISCRETIZE_KEYS, f"{env_name} [discretize]")
    if spec.discrete_states:
        sections.update(discretize, f"env preset {env_name} [discretize]", "env")
    tuned = _tuned_tables(env_name, env_data)
    sections.update(_table(tuned, spec.family, env_name), f"env preset {env_name} [tuned.{spec.family}]")
    apply_agent_presets(specific=True)
    if _built_in(agent_name):
        preset_name = Path(agent_name).stem
        per_preset = _table(_table(tuned, "preset", env_name), preset_name, env_name)
        sections.update(per_preset, f"env preset {env_name} [tuned.preset.{preset_name}]")

    if steps is not None:
        sections.set("train.total_steps", steps, "--steps")
    if seed is not None:
        sections.set("train.seed", seed, "--seed")
    set_keys: dict[tuple[str, str], str] = {}  # (section, key) given with --set or as overrides → where from
    for text in overrides:
        key, value = parse_assignment(text)
        sections.set(key, value, f"--set {text}")
        set_keys[sections.resolve(key)] = f"--set {text}"
    for key, value in (values or {}).items():
        sections.set(key, value, f"overrides[{key!r}]")
        set_keys[sections.resolve(key)] = f"overrides[{key!r}]"
    sections.objects["agent"].resolve(
        {name: origin for (section, name), origin in set_keys.items() if section == "agent"}
    )

    env_config = sections.objects["env"]
    if not env_config.id:
        raise RlkitError(f"env preset {env_name} has no env.id")
    check_env_id(env_config.id)
    return RunConfig(spec.name, agent_name, env_name, env_config, sections.objects["train"], sections.objects["agent"])


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
        sections = _Sections(agent_spec(algo).config_class)
        for section in SECTIONS:
            sections.update(data[section], "saved config", section)
        sections.objects["agent"].resolve({})
        return RunConfig(algo, data["agent_preset"], data["env_preset"], *(sections.objects[s] for s in SECTIONS))
    except (KeyError, TypeError, AttributeError) as error:
        raise RlkitError(f"saved config is incomplete or malformed ({type(error).__name__}: {error})") from None


def _field_lines(obj_or_class: Any, skip: set[str] = frozenset()) -> list[str]:
    """`  key = value  — help` for each field: the object's values, or the class's defaults."""
    lines = []
    for spec in dataclasses.fields(obj_or_class):
        if spec.name in skip:
            continue
        if isinstance(obj_or_class, type):
            value = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
        else:
            value = getattr(obj_or_class, spec.name)
        lines.append(f"  {spec.name} = {json.dumps(value)}  — {spec.metadata['help']}")
    return lines


def key_help(config: RunConfig | None = None) -> str:
    """Every key with its help, for `--help-keys`: with a config, its resolved values (env,
    train and its agent's keys); without, the defaults of every section and registered agent."""
    if config is not None:
        where = f"{config.agent_name} on {config.env_name}"
        return "\n".join(
            [f"[env]  (resolved for {where})", *_field_lines(config.env)]
            + [f"[train]  (resolved for {where})", *_field_lines(config.train)]
            + [f"[agent]  ({config.algo}, resolved for {where})", *_field_lines(config.agent)]
        )
    shared = {f.name for f in dataclasses.fields(AgentConfig)}
    lines = ["[env]", *_field_lines(EnvConfig), "[train]", *_field_lines(TrainConfig)]
    lines += ["[agent]  (every agent)", *_field_lines(AgentConfig)]
    for name, spec in registry().items():
        lines += [f"[agent]  ({name} only)", *_field_lines(spec.config_class, shared)]
    return "\n".join(lines)


__all__ = [
    "AgentConfig",
    "EnvConfig",
    "RunConfig",
    "TrainConfig",
    "build_config",
    "config_from_dict",
    "key_help",
    "load_preset",
    "parse_value",
    "preset_files",
]
