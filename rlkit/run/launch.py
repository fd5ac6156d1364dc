"""Several seeds of one config, each its own run folder under one group folder: one after
another in this process, or in parallel worker processes. A group is resumable: group.json,
written when the group starts, holds its config and seeds, and `resume_group` continues every
seed that did not finish (from its checkpoint, or from the start if it never began).

Ctrl-C (or SIGTERM) stops a group cleanly: each running seed finishes its env step, saves a
checkpoint and stops; the group records which seeds finished and raises GroupInterrupted.
Worker processes ignore SIGINT (a terminal sends Ctrl-C to every process of the group) and are
told to stop with SIGTERM by the parent, once, so no second signal lands inside a checkpoint
write.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.config import RunConfig, config_from_dict
from rlkit.errors import RlkitError
from rlkit.run import checkpoint
from rlkit.run.study import study
from rlkit.run.trainer import Interrupted, Run, new_run_dir, resume

GROUP_FILE = "group.json"
STOP_TIMEOUT_S = 300  # how long a stopping group waits for its workers' checkpoints


class GroupFailed(Exception):
    """Some seeds of a group stopped with an error (printed by their worker); the others finished."""


class GroupInterrupted(Exception):
    """A group stopped by Ctrl-C or SIGTERM after its running seeds saved their checkpoints."""

    def __init__(self, group: Path):
        super().__init__(f"interrupted; continue the group with: rlkit train --resume {group}")
        self.group = group


def parse_seeds(text: str) -> list[int]:
    """'1,2,3' or '1-5' (inclusive) or a mix: '1-3,7'."""
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise RlkitError(f"--seeds {text!r} is not a list of seeds; valid: 1,2,3 or 1-5 or 1-3,7") from None
        if first > last:
            raise RlkitError(f"--seeds {text!r}: {part.strip()} is a reversed range; write it low-high: {last}-{first}")
        seeds += range(first, last + 1)
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise RlkitError(f"--seeds {text!r}: give distinct seeds, 0 or more")
    return seeds


def _seed_label(seed: int) -> str:
    return f"seed {seed}"


def _run_seed(config: RunConfig, folder: Path, progress: bool) -> None:
    """Train one seed in `folder`: from its latest checkpoint if it has one, else from the start."""
    label = _seed_label(config.train.seed)
    if checkpoint.list_checkpoints(folder / "checkpoints", "step"):
        resume(folder, progress=progress, label=label)
        return
    if folder.is_dir() and _holds_files(folder):  # killed before its first checkpoint: keep what it wrote
        for attempt in range(1, 1000):
            aside = folder.with_name(f"{folder.name}-abandoned-{attempt}")
            if not aside.exists():
                folder.rename(aside)
                break
    folder.mkdir(exist_ok=True)
    Run(config, progress=progress, label=label).train(folder)


def _holds_files(folder: Path) -> bool:
    return any(path.is_file() for path in folder.rglob("*"))


def _worker(config: RunConfig, folder: Path) -> None:
    """A worker process: one seed; exit code 130 when told to stop (SIGTERM) after its checkpoint."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this run stops
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    try:
        _run_seed(config, folder, progress=False)
    except Interrupted:
        sys.exit(130)


def _stop_when_orphaned(parent: int) -> None:
    """Stop this worker cleanly (as SIGTERM does) if its group's process goes away."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _seed_configs(config: RunConfig, seeds: list[int]) -> list[RunConfig]:
    return [dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed)) for seed in seeds]


def _finished(folder: Path) -> bool:
    return (folder / "eval.json").is_file()


def train_seeds(
    config: RunConfig, seeds: list[int], root: Path, workers: int = 1, progress: bool = True
) -> dict[str, Any]:
    """Train `config` once per seed under a new group folder; returns and writes group.json."""
    Run(_seed_configs(config, seeds[:1])[0], progress=False)  # refuse a config that cannot run, before any folder
    group = new_run_dir(config, root, label=f"seeds{seeds[0]}-{seeds[-1]}")
    _write_group(group, config, seeds, workers)
    print(f"group folder: {group}\nwatch it:     rlkit board {root}", flush=True)
    return _train_group(group, config, seeds, workers, progress)


def resume_group(group: Path, workers: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Continue every seed of a group that did not finish; returns and writes group.json."""
    group = Path(group)
    try:
        saved = json.loads((group / GROUP_FILE).read_text())
        config, seeds = config_from_dict(saved["config"]), [int(seed) for seed in saved["seeds"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RlkitError(f"--resume {group}: {GROUP_FILE} is missing or malformed ({error})") from None
    unfinished = [seed for seed in seeds if not _finished(group / f"seed-{seed}")]
    print(f"group folder: {group}: {len(unfinished)} of {len(seeds)} seeds to finish", flush=True)
    return _train_group(group, config, seeds, workers or int(saved.get("workers", 1)), progress)


def is_group(path: Path) -> bool:
    return (Path(path) / GROUP_FILE).is_file() and not (Path(path) / "config.json").is_file()


def _write_group(group: Path, config: RunConfig, seeds: list[int], workers: int, **extra: Any) -> dict[str, Any]:
    summary = {
        "group": str(group),
        "env_id": config.env.id,
        "agent": config.agent_name,
        "seeds": seeds,
        "workers": workers,
        "config": config.to_dict(),
        **extra,
    }
    temporary = group / f".{GROUP_FILE}.tmp"
    temporary.write_text(json.dumps(summary, indent=1))
    os.replace(temporary, group / GROUP_FILE)
    return summary


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _train_group(group: Path, config: RunConfig, seeds: list[int], workers: int, progress: bool) -> dict[str, Any]:
    configs = dict(zip(seeds, _seed_configs(config, seeds)))
    todo = [seed for seed in seeds if not _finished(group / f"seed-{seed}")]
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops a group as Ctrl-C does
    try:
        if workers > 1 and len(todo) > 1:
            _in_workers(group, configs, todo, workers)
        else:
            for seed in todo:
                _run_seed(configs[seed], group / f"seed-{seed}", progress)
    except (Interrupted, KeyboardInterrupt):
        _write_group(group, config, seeds, workers, status="interrupted", runs=_results(group, seeds))
        raise GroupInterrupted(group) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    runs = _results(group, seeds)
    failed = [run["seed"] for run in runs if run["status"] != "finished"]
    if failed:
        _write_group(group, config, seeds, workers, status="failed", runs=runs)
        raise GroupFailed(
            f"seeds {', '.join(map(str, failed))} of group {group} did not finish (their errors are above); "
            f"continue them with: rlkit train --resume {group}"
        )
    finals = [run["return_mean"] for run in runs]
    return _write_group(
        group,
        config,
        seeds,
        workers,
        status="finished",
        return_mean=float(np.mean(finals)),
        return_std=float(np.std(finals)),
        study=study([group / f"seed-{seed}" for seed in seeds]),
        runs=runs,
    )


def _in_workers(group: Path, configs: dict[int, RunConfig], todo: list[int], workers: int) -> None:
    """Run the seeds in `todo` in at most `workers` processes at once. Ctrl-C: every running
    worker is told to stop (SIGTERM: it saves a checkpoint and exits 130), then KeyboardInterrupt."""
    context = multiprocessing.get_context("spawn")
    pending = list(todo)
    running: dict[int, multiprocessing.process.BaseProcess] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                seed = pending.pop(0)
                process = context.Process(target=_worker, args=(configs[seed], group / f"seed-{seed}"))
                running[seed] = process  # before start: an interrupt in between still finds it
                process.start()
            for seed, process in list(running.items()):
                if not process.is_alive():
                    process.join()
                    del running[seed]
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(running)
        raise


def _stop(running: dict[int, multiprocessing.process.BaseProcess]) -> None:
    """Ask each running worker to stop and wait for its checkpoint; a second Ctrl-C (not a
    second SIGTERM) kills them (a checkpoint is written to a temporary folder and renamed, so
    the last whole one remains)."""
    print(f"stopping: {len(running)} running seeds save their checkpoints", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a repeated SIGTERM (a scheduler's, a group kill) changes nothing
    started = [process for process in running.values() if process.pid is not None]
    for process in started:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    try:
        for process in started:
            process.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    for process in started:
        if process.is_alive():
            process.kill()
            process.join()


def _results(group: Path, seeds: list[int]) -> list[dict[str, Any]]:
    """Each seed's state: finished (with its final evaluation), interrupted (a checkpoint to
    resume from) or not started; folders a seed left empty are removed."""
    runs = []
    for seed in seeds:
        folder = group / f"seed-{seed}"
        entry: dict[str, Any] = {"seed": seed, "run": str(folder)}
        if _finished(folder):
            result = json.loads((folder / "eval.json").read_text())
            entry |= {
                "status": "finished",
                "return_mean": result["return_mean"],
                "return_std": result["return_std"],
                "best_eval_return": result["best_eval_return"],
            }
        elif checkpoint.list_checkpoints(folder / "checkpoints", "step"):
            entry["status"] = "interrupted"
        elif folder.is_dir() and _holds_files(folder):
            entry["status"] = "failed"  # stopped before its first checkpoint; resume starts it anew
        else:
            if folder.is_dir() and not _holds_files(folder):
                _remove_empty(folder)
            entry["status"] = "not started"
        runs.append(entry)
    return runs


def _remove_empty(folder: Path) -> None:
    """Remove a folder that holds only empty folders."""
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir()
    folder.rmdir()
