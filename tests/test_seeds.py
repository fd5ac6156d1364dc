import json

import pytest

from rlkit.errors import RlkitError
from rlkit.seeds import parse_seeds

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
