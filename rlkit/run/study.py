"""Seed studies: how one config does across seeds, judged by each run's *final* greedy
evaluation (its eval.json), never by its best checkpoint.

A task counts as solved at `train.solved_return` (an env preset may set it), else at the env's
registered `reward_threshold`. A study reports how many seeds' final policies solve it, the
median, the IQM with a 95% bootstrap interval, the worst seed, and, over the seeds whose greedy
evaluations (the periodic ones and the final one) reached the threshold at some point, the median env steps and training seconds
(evaluation time left out) to the first evaluation that did.

It also counts collapses: seeds whose greedy evaluations reached the threshold and whose final
one ends more than 25% of it below (goal − 0.25·|goal|: under 356.25 for CartPole's 475, under
−125 for Acrobot's −100). Such seeds solved the task and lost it, which first solves alone hide.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlkit.errors import RlkitError

COLLAPSE_FRACTION = 0.25  # a final return this fraction of |goal| below the goal, after reaching it

# settings that do not change what is learned: runs that differ only in these are seeds of one config
NOT_THE_EXPERIMENT = (
    "train.seed",
    "train.solved_return",
    "train.device",
    "train.torch_threads",
    "train.log_interval",
    "train.checkpoint_interval",
    "train.keep_checkpoints",
    "train.save_replay",
    "train.save_replay_max_mb",
    "train.deterministic",
    "train.eval_video",
    "agent.compile",
    "agent.replay_on_device",
)


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of the sorted values (Agarwal et al. 2021)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    cut = int(0.25 * len(ordered))
    return float(np.mean(ordered[cut : len(ordered) - cut]))


def bootstrap_interval(values: np.ndarray, statistic, samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of `statistic` over the seeds in `values`."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    draws = [statistic(values[rng.integers(len(values), size=len(values))]) for _ in range(samples)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def run_settings(run: Path) -> dict[str, Any] | None:
    """A run's config.json as {"env.id": ..., "agent.gamma": ..., ...} (values as JSON text),
    without the settings that do not change what is learned; None without a config.json."""
    path = run / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    settings = {
        f"{section}.{key}": json.dumps(value, sort_keys=True)
        for section in ("env", "train", "agent")
        for key, value in config.get(section, {}).items()
    }
    settings["agent"] = json.dumps(Path(config.get("agent_preset", "?")).stem)
    return {key: value for key, value in settings.items() if key not in NOT_THE_EXPERIMENT}


def threshold(config: dict[str, Any]) -> float | None:
    """The return that solves the task of a saved config (config.json's contents)."""
    chosen = config["train"].get("solved_return")
    if chosen is not None:
        return float(chosen)
    try:
        registered = gym.spec(config["env"]["id"]).reward_threshold
    except gym.error.Error:
        return None
    return None if registered is None else float(registered)


def _finished_runs(folders: list[Path]) -> list[Path]:
    runs: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise RlkitError(f"{folder}: no such run or group folder")
        found = [folder] if (folder / "eval.json").is_file() else sorted(p.parent for p in folder.rglob("eval.json"))
        runs += [run for run in found if (run / "config.json").is_file() and run not in runs]
    return runs


def _check_one_config(runs: list[Path]) -> None:
    """Refuse runs of different configs: a study is over the seeds of one."""
    settings = [run_settings(run) for run in runs]
    first = settings[0]
    for run, other in zip(runs[1:], settings[1:]):
        differing = sorted(key for key in set(first) | set(other) if first.get(key) != other.get(key))
        if differing:
            names = [f"{r.parent.name}/{r.name}" for r in (runs[0], run)]
            shown = ", ".join(
                f"{key} ({first.get(key, 'unset')} in {names[0]}, {other.get(key, 'unset')} in {names[1]})"
                for key in differing[:3]
            )
            raise RlkitError(
                f"the runs are not seeds of one config: {shown}{' ...' if len(differing) > 3 else ''}; "
                "study one group (rlkit train --seeds) at a time"
            )


def study(folders: list[Path], solved_return: float | None = None) -> dict[str, Any]:
    """The summary of the finished runs under `folders` (run or group folders)."""
    runs = _finished_runs(folders)
    if not runs:
        raise RlkitError(
            f"{', '.join(map(str, folders))}: no finished run (a run folder with eval.json); "
            "give a group folder of rlkit train --seeds, or resume its unfinished seeds first"
        )
    _check_one_config(runs)
    config = json.loads((runs[0] / "config.json").read_text())
    goal = solved_return if solved_return is not None else threshold(config)
    results = [json.loads((run / "eval.json").read_text()) for run in runs]
    finals = np.array([result["return_mean"] for result in results])
    seeds = [config_seed(run) for run in runs]
    worst = int(np.argmin(finals))
    summary: dict[str, Any] = {
        "env_id": config["env"]["id"],
        "agent": Path(config.get("agent_preset", "?")).stem,
        "total_steps": config["train"]["total_steps"],
        "seeds": len(runs),
        "final_episodes": int(results[0]["episodes"]),
        "solved_return": goal,
        "median": float(np.median(finals)),
        "mean": float(np.mean(finals)),
        "iqm": iqm(finals),
        "iqm_ci": list(bootstrap_interval(finals, iqm)),
        "worst": {"seed": seeds[worst], "return": float(finals[worst])},
        "finals": {str(seed): float(final) for seed, final in zip(seeds, finals)},
    }
    if goal is None:
        return summary | {"solved": None, "first_solve": None, "collapses": None}
    firsts = [_first_solve(result, goal) for result in results]
    reached = [first for first in firsts if first is not None]
    summary["solved"] = int((finals >= goal).sum())
    below = goal - COLLAPSE_FRACTION * abs(goal)
    collapsed = [seed for seed, first, final in zip(seeds, firsts, finals) if first is not None and final < below]
    summary["collapses"] = {"below": below, "seeds": sorted(collapsed)}
    summary["first_solve"] = {
        "seeds": len(reached),
        "median_steps": float(np.median([steps for steps, _ in reached])) if reached else None,
        "median_train_seconds": float(np.median([seconds for _, seconds in reached])) if reached else None,
    }
    return summary


def config_seed(run: Path) -> int:
    return int(json.loads((run / "config.json").read_text())["train"]["seed"])


def _first_solve(result: dict[str, Any], goal: float) -> tuple[int, float] | None:
    """Env steps and training seconds at the first greedy evaluation at or above `goal` (the
    periodic ones and the final one, which eval.json lists last)."""
    for evaluation in result.get("evaluations", []):
        if evaluation["return_mean"] >= goal:
            return int(evaluation["step"]), float(evaluation["train_time_s"])
    return None


def table(summary: dict[str, Any]) -> str:
    """The summary as lines for the console."""
    low, high = summary["iqm_ci"]
    lines = [
        f"{summary['agent']} on {summary['env_id']}, {summary['total_steps']:,} steps, {summary['seeds']} seeds "
        f"(final greedy evaluation of {summary['final_episodes']} episodes each)",
    ]
    if summary["solved"] is not None:
        lines.append(f"  solved (final ≥ {summary['solved_return']:g}): {summary['solved']} of {summary['seeds']}")
        collapses = summary["collapses"]
        named = f" (seeds {', '.join(map(str, collapses['seeds']))})" if collapses["seeds"] else ""
        lines.append(
            f"  collapses (reached {summary['solved_return']:g}, ended below {collapses['below']:g}): "
            f"{len(collapses['seeds'])} of {summary['seeds']}{named}"
        )
    lines += [
        f"  median {summary['median']:.2f}   IQM {summary['iqm']:.2f} [95% CI {low:.2f}, {high:.2f}]   "
        f"worst {summary['worst']['return']:.2f} (seed {summary['worst']['seed']})",
    ]
    first = summary["first_solve"]
    if first is not None and first["seeds"]:
        lines.append(
            f"  first greedy evaluation ≥ {summary['solved_return']:g}: {first['seeds']} of {summary['seeds']} seeds, "
            f"median {first['median_steps']:,.0f} steps, {first['median_train_seconds']:.1f} s of training"
        )
    elif first is not None:
        lines.append(f"  no greedy evaluation reached {summary['solved_return']:g}")
    else:
        lines.append("  no threshold: set train.solved_return (the env registers no reward_threshold)")
    return "\n".join(lines)


def worst_figure(folders: list[Path], out: Path, count: int = 5, solved_return: float | None = None) -> list[int]:
    """The greedy evaluation curves (eval.json's evaluations, the final one last) of the `count`
    seeds with the lowest final returns, one line each, with the goal and the collapse line
    drawn across; written to `out`. Returns the seeds drawn, worst first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = study(folders, solved_return)
    ended = []  # (final return, seed, run) of every finished run: a seed given twice is drawn twice
    for run in _finished_runs(folders):
        result = json.loads((run / "eval.json").read_text())
        ended.append((float(result["return_mean"]), config_seed(run), run, result))
    ended.sort(key=lambda entry: entry[0])
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for final, seed, _, result in ended[:count]:
        # the evaluations, the final one last; a run that kept none shows its final return alone
        evaluations = result.get("evaluations") or [{"step": result.get("step", 0), "return_mean": final}]
        steps = [evaluation["step"] for evaluation in evaluations]
        values = [evaluation["return_mean"] for evaluation in evaluations]
        axes.plot(steps, values, marker=".", label=f"seed {seed} (final {final:.1f})")
    goal = summary["solved_return"]
    if goal is not None:
        axes.axhline(goal, color="black", linestyle="--", linewidth=1, label=f"goal {goal:g}")
        below = summary["collapses"]["below"]
        axes.axhline(below, color="grey", linestyle=":", linewidth=1, label=f"collapse below {below:g}")
    axes.set_title(
        f"{summary['agent']} on {summary['env_id']}: the {min(count, len(ended))} worst of {summary['seeds']} seeds",
        fontsize=10,
    )
    axes.set_xlabel("env steps")
    axes.set_ylabel("greedy evaluation return")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return [seed for _, seed, _, _ in ended[:count]]
