"""Several seeds of one config: runs one after another or in parallel processes, each in its
own run folder under one group folder."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.config import RunConfig
from rlkit.errors import RlkitError
from rlkit.trainer import Run, new_run_dir


def parse_seeds(text: str) -> list[int]:
    """'1,2,3' or '1-5' (inclusive) or a mix: '1-3,7'."""
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise RlkitError(f"--seeds {text!r} is not a list of seeds; valid: 1,2,3 or 1-5 or 1-3,7") from None
        if first > last:
            raise RlkitError(f"--seeds {text!r}: {part.strip()} is a reversed range; write it low-high: {last}-{first}")
        seeds += range(first, last + 1)
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise RlkitError(f"--seeds {text!r}: give distinct seeds, 0 or more")
    return seeds


def _train_seed(config: RunConfig, run_dir: Path, progress: bool) -> dict[str, Any]:
    result = Run(config, progress=progress).train(run_dir)
    return {
        "seed": config.train.seed,
        "run": str(run_dir),
        "return_mean": result["return_mean"],
        "return_std": result["return_std"],
        "best_eval_return": result["best_eval_return"],
    }


def train_seeds(
    config: RunConfig, seeds: list[int], root: Path, workers: int = 1, progress: bool = True
) -> dict[str, Any]:
    """Train `config` once per seed under a new group folder; returns and writes group.json."""
    configs = [dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed)) for seed in seeds]
    Run(configs[0], progress=False)  # refuse a config that cannot run before any folder exists
    group = new_run_dir(config, root, label=f"seeds{seeds[0]}-{seeds[-1]}")
    folders = [group / f"seed-{seed}" for seed in seeds]
    for folder in folders:
        folder.mkdir()
    print(f"group folder: {group}\nwatch it:     rlkit board {root}", flush=True)
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(min(workers, len(seeds))) as pool:
            results = pool.starmap(_train_seed, [(c, f, False) for c, f in zip(configs, folders)])
    else:
        results = [_train_seed(c, f, progress) for c, f in zip(configs, folders)]
    finals = [r["return_mean"] for r in results]
    summary = {
        "group": str(group),
        "env_id": config.env.id,
        "agent": config.agent_name,
        "seeds": seeds,
        "return_mean": float(np.mean(finals)),
        "return_std": float(np.std(finals)),
        "runs": results,
    }
    (group / "group.json").write_text(json.dumps(summary, indent=1))
    return summary
