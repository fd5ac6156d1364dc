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
    line = next(row for row in stdout.splitlines() if row.startswith(group.name))
    _, seeds, final_mean, iqm_value, *_ = line.replace(f"{group.name} (4 seeds)", "g").split()
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
    assert code == 2 and "file exists" in err and existing.read_bytes() == b"keep"
    code, _, err = cli("plot", group, "--out", tmp_path / "x.png", "--metric", "eval/nope")
    assert code == 2 and "has no scalar 'eval/nope'" in err
