"""scripts/ablate.py on a tiny budget: runs, table numbers from the runs, and a refused --out."""

import json

import numpy as np
import pytest


def test_ablation_tables_come_from_the_runs(ablate, tmp_path, capsys):
    out = tmp_path / "ablation"
    args = ["--out", out, "--envs", "cartpole", "--variants", "plain", "all", "--seeds", "1-2"]
    code = ablate.main([str(a) for a in [*args, "--steps", "1200", "--eval-interval", "600", "--workers", "1"]])
    assert code == 0
    summary = json.loads((out / "ablation.json").read_text())
    rows = summary["cartpole"]["variants"]
    assert summary["cartpole"]["threshold"] == 475 and set(rows) == {"plain", "all"}
    for variant, row in rows.items():
        finals = [json.loads((out / "cartpole" / variant / f"seed-{s}" / "eval.json").read_text()) for s in (1, 2)]
        np.testing.assert_allclose(row["finals"], [f["return_mean"] for f in finals], rtol=1e-6)
        assert row["final_mean"] == pytest.approx(np.mean(row["finals"]))
        assert row["solved"] == 0 and row["median_steps_to_threshold"] is None  # 1,200 steps solve nothing
    config = json.loads((out / "cartpole" / "all" / "seed-1" / "config.json").read_text())["agent"]
    assert (config["double_q"], config["dueling"], config["n_steps"], config["prioritized_replay"]) == (
        True,
        True,
        3,
        True,
    )
    assert (out / "ablation.png").stat().st_size > 0
    assert "| plain |" in (out / "ablation.md").read_text()
    capsys.readouterr()
    assert ablate.main(["--out", str(out)]) == 2  # never overwrites a finished ablation
    assert "exists" in capsys.readouterr().err

    # retabulated without training: an env id this process has not registered (as MinAtar's are
    # until an env is made) has no threshold to count, and the table says so
    for config_file in out.rglob("config.json"):
        config = json.loads(config_file.read_text())
        config["env"]["id"] = "NotRegistered/Game-v0"
        config_file.write_text(json.dumps(config))
    assert ablate.main([str(a) for a in [*args, "--steps", "1200", "--summarize-only"]]) == 0
    assert json.loads((out / "ablation.json").read_text())["cartpole"]["threshold"] is None
    table = (out / "ablation.md").read_text()
    assert "NotRegistered/Game-v0** (1,200 steps; no threshold)" in table
    assert all(line.endswith("| — | — |") for line in table.splitlines() if line.startswith("| plain"))


def test_rainbow_ablation_variants_each_remove_one_part(ablate):
    from rlkit.config import build_config

    full = build_config("rainbow-minatar", "minatar-breakout", overrides=ablate.REMOVED["rainbow"]).agent
    assert full.head == "c51" and full.noisy and full.n_steps == 3 and full.prioritized_replay
    removed = {
        name: build_config("rainbow-minatar", "minatar-breakout", overrides=ablate.REMOVED[name]).agent
        for name in ("no-distributional", "no-noisy", "no-n-step", "no-prioritized")
    }
    assert removed["no-distributional"].head == "q" and removed["no-distributional"].noisy
    assert not removed["no-noisy"].noisy and removed["no-noisy"].head == "c51"
    assert removed["no-noisy"].exploration_final_eps == 0.01  # the preset's ε schedule explores instead
    assert removed["no-n-step"].n_steps == 1 and removed["no-n-step"].prioritized_replay
    assert not removed["no-prioritized"].prioritized_replay and removed["no-prioritized"].n_steps == 3
