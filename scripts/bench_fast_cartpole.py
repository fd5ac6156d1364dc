"""Fastest wall-clock to solve CartPole-v1: rlkit's `dqn-fast` preset against Stable-Baselines3
DQN with the SB3 zoo's CartPole-v1 set, in one run, one torch thread, the same seeds.

Judged by the training seconds (construction and any compilation included, evaluation time
left out) to a first greedy evaluation of 20 episodes with a mean ≥ 475, evaluated every
2,500 steps, and by the policy each seed ends with: every seed trains its whole 50,000 steps,
as a user's run does, and a final greedy evaluation of 20 episodes judges it. Prints one JSON
line: per library the median seconds and steps to the first solve over seeds (a seed that
never solves counts as infinitely slow), the seeds that ever solved, the seeds whose final
policy is solved, the collapses (solved once, final more than 25% below 475), each seed's
numbers, and the ratio SB3/rlkit of the median seconds to the first solve.

SB3 is never a dependency of rlkit: install it into the benchmark's own environment, e.g.
    python -m venv --system-site-packages .bench
    .bench/bin/pip install -c constraints.txt stable-baselines3
    .bench/bin/python scripts/bench_fast_cartpole.py --seeds 101-110
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from bench_cartpole import SOLVED, first_solved, greedy_return, median, zoo_model

from rlkit.config import build_config
from rlkit.run.study import COLLAPSE_FRACTION
from rlkit.run.trainer import Run, new_run_dir

INTERVAL, EPISODES, STEPS = 2_500, 20, 50_000
COLLAPSE_BELOW = SOLVED - COLLAPSE_FRACTION * SOLVED  # a seed that solved and ends below this collapsed


def ending(seed: int, seconds: float | None, steps: int | None, final: float) -> dict[str, Any]:
    """One seed's numbers: its first solve and its final policy."""
    return {
        "seed": seed,
        "solved_s": seconds,
        "solved_steps": steps,
        "final_return": final,
        "final_solved": final >= SOLVED,
        "collapsed": steps is not None and final < COLLAPSE_BELOW,
    }


def run_rlkit(seed: int, preset: str, extra: list[str]) -> dict[str, Any]:
    overrides = [
        *extra,
        f"eval_interval={INTERVAL}",
        f"eval_episodes={EPISODES}",
        f"final_eval_episodes={EPISODES}",
        "torch_threads=1",
        "device=cpu",
    ]
    config = build_config(preset, "cartpole", steps=STEPS, seed=seed, overrides=overrides)
    started = time.perf_counter()
    run = Run(config, progress=False)  # networks, optimizer, replay: counted, as SB3's constructor is
    construction = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as root:
        result = run.train(new_run_dir(config, Path(root)))
    seconds, steps = first_solved(result["evaluations"][:-1])  # the periodic evaluations; the last is the final
    return ending(seed, seconds and construction + seconds, steps, result["return_mean"])


def run_sb3(seed: int) -> dict[str, Any]:
    from stable_baselines3.common.callbacks import BaseCallback

    class GreedyEvaluations(BaseCallback):
        """Greedy evaluation every INTERVAL steps, its time kept out of the training time."""

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
            return True

    started = time.perf_counter()
    model = zoo_model(seed)
    callback = GreedyEvaluations(started)
    model.learn(STEPS, callback=callback)
    periodic = [e for e in callback.evaluations if e["step"] < STEPS]
    seconds, steps = first_solved(periodic)
    last = callback.evaluations[-1] if callback.evaluations else None  # the callback's evaluation at STEPS
    final = last["return_mean"] if last and last["step"] == STEPS else greedy_return(model, EPISODES, seed + 1_000_003)
    return ending(seed, seconds, steps, final)


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
        "final_solved": sum(r["final_solved"] for r in runs),
        "collapses": [r["seed"] for r in runs if r["collapsed"]],
        "final_median": float(statistics.median(r["final_return"] for r in runs)),
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
