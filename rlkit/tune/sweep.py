"""`rlkit tune`: a random search on Ray Tune, each trial an ordinary rlkit run folder.

A sweep folder holds:

    sweep.json        what was asked (agent, env, space, ...), every trial's drawn values and
                      config, and the sweep's state; written before the first trial starts
    trials/trial-007/ trial 7's run folder (config, TensorBoard events, checkpoints, eval.json)
    trials/trial-007.json   written by the trial: its attempts (node id, host, pid, the step it
                      resumed from, when it started training), its last report to Tune, and
                      replay_lost (a resume began with an empty replay) or error (an RlkitError
                      that ended it)
    trials/trial-007.tune.json   written by the sweep: when Tune started each attempt, and how
                      Tune ended the trial (complete: finished or stopped by ASHA; error)
    ray/              Ray Tune's own state, which `rlkit tune --resume` restores
    confirm/trial-007/seed-N/   the best trials retrained on fresh seeds
    sweep.md, sweep.png, best.toml   the results

The values are drawn here (rlkit.tune.space) before Ray starts, so a sweep is a function of its
seed and `--resume` never draws again; Ray Tune runs the trials: concurrency, placement on the
cluster's nodes, ASHA's early stopping, retries of trials whose worker died, and the
experiment state that a stopped sweep resumes from. A retried or resumed trial continues from
its run folder's latest rlkit checkpoint, the one of the step it last reported (a report
follows its checkpoint). An RlkitError inside a trial would recur on every retry: it ends the
trial at once, recorded in its sidecar, and Tune sees a trial that completed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.config import build_config, config_from_dict, config_key, load_preset
from rlkit.errors import RlkitError
from rlkit.run import checkpoint, lock
from rlkit.run.callbacks import Callback
from rlkit.run.launch import check_address, import_ray, ray_connection, resolve_address
from rlkit.run.resources import Resources, run_resources
from rlkit.run.study import bootstrap_interval, iqm
from rlkit.tune.space import Space, parse_space

SWEEP_FILE = "sweep.json"
METRIC = "eval/return_mean"
MAX_FAILURES = 3  # a trial whose worker dies is retried this many times, from its checkpoint
ASHA_REDUCTION = 2  # ASHA keeps the better half of the trials at each rung
ASHA_FIXED = (("train", "total_steps"), ("train", "eval_interval"))  # ASHA's max_t and rungs: one for all trials


class SweepInterrupted(Exception):
    def __init__(self, folder: Path):
        super().__init__(f"interrupted; continue the sweep with: rlkit tune --resume {folder}")
        self.folder = folder


# ---------------------------------------------------------------------------- the sweep's request


@dataclass
class Request:
    """What `rlkit tune` was asked; saved in sweep.json."""

    agent: str
    env: str
    space: dict[str, Any]
    samples: int
    concurrent: int
    steps: int | None = None
    seed: int = 0
    overrides: list[str] = field(default_factory=list)
    scheduler: str = "asha"
    top: int = 3
    confirm_seeds: int = 5
    parent: str | None = None
    first_seed: int = 0  # run seeds: trial i trains seed first_seed + i
    gpus_per_trial: float | None = None  # None: rlkit.run.resources.default_gpu_share


def default_space(agent: str) -> tuple[dict[str, Any], str]:
    """The `[search]` table of an agent preset, or of the nearest preset it extends."""
    name = agent
    while True:
        display, data = load_preset("agents", name)
        if "search" in data:
            return data["search"], f"agent preset {display} [search]"
        parent = data.get("extends")
        if parent is None:
            raise RlkitError(
                f"agent preset {agent} has no [search] table; give a space with --space FILE.toml "
                "(one line per key, e.g. learning_rate = { log_uniform = [1e-5, 1e-2] })"
            )
        if display.endswith(".toml") and str(parent).endswith(".toml") and not Path(parent).is_absolute():
            parent = str(Path(display).parent / parent)
        name = parent


def read_space_file(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise RlkitError(f"--space {path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise RlkitError(f"--space {path}: not valid TOML ({error})") from None
    return data.get("search", data) if set(data) == {"search"} else data


def check_request(request: Request, space_origin: str) -> Space:
    """Every check that needs no Ray: the presets resolve, every key of the space exists and both
    ends of each range (and every choice) are valid values for it."""
    base = build_config(request.agent, request.env, request.steps, request.seed, request.overrides)
    space = parse_space(request.space, space_origin, check_key=lambda key: config_key(base.algo, key))
    for values in space.bounds_to_check():
        try:
            build_config(request.agent, request.env, request.steps, request.seed, request.overrides, values=values)
        except RlkitError as error:
            raise RlkitError(f"{space_origin}: a value inside the space is not valid: {error}") from None
    for key in space.keys:
        if request.scheduler == "asha" and config_key(base.algo, key) in ASHA_FIXED:
            raise RlkitError(
                f"{space_origin}: {key} varies, but --scheduler asha takes one max_t and grace period from "
                "train.total_steps and train.eval_interval for all trials; drop it from the space or use "
                "--scheduler fifo"
            )
    if request.scheduler == "asha" and base.train.eval_interval == 0:
        raise RlkitError(
            "--scheduler asha stops trials by their periodic evaluations, but train.eval_interval is 0; "
            "set --set train.eval_interval=N or use --scheduler fifo"
        )
    return space


def trial_configs(request: Request, space: Space) -> list[dict[str, Any]]:
    """The trials: values drawn from the sweep's own stream (its seed and first run seed, so a
    refined round draws anew), and each trial's whole config."""
    rng = np.random.default_rng([request.seed, request.first_seed, 0x7E57])
    trials = []
    for index, values in enumerate(space.sample(request.samples, rng)):
        seed = request.first_seed + index
        config = build_config(request.agent, request.env, request.steps, seed, request.overrides, values=values)
        if config.train.checkpoint_interval == 0:  # a retried trial resumes from its last evaluation
            config.train.checkpoint_interval = config.train.eval_interval or config.train.total_steps
        trials.append({"name": f"trial-{index:03d}", "seed": seed, "values": values, "config": config.to_dict()})
    return trials


# ---------------------------------------------------------------------------- sweep.json


def read_sweep(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(folder) / SWEEP_FILE).read_text())
    except (OSError, ValueError) as error:
        raise RlkitError(f"{folder}: not a sweep folder ({SWEEP_FILE} is missing or malformed: {error})") from None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader (or a crash) never sees half a file, a full disk leaves none."""
    checkpoint.write_json(path, data)


def _sidecar(folder: Path, name: str) -> Path:
    return folder / "trials" / f"{name}.json"


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def read_sidecar(folder: Path, name: str) -> dict[str, Any]:
    """What the trial wrote and what the sweep wrote about it, together. Each file has one
    writer (the trial's worker, or the sweep's driver), so no update is lost to another."""
    path = _sidecar(folder, name)
    return {"attempts": [], "scheduled": []} | _read(path) | _read(path.with_suffix(".tune.json"))


def _update_sidecar(folder: Path, name: str, **changes: Any) -> None:
    """The trial's own file (its worker is the only writer)."""
    path = _sidecar(folder, name)
    write_json(path, _read(path) | changes)


def _update_tune_record(folder: Path, name: str, **changes: Any) -> None:
    """The sweep's file about a trial (the driver is the only writer)."""
    path = _sidecar(folder, name).with_suffix(".tune.json")
    write_json(path, _read(path) | changes)


# ---------------------------------------------------------------------------- one trial, in a Ray worker


class _ReportToTune(Callback):
    """Each periodic evaluation goes to Tune (and into the trial's sidecar, for the ranking)
    once the checkpoint of its step is written, so that a retried trial resumes at the step it
    last reported; the time training starts goes into the attempt's record (Ray's cost per
    trial), and a resumed attempt whose replay starts empty marks the trial (replay_lost)."""

    def __init__(self, folder: Path, name: str):
        self.folder, self.name = folder, name
        self.pending: tuple[int, float] | None = None  # (step, return) evaluated, not yet reported

    def on_training_start(self, run: Any) -> None:
        attempts = read_sidecar(self.folder, self.name)["attempts"]
        attempts[-1]["training_start"] = time.time()
        lost = run.resumed_from is not None and "replay" in run.memory and not run.replay_restored
        _update_sidecar(self.folder, self.name, attempts=attempts, **({"replay_lost": True} if lost else {}))

    def on_evaluation(self, run: Any, result: dict[str, Any]) -> None:
        self.pending = (run.step, result["return_mean"])  # reported by on_step, after the step's checkpoint

    def on_step(self, run: Any, transition: Any) -> None:
        """User callbacks' on_step run after Checkpointing's: the step's checkpoint is written
        (or, with a checkpoint interval off the evaluations, written here)."""
        if self.pending is None:
            return
        step, value = self.pending
        self.pending = None
        if not (run.run_dir / "checkpoints" / checkpoint.checkpoint_name("step", step)).is_dir():
            run.save_checkpoint("step")
        _report(self.folder, self.name, step, value, final=False)


def _report(folder: Path, name: str, step: int, value: float, final: bool) -> None:
    from ray import tune

    _update_sidecar(folder, name, last_report={"step": step, "return_mean": value, "final": final})
    tune.report({METRIC: value, "step": step, "final": final})


def trial_function(params: dict[str, Any]) -> None:
    """Train (or continue) one trial's run folder; the function Ray Tune runs."""
    import ray
    from ray import tune

    from rlkit.run.trainer import Run, resume

    owner = f"tune-trial-{tune.get_context().get_trial_id()}"  # the same for every attempt of this trial
    folder, index = Path(params["sweep"]), int(params["trial"])
    entry = read_sweep(folder)["trials"][index]
    planned = entry.get("resources")  # what Ray was asked for (plan_resources): a GPU share (cuda) or none (cpu)
    device = planned["device"] if planned else None
    name, run_dir = entry["name"], folder / "trials" / entry["name"]
    steps = checkpoint.list_checkpoints(run_dir / "checkpoints", "step")
    sidecar = read_sidecar(folder, name)
    attempt = {
        "node_id": ray.get_runtime_context().get_node_id(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.time(),
        "from_step": _checkpoint_step(steps[-1]) if steps else 0,
    }
    _update_sidecar(folder, name, attempts=[*sidecar["attempts"], attempt])

    def train() -> dict[str, Any]:
        if (run_dir / "eval.json").is_file():  # finished before its worker died: report, do not train again
            return json.loads((run_dir / "eval.json").read_text())
        if steps:
            callbacks = [_ReportToTune(folder, name)]
            return resume(run_dir, progress=False, label=name, callbacks=callbacks, owner=owner, device=device)
        if run_dir.is_dir():  # died before its first checkpoint: start again in a clean folder
            with lock.holding(run_dir, "run", owner):  # not while another attempt writes it
                pass
            _set_aside(run_dir)
        run_dir.mkdir(parents=True)
        config = config_from_dict(entry["config"])
        config.train.device = device or config.train.device
        run = Run(config, progress=False, label=name, runs_at_once=0)  # the sweep checked its concurrent trials
        return run.train(run_dir, callbacks=[_ReportToTune(folder, name)], owner=owner)

    result = _unless_it_recurs(folder, name, train)
    if result is None:  # Tune wants its metric in a trial's last result: the worst, at no new step
        step = (read_sidecar(folder, name).get("last_report") or {"step": 0})["step"]
        tune.report({METRIC: -math.inf, "step": step, "final": True, "failed": True})
    else:
        _report(folder, name, int(entry["config"]["train"]["total_steps"]), result["return_mean"], final=True)


def _unless_it_recurs(folder: Path, name: str, train: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """`train()`; or None when it raised an RlkitError (bad input, a broken checkpoint: every
    retry would fail the same way), whose line goes into the trial's sidecar so that the trial
    ends at once and shows as failed. Any other error goes on to Tune, which retries the trial;
    so does FolderLocked (another attempt still writing the run folder ends in time)."""
    try:
        return train()
    except lock.FolderLocked:
        raise
    except RlkitError as error:
        _update_sidecar(folder, name, error=str(error))
        return None


def _checkpoint_step(path: Path) -> int:
    digits = "".join(ch for ch in Path(path).name if ch.isdigit())
    return int(digits) if digits else 0


def _set_aside(run_dir: Path) -> None:
    for attempt in range(1, 1000):
        aside = run_dir.with_name(f"{run_dir.name}-abandoned-{attempt}")
        if not aside.exists():
            run_dir.rename(aside)
            return


# ---------------------------------------------------------------------------- the search on Ray Tune


def _tune_callback(folder: Path, total: int) -> Any:
    from ray import tune

    class Progress(tune.Callback):
        """One line per event worth seeing, and how Tune ended each trial (in its sidecar)."""

        ended = 0

        def _name(self, trial: Any) -> str:
            return f"trial-{int(trial.config['trial']):03d}"

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if result.get("failed"):  # on_trial_complete says why
                return
            kind = "final" if result.get("final") else "eval"
            print(
                f"{self._name(trial)}  step {int(result['step']):>9,}  {kind} return {result[METRIC]:.2f}", flush=True
            )

        def on_trial_start(self, iteration, trials, trial, **info):
            scheduled = read_sidecar(folder, self._name(trial))["scheduled"]
            _update_tune_record(folder, self._name(trial), scheduled=[*scheduled, time.time()])

        def on_trial_recover(self, iteration, trials, trial, **info):
            scheduled = read_sidecar(folder, self._name(trial))["scheduled"]
            _update_tune_record(folder, self._name(trial), scheduled=[*scheduled, time.time()])
            print(f"{self._name(trial)}  its worker failed; retrying from its latest checkpoint", flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            _update_tune_record(folder, self._name(trial), tune_status="complete")
            self.ended += 1
            error = read_sidecar(folder, self._name(trial)).get("error")
            how = f"failed, not retried (it would fail again): {error}" if error else "done"
            print(f"{self._name(trial)}  {how} ({self.ended}/{total} trials ended)", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            _update_tune_record(folder, self._name(trial), tune_status="error", error_file=str(trial.error_file or ""))
            self.ended += 1
            print(f"{self._name(trial)}  failed after {MAX_FAILURES} retries: {trial.error_file}", flush=True)

    return Progress()


def _scheduler(sweep: dict[str, Any]) -> Any:
    if sweep["request"]["scheduler"] == "fifo":
        return None
    from ray.tune.schedulers import ASHAScheduler

    train = sweep["trials"][0]["config"]["train"]
    total, interval = int(train["total_steps"]), int(train["eval_interval"])
    return ASHAScheduler(
        time_attr="step",
        max_t=total,
        grace_period=max(interval, total // 4),
        reduction_factor=ASHA_REDUCTION,
    )


def _search(folder: Path, sweep: dict[str, Any], restore: bool) -> None:
    """Run (or continue) every trial on Ray Tune; SweepInterrupted when Ctrl-C or SIGTERM stopped it."""
    from ray import tune

    request = sweep["request"]
    bundles = [Resources(**trial["resources"]).bundle() for trial in sweep["trials"]]
    trainable = tune.with_resources(
        trial_function, lambda config: tune.PlacementGroupFactory([bundles[int(config["trial"])]])
    )
    storage = folder / "ray"
    experiment = storage / "search"
    if restore and tune.Tuner.can_restore(str(experiment)):
        tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, restart_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={"sweep": str(folder.resolve()), "trial": tune.grid_search(list(range(len(sweep["trials"]))))},
            tune_config=tune.TuneConfig(
                metric=METRIC,
                mode="max",
                scheduler=_scheduler(sweep),
                max_concurrent_trials=request["concurrent"],
                trial_dirname_creator=lambda trial: f"trial-{int(trial.config['trial']):03d}",
                trial_name_creator=lambda trial: f"trial-{int(trial.config['trial']):03d}",
            ),
            run_config=tune.RunConfig(
                name="search",
                storage_path=str(storage.resolve()),
                failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
                verbose=0,
                callbacks=[_tune_callback(folder, len(sweep["trials"]))],
            ),
        )
    previous = signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    try:
        tuner.fit()
    finally:
        signal.signal(signal.SIGTERM, previous)
    unfinished = [t["name"] for t in sweep["trials"] if read_sidecar(folder, t["name"]).get("tune_status") is None]
    if unfinished:
        raise SweepInterrupted(folder)


# ---------------------------------------------------------------------------- ranking and confirmation


RANKING = (
    "finished trials first, by their final greedy evaluation; then the trials stopped early, those "
    "that trained furthest first, each by its last periodic evaluation (so a return is only compared "
    "with returns at the same budget)"
)


def ranked_trials(folder: Path, sweep: dict[str, Any]) -> list[dict[str, Any]]:
    """Every trial with its return (the final evaluation's, or the last report of a trial ASHA
    stopped), its state and its rank (RANKING), ranked ones first. A trial that failed or never
    reported has no rank, nor has one that resumed with its replay lost (it did not train as
    its config says); both keep the return they have."""
    rows = []
    for trial in sweep["trials"]:
        run_dir = folder / "trials" / trial["name"]
        sidecar = read_sidecar(folder, trial["name"])
        report = sidecar.get("last_report")
        row = {"name": trial["name"], "seed": trial["seed"], "values": trial["values"], "return": None, "step": None}
        row |= {"finished": False, "replay_lost": bool(sidecar.get("replay_lost")), "error": sidecar.get("error")}
        if (run_dir / "eval.json").is_file():
            row |= {"state": "finished", "return": json.loads((run_dir / "eval.json").read_text())["return_mean"]}
            row |= {"step": trial["config"]["train"]["total_steps"], "finished": True}
        elif row["error"]:
            row["state"] = f"failed: {row['error']}"
        elif sidecar.get("tune_status") == "error":
            row["state"] = "failed"
        elif report is not None:
            row |= {"state": f"stopped at {report['step']:,}", "return": report["return_mean"], "step": report["step"]}
        else:
            row["state"] = "not run"
        if row["replay_lost"]:
            row["state"] += "; resumed with an empty replay, not ranked"
        row["nodes"] = sorted({attempt["node_id"][:8] for attempt in sidecar["attempts"]})
        row["attempts"] = len(sidecar["attempts"])
        rows.append(row)
    rows.sort(key=_rank_order)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if _rankable(row) else None
    return rows


def _rankable(row: dict[str, Any]) -> bool:
    return row["return"] is not None and not row["replay_lost"]


def _rank_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """RANKING; then the trials without a rank, those with a return first."""
    if not _rankable(row):
        return (2, row["return"] is None, -(row["return"] or 0.0), row["name"])
    if row["finished"]:
        return (0, 0, -row["return"], row["name"])
    return (1, -row["step"], -row["return"], row["name"])


def no_ranked_trial(folder: Path, rows: list[dict[str, Any]]) -> str:
    """The one line for a sweep none of whose trials can be ranked."""
    failed = [row for row in rows if row["error"]]
    if failed:
        return f"{folder}: no trial can be ranked; {len(failed)} failed, e.g. {failed[0]['name']}: {failed[0]['error']}"
    return (
        f"{folder}: no trial can be ranked (none reported a return, or each resumed with its replay lost); "
        f"see the errors above and {folder / 'ray'}"
    )


def confirm_seeds(sweep: dict[str, Any]) -> list[int]:
    """Fresh seeds: after every seed this sweep (and its parents) trained its trials on."""
    first = int(sweep.get("next_seed", 0))
    return list(range(first, first + int(sweep["request"]["confirm_seeds"])))


def _confirm(
    folder: Path, sweep: dict[str, Any], rows: list[dict[str, Any]], address: str | None
) -> list[dict[str, Any]]:
    """Retrain the top trials on fresh seeds; their IQM with a 95% bootstrap interval, best first."""
    from rlkit.run.launch import run_parallel, seed_configs

    request = sweep["request"]
    top = [row for row in rows if row["rank"] is not None][: int(request["top"])]
    if not top or not request["confirm_seeds"]:
        return []
    seeds = confirm_seeds(sweep)
    by_name = {trial["name"]: trial for trial in sweep["trials"]}
    jobs = [
        (config, folder / "confirm" / row["name"] / f"seed-{config.train.seed}")
        for row in top
        for config in seed_configs(config_from_dict(by_name[row["name"]]["config"]), seeds)
    ]
    todo = [(config, run_dir) for config, run_dir in jobs if not (run_dir / "eval.json").is_file()]
    print(f"confirming the top {len(top)} trials on seeds {seeds[0]}-{seeds[-1]} ({len(todo)} runs to go)", flush=True)
    run_parallel(todo, workers=int(request["concurrent"]), address=address, on_ray=True)
    unfinished = [str(run_dir) for _, run_dir in jobs if not (run_dir / "eval.json").is_file()]
    if unfinished:
        raise RlkitError(
            f"{len(unfinished)} confirmation runs did not finish (their errors are above), e.g. {unfinished[0]}; "
            f"continue them with: rlkit tune --resume {folder}"
        )
    results = []
    for row in top:
        finals = [
            json.loads((folder / "confirm" / row["name"] / f"seed-{seed}" / "eval.json").read_text())["return_mean"]
            for seed in seeds
        ]
        low, high = bootstrap_interval(np.array(finals), iqm)
        results.append(
            {
                "name": row["name"],
                "values": row["values"],
                "search_return": row["return"],
                "finals": finals,
                "iqm": iqm(np.array(finals)),
                "iqm_ci": [low, high],
            }
        )
    results.sort(key=lambda result: -result["iqm"])
    return results


# ---------------------------------------------------------------------------- the command's entry points


def start(request: Request, space_origin: str, root: Path, address: str | None) -> Path:
    """Check everything, create the sweep folder, draw the trials and run the sweep."""

    space = check_request(request, space_origin)
    address = resolve_address(address)
    import_ray()
    if address:
        check_address(address)
    trials = trial_configs(request, space)
    base = config_from_dict(trials[0]["config"])
    if not address:  # the trials that run at once must fit this machine's memory
        check_trials_fit([config_from_dict(trial["config"]) for trial in trials], request.concurrent)
    with ray_connection(address, num_cpus=_local_cpus(request.concurrent, address)) as ray:
        # the cluster's GPUs decide each trial's request; one that cannot run is refused before the folder
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        plan_resources({"request": request.__dict__, "trials": trials}, gpus, gpu_memory(ray, gpus))
        return _start(request, space, space_origin, root, address, trials, base)


def _start(
    request: Request, space: Space, space_origin: str, root: Path, address: str | None, trials: list, base: Any
) -> Path:
    from rlkit.run.trainer import new_run_dir

    folder = new_run_dir(base, root, label="tune")
    sweep = {
        "request": request.__dict__ | {"space": space.to_toml()},
        "space_origin": space_origin,
        "status": "searching",
        "next_seed": request.first_seed + len(trials),
        "trials": trials,
    }
    with lock.holding(folder, "sweep"):
        write_json(folder / SWEEP_FILE, sweep)
        (folder / "trials").mkdir()
        print(f"sweep folder: {folder}\nwatch it:     rlkit board {folder / 'trials'}", flush=True)
        _run(folder, sweep, address, restore=False)
    return folder


def check_trials_fit(configs: list[Any], concurrent: int) -> None:
    """Refuse a sweep whose largest trial, `concurrent` times over, exceeds the memory available."""
    from rlkit.agents import agent_spec
    from rlkit.envs import describe
    from rlkit.run.memory import check_fits
    from rlkit.run.trainer import resolve_device

    env_info = describe(configs[0].env)
    largest: dict[str, Any] = {}
    for config in configs:
        needs = agent_spec(config.algo).agent_class.memory_estimate(
            config.agent, env_info, config.env.num_envs, resolve_device(config.train.device)
        )
        if sum(need.nbytes for need in needs.values()) > sum(need.nbytes for need in largest.values()):
            largest = needs
    check_fits(largest, resolve_device(configs[0].train.device), min(concurrent, len(configs)))


def resume_sweep(folder: Path, address: str | None, break_lock: bool = False) -> Path:
    """Continue a stopped sweep in its folder, holding its lock (`break_lock`: take it over
    from a driver on another host that is gone)."""
    folder = Path(folder)
    sweep = read_sweep(folder)
    address = resolve_address(address)
    import_ray()
    if address:
        check_address(address)
    with lock.holding(folder, "sweep", break_lock=break_lock):
        print(f"sweep folder: {folder} (resuming)", flush=True)
        _run(folder, sweep, address, restore=True)
    return folder


def refine_request(
    parent: Path,
    samples: int | None = None,
    concurrent: int | None = None,
    top: int | None = None,
    confirm_seeds: int | None = None,
) -> tuple[Request, str]:
    """The next round: the parent's request with its space narrowed around its best quarter."""
    from rlkit.tune.space import refine

    parent = Path(parent)
    sweep = read_sweep(parent)
    rows = [row for row in ranked_trials(parent, sweep) if row["rank"] is not None]
    space = parse_space(sweep["request"]["space"], f"{parent / SWEEP_FILE} space")
    narrowed = refine(space, [row["values"] for row in rows])
    fields = dict(sweep["request"])
    fields |= {
        "space": narrowed.to_toml(),
        "parent": str(parent),
        "first_seed": int(sweep["next_seed"]) + int(fields["confirm_seeds"]),
        "samples": samples or fields["samples"],
        "concurrent": concurrent or fields["concurrent"],
        "top": fields["top"] if top is None else top,
        "confirm_seeds": fields["confirm_seeds"] if confirm_seeds is None else confirm_seeds,
    }
    return Request(**fields), f"the space of {parent} narrowed around its best {math.ceil(0.25 * len(rows))} trials"


def _run(folder: Path, sweep: dict[str, Any], address: str | None, restore: bool) -> None:
    from rlkit.tune import report

    request = sweep["request"]
    with ray_connection(address, num_cpus=_local_cpus(request["concurrent"], address)) as ray:
        if restore or any("resources" not in trial for trial in sweep["trials"]):  # a resume may meet another cluster
            gpus = float(ray.cluster_resources().get("GPU", 0.0))
            plan_resources(sweep, gpus, gpu_memory(ray, gpus))
        write_json(folder / SWEEP_FILE, sweep)
        if sweep["status"] == "searching":
            try:
                _search(folder, sweep, restore)
            except SweepInterrupted:
                raise
            sweep["status"] = "confirming"
            write_json(folder / SWEEP_FILE, sweep)
        rows = ranked_trials(folder, sweep)
        if not any(row["rank"] is not None for row in rows):
            raise RlkitError(no_ranked_trial(folder, rows))
        try:
            confirmed = _confirm(folder, sweep, rows, address)
        except KeyboardInterrupt:
            raise SweepInterrupted(folder) from None
    sweep["status"] = "finished"
    sweep["confirmed"] = confirmed
    write_json(folder / SWEEP_FILE, sweep)
    report.write(folder, sweep, rows, confirmed)


def _local_cpus(concurrent: int, address: str | None) -> int | None:
    """CPUs of a local Ray instance: the machine's, or the concurrent trials' if more."""
    return None if address else max(os.cpu_count() or 1, concurrent)


def plan_resources(sweep: dict[str, Any], cluster_gpus: float, gpu_bytes: int | None = None) -> None:
    """Each trial's request to Ray (rlkit.run.resources), recorded in its entry of `sweep`: a
    CUDA trial on a cluster without GPUs is refused here, before any trial starts. `gpu_bytes`:
    the memory of one of the cluster's GPUs, when known, which caps the trials sharing one."""
    from rlkit.agents import agent_spec
    from rlkit.envs import describe

    request = sweep["request"]
    env_info = describe(config_from_dict(sweep["trials"][0]["config"]).env) if gpu_bytes else None
    for trial in sweep["trials"]:
        config = config_from_dict(trial["config"])
        run_bytes = 0
        if env_info is not None:
            needs = agent_spec(config.algo).agent_class.memory_estimate(
                config.agent, env_info, config.env.num_envs, "cuda"
            )
            run_bytes = sum(need.nbytes for need in needs.values() if need.on_device)
        resources = run_resources(
            config, cluster_gpus, request.get("gpus_per_trial"), request["concurrent"], run_bytes, gpu_bytes
        )
        trial["resources"] = resources.to_dict()


def gpu_memory(ray: Any, cluster_gpus: float) -> int | None:
    """The memory of one of the cluster's GPUs, asked of a task given one (within 60 s); None
    without GPUs, or when none answers (all busy, or no CUDA where Ray says there is a GPU)."""
    if cluster_gpus <= 0:
        return None

    def total_memory() -> int | None:
        import torch

        return int(torch.cuda.mem_get_info()[1]) if torch.cuda.is_available() else None

    probe = ray.remote(num_gpus=1, num_cpus=0)(total_memory).remote()
    try:
        return ray.get(probe, timeout=60)
    except Exception:  # busy GPUs or a node without CUDA: the even share applies
        ray.cancel(probe, force=True)
        return None


def summary_lines(folder: Path) -> list[str]:
    sweep = read_sweep(folder)
    lines = [f"sweep: {folder}"]
    best = sweep.get("confirmed") or []
    if best:
        top = best[0]
        lines.append(
            f"best: {top['name']}  IQM {top['iqm']:.2f} [{top['iqm_ci'][0]:.2f}, {top['iqm_ci'][1]:.2f}] over "
            f"{len(top['finals'])} fresh seeds  " + ", ".join(f"{k}={_short(v)}" for k, v in top["values"].items())
        )
    lines.append(f"results: {folder / 'sweep.md'}, {folder / 'sweep.png'}")
    lines.append(f"train it: rlkit train --agent {folder / 'best.toml'} --env {sweep['request']['env']}")
    return lines


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


__all__: Sequence[str] = ("Request", "start", "resume_sweep", "refine_request", "ranked_trials")
