"""Fastest wall-clock to solve CartPole-v1: rlkit's `dqn-fast` preset against Stable-Baselines3
DQN with the SB3 zoo's CartPole-v1 set, in one run, one torch thread, the same seeds.

Judged by the training seconds (construction and any compilation included, evaluation time
left out) to a first greedy evaluation of 20 episodes with a mean ≥ 475, evaluated every
2,500 steps, each seed given at most 50,000 steps. Both libraries stop a seed at its first
solve (an SB3 callback, rlkit's train.stop_at_return). Prints one JSON line: per library the
median seconds and steps over seeds (a seed that never solves counts as infinitely slow),
the seeds solved, each seed's numbers, and the ratio SB3/rlkit of the median seconds.

SB3 is never a dependency of rlkit: install it into the benchmark's own environment, e.g.
    python -m venv --system-site-packages .bench
    .bench/bin/pip install -c constraints.txt stable-baselines3
    .bench/bin/python scripts/bench_fast_cartpole.py --seeds 101-110
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from bench_cartpole import SOLVED, first_solved, greedy_return, median, zoo_model

from rlkit.config import build_config
from rlkit.run.trainer import Run, new_run_dir

INTERVAL, EPISODES, STEPS = 2_500, 20, 50_000


def run_rlkit(seed: int, preset: str, extra: list[str]) -> dict[str, Any]:
    overrides = [
        *extra,
        f"eval_interval={INTERVAL}",
        f"eval_episodes={EPISODES}",
        f"stop_at_return={SOLVED}",
        "torch_threads=1",
        "device=cpu",
    ]
    config = build_config(preset, "cartpole", steps=STEPS, seed=seed, overrides=overrides)
    started = time.perf_counter()
    run = Run(config, progress=False)  # networks, optimizer, replay: counted, as SB3's constructor is
    construction = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as root:
        result = run.train(new_run_dir(config, Path(root)))
    seconds, steps = first_solved(result["evaluations"])
    updates = run.agent.gradient_steps_done if steps else None  # at the solve: the run stops there
    return {"seed": seed, "solved_s": seconds and construction + seconds, "solved_steps": steps, "updates": updates}


def run_sb3(seed: int) -> dict[str, Any]:
    from stable_baselines3.common.callbacks import BaseCallback

    class StopWhenSolved(BaseCallback):
        """Greedy evaluation every INTERVAL steps, its time kept out of the training time;
        stops training at the first solve."""

        def __init__(self, started: float):
            super().__init__()
            self.started, self.eval_seconds = started, 0.0
            self.evaluations: list[dict[str, Any]] = []

        def _on_step(self) -> bool:
            if self.num_timesteps % INTERVAL:
                return True
            began = time.perf_counter()
            value = greedy_return(self.model, EPISODES, seed + 1_000_003)
            self.eval_seconds += time.perf_counter() - began
            elapsed = time.perf_counter() - self.started - self.eval_seconds
            self.evaluations.append({"step": self.num_timesteps, "return_mean": value, "train_time_s": elapsed})
            return value < SOLVED

    started = time.perf_counter()
    model = zoo_model(seed)
    callback = StopWhenSolved(started)
    model.learn(STEPS, callback=callback)
    seconds, steps = first_solved(callback.evaluations)
    return {"seed": seed, "solved_s": seconds, "solved_steps": steps}


def each_seed(name: str, runner: Any, seeds: list[int]) -> list[dict[str, Any]]:
    """Run every seed, a line per seed on stderr as it ends (stdout keeps the one JSON line)."""
    runs = []
    for seed in seeds:
        runs.append(runner(seed))
        print(name, json.dumps(runs[-1]), file=sys.stderr, flush=True)
    return runs


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "solved_s": median([r["solved_s"] for r in runs]),
        "solved_steps": median([r["solved_steps"] for r in runs]),
        "seeds_solved": sum(r["solved_steps"] is not None for r in runs),
        **({"updates": median([r["updates"] for r in runs])} if "updates" in runs[0] else {}),
        "per_seed": runs,
    }


def seed_list(text: str) -> list[int]:
    if "-" in text:
        first, last = (int(part) for part in text.split("-"))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="101-110", help="seeds: 1,2,3 or 101-110 (default: 101-110)")
    parser.add_argument("--preset", default="dqn-fast", help="rlkit agent preset (default: dqn-fast)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a value of the rlkit preset (repeatable)"
    )
    parser.add_argument("--only", choices=["rlkit", "sb3"], help="run one library only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = seed_list(args.seeds)
    results: dict[str, Any] = {}
    with contextlib.redirect_stdout(sys.stderr):  # the runs' console lines: stdout keeps the JSON line
        if args.only != "sb3":
            results["rlkit"] = summarise(each_seed("rlkit", lambda seed: run_rlkit(seed, args.preset, args.set), seeds))
        if args.only != "rlkit":
            results["sb3"] = summarise(each_seed("sb3", run_sb3, seeds))
    line: dict[str, Any] = {"benchmark": "cartpole_time_to_solve", "preset": args.preset, "overrides": args.set}
    line |= {"seeds": seeds, **results}
    if len(results) == 2 and results["rlkit"]["solved_s"] and results["sb3"]["solved_s"]:
        line["sb3_over_rlkit_seconds"] = results["sb3"]["solved_s"] / results["rlkit"]["solved_s"]
    print(json.dumps(line))


if __name__ == "__main__":
    main()
