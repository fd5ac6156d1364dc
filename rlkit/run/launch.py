"""Many runs at once, resumably: `run_parallel` trains (or continues) a list of (config, run
folder) jobs one after another in this process, in parallel worker processes, or as Ray tasks
on a cluster (`--address`, and `rlkit tune`'s confirmation runs). A job whose folder holds a
checkpoint continues from it, so a job that is run again (a resumed group, a Ray task retried
after its worker died) loses at most the steps since its latest checkpoint.

Seed groups are built on it: several seeds of one config, each its own run folder under one
group folder. A group is resumable: group.json,
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
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.config import RunConfig, config_from_dict
from rlkit.errors import RlkitError
from rlkit.run import checkpoint, lock
from rlkit.run.resources import run_resources
from rlkit.run.study import study
from rlkit.run.trainer import Interrupted, Run, new_run_dir, resume

GROUP_FILE = "group.json"
STOP_TIMEOUT_S = 300  # how long a stopping group waits for its workers' checkpoints
MAX_SEEDS = 10_000  # seeds in one group

CONNECT_TIMEOUT_S = 10.0  # an --address that does not answer within this is refused


class GroupFailed(Exception):
    """Some seeds of a group stopped with an error (printed by their worker); the others finished."""


class GroupInterrupted(Exception):
    """A group stopped by Ctrl-C or SIGTERM after its running seeds saved their checkpoints."""

    def __init__(self, group: Path):
        super().__init__(f"interrupted; continue the group with: rlkit train --resume {group}")
        self.group = group


def parse_seeds(text: str) -> list[int]:
    """'1,2,3' or '1-5' (inclusive) or a mix: '1-3,7'; at most MAX_SEEDS seeds."""
    ranges: list[range] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise RlkitError(f"--seeds {text!r} is not a list of seeds; valid: 1,2,3 or 1-5 or 1-3,7") from None
        if first > last:
            raise RlkitError(f"--seeds {text!r}: {part.strip()} is a reversed range; write it low-high: {last}-{first}")
        ranges.append(range(first, last + 1))
    count = sum(len(seeds) for seeds in ranges)
    if count > MAX_SEEDS:
        raise RlkitError(f"--seeds {text!r} is {count:,} seeds; valid: at most {MAX_SEEDS:,} in one group")
    seeds = [seed for seeds in ranges for seed in seeds]
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise RlkitError(f"--seeds {text!r}: give distinct seeds, 0 or more")
    return seeds


def import_ray() -> Any:
    """Ray with Tune, or one clear line saying how to install it."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # rlkit prints its own lines; Tune's tables stay off
    try:
        import ray
        import ray.tune  # noqa: F401
    except ImportError:
        raise RlkitError(
            "this needs Ray Tune, which is not installed; install the tune extra: pip install 'rlkit[tune]'"
        ) from None
    return ray


def check_address(address: str) -> None:
    """Refuse a Ray address that is malformed or that nothing answers at, within seconds."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit():
        raise RlkitError(f"--address {address!r} is not HOST:PORT (a Ray head node's address, e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise RlkitError(
            f"--address {address}: no Ray cluster answers there ({error.strerror or error}); "
            "start one with `ray start --head` or leave --address out for a local Ray instance"
        ) from None


def resolve_address(address: str | None) -> str | None:
    return address or os.environ.get("RAY_ADDRESS") or None


@contextmanager
def ray_connection(address: str | None, num_cpus: int | None = None) -> Iterator[Any]:
    """Connected to the cluster at `address`, or to a local Ray instance started here and stopped
    at the end; inside an already connected session, that session."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet = {"logging_level": "WARNING", "log_to_driver": False, "configure_logging": True}
    if address:
        try:
            ray.init(address=address, **quiet)
        except ConnectionError as error:
            raise RlkitError(f"--address {address}: {error} (is it a Ray head node's GCS port?)") from None
    else:
        os.environ.pop("RAY_ADDRESS", None)  # an empty or stale variable must not redirect the local instance
        # "local": a new instance even where Ray's temp folder names a cluster from an earlier `ray start`
        # (without it, ray.init would try to join that one, gone or not)
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **quiet)
    try:
        yield ray
    finally:
        ray.shutdown()


def _seed_label(seed: int) -> str:
    return f"seed {seed}"


def _run_seed(config: RunConfig, folder: Path, progress: bool, owner: str | None = None) -> None:
    """Train one seed in `folder`: from its latest checkpoint if it has one, else from the start.
    Its memory was checked for the whole group; `owner`: the job's token (rlkit.run.lock)."""
    label = _seed_label(config.train.seed)
    if checkpoint.list_checkpoints(folder / "checkpoints", "step"):
        resume(folder, progress=progress, label=label, owner=owner, runs_at_once=0, device=config.train.device)
        return
    if folder.is_dir() and _holds_files(folder):  # killed before its first checkpoint: keep what it wrote
        lock.acquire(folder, "run", owner)  # not while another process writes it
        lock.release(folder)
        for attempt in range(1, 1000):
            aside = folder.with_name(f"{folder.name}-abandoned-{attempt}")
            if not aside.exists():
                folder.rename(aside)
                break
    folder.mkdir(parents=True, exist_ok=True)
    Run(config, progress=progress, label=label, runs_at_once=0).train(folder, owner=owner)


def _holds_files(folder: Path) -> bool:
    return any(path.is_file() and path.name != lock.LOCK_FILE for path in folder.rglob("*"))


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


def seed_configs(config: RunConfig, seeds: list[int]) -> list[RunConfig]:
    return [dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed)) for seed in seeds]


def _finished(folder: Path) -> bool:
    return (folder / "eval.json").is_file()


def train_seeds(
    config: RunConfig,
    seeds: list[int],
    root: Path,
    workers: int = 1,
    progress: bool = True,
    address: str | None = None,
) -> dict[str, Any]:
    """Train `config` once per seed under a new group folder; returns and writes group.json.
    With `address`, the seeds run as tasks on that Ray cluster."""
    # refuse a config that cannot run, or whose runs at once do not fit in memory, before any folder
    Run(seed_configs(config, seeds[:1])[0], progress=False, runs_at_once=1 if address else min(workers, len(seeds)))
    if address:
        import_ray()
        check_address(address)
    group = new_run_dir(config, root, label=f"seeds{seeds[0]}-{seeds[-1]}")
    with lock.holding(group, "group"):
        _write_group(group, config, seeds, workers)
        print(f"group folder: {group}\nwatch it:     rlkit board {root}", flush=True)
        return _train_group(group, config, seeds, workers, progress, address)


def resume_group(
    group: Path,
    workers: int | None = None,
    progress: bool = True,
    address: str | None = None,
    break_lock: bool = False,
) -> dict[str, Any]:
    """Continue every seed of a group that did not finish; returns and writes group.json.
    `break_lock` takes over the locks of the group and of its seeds (rlkit.run.lock)."""
    group = Path(group)
    with lock.holding(group, "group", break_lock=break_lock):
        return _resume_group(group, workers, progress, address, break_lock)


def _resume_group(
    group: Path, workers: int | None, progress: bool, address: str | None, break_lock: bool
) -> dict[str, Any]:
    try:
        saved = json.loads((group / GROUP_FILE).read_text())
        config, seeds = config_from_dict(saved["config"]), [int(seed) for seed in saved["seeds"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RlkitError(f"--resume {group}: {GROUP_FILE} is missing or malformed ({error})") from None
    unfinished = [seed for seed in seeds if not _finished(group / f"seed-{seed}")]
    workers = workers or int(saved.get("workers", 1))
    at_once = 1 if address else min(workers, max(1, len(unfinished)))
    Run(seed_configs(config, seeds[:1])[0], progress=False, runs_at_once=at_once)  # still fits this machine?
    for seed in unfinished:  # a seed another process writes is refused now, before any seed starts
        folder = group / f"seed-{seed}"
        if folder.is_dir():
            with lock.holding(folder, "run", break_lock=break_lock):
                pass
    print(f"group folder: {group}: {len(unfinished)} of {len(seeds)} seeds to finish", flush=True)
    return _train_group(group, config, seeds, workers, progress, address)


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
    checkpoint.write_json(group / GROUP_FILE, summary)
    return summary


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _train_group(
    group: Path, config: RunConfig, seeds: list[int], workers: int, progress: bool, address: str | None = None
) -> dict[str, Any]:
    configs = dict(zip(seeds, seed_configs(config, seeds)))
    todo = [seed for seed in seeds if not _finished(group / f"seed-{seed}")]
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops a group as Ctrl-C does
    try:
        run_parallel([(configs[seed], group / f"seed-{seed}") for seed in todo], workers, progress, address)
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


def run_parallel(
    jobs: list[tuple[RunConfig, Path]],
    workers: int = 1,
    progress: bool = False,
    address: str | None = None,
    on_ray: bool = False,
) -> None:
    """Train every (config, run folder) job, each continuing from its checkpoint if it has one:
    on Ray when `address` is given or `on_ray` (an open Ray session, or a local instance), at
    most `workers` at once; else in `workers` local processes, or here one after another.
    Ctrl-C: every running job saves a checkpoint, then KeyboardInterrupt."""
    if address or on_ray:
        _on_ray(jobs, workers, address)
    elif workers > 1 and len(jobs) > 1:
        _in_workers(jobs, workers)
    else:
        for config, folder in jobs:
            _run_seed(config, folder, progress)


def _ray_job(config: RunConfig, folder: str, owner: str) -> str:
    """A Ray task: one job; 'interrupted' when cancelled (after its checkpoint). `owner` is the
    same for every attempt of the task, so a retry takes over the lock of an attempt whose
    node died."""
    try:
        _run_seed(config, Path(folder), progress=False, owner=owner)
    except (Interrupted, KeyboardInterrupt):
        return "interrupted"
    return "finished"


def _on_ray(jobs: list[tuple[RunConfig, Path]], workers: int, address: str | None) -> None:
    """The jobs as Ray tasks, each requesting what its config uses (rlkit.run.resources: a CPU
    per env worker, a GPU share when it trains on a GPU), at most `workers` in flight; a task
    whose worker dies is retried (it continues from its checkpoint). A failed job is reported
    and the others go on; GroupFailed-style bookkeeping is left to the caller, which reads the
    run folders."""
    with ray_connection(address) as ray:
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        pending = []
        for config, folder in jobs:  # a CUDA run on a cluster without GPUs: refused before any starts
            resources = run_resources(config, gpus, None, workers)
            pending.append((_on_device(config, resources.device), folder, resources))
        task = ray.remote(max_retries=3)(_ray_job)
        running: dict[Any, Path] = {}
        try:
            while pending or running:
                while pending and len(running) < max(1, workers):
                    config, folder, resources = pending.pop(0)
                    options = task.options(**resources.ray_options())
                    running[options.remote(config, str(folder), f"ray-task-{uuid.uuid4().hex}")] = folder
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in done:
                    folder = running.pop(ref)
                    try:
                        ray.get(ref)
                    except Exception as error:  # the job's own error; its folder says it did not finish
                        print(f"{folder}: failed: {error}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print(f"stopping: {len(running)} running runs save their checkpoints", file=sys.stderr, flush=True)
            for ref in running:
                ray.cancel(ref)
            ray.wait(list(running), num_returns=len(running), timeout=STOP_TIMEOUT_S)
            raise


def _on_device(config: RunConfig, device: str) -> RunConfig:
    return dataclasses.replace(config, train=dataclasses.replace(config.train, device=device))


def _in_workers(jobs: list[tuple[RunConfig, Path]], workers: int) -> None:
    """Run the jobs in at most `workers` processes at once. Ctrl-C: every running
    worker is told to stop (SIGTERM: it saves a checkpoint and exits 130), then KeyboardInterrupt."""
    context = multiprocessing.get_context("spawn")
    pending = list(jobs)
    running: dict[Path, multiprocessing.process.BaseProcess] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                config, folder = pending.pop(0)
                process = context.Process(target=_worker, args=(config, folder))
                running[folder] = process  # before start: an interrupt in between still finds it
                process.start()
            for folder, process in list(running.items()):
                if not process.is_alive():
                    process.join()
                    del running[folder]
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(running)
        raise


def _stop(running: dict[Path, multiprocessing.process.BaseProcess]) -> None:
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
            if folder.is_dir() and not _holds_files(folder) and lock.read(folder) is None:
                _remove_empty(folder)
            entry["status"] = "not started"
        runs.append(entry)
    return runs


def _remove_empty(folder: Path) -> None:
    """Remove a folder that holds only empty folders."""
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir()
    folder.rmdir()
