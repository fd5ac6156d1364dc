import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rlkit.plot import draw, iqm  # noqa: E402

SHORT = [
    "--agent",
    "qlearning",
    "--env",
    "taxi",
    "--steps",
    "1500",
    "--set",
    "eval_interval=500",
    "--set",
    "eval_episodes=3",
    "--set",
    "final_eval_episodes=5",
    "--no-progress",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from rlkit.cli import main

    root = tmp_path_factory.mktemp("runs")
    assert main(["train", *SHORT, "--seeds", "1-4", "--run-dir", str(root)]) == 0
    assert main(["train", *SHORT, "--seed", "9", "--set", "learning_rate=0.5", "--run-dir", str(root / "single")]) == 0
    (group,) = root.glob("taxi/qlearning/*-seeds1-4")
    (single,) = (root / "single").glob("taxi/qlearning/*")
    return group, single


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.array([0.0, 1.0, 2.0, 100.0])) == 1.5
    assert iqm(np.arange(8.0)) == np.mean([2, 3, 4, 5])


def test_plot_writes_a_png_and_a_summary_that_matches_the_runs(cli, runs, tmp_path):
    group, single = runs
    out = tmp_path / "curves.png"
    code, stdout, err = cli("plot", group, single, "--out", out)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finals = sorted(json.loads((group / f"seed-{s}" / "eval.json").read_text())["return_mean"] for s in (1, 2, 3, 4))
    line = next(row for row in stdout.splitlines() if row.startswith("qlearning · Taxi-v4 · learning_rate=0.1 "))
    seeds, final_mean, iqm_value = line.split()[-5:-2]
    assert int(seeds) == 4
    assert float(final_mean) == pytest.approx(np.mean(finals), abs=0.006)
    assert float(iqm_value) == pytest.approx(np.mean(finals[1:3]), abs=0.006)  # middle two of four


def test_one_line_per_group_with_labels_and_title(runs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    group, single = runs
    figure, axes = plt.subplots()
    groups = draw([group, single], "eval/return_mean", axes)
    assert len(axes.get_lines()) == 2 and len(groups) == 2
    assert axes.get_title() == "Taxi-v4" and axes.get_xlabel() == "environment steps"
    assert list(groups[0]["steps"]) == [500, 1000, 1500]
    plt.close(figure)


def test_plot_refuses_an_existing_file_and_an_unknown_metric(cli, runs, tmp_path):
    group, _ = runs
    existing = tmp_path / "mine.png"
    existing.write_bytes(b"keep")
    code, _, err = cli("plot", group, "--out", existing)
    assert code == 2 and "file exists" in err and "--force" in err and existing.read_bytes() == b"keep"
    code, _, err = cli("plot", group, "--out", tmp_path / "x.png", "--metric", "eval/nope")
    assert code == 2 and "has no scalar 'eval/nope'" in err


@pytest.fixture(scope="module")
def one_evaluation(tmp_path_factory):
    """A FrozenLake run evaluated once, at its end."""
    from rlkit.cli import main

    root = tmp_path_factory.mktemp("frozenlake")
    args = ["--agent", "qlearning", "--env", "frozenlake", "--steps", "300", "--set", "eval_interval=0"]
    assert main(["train", *args, "--set", "final_eval_episodes=3", "--no-progress", "--run-dir", str(root)]) == 0
    (run,) = root.glob("frozenlake/qlearning/*")
    return run


def _draw(*paths):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    groups = draw(list(paths), "eval/return_mean", axes)
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    lines = axes.get_lines()
    plt.close(figure)
    return groups, legend, lines


def test_legends_name_agent_env_and_what_differs_not_folders(runs):
    group, single = runs
    _, legend, _ = _draw(group, single)
    assert legend == [
        "qlearning · Taxi-v4 · learning_rate=0.1 (4 seeds)",
        "qlearning · Taxi-v4 · learning_rate=0.5 (1 seed)",
    ]


def test_runs_of_other_envs_and_configs_in_one_folder_are_drawn_apart(runs, one_evaluation, tmp_path):
    group, single = runs
    import shutil

    mixed = tmp_path / "mixed"
    for i, run in enumerate((group / "seed-1", group / "seed-2", single, one_evaluation)):
        shutil.copytree(run, mixed / f"run-{i}")
    groups, legend, _ = _draw(mixed)
    assert sorted(g["runs"] for g in groups) == [1, 1, 2]
    assert sorted(legend) == [
        "qlearning · FrozenLake8x8-v1 (1 seed)",
        "qlearning · Taxi-v4 · learning_rate=0.1 (2 seeds)",
        "qlearning · Taxi-v4 · learning_rate=0.5 (1 seed)",
    ]


def test_the_same_run_given_twice_counts_once(runs):
    group, _ = runs
    groups, _, _ = _draw(group, group / "seed-1")
    assert [g["runs"] for g in groups] == [4]


def test_a_run_evaluated_once_is_drawn_as_a_marker(one_evaluation):
    groups, _, (line,) = _draw(one_evaluation)
    assert list(groups[0]["steps"]) == [300]
    assert len(line.get_xdata()) == 1 and line.get_marker() == "o"


def test_fewer_than_5_seeds_get_a_note(cli, runs, tmp_path):
    group, single = runs
    code, out, err = cli("plot", group, single, "--out", tmp_path / "curves.png")
    assert code == 0, err
    (note,) = [line for line in out.splitlines() if line.startswith("note:")]
    assert "fewer than 5 seeds" in note and "learning_rate=0.5 (1 seed)" in note and "(4 seeds)" in note


@pytest.mark.parametrize("name", ["curves.txt", "curves"])
def test_plot_refuses_a_file_that_is_not_an_image(cli, runs, tmp_path, name):
    group, _ = runs
    code, _, err = cli("plot", group, "--out", tmp_path / name)
    assert code == 2 and "is not an image format" in err and ".png" in err and ".svg" in err
    assert err.count("\n") == 1 and not (tmp_path / name).exists()


def test_plot_force_overwrites(cli, runs, tmp_path):
    group, _ = runs
    existing = tmp_path / "curves.svg"
    existing.write_text("old")
    code, _, err = cli("plot", group, "--out", existing, "--force")
    assert code == 0, err
    assert "<svg" in existing.read_text()
