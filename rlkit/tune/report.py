"""A finished sweep's results: sweep.md (every trial and the confirmation), sweep.png (return
against each hyperparameter) and best.toml (an agent preset of the best configuration)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rlkit.config import build_config, config_key
from rlkit.errors import RlkitError
from rlkit.tune.space import parse_space
from rlkit.tune.sweep import RANKING

# keys that the trials set for the sweep's own sake, not part of the configuration found
NOT_IN_PRESET = ("train.seed", "train.checkpoint_interval")


def write(folder: Path, sweep: dict[str, Any], rows: list[dict[str, Any]], confirmed: list[dict[str, Any]]) -> None:
    best_preset(folder, sweep, rows, confirmed)  # writes best.toml
    (folder / "sweep.md").write_text(markdown(folder, sweep, rows, confirmed))
    plot(folder / "sweep.png", sweep, rows)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(folder: Path, sweep: dict[str, Any], rows: list[dict[str, Any]], confirmed: list[dict[str, Any]]) -> str:
    request = sweep["request"]
    space = parse_space(request["space"], "sweep")
    keys = space.keys
    lines = [
        f"# Sweep: `{request['agent']}` on `{request['env']}`",
        "",
        f"{len(rows)} trials drawn at random (seed {request['seed']}), {request['concurrent']} at once, "
        f"scheduler {request['scheduler']}; each trial's return is its final greedy evaluation, or for a "
        "trial stopped early its last periodic one."
        + (f" Refines [{request['parent']}]({request['parent']}/sweep.md)." if request.get("parent") else ""),
        "",
        "| key | drawn from |",
        "|---|---|",
        *[f"| `{d.key}` | {d.describe()} |" for d in space.dimensions],
        "",
        "## Trials",
        "",
        "| rank | trial | " + " | ".join(f"`{key}`" for key in keys) + " | return | state | node | attempts |",
        "|---" * (len(keys) + 6) + "|",
    ]
    for row in rows:
        value = "–" if row["return"] is None else f"{row['return']:.2f}"
        lines.append(
            f"| {row['rank'] or '–'} | {row['name']} | "
            + " | ".join(_format(row["values"][key]) for key in keys)
            + f" | {value} | {row['state']} | {', '.join(row['nodes'])} | {row['attempts']} |"
        )
    lines += ["", f"Ranked: {RANKING}.{_unranked(rows)}"]
    if confirmed:
        lines += [
            "",
            f"## Confirmation: the top {len(confirmed)} on {len(confirmed[0]['finals'])} fresh seeds",
            "",
            "Ranked by the IQM of the seeds' final greedy returns, with a 95% bootstrap interval.",
            "",
            "| rank | trial | " + " | ".join(f"`{key}`" for key in keys) + " | search return | IQM [95% CI] | finals |",
            "|---" * (len(keys) + 5) + "|",
        ]
        for rank, result in enumerate(confirmed, 1):
            low, high = result["iqm_ci"]
            lines.append(
                f"| {rank} | {result['name']} | "
                + " | ".join(_format(result["values"][key]) for key in keys)
                + f" | {result['search_return']:.2f} | {result['iqm']:.2f} [{low:.2f}, {high:.2f}] | "
                + ", ".join(f"{final:.2f}" for final in result["finals"])
                + " |"
            )
    lines += ["", f"`best.toml`: rlkit train --agent {folder / 'best.toml'} --env {request['env']}", ""]
    return "\n".join(lines)


def _unranked(rows: list[dict[str, Any]]) -> str:
    """Why the trials with a return but no rank have none."""
    lost = [row["name"] for row in rows if row["replay_lost"] and row["return"] is not None]
    if not lost:
        return ""
    return (
        f" Not ranked: {', '.join(lost)}, resumed from a checkpoint without their replay (it did not fit "
        "train.save_replay_max_mb), so they did not train as an uninterrupted run of their config would."
    )


def plot(path: Path, sweep: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Return against each hyperparameter: finished trials as dots, stopped ones as crosses; log
    axes for log keys (1 − value for one_minus_log_uniform ones)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter
    except ImportError:
        print(f"{path}: not drawn (needs matplotlib: pip install 'rlkit[tune]')", flush=True)
        return
    space = parse_space(sweep["request"]["space"], "sweep")
    scored = [row for row in rows if row["rank"] is not None]
    columns = min(3, len(space.dimensions))
    lines = math.ceil(len(space.dimensions) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 3.4 * lines), squeeze=False)
    for axis, dimension in zip(axes.flat, space.dimensions):
        for finished, marker in ((True, "o"), (False, "x")):
            subset = [row for row in scored if (row["state"] == "finished") == finished]
            xs = [row["values"][dimension.key] for row in subset]
            if dimension.kind == "one_minus_log_uniform":
                xs = [1.0 - x for x in xs]
            if dimension.kind == "choice":
                xs = [dimension.choices.index(x) for x in xs]
            axis.scatter(
                xs,
                [row["return"] for row in subset],
                marker=marker,
                label="finished" if finished else "stopped early",
                alpha=0.8,
            )
        if dimension.logarithmic:
            axis.set_xscale("log")
            axis.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: minor ones overlap
        if dimension.kind == "choice":
            axis.set_xticks(range(len(dimension.choices)), [str(c) for c in dimension.choices])
        label = f"1 − {dimension.key}" if dimension.kind == "one_minus_log_uniform" else dimension.key
        axis.set_xlabel(label)
        axis.set_ylabel("return")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(space.dimensions) :]:
        axis.axis("off")
    axes.flat[0].legend(fontsize="small")
    request = sweep["request"]
    figure.suptitle(f"{request['agent']} on {request['env']}: {len(rows)} trials")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if value is None:
        raise RlkitError("a preset cannot hold an unset value")
    return str(value)


def _flatten(config: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{section}.{key}": value for section in ("env", "train", "agent") for key, value in config[section].items()
    }


def best_preset(
    folder: Path, sweep: dict[str, Any], rows: list[dict[str, Any]], confirmed: list[dict[str, Any]]
) -> str:
    """An agent preset that extends the swept one with the best configuration's values: the
    searched keys, plus every other key in which `rlkit train --agent best.toml --env E` would
    differ from the trial's config (the sweep's --set and --steps, an env's per-preset table).
    Writes it to FOLDER/best.toml (resolving it needs the file) and returns its text."""
    request = sweep["request"]
    best = confirmed[0] if confirmed else next(row for row in rows if row["rank"] is not None)
    trial = next(t for t in sweep["trials"] if t["name"] == best["name"])
    algo = trial["config"]["algo"]
    tables: dict[str, dict[str, Any]] = {"agent": {}, "env": {}, "train": {}}
    for key, value in best["values"].items():
        section, name = config_key(algo, key)
        tables[section][name] = value
    extends = request["agent"]
    if extends.endswith(".toml"):
        extends = str(Path(extends).resolve())
    wanted = {k: v for k, v in _flatten(trial["config"]).items() if k not in NOT_IN_PRESET}
    path = folder / "best.toml"
    text = ""
    for _ in range(3):  # the searched values, then whatever else resolves differently, then a check
        text = _preset_text(folder, request, best, extends, tables)
        path.write_text(text)
        resolved = _flatten(build_config(str(path), request["env"]).to_dict())
        differing = {k: v for k, v in wanted.items() if resolved.get(k) != v}
        if not differing:
            return text
        for key, value in differing.items():
            section, name = key.split(".", 1)
            tables[section][name] = value
    raise RlkitError(f"{path}: could not write a preset that reproduces {best['name']}'s config")


def _preset_text(
    folder: Path, request: dict[str, Any], best: dict[str, Any], extends: str, tables: dict[str, dict[str, Any]]
) -> str:
    if "iqm" in best:
        how = (
            f"IQM {best['iqm']:.2f} [{best['iqm_ci'][0]:.2f}, {best['iqm_ci'][1]:.2f}] over "
            f"{len(best['finals'])} fresh seeds"
        )
    else:
        how = f"return {best['return']:.2f} in the search (not confirmed on fresh seeds)"
    lines = [
        f"# The best configuration of the sweep {folder}: {best['name']}, {how}.",
        f"# Train it: rlkit train --agent best.toml --env {request['env']}",
        f'description = "{request["agent"]} tuned on {request["env"]} by rlkit tune ({best["name"]})"',
        f"extends = {_toml_value(extends)}",
    ]
    for section in ("agent", "env", "train"):
        if tables[section]:
            lines += ["", f"[{section}]"]
            lines += [f"{name} = {_toml_value(value)}" for name, value in tables[section].items()]
    return "\n".join(lines) + "\n"
