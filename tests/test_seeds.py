import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import child

from rlkit.errors import RlkitError
from rlkit.run import checkpoint
from rlkit.run.launch import parse_seeds

SHORT = [
    "--agent",
    "qlearning",
    "--env",
    "taxi",
    "--steps",
    "1000",
    "--set",
    "eval_interval=500",
    "--set",
    "final_eval_episodes=2",
    "--no-progress",
]


def test_parse_seeds():
    assert parse_seeds("1,2,3") == [1, 2, 3] and parse_seeds("1-3,7") == [1, 2, 3, 7] and parse_seeds("4") == [4]
    for bad in ("x", "1,1", "-2", ""):
        with pytest.raises(RlkitError):
            parse_seeds(bad)


@pytest.mark.parametrize("workers", [1, 2])
def test_seeds_each_get_a_run_folder_in_one_group(cli, tmp_path, workers):
    code, out, err = cli("train", *SHORT, "--seeds", "1-2", "--workers", workers, "--run-dir", tmp_path)
    assert code == 0, err
    (group,) = tmp_path.glob("taxi/qlearning/*-seeds1-2")
    summary = json.loads((group / "group.json").read_text())
    assert summary["seeds"] == [1, 2] and len(summary["runs"]) == 2
    for seed in (1, 2):
        run = group / f"seed-{seed}"
        assert json.loads((run / "config.json").read_text())["train"]["seed"] == seed
        assert (run / "eval.json").is_file() and list(run.glob("events.*"))
    assert "over 2 seeds" in out


def test_seeds_with_seed_is_refused(cli, tmp_path):
    code, _, err = cli("train", *SHORT, "--seeds", "1,2", "--seed", "3", "--run-dir", tmp_path)
    assert code == 2 and "does not go with --seed" in err and not any(tmp_path.iterdir())


def test_bad_seeds_leave_no_folder(cli, tmp_path):
    code, _, err = cli("train", *SHORT, "--seeds", "1,a", "--run-dir", tmp_path)
    assert code == 2 and "is not a list of seeds" in err and not any(tmp_path.iterdir())


def test_a_reversed_range_is_named():
    with pytest.raises(RlkitError, match="reversed range"):
        parse_seeds("3-1")


@contextlib.contextmanager
def _long_group(tmp_path, seeds: str) -> Iterator[subprocess.Popen]:
    """A group of long Taxi runs on 2 workers, a process group of its own (conftest.child),
    once both workers log."""
    command = [sys.executable, "-m", "rlkit.cli", "train", *SHORT[:4], "--steps", "2000000", *SHORT[6:]]
    command += ["--seeds", seeds, "--workers", "2", "--run-dir", str(tmp_path)]
    with child(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(tmp_path.glob("*/*/*/seed-*/events.*"))) < 2:
            time.sleep(0.1)
        time.sleep(1.0)
        yield process


def test_ctrl_c_stops_a_group_of_workers_and_the_group_resumes(cli, tmp_path):
    """Ctrl-C from a terminal reaches every process of the group: the group exits 130 within
    seconds, each running seed saved its checkpoint, the seed not yet started left no folder,
    and the group can be resumed."""
    with _long_group(tmp_path, "1-3") as process:
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the parent and its workers
        started = time.time()
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert time.time() - started < 20
    assert "rlkit train --resume" in err and "Traceback" not in err and "leaked semaphore" not in err
    (group,) = tmp_path.glob("taxi/qlearning/*-seeds1-3")
    summary = json.loads((group / "group.json").read_text())
    assert summary["status"] == "interrupted"
    assert [run["status"] for run in summary["runs"]] == ["interrupted", "interrupted", "not started"]
    steps = [checkpoint.load(checkpoint.find(group / f"seed-{seed}"))[1]["step"] for seed in (1, 2)]
    assert all(0 < step < 2_000_000 for step in steps)
    assert not (group / "seed-3").exists()

    code, _, err = cli("train", "--resume", group, "--steps", 1, "--no-progress")
    assert code == 2 and "only --workers" in err  # (test_resume_of_a_group_... finishes a group)


def test_resume_of_a_group_finishes_its_unfinished_seeds(cli, tmp_path):
    code, _, err = cli("train", *SHORT, "--seeds", "1-3", "--run-dir", tmp_path)
    assert code == 0, err
    (group,) = tmp_path.glob("taxi/qlearning/*-seeds1-3")
    finished = (group / "seed-1" / "eval.json").read_text()
    shutil.rmtree(group / "seed-2")  # never started
    (group / "seed-3" / "eval.json").unlink()  # stopped after its last checkpoint
    code, out, err = cli("train", "--resume", group, "--workers", 2, "--no-progress")
    assert code == 0, err
    assert "2 of 3 seeds to finish" in out and "over 3 seeds" in out
    assert (group / "seed-1" / "eval.json").read_text() == finished  # a finished seed is left alone
    summary = json.loads((group / "group.json").read_text())
    assert summary["status"] == "finished" and [run["seed"] for run in summary["runs"]] == [1, 2, 3]
    assert all(run["status"] == "finished" for run in summary["runs"])


def test_sigterm_to_the_group_stops_its_workers_after_their_checkpoints(tmp_path):
    with _long_group(tmp_path, "1-2") as process:
        process.send_signal(signal.SIGTERM)  # to the group's process only, as a scheduler would
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)  # twice: a repeated SIGTERM must not kill the workers mid-save
        _, err = process.communicate(timeout=120)
        assert "leaked semaphore" not in err
        assert process.returncode == 130, err
        (group,) = tmp_path.glob("taxi/qlearning/*-seeds1-2")
        assert json.loads((group / "group.json").read_text())["status"] == "interrupted"
        for seed in (1, 2):
            assert checkpoint.find(group / f"seed-{seed}")
        time.sleep(1.0)
        leftovers = subprocess.run(["pgrep", "-f", str(group)], capture_output=True, text=True).stdout.split()
        assert not leftovers, "a worker outlived its group"  # (checked before the child's group is killed)
