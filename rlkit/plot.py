"""`rlkit plot`: learning curves of runs and groups of seeds, with 95% bootstrap bands, from
the runs' TensorBoard event files (read with TensorBoard's own reader), and a summary table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.errors import RlkitError
from rlkit.run.study import bootstrap_interval, iqm, run_settings


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


SEEDS_FOR_AN_INTERVAL = 5


def group_runs(paths: list[Path]) -> list[tuple[dict[str, Any] | None, list[Path]]]:
    """The runs under `paths` grouped by their settings (runs of one config, differing only in
    their seed), in the order first found; runs without a config.json are grouped by path."""
    groups: dict[str, tuple[dict[str, Any] | None, list[Path]]] = {}
    seen: set[Path] = set()
    for path in paths:
        for run in find_runs(path):
            if run.resolve() in seen:
                continue
            seen.add(run.resolve())
            settings = run_settings(run)
            key = json.dumps(settings, sort_keys=True) if settings is not None else f"path:{path}"
            groups.setdefault(key, (settings, []))[1].append(run)
    return list(groups.values())


def labels(groups: list[tuple[dict[str, Any] | None, list[Path]]]) -> list[str]:
    """'agent · env id' and, among curves of the same agent and env, the settings in which each
    stands out: values other than the one most of them share (all values when none is shared by most)."""
    names = []
    for settings, runs in groups:
        if settings is None:
            names.append(runs[0].parent.name if runs[0].name.startswith("seed-") else runs[0].name)
            continue
        family = [
            other
            for other, _ in groups
            if other is not None and (other["agent"], other["env.id"]) == (settings["agent"], settings["env.id"])
        ]
        stands_out = []
        for key, value in settings.items():
            values = [other.get(key) for other in family]
            usual = max(values, key=values.count)
            if value != usual or 2 * values.count(usual) <= len(values):
                shown = json.loads(value) if value.startswith('"') else value  # as --set takes it: true, [64, 64]
                stands_out.append(f"{key.partition('.')[2]}={shown}")
        names.append(" · ".join([json.loads(settings["agent"]), json.loads(settings["env.id"]), *stands_out]))
    return names


def check_image_format(option: str, out: Path) -> None:
    """Refuse a file name whose extension matplotlib cannot write, naming those it can."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if out.suffix.lower().lstrip(".") not in formats:
        raise RlkitError(
            f"{option} {out}: {out.suffix or 'no extension'} is not an image format; valid: "
            + ", ".join(f".{extension}" for extension in sorted(formats))
        )


def plot(paths: list[Path], out: Path, metric: str = "eval/return_mean", force: bool = False) -> list[dict[str, Any]]:
    """Draw one curve per config found under `paths` into `out`; return each curve's summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_image_format("--out", out)
    if out.is_dir():
        raise RlkitError(f"--out {out}: is a folder; give a file name such as {out / 'curves.png'}")
    if out.exists() and not force:
        raise RlkitError(f"--out {out}: file exists; give a new file name, or add --force to overwrite it")
    if not out.parent.is_dir():
        raise RlkitError(f"--out {out}: folder {out.parent} does not exist")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    groups = draw(paths, metric, axes)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return groups


def draw(paths: list[Path], metric: str, axes) -> list[dict[str, Any]]:
    """One mean line and band per config (its runs are its seeds) on `axes`, titled with the
    env ids and labelled with agent, env and what differs; markers show the evaluations."""
    groups = []
    found = group_runs(paths)
    for (settings, runs), label in zip(found, labels(found)):
        curve = group_curve(runs, metric)
        label = f"{label} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
        axes.plot(
            curve["steps"], curve["mean"], label=label, marker="o" if len(curve["steps"]) <= 30 else None, markersize=4
        )
        axes.fill_between(curve["steps"], curve["low"], curve["high"], alpha=0.25)
        env_id = json.loads(settings["env.id"]) if settings is not None else "?"
        groups.append({"label": label, "env_id": env_id, "runs": len(runs), **curve})
    axes.set_title(", ".join(sorted({g["env_id"] for g in groups})))
    axes.set_xlabel("environment steps")
    axes.set_ylabel(metric)
    axes.legend()
    axes.grid(alpha=0.3)
    return groups


def few_seeds_note(groups: list[dict[str, Any]]) -> str | None:
    """One line naming the curves with too few seeds for their 95% interval to mean much."""
    few = [g for g in groups if g["runs"] < SEEDS_FOR_AN_INTERVAL]
    if not few:
        return None
    names = "; ".join(g["label"] for g in few)
    return f"fewer than {SEEDS_FOR_AN_INTERVAL} seeds behind {names}: their 95% intervals mean little"


def summary_table(groups: list[dict[str, Any]]) -> str:
    """One line per group: seeds, final mean, IQM of the final values and its 95% interval."""
    width = max([40, *(len(g["label"]) for g in groups)])
    lines = [f"{'curve':<{width}} {'seeds':>5} {'final mean':>11} {'IQM':>9} {'IQM 95% CI':>22}"]
    for g in groups:
        low, high = g["iqm_interval"]
        lines.append(
            f"{g['label']:<{width}} {g['runs']:>5} {g['final_mean']:>11.2f} {g['iqm']:>9.2f} {f'[{low:.2f}, {high:.2f}]':>22}"
        )
    return "\n".join(lines)
