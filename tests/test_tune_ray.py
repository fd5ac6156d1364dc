"""`rlkit tune` on Ray, end to end (tests/ray_scenarios.py drives the command inside a network
namespace of its own). Without the tune extra these skip with the reason; under CI they must run."""

import json
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import free_port

from rlkit.tune.space import parse_space, refine
from rlkit.tune.sweep import ranked_trials, read_sidecar

pytestmark = pytest.mark.ray

SCENARIOS = Path(__file__).resolve().parent / "ray_scenarios.py"


def _scenario(ray_namespace, name: str, folder: Path, *extra: str) -> dict:
    process = ray_namespace([sys.executable, str(SCENARIOS), name, str(folder), *extra], timeout=900)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    return json.loads((folder / "result.json").read_text())


def _sidecars(sweep: Path) -> dict[str, dict]:
    """Each trial's records: its attempts and last report (from its worker), and when Tune
    started it and how Tune ended it (from the sweep)."""
    trials = json.loads((sweep / "sweep.json").read_text())["trials"]
    return {trial["name"]: read_sidecar(sweep, trial["name"]) for trial in trials}


def _flat(config: dict) -> dict:
    return {f"{s}.{k}": v for s in ("env", "train", "agent") for k, v in config[s].items()}


@pytest.mark.slow  # over a minute: with the learning tests, out of the default run
def test_sweep_stopped_with_ctrl_c_resumes_and_its_best_toml_trains(ray_namespace, tmp_path):
    result = _scenario(ray_namespace, "taxi", tmp_path)
    assert result["interrupted"]["rc"] == 130, result["interrupted"]
    assert "rlkit tune --resume" in result["interrupted"]["out"]
    assert result["resumed"]["rc"] == 0, result["resumed"]
    sweep = Path(result["sweep"])
    state = json.loads((sweep / "sweep.json").read_text())
    assert state["status"] == "finished"
    for name in ("sweep.md", "sweep.png", "best.toml"):
        assert (sweep / name).stat().st_size > 0, name

    # every trial finished (fifo), in its own run folder
    sidecars = _sidecars(sweep)
    assert len(sidecars) == 4
    for name, sidecar in sidecars.items():
        assert sidecar["tune_status"] == "complete" and (sweep / "trials" / name / "eval.json").is_file(), name
    # the trial seen training when Ctrl-C came continued from its checkpoint, not from step 0
    # (a trial stopped before its first checkpoint starts again from 0, as it must)
    stopped = sidecars[Path(result["stopped_trial"]).name]
    assert len(stopped["attempts"]) >= 2 and stopped["attempts"][-1]["from_step"] >= 10_000, stopped

    # sweep.md has one row per trial and the confirmation of the top 2 on 2 fresh seeds
    markdown = (sweep / "sweep.md").read_text()
    assert sum(line.startswith("| ") and "trial-0" in line for line in markdown.splitlines()) == 4 + 2
    confirmed = state["confirmed"]
    assert len(confirmed) == 2 and all(len(c["finals"]) == 2 for c in confirmed)
    trial_seeds = {t["seed"] for t in state["trials"]}
    confirm_seeds = {int(p.name.removeprefix("seed-")) for p in (sweep / "confirm").glob("*/seed-*")}
    assert confirm_seeds and not confirm_seeds & trial_seeds

    # a trial is an ordinary run folder: rlkit eval works on it
    assert result["eval"]["rc"] == 0 and "over 3 episodes" in result["eval"]["out"]
    # best.toml resolves to the best trial's config (but its seed), and trains
    assert result["best_config"]["rc"] == 0, result["best_config"]
    resolved = _flat(json.loads(result["best_config"]["out"]))
    best = next(t for t in state["trials"] if t["name"] == confirmed[0]["name"])
    expected = _flat(best["config"])
    differing = {k for k in expected if resolved[k] != expected[k]}
    assert differing <= {"train.seed", "train.checkpoint_interval"}, differing
    assert result["best_train"]["rc"] == 0 and "final eval" in result["best_train"]["out"], result["best_train"]

    # the refined round: a new sweep folder naming its parent, each range inside the parent's
    assert result["refined"]["rc"] == 0, result["refined"]
    child = next(p.parent for p in sweep.parent.glob("*/sweep.json") if p.parent != sweep)
    child_state = json.loads((child / "sweep.json").read_text())
    assert child_state["request"]["parent"] == str(sweep)
    old, new = parse_space(state["request"]["space"], "old"), parse_space(child_state["request"]["space"], "new")
    ranked = [row["values"] for row in ranked_trials(sweep, state) if row["rank"] is not None]
    for a, b, expected in zip(old.dimensions, new.dimensions, refine(old, ranked).dimensions):
        assert (b.low, b.high) == pytest.approx((expected.low, expected.high))  # the rule, applied to this sweep
        assert a.low <= b.low < b.high <= a.high, (a, b)
    assert min(t["seed"] for t in child_state["trials"]) > max(confirm_seeds)


def test_dqn_cartpole_sweep_with_the_preset_space(ray_namespace, tmp_path):
    result = _scenario(ray_namespace, "cartpole", tmp_path)
    assert result["tune"]["rc"] == 0, result["tune"]
    sweep = next(tmp_path.glob("runs/*/*/*/sweep.json")).parent
    state = json.loads((sweep / "sweep.json").read_text())
    with open(Path(__file__).resolve().parent.parent / "agents" / "dqn.toml", "rb") as handle:
        assert set(state["request"]["space"]) == set(tomllib.load(handle)["search"])
    # under ASHA each trial finished or was stopped at a rung after reporting
    for name, sidecar in _sidecars(sweep).items():
        finished = (sweep / "trials" / name / "eval.json").is_file()
        assert sidecar["tune_status"] == "complete" and (finished or sidecar["last_report"]), (name, sidecar)
    preset = tomllib.loads((sweep / "best.toml").read_text())
    assert preset["extends"] == "dqn" and "learning_rate" in preset["agent"]


@pytest.mark.slow  # over a minute: with the learning tests, out of the default run
def test_two_node_cluster_spreads_trials_and_retries_a_killed_worker_from_its_checkpoint(ray_namespace, tmp_path):
    result = _scenario(ray_namespace, "cluster", tmp_path, str(free_port()))
    assert result["head"] == 0 and result["worker"] == 0, result
    assert result["tune"]["rc"] == 0, result["tune"]["out"]
    sweep = Path(result["sweep"])
    sidecars = _sidecars(sweep)
    nodes = {attempt["node_id"] for sidecar in sidecars.values() for attempt in sidecar["attempts"]}
    assert len(nodes) == 2, nodes  # trials ran on both nodes

    killed = sidecars[result["killed"]["trial"]]
    pids = [attempt["pid"] for attempt in killed["attempts"]]
    assert result["killed"]["pid"] in pids[:-1], killed  # the killed attempt, then a retry
    assert killed["attempts"][-1]["from_step"] >= 10_000, killed  # from its checkpoint
    assert "retrying from its latest checkpoint" in result["tune"]["out"]
    # no run folder lost or half-written: every trial finished in its own folder, none set aside
    for name in sidecars:
        assert json.loads((sweep / "trials" / name / "eval.json").read_text())["return_mean"] is not None
    assert not list((sweep / "trials").glob("*-abandoned-*"))

    # rlkit train --seeds on the same cluster
    assert result["seeds"]["rc"] == 0, result["seeds"]
    group = json.loads(next((tmp_path / "seed-runs").glob("*/*/*/group.json")).read_text())
    assert group["status"] == "finished" and [run["status"] for run in group["runs"]] == ["finished"] * 2


def test_a_trial_whose_error_would_recur_fails_at_once_and_the_others_are_ranked(ray_namespace, tmp_path):
    result = _scenario(ray_namespace, "recurring_error", tmp_path)
    assert result["tune"]["rc"] == 0, result["tune"]
    sweep = Path(result["sweep"])
    sidecars = _sidecars(sweep)
    broken, healthy = sidecars["trial-000"], sidecars["trial-001"]
    assert len(broken["attempts"]) == 1 and broken["tune_status"] == "complete", broken  # no retry
    assert broken["error"].endswith(
        "meta.json: corrupted (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    ), broken
    assert "trial-000  failed, not retried (it would fail again):" in result["tune"]["out"]
    assert healthy["last_report"]["step"] == 6000 and healthy["last_report"]["final"], healthy
    rows = {row["name"]: row for row in ranked_trials(sweep, json.loads((sweep / "sweep.json").read_text()))}
    assert rows["trial-001"]["rank"] == 1 and rows["trial-000"]["rank"] is None
    markdown = (sweep / "sweep.md").read_text()
    assert f"failed: {broken['error']}" in markdown and "Ranked: finished trials first" in markdown


@pytest.mark.slow  # over a minute: with the learning tests, out of the default run
def test_trials_request_the_gpus_their_device_needs(ray_namespace, tmp_path):
    """On a node that declares 2 GPUs: `device = auto` trials each ask for one (2 GPUs, 2 at
    once) and, with no CUDA there, fail at once naming it; CPU trials ask for none and train; a
    cluster without GPUs refuses a CUDA sweep in one line, before any sweep folder."""
    result = _scenario(ray_namespace, "gpus", tmp_path, str(free_port()))
    assert result["head"] == 0 and result["head_without_gpus"] == 0, result
    for kind, gpus, device in (("auto", 1.0, "cuda"), ("cpu", 0.0, "cpu")):
        (sweep,) = result["sweeps"][kind]
        trials = json.loads((Path(sweep) / "sweep.json").read_text())["trials"]
        assert [trial["resources"] for trial in trials] == [{"cpus": 1, "gpus": gpus, "device": device}] * 2
    auto = Path(result["sweeps"]["auto"][0])
    for sidecar in _sidecars(auto).values():
        assert "CUDA is not available" in sidecar["error"] and len(sidecar["attempts"]) == 1, sidecar
    assert result["auto"]["rc"] == 2 and "no trial can be ranked" in result["auto"]["err"], result["auto"]
    assert result["cpu"]["rc"] == 0, result["cpu"]
    cpu = Path(result["sweeps"]["cpu"][0])
    assert all((cpu / "trials" / name / "eval.json").is_file() for name in _sidecars(cpu))
    assert result["cuda"]["rc"] == 2 and result["sweeps"]["cuda"] == [], result["cuda"]
    assert "train.device = 'cuda', but no node of the Ray cluster has a GPU" in result["cuda"]["err"]
