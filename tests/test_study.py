"""Seed studies from the runs' final evaluations, checked against numbers worked out by hand."""

import json

import numpy as np
import pytest

from rlkit.config import build_config
from rlkit.errors import RlkitError
from rlkit.run.study import study, threshold

# final greedy returns of 8 seeds, and (step, training seconds, return) of each run's evaluations
FINALS = [500.0, 480.0, 91.0, 500.0, 281.0, 500.0, 54.0, 476.0]
HISTORIES = {
    0: [(10_000, 20.0, 300.0), (20_000, 41.0, 490.0), (30_000, 60.0, 500.0)],
    1: [(10_000, 19.0, 475.0), (30_000, 58.0, 480.0)],
    2: [(10_000, 22.0, 120.0), (30_000, 61.0, 91.0)],
    3: [(10_000, 21.0, 200.0), (20_000, 40.0, 300.0), (30_000, 59.0, 500.0)],
    4: [(30_000, 60.0, 281.0)],
    5: [(20_000, 43.0, 476.0), (30_000, 62.0, 500.0)],
    6: [(10_000, 20.0, 500.0), (30_000, 60.0, 54.0)],  # solved once, collapsed later
    7: [(30_000, 57.0, 476.0)],
}


def _group(tmp_path, finals=FINALS, histories=HISTORIES, **settings):
    config = build_config("dqn", "cartpole", 30_000, 0, [f"{k}={v}" for k, v in settings.items()]).to_dict()
    group = tmp_path / "group"
    for index, final in enumerate(finals):
        run = group / f"seed-{index + 11}"
        run.mkdir(parents=True)
        config["train"]["seed"] = index + 11
        (run / "config.json").write_text(json.dumps(config))
        evaluations = [
            {"step": step, "return_mean": value, "return_std": 0.0, "time_s": seconds + 5, "train_time_s": seconds}
            for step, seconds, value in histories[index]
        ]
        (run / "eval.json").write_text(json.dumps({"return_mean": final, "episodes": 20, "evaluations": evaluations}))
    return group


def test_summary_from_the_final_evaluations(tmp_path):
    summary = study([_group(tmp_path)])
    assert summary["seeds"] == 8 and summary["solved_return"] == 475.0  # CartPole-v1's reward_threshold
    assert summary["solved"] == 5  # 500, 480, 500, 500, 476: seed 6 solved once but ended at 54
    assert summary["median"] == (480.0 + 476.0) / 2
    # IQM: the middle 4 of the 8 sorted finals 54, 91, 281, 476, 480, 500, 500, 500
    assert summary["iqm"] == pytest.approx((281 + 476 + 480 + 500) / 4)
    low, high = summary["iqm_ci"]
    assert low <= summary["iqm"] <= high
    assert summary["worst"] == {"seed": 17, "return": 54.0}
    # first evaluations at or above 475: seeds 0 (20k, 41 s), 1 (10k, 19 s), 3 (30k, 59 s), 5 (20k, 43 s),
    # 6 (10k, 20 s), 7 (30k, 57 s); seeds 2 and 4 never got there
    first = summary["first_solve"]
    assert first["seeds"] == 6
    assert first["median_steps"] == np.median([20_000, 10_000, 30_000, 20_000, 10_000, 30_000])
    assert first["median_train_seconds"] == np.median([41.0, 19.0, 59.0, 43.0, 20.0, 57.0])
    # seed 17 (index 6) reached 500 and ended at 54, below 475 - 0.25 * 475 = 356.25; seeds 13 and 15
    # ended lower than the goal too, but never reached it
    assert summary["collapses"] == {"below": 356.25, "seeds": [17]}


@pytest.mark.parametrize(
    "goal, finals, expected",
    [
        # reached the goal, then ended just above / just below 25% of it under the goal
        (475.0, [356.25, 356.0], [12]),
        # Acrobot's goal is negative: 25% of |−100| below it is −125
        (-100.0, [-125.0, -126.0], [12]),
    ],
)
def test_a_collapse_is_a_seed_that_reached_the_goal_and_ended_over_a_quarter_below(tmp_path, goal, finals, expected):
    histories = {index: [(10_000, 20.0, goal + 5.0), (30_000, 60.0, final)] for index, final in enumerate(finals)}
    summary = study([_group(tmp_path, finals=finals, histories=histories)], solved_return=goal)
    assert summary["solved"] == 0 and summary["collapses"]["seeds"] == expected


def test_the_seed_table_has_a_collapses_column(tmp_path, capsys, monkeypatch):
    from conftest import load_script

    seed_table = load_script("seed_table")
    monkeypatch.setattr("sys.argv", ["seed_table.py", str(_group(tmp_path))])
    assert seed_table.main() == 0
    header, _, row = capsys.readouterr().out.splitlines()
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert dict(zip([cell.strip() for cell in header.split("|")[1:-1]], cells))["collapses"] == "1"
    assert cells[3] == "5/8 (≥ 475)" and cells[7] == "54.00 (17)"


def test_a_threshold_of_the_users_or_the_presets(tmp_path):
    assert study([_group(tmp_path)], solved_return=490.0)["solved"] == 3
    assert threshold(build_config("qlearning", "taxi").to_dict()) == 7.0  # the preset's, not the registered 8


def test_a_mixed_group_is_refused_in_one_line(tmp_path):
    group = _group(tmp_path)
    config = json.loads((group / "seed-12" / "config.json").read_text())
    config["agent"]["learning_rate"] *= 2  # any value other than the group's
    (group / "seed-12" / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        RlkitError, match=r"not seeds of one config: agent.learning_rate .*group/seed-11.*group/seed-12"
    ):
        study([group])


def test_an_empty_group_is_refused(tmp_path):
    (tmp_path / "empty" / "seed-1").mkdir(parents=True)
    with pytest.raises(RlkitError, match="no finished run"):
        study([tmp_path / "empty"])


def test_the_command(cli, tmp_path):
    code, out, err = cli("study", _group(tmp_path), "--json", tmp_path / "study.json")
    assert code == 0, err
    assert "solved (final ≥ 475): 5 of 8" in out and "worst 54.00 (seed 17)" in out
    assert "collapses (reached 475, ended below 356.25): 1 of 8 (seeds 17)" in out
    assert json.loads((tmp_path / "study.json").read_text())["solved"] == 5
    code, _, err = cli("study", tmp_path / "nothing-here")
    assert code == 2 and err.count("\n") == 1


def test_the_minatar_table_gives_each_game_its_mean_interval_and_minutes(tmp_path, capsys):
    from conftest import load_script

    game = tmp_path / "minatar-breakout" / "dqn-minatar-fast"
    for seed, final, seconds in ((101, 18.0, 540.0), (102, 22.0, 600.0), (103, 20.0, 570.0)):
        run = game / f"run-s{seed}"
        run.mkdir(parents=True)
        evaluations = [{"step": 1_000_000, "return_mean": final, "time_s": seconds, "train_time_s": seconds - 60}]
        eval_json = {"env_id": "MinAtar/Breakout-v0", "seed": seed, "step": 1_000_000, "return_mean": final}
        (run / "eval.json").write_text(json.dumps(eval_json | {"evaluations": evaluations}))
    (tmp_path / "minatar-asterix" / "dqn-minatar-fast" / "unfinished").mkdir(parents=True)
    table = load_script("minatar_table")
    import sys

    argv, sys.argv = sys.argv, ["minatar_table.py", str(game), str(tmp_path / "minatar-asterix" / "dqn-minatar-fast")]
    try:
        table.main()
    finally:
        sys.argv = argv
    lines = capsys.readouterr().out.strip().splitlines()
    # mean 20, sample std 2, t(2) = 4.303: half-width 4.303 * 2 / sqrt(3) = 4.97
    assert lines[-1] == (
        "| MinAtar/Breakout-v0 | 1,000,000 | 18.0 (101), 22.0 (102), 20.0 (103) | 20.0 [15.0, 25.0] | 9.0–10.0 "
        "| 8.0–9.0 |"
    )
    assert len(lines) == 3  # the unfinished game has no row


def test_the_worst_seeds_figure_draws_their_curves_worst_first(tmp_path):
    from rlkit.run.study import worst_figure

    out = tmp_path / "worst.png"
    seeds = worst_figure([_group(tmp_path)], out, count=3)
    assert seeds == [17, 13, 15]  # finals 54, 91, 281
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_draws_the_worst_seeds_and_refuses_a_bad_figure_request(cli, tmp_path):
    group = _group(tmp_path)
    code, out, err = cli("study", group, "--worst-figure", tmp_path / "worst.svg", "--worst", "2")
    assert code == 0, err
    assert f"the curves of seeds 17, 13 written to {tmp_path / 'worst.svg'}" in out
    assert (tmp_path / "worst.svg").read_text().lstrip().startswith("<?xml")
    for arguments, message in [
        (("--worst-figure", tmp_path / "worst.svg"), "file exists"),
        (("--worst-figure", tmp_path / "worst.txt"), ".txt is not an image format"),
        (("--worst-figure", tmp_path / "worst.png", "--worst", "0"), "--worst 0: draws no seed"),
        (("--worst", "3"), "--worst N says how many seeds --worst-figure draws"),
    ]:
        code, _, err = cli("study", group, *arguments)
        assert code == 2 and message in err and err.count("\n") == 1, err


def test_a_run_that_kept_no_evaluations_is_drawn_by_its_final_return(tmp_path):
    from rlkit.run.study import worst_figure

    group = _group(tmp_path)
    eval_json = group / "seed-17" / "eval.json"  # the worst seed (54)
    eval_json.write_text(json.dumps({"return_mean": 54.0, "episodes": 20, "step": 30_000}))
    assert worst_figure([group], tmp_path / "worst.png", count=2) == [17, 13]


def test_without_a_threshold_the_study_says_so_and_the_seed_table_refuses_in_one_line(tmp_path, capsys, monkeypatch):
    from conftest import load_script

    from rlkit.run.study import table

    group = _group(tmp_path)
    summary = study([group], solved_return=None) | {"solved_return": None, "solved": None}
    summary |= {"first_solve": None, "collapses": None}
    assert "no threshold: set train.solved_return" in table(summary)

    seed_table = load_script("seed_table")
    monkeypatch.setattr(seed_table, "study", lambda folders: summary)
    monkeypatch.setattr("sys.argv", ["seed_table.py", str(group)])
    assert seed_table.main() == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "no threshold to judge by" in captured.err


def test_the_minatar_table_shows_a_dash_where_a_run_kept_no_training_time(tmp_path, capsys, monkeypatch):
    from conftest import load_script

    game = tmp_path / "minatar-freeway" / "rainbow-minatar-fast"
    for seed, train_time in ((101, 600.0), (102, None)):
        run = game / f"run-s{seed}"
        run.mkdir(parents=True)
        evaluation = {"step": 1_000_000, "return_mean": 50.0, "time_s": 700.0}
        if train_time is not None:
            evaluation["train_time_s"] = train_time
        eval_json = {"env_id": "MinAtar/Freeway-v0", "seed": seed, "step": 1_000_000, "return_mean": 50.0}
        (run / "eval.json").write_text(json.dumps(eval_json | {"evaluations": [evaluation]}))
    monkeypatch.setattr("sys.argv", ["minatar_table.py", str(game)])
    load_script("minatar_table").main()
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("| 11.7–11.7 | – |")
