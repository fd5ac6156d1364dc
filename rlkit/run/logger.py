"""TensorBoard scalars under fixed names, hyperparameters, and the console progress bar.

Metric names (stable; dashboards rely on them):
  rollout/episode_return, rollout/episode_length, rollout/episodes
  train/epsilon (or train/temperature), train/learning_rate, train/per_beta, train/loss, train/q_mean, train/grad_norm, train/td_error
  time/sps (environment steps per second, everything included), time/elapsed_s
  time/acting_ms_per_step, time/learning_ms_per_step (wall milliseconds per environment step spent
    in the phases the loop times with `Logger.timed`)
  eval/return_mean, eval/return_std, eval/length_mean
"""

from __future__ import annotations

import io
import json
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams.summary_v2 import hparams_pb
from tqdm import tqdm

from rlkit.envs import is_atari, is_minatar
from rlkit.run.events import EventWriter
from rlkit.run.study import NOT_THE_EXPERIMENT

# TensorBoard's Custom Scalars page: one chart per quantity, each on its own y axis, and only
# the charts whose tags the run logs (a chart no run logs shows "Matches (0)")
SPEED_CHARTS = {
    "speed (environment steps per second, everything included)": ["time/sps"],
    "time per environment step (ms): acting, learning": ["time/acting_ms_per_step", "time/learning_ms_per_step"],
}


def charts(config: dict[str, Any], family: str) -> dict[str, list[str]]:
    """The Custom Scalars charts of a run (its config as `RunConfig.to_dict` gives it; its
    algorithm's family): chart title → the tags drawn on it."""
    agent = config["agent"]
    layout = {
        "return of training episodes": ["rollout/episode_return"],
        "return of greedy evaluations (mean)": ["eval/return_mean"],
    }
    if family == "dqn":
        layout["loss (DQN)"] = ["train/loss"]
        layout["Q (DQN: batch mean)"] = ["train/q_mean"]
        layout["gradient norm (DQN: before clipping)"] = ["train/grad_norm"]
    else:
        layout["TD error (Q-table: mean absolute)"] = ["train/td_error"]
    if agent.get("exploration") == "softmax":
        layout["exploration: softmax temperature"] = ["train/temperature"]
    else:
        layout["exploration: ε (0 with noisy nets)" if agent.get("noisy") else "exploration: ε"] = ["train/epsilon"]
    layout["learning rate"] = ["train/learning_rate"]
    if agent.get("prioritized_replay"):
        layout["prioritized replay: importance-weight exponent β"] = ["train/per_beta"]
    return layout | SPEED_CHARTS


# The HParams table sorts its columns by name (those whose values differ between runs first)
# and shows the first five: capitalised names sort before the section.key ones.
# Headline column → the config key it shows (None: the agent preset's name).
HEADLINE = {
    "Agent": None,
    "Env": "env.id",
    "Learning rate": "agent.learning_rate",
    "Seed": "train.seed",
    "Steps": "train.total_steps",
}
ATARI_KEYS = (
    "noop_max",
    "frame_skip",
    "screen_size",
    "frame_stack",
    "terminal_on_life_loss",
    "clip_reward",
    "repeat_action_probability",
    "full_action_space",
    "max_frames",
)


def _applies(config: dict[str, Any]) -> dict[str, bool]:
    """For the keys that apply only under some setting: whether they do in this run (every
    other key always applies)."""
    env, agent = config["env"], config["agent"]
    atari = is_atari(env["id"])
    minatar = is_minatar(env["id"])
    lr_schedule, exploration, optimizer = agent["lr_schedule"], agent["exploration"], agent.get("optimizer")
    noisy, head = bool(agent.get("noisy")), agent.get("head")
    only_when: list[tuple[bool, tuple[str, ...]]] = [
        (atari, tuple(f"env.{key}" for key in ATARI_KEYS)),
        (not atari, ("env.max_episode_steps",)),
        (minatar, ("env.sticky_action_prob", "env.minimal_actions")),
        (not atari and not minatar and not env["bins"], ("agent.normalize_observations",)),  # vector only
        (bool(env["bins"]), ("env.bins", "env.low", "env.high")),
        (lr_schedule != "constant", ("agent.learning_rate_final", "agent.lr_decay_steps")),
        (lr_schedule == "exponential", ("agent.lr_decay_rate",)),
        (exploration == "epsilon" and not noisy, ("agent.exploration_initial_eps", "agent.exploration_final_eps")),
        (exploration == "softmax", ("agent.exploration_initial_temperature", "agent.exploration_final_temperature")),
        (not noisy, ("agent.exploration", "agent.exploration_fraction", "agent.exploration_start")),
        (noisy, ("agent.noisy_sigma0",)),
        (bool(agent.get("dueling")), ("agent.dueling_hidden",)),
        (head == "c51", ("agent.atoms", "agent.v_min", "agent.v_max")),
        (head == "qr", ("agent.quantiles",)),
        (
            bool(agent.get("prioritized_replay")),
            ("agent.per_alpha", "agent.per_beta", "agent.per_eps", "agent.per_weights"),
        ),
        (optimizer == "adam", ("agent.adam_eps",)),
        (optimizer == "rmsprop", ("agent.rmsprop_alpha", "agent.rmsprop_eps", "agent.rmsprop_centered")),
        (optimizer == "sgd", ("agent.sgd_momentum",)),
    ]
    return {key: applies for applies, keys in only_when for key in keys}


def _hparam_value(value: Any) -> bool | int | float | str:
    """A value TensorBoard's HParams can show: bools stay bools, lists become their JSON text."""
    return value if isinstance(value, (bool, int, float, str)) else json.dumps(value)


def run_hyperparameters(config: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """The hyperparameters of a run (its config as `RunConfig.to_dict` gives it) that apply to
    its agent and env: the headline (agent, env, learning rate, seed, steps), the algorithm, then
    `section.key` for the others; settings that do not change what is learned are left out."""
    flat = {
        f"{section}.{key}": value for section in ("env", "train", "agent") for key, value in config[section].items()
    }
    for key, value in flat.pop("env.make_kwargs").items():
        flat[f"env.make_kwargs.{key}"] = value
    values = {name: flat.pop(key) if key else Path(config["agent_preset"]).stem for name, key in HEADLINE.items()}
    values["algo"] = config["algo"]
    applies = _applies(config)
    values |= {
        key: _hparam_value(value)
        for key, value in flat.items()
        if value is not None and applies.get(key, True) and key not in NOT_THE_EXPERIMENT
    }
    return values


# HParams' metric columns: the final greedy evaluation, the last value of these tags in a run
METRICS = {"eval/return_mean": "final greedy return (mean)", "eval/return_std": "final greedy return (std)"}
HEADLINE_TYPES = {"Agent": str, "Env": str, "Learning rate": float, "Seed": int, "Steps": int}


def _data_type(kind: Any) -> int:
    if kind is bool:
        return api_pb2.DATA_TYPE_BOOL
    if kind in (int, float):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def experiment_columns() -> dict[str, int]:
    """Every HParams column any run of any registered agent can have, with its data type: the
    headline, the algorithm, then `section.key` for the env's, the loop's and every agent's
    keys (the settings that do not change what is learned left out)."""
    import dataclasses
    import typing

    from rlkit.agents import registry
    from rlkit.config import TrainConfig
    from rlkit.envs import EnvConfig

    shown_apart = {key for key in HEADLINE.values() if key} | set(NOT_THE_EXPERIMENT) | {"env.make_kwargs"}
    columns = {name: _data_type(kind) for name, kind in HEADLINE_TYPES.items()} | {"algo": api_pb2.DATA_TYPE_STRING}
    classes = [("env", EnvConfig), ("train", TrainConfig)] + [("agent", s.config_class) for s in registry().values()]
    for section, config_class in classes:
        hints = typing.get_type_hints(config_class)
        for field in dataclasses.fields(config_class):
            name = f"{section}.{field.name}"
            if name not in shown_apart and name not in columns:
                kind = typing.get_args(hints[field.name]) or (hints[field.name],)  # X | None: X
                columns[name] = _data_type(kind[0])
    return columns


def experiment_summary() -> Summary:
    """HParams' experiment: every column any run can have (so the table's columns do not depend
    on which run TensorBoard reads it from, and sort by name: the headline first, Seed among it)
    and the final greedy evaluation as its metrics (not every scalar tag's last value)."""
    experiment = api_pb2.Experiment(
        hparam_infos=[api_pb2.HParamInfo(name=name, type=kind) for name, kind in experiment_columns().items()],
        metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=name) for tag, name in METRICS.items()
        ],
    )
    plugin_data = plugin_data_pb2.HParamsPluginData(experiment=experiment)
    return Summary(
        value=[
            Summary.Value(
                tag=metadata.EXPERIMENT_TAG,
                metadata=metadata.create_summary_metadata(plugin_data),
                tensor=metadata.NULL_TENSOR,
            )
        ]
    )


class _PhaseTimer:
    """Adds the wall time spent inside a `with` block to its phase's total."""

    __slots__ = ("totals", "phase", "started")

    def __init__(self, totals: dict[str, float], phase: str):
        self.totals, self.phase, self.started = totals, phase, 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *_: Any) -> None:
        self.totals[self.phase] = self.totals.get(self.phase, 0.0) + time.perf_counter() - self.started


class Logger:
    """Writes scalars to the run folder's event files and keeps the progress bar up to date."""

    def __init__(
        self, run_dir: Path, total_steps: int, start_step: int = 0, progress: bool = True, label: str | None = None
    ):
        """`label` prefixes every console line (a seed of a group: `[seed 3]`)."""
        self.prefix = f"[{label}] " if label else ""
        # A resumed run drops the events written after its checkpoint (those of its step were
        # all logged before the checkpoint was saved), so the curves continue without doubles.
        self.writer = EventWriter(run_dir, purge_step=start_step + 1 if start_step else None)
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            unit="step",
            dynamic_ncols=True,
            disable=not progress,
            smoothing=0.1,
            desc=label,
        )
        self.recent_returns: deque[float] = deque(maxlen=20)
        self.last_step = start_step
        self.last_time = time.perf_counter()
        self.start_time = self.last_time
        self.phase_seconds: dict[str, float] = {}  # since the last progress line
        self.timers: dict[str, _PhaseTimer] = {}

    def layout(self, config: dict[str, Any], family: str) -> None:
        """TensorBoard's Custom Scalars page: the run's `charts`, one per quantity."""
        self.writer.custom_scalars({"rlkit": charts(config, family)})

    def timed(self, phase: str) -> _PhaseTimer:
        """A context manager: the wall time inside it counts towards `phase` ("acting" or
        "learning"), logged per environment step as time/<phase>_ms_per_step."""
        if phase not in self.timers:
            self.timers[phase] = _PhaseTimer(self.phase_seconds, phase)
        return self.timers[phase]

    def scalars(self, values: dict[str, Any], step: int) -> None:
        """All values at `step` as one event: each event costs the writer a record checksum
        computed in Python, so an episode's three scalars written apart cost three times as much."""
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value)) for tag, value in values.items()])
        self.writer.add_summary(summary, step)

    def images(self, pictures: dict[str, Any], step: int) -> None:
        for name, picture in pictures.items():
            self.writer.image(f"eval/{name}", picture, step)

    def video(self, tag: str, frames: Any, step: int, fps: int = 15) -> None:
        """Frames (T × H × W grayscale or T × H × W × 3 RGB, uint8) as an animated GIF in TensorBoard's images tab.
        (torch's add_video needs moviepy 1.x; Pillow, which TensorBoard already brings, writes GIFs.)"""
        from PIL import Image

        pictures = [Image.fromarray(frame) for frame in np.asarray(frames)]
        buffer = io.BytesIO()
        pictures[0].save(
            buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=int(1000 / fps), loop=0
        )
        height, width = pictures[0].height, pictures[0].width
        image = Summary.Image(height=height, width=width, colorspace=1, encoded_image_string=buffer.getvalue())
        self.writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def episode(self, episode_return: float, length: int, episodes: int, step: int) -> None:
        self.recent_returns.append(episode_return)
        self.scalars(
            {"rollout/episode_return": episode_return, "rollout/episode_length": length, "rollout/episodes": episodes},
            step,
        )

    def progress(self, values: dict[str, Any], step: int) -> None:
        """Log training values with the speed since the last call, and move the bar."""
        now = time.perf_counter()
        steps = max(step - self.last_step, 1)
        sps = (step - self.last_step) / max(now - self.last_time, 1e-9)
        phases = {f"time/{phase}_ms_per_step": 1000 * seconds / steps for phase, seconds in self.phase_seconds.items()}
        self.phase_seconds.clear()
        self.scalars({**values, **phases, "time/sps": sps, "time/elapsed_s": now - self.start_time}, step)
        postfix = {"sps": f"{sps:,.0f}"}
        if self.recent_returns:
            postfix["return"] = f"{np.mean(self.recent_returns):.2f}"
        if "train/epsilon" in values:
            postfix["eps"] = f"{values['train/epsilon']:.3f}"
        if "train/temperature" in values:
            postfix["temp"] = f"{values['train/temperature']:.3g}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(step - self.last_step)
        self.last_step, self.last_time = step, now

    def advance(self, step: int) -> None:
        """Move the bar to `step` without logging (the bar moves only every log_interval steps,
        so a run ends on a step the last `progress` did not reach)."""
        self.bar.update(max(step - self.bar.n, 0))

    def hyperparameters(self, config: dict[str, Any]) -> None:
        """Record the hyperparameters that apply to this run (`run_hyperparameters`) for
        TensorBoard's HParams tab, with the experiment every run writes alike
        (`experiment_summary`): TensorBoard reads one run's experiment for the whole table."""
        self.writer.add_summary(experiment_summary())
        # trial_id "": no session group, so each run is its own row, named by its folder
        self.writer.add_summary(hparams_pb(run_hyperparameters(config), trial_id=""))

    def message(self, text: str) -> None:
        self.bar.write(self.prefix + text)

    def close(self) -> None:
        self.bar.close()
        self.writer.close()
