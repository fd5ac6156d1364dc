"""`rlkit tune`'s trials and ranking without Ray: a trial run in this process against a stand-in
for the few Ray calls it makes (its reports come after the checkpoint of their step; a retry
keeps its replay or marks the trial; an error that would recur ends the trial at once), and the
ranking, best.toml, sweep.md and the refined space of hand-written sweep folders."""

import json
import math
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from rlkit.errors import RlkitError
from rlkit.run import checkpoint
from rlkit.run.lock import FolderLocked
from rlkit.tune import report
from rlkit.tune.space import parse_space, refine
from rlkit.tune.sweep import (
    METRIC,
    SWEEP_FILE,
    Request,
    _unless_it_recurs,
    check_request,
    no_ranked_trial,
    ranked_trials,
    read_sidecar,
    refine_request,
    trial_configs,
    trial_function,
    write_json,
)

QLEARNING_SPACE = {"learning_rate": {"log_uniform": [0.05, 1.0]}}


def _sweep(tmp_path: Path, request: Request) -> tuple[Path, dict]:
    """A sweep folder as `rlkit tune` writes it before Ray starts."""
    space = check_request(request, "test space")
    trials = trial_configs(request, space)
    sweep = {
        "request": request.__dict__ | {"space": space.to_toml()},
        "space_origin": "test space",
        "status": "searching",
        "next_seed": request.first_seed + len(trials),
        "trials": trials,
    }
    folder = tmp_path / "sweep"
    (folder / "trials").mkdir(parents=True)
    write_json(folder / SWEEP_FILE, sweep)
    return folder, sweep


class FakeRay:
    """The Ray calls a trial makes (its node, its trial id, tune.report), in this process: no Ray
    starts. Each report is recorded with the newest step checkpoint on disk at that moment;
    `die_after` is a step whose report then raises, as a worker killed right after it would."""

    def __init__(self, monkeypatch, run_dir: Path, die_after: int | None = None):
        self.run_dir, self.die_after, self.reports = run_dir, die_after, []
        tune = SimpleNamespace(report=self.report, get_context=lambda: SimpleNamespace(get_trial_id=lambda: "0a1b2c3d"))
        ray = SimpleNamespace(tune=tune, get_runtime_context=lambda: SimpleNamespace(get_node_id=lambda: "f" * 56))
        monkeypatch.setitem(sys.modules, "ray", ray)
        monkeypatch.setitem(sys.modules, "ray.tune", tune)

    def report(self, metrics: dict) -> None:
        steps = checkpoint.list_checkpoints(self.run_dir / "checkpoints", "step")
        latest = int(steps[-1].name.removeprefix("step-")) if steps else None
        self.reports.append(metrics | {"latest_checkpoint": latest})
        assert METRIC in metrics  # Tune refuses a result without it
        if metrics["step"] == self.die_after:
            raise RuntimeError("the worker died")


# ---------------------------------------------------------------- one trial, with Ray stood in for


# by default a trial checkpoints at each evaluation; with an interval off them, the report writes one
@pytest.mark.parametrize("checkpoint_interval", [None, 1500, 2500], ids=["at-evaluations", "every-1500", "every-2500"])
def test_each_report_comes_after_the_checkpoint_of_its_step(tmp_path, monkeypatch, checkpoint_interval):
    overrides = ["train.eval_interval=1000", "train.eval_episodes=2", "train.final_eval_episodes=2"]
    if checkpoint_interval is not None:
        overrides.append(f"train.checkpoint_interval={checkpoint_interval}")
    request = Request("qlearning", "taxi", QLEARNING_SPACE, samples=1, concurrent=1, steps=4000, overrides=overrides)
    folder, _ = _sweep(tmp_path, request)
    ray = FakeRay(monkeypatch, folder / "trials" / "trial-000")
    trial_function({"sweep": str(folder), "trial": 0})
    # every periodic report once its step's checkpoint is on disk, then the final one
    assert [(r["step"], r["final"], r["latest_checkpoint"]) for r in ray.reports] == [
        (1000, False, 1000),
        (2000, False, 2000),
        (3000, False, 3000),
        (4000, True, 4000),
    ]
    sidecar = read_sidecar(folder, "trial-000")
    assert sidecar["last_report"]["final"] and "replay_lost" not in sidecar and "error" not in sidecar


@pytest.mark.parametrize("save_replay", [True, False])
def test_a_retried_trial_resumes_at_its_last_report_and_keeps_its_replay_or_is_marked(
    tmp_path, monkeypatch, save_replay
):
    overrides = [
        "learning_starts=50",
        "batch_size=16",
        "net_arch=[16]",
        "train.eval_interval=200",
        "train.eval_episodes=1",
        "train.final_eval_episodes=2",
        f"train.save_replay={str(save_replay).lower()}",
    ]
    space = {"learning_rate": {"log_uniform": [1e-4, 1e-3]}}
    request = Request("dqn", "cartpole", space, samples=2, concurrent=1, steps=600, overrides=overrides)
    folder, _ = _sweep(tmp_path, request)
    run_dir = folder / "trials" / "trial-000"
    ray = FakeRay(monkeypatch, run_dir, die_after=200)
    with pytest.raises(RuntimeError, match="the worker died"):  # not an RlkitError: Tune retries it
        trial_function({"sweep": str(folder), "trial": 0})
    assert "error" not in read_sidecar(folder, "trial-000")
    ray.die_after = None
    trial_function({"sweep": str(folder), "trial": 0})  # Tune's retry
    assert [r["step"] for r in ray.reports] == [200, 400, 600]  # no step reported twice, none skipped
    sidecar = read_sidecar(folder, "trial-000")
    assert [attempt["from_step"] for attempt in sidecar["attempts"]] == [0, 200]
    assert sidecar.get("replay_lost", False) is not save_replay
    # the other trial, never retried, finished; the one whose replay was lost is listed, not ranked
    FakeRay(monkeypatch, folder / "trials" / "trial-001")
    trial_function({"sweep": str(folder), "trial": 1})
    rows = {row["name"]: row for row in ranked_trials(folder, json.loads((folder / SWEEP_FILE).read_text()))}
    assert rows["trial-000"]["return"] is not None and rows["trial-001"]["rank"] is not None
    assert (rows["trial-000"]["rank"] is None) is not save_replay
    assert ("empty replay" in rows["trial-000"]["state"]) is not save_replay


def test_an_error_that_would_recur_ends_the_trial_at_once_as_failed(tmp_path, monkeypatch):
    request = Request("qlearning", "taxi", QLEARNING_SPACE, samples=3, concurrent=1, steps=4000)
    folder, sweep = _sweep(tmp_path, request)
    broken = folder / "trials" / "trial-000" / "checkpoints" / checkpoint.checkpoint_name("step", 1000)
    broken.mkdir(parents=True)
    (broken / checkpoint.META).write_text("{not json")
    ray = FakeRay(monkeypatch, broken.parent.parent)
    trial_function({"sweep": str(folder), "trial": 0})  # returns: Tune does not retry it
    # its last result for Tune: the worst return, marked failed, at no step it had not reached
    assert ray.reports == [{METRIC: -math.inf, "step": 0, "final": True, "failed": True, "latest_checkpoint": 1000}]
    error = read_sidecar(folder, "trial-000")["error"]
    assert error.startswith(f"{broken / checkpoint.META}: corrupted"), error
    row = next(row for row in ranked_trials(folder, sweep) if row["name"] == "trial-000")
    assert row["rank"] is None and row["state"] == f"failed: {error}"
    line = no_ranked_trial(folder, ranked_trials(folder, sweep))
    assert f"trial-000: {error}" in line and "\n" not in line


def test_only_rlkit_errors_other_than_a_held_lock_end_a_trial_without_a_retry(tmp_path):
    folder = tmp_path / "sweep"
    (folder / "trials").mkdir(parents=True)

    def raising(error):
        def train():
            raise error

        return train

    assert _unless_it_recurs(folder, "trial-000", lambda: {"return_mean": 1.5}) == {"return_mean": 1.5}
    assert _unless_it_recurs(folder, "trial-001", raising(RlkitError("agent.batch_size = 0 is too small"))) is None
    assert read_sidecar(folder, "trial-001")["error"] == "agent.batch_size = 0 is too small"
    for name, error in (("trial-002", RuntimeError("CUDA out of memory")), ("trial-003", FolderLocked("held"))):
        with pytest.raises(type(error)):
            _unless_it_recurs(folder, name, raising(error))
        assert "error" not in read_sidecar(folder, name)


# ---------------------------------------------------------------- the ranking of a finished search


def _finished(folder: Path, name: str, final_return: float, **sidecar) -> None:
    (folder / "trials" / name).mkdir()
    (folder / "trials" / name / "eval.json").write_text(json.dumps({"return_mean": final_return}))
    last = {"step": 40_000, "return_mean": final_return, "final": True}
    _sidecar(folder, name, last_report=last, **sidecar)


def _stopped(folder: Path, name: str, step: int, value: float) -> None:
    _sidecar(folder, name, last_report={"step": step, "return_mean": value, "final": False})


def _sidecar(folder: Path, name: str, **fields) -> None:
    attempt = {"node_id": "ab" * 28, "host": "h", "pid": 1, "started": 0.0, "from_step": 0}
    write_json(folder / "trials" / f"{name}.json", {"attempts": [attempt], **fields})
    write_json(folder / "trials" / f"{name}.tune.json", {"scheduled": [0.0], "tune_status": "complete"})


@pytest.fixture
def searched(tmp_path):
    """An ASHA sweep of five trials: two finished (one resumed without its replay), two stopped
    early at different rungs (the one stopped first had the highest return of all), one failed."""
    overrides = ["train.eval_interval=10000"]
    request = Request("qlearning", "taxi", QLEARNING_SPACE, samples=5, concurrent=2, steps=40_000, overrides=overrides)
    folder, sweep = _sweep(tmp_path, request)
    _finished(folder, "trial-000", 5.0)
    _stopped(folder, "trial-001", 10_000, 8.0)  # an early peak: not comparable with a final evaluation
    _stopped(folder, "trial-002", 20_000, 3.0)
    _sidecar(folder, "trial-003", error="env.id 'Taxi-v9' is not registered")
    _finished(folder, "trial-004", 7.0, replay_lost=True)
    return folder, sweep


def test_finished_trials_rank_first_then_stopped_ones_by_how_far_they_trained(searched):
    folder, sweep = searched
    rows = ranked_trials(folder, sweep)
    assert [(row["name"], row["rank"]) for row in rows] == [
        ("trial-000", 1),
        ("trial-002", 2),
        ("trial-001", 3),
        ("trial-004", None),
        ("trial-003", None),
    ]
    lost, failed = rows[3], rows[4]
    assert lost["return"] == 7.0 and "resumed with an empty replay, not ranked" in lost["state"]
    assert failed["return"] is None and failed["state"] == "failed: env.id 'Taxi-v9' is not registered"


def test_best_toml_sweep_md_and_refine_use_the_same_ranking(searched):
    folder, sweep = searched
    rows = ranked_trials(folder, sweep)
    values = {trial["name"]: trial["values"] for trial in sweep["trials"]}
    report.best_preset(folder, sweep, rows, confirmed=[])  # --top 0: the best trial's own values
    preset = tomllib.loads((folder / "best.toml").read_text())
    assert preset["agent"]["learning_rate"] == values["trial-000"]["learning_rate"]
    assert "trial-000, return 5.00" in (folder / "best.toml").read_text()

    markdown = report.markdown(folder, sweep, rows, [])
    assert "Ranked: finished trials first, by their final greedy evaluation; then the trials stopped early" in markdown
    assert "Not ranked: trial-004, resumed from a checkpoint without their replay" in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ") and "trial-0" in line]
    assert [line.split(" | ")[1] for line in table] == ["trial-000", "trial-002", "trial-001", "trial-004", "trial-003"]
    assert table[4].startswith("| – |") and "failed: env.id 'Taxi-v9' is not registered" in table[4]

    child, _ = refine_request(folder)
    space = parse_space(sweep["request"]["space"], "parent")
    expected = refine(space, [values[name] for name in ("trial-000", "trial-002", "trial-001")])
    narrowed = parse_space(child.space, "child")["learning_rate"]
    assert (narrowed.low, narrowed.high) == pytest.approx(
        (expected["learning_rate"].low, expected["learning_rate"].high)
    )


# ---------------------------------------------------------------- ASHA's one budget


@pytest.mark.parametrize("key", ["total_steps", "train.total_steps", "eval_interval", "train.eval_interval"])
def test_asha_refuses_a_space_that_varies_the_budget(key):
    space = {**QLEARNING_SPACE, key: {"choice": [20_000, 40_000]}}
    with pytest.raises(RlkitError, match=f"test: {key} varies, but --scheduler asha takes one max_t") as error:
        check_request(Request("qlearning", "taxi", space, samples=4, concurrent=2, scheduler="asha"), "test")
    assert "--scheduler fifo" in str(error.value)
    checked = check_request(Request("qlearning", "taxi", space, samples=4, concurrent=2, scheduler="fifo"), "test")
    assert key in checked.keys
