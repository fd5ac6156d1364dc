"""`rlkit plot`: learning curves of runs and groups of seeds, with 95% bootstrap bands, from
the runs' TensorBoard event files (read with TensorBoard's own reader), and a summary table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.errors import RlkitError


def find_runs(path: Path) -> list[Path]:
    """The run folders in `path`: itself if it holds event files, else every folder below that does."""
    path = Path(path)
    if not path.is_dir():
        raise RlkitError(f"{path}: no such run or group folder")
    if any(path.glob("events.out.tfevents.*")):
        return [path]
    runs = sorted({p.parent for p in path.rglob("events.out.tfevents.*")})
    if not runs:
        raise RlkitError(f"{path}: holds no TensorBoard event files; give a run folder or a group of runs")
    return runs


def read_curve(run: Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of one scalar of a run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload()
    if metric not in events.Tags()["scalars"]:
        raise RlkitError(f"{run}: has no scalar {metric!r}; it has: {', '.join(sorted(events.Tags()['scalars']))}")
    scalars = events.Scalars(metric)
    return np.array([s.step for s in scalars]), np.array([s.value for s in scalars])


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


def group_curve(runs: list[Path], metric: str) -> dict[str, Any]:
    """Mean curve over seeds on the steps every run logged, with a 95% bootstrap band."""
    curves = [read_curve(run, metric) for run in runs]
    steps = sorted(set.intersection(*(set(s.tolist()) for s, _ in curves)))
    if not steps:
        raise RlkitError(f"the runs {', '.join(map(str, runs))} share no logged step of {metric}")
    table = np.array([[values[list(s).index(step)] for step in steps] for s, values in curves])
    bands = [bootstrap_interval(table[:, i], np.mean) for i in range(len(steps))]
    finals = table[:, -1]
    return {
        "steps": np.array(steps),
        "mean": table.mean(axis=0),
        "low": np.array([b[0] for b in bands]),
        "high": np.array([b[1] for b in bands]),
        "finals": finals,
        "final_mean": float(finals.mean()),
        "iqm": iqm(finals),
        "iqm_interval": bootstrap_interval(finals, iqm),
    }


def _env_id(run: Path) -> str:
    config = run / "config.json"
    return json.loads(config.read_text())["env"]["id"] if config.is_file() else "?"


def plot(paths: list[Path], out: Path, metric: str = "eval/return_mean") -> list[dict[str, Any]]:
    """Draw one line per path (a run or a group of seeds) into `out`; return each group's summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if out.exists():
        raise RlkitError(f"--out {out}: file exists; give a new file name")
    if not out.parent.is_dir():
        raise RlkitError(f"--out {out}: folder {out.parent} does not exist")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    groups = draw(paths, metric, axes)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return groups


def draw(paths: list[Path], metric: str, axes) -> list[dict[str, Any]]:
    """One mean line and band per path on `axes`, titled with the env ids, axes labelled."""
    groups = []
    for path in paths:
        runs = find_runs(path)
        curve = group_curve(runs, metric)
        label = f"{Path(path).name} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
        axes.plot(curve["steps"], curve["mean"], label=label)
        axes.fill_between(curve["steps"], curve["low"], curve["high"], alpha=0.25)
        groups.append({"label": label, "env_id": _env_id(runs[0]), "runs": len(runs), **curve})
    axes.set_title(", ".join(sorted({g["env_id"] for g in groups})))
    axes.set_xlabel("environment steps")
    axes.set_ylabel(metric)
    axes.legend()
    axes.grid(alpha=0.3)
    return groups


def summary_table(groups: list[dict[str, Any]]) -> str:
    """One line per group: seeds, final mean, IQM of the final values and its 95% interval."""
    lines = [f"{'group':<40} {'seeds':>5} {'final mean':>11} {'IQM':>9} {'IQM 95% CI':>22}"]
    for g in groups:
        low, high = g["iqm_interval"]
        lines.append(
            f"{g['label']:<40} {g['runs']:>5} {g['final_mean']:>11.2f} {g['iqm']:>9.2f} {f'[{low:.2f}, {high:.2f}]':>22}"
        )
    return "\n".join(lines)
