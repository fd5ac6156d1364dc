"""What Ray costs a sweep: the time from Tune starting a trial to its first env step, and the
sweep's efficiency N × (one trial's wall time alone) / (K × the sweep's wall time) for N trials
at concurrency K. Prints one JSON line.

    python scripts/bench_tune.py --agent dqn --env cartpole --trials 4 --concurrent 2 --steps 20000

It starts a local Ray instance (through `rlkit tune`): where Ray must not bind the machine's
network address, run it inside a network namespace with only loopback up
(`unshare --net bash -c 'ip link set lo up && python scripts/bench_tune.py'`).

"Alone" is each trial's config trained here, in this process, one after another with the same
settings (one torch thread): the sweep must do the same work plus Ray's (starting the instance,
a worker process per trial with its imports, reports, scheduling). The sweep's wall time is the
whole `rlkit tune` command with no confirmation round (--top 0), Ray's start and stop included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rlkit.config import config_from_dict
from rlkit.run.trainer import Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="dqn")
    parser.add_argument("--env", default="cartpole")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--set", action="append", default=["train.eval_interval=5000", "train.final_eval_episodes=10"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "runs"
        command = [
            sys.executable,
            "-m",
            "rlkit.cli",
            "tune",
            "--agent",
            args.agent,
            "--env",
            args.env,
            "--samples",
            str(args.trials),
            "--concurrent",
            str(args.concurrent),
            "--steps",
            str(args.steps),
            "--scheduler",
            "fifo",
            "--top",
            "0",
            "--run-dir",
            str(root),
        ]
        for item in args.set:
            command += ["--set", item]
        start = time.perf_counter()
        process = subprocess.run(command, capture_output=True, text=True)
        sweep_s = time.perf_counter() - start
        if process.returncode != 0:
            sys.exit(f"rlkit tune failed:\n{process.stdout[-2000:]}\n{process.stderr[-2000:]}")
        sweep = next(root.glob("*/*/*/sweep.json")).parent
        state = json.loads((sweep / "sweep.json").read_text())
        startup = []
        for trial in state["trials"]:
            worker = json.loads((sweep / "trials" / f"{trial['name']}.json").read_text())
            driver = json.loads((sweep / "trials" / f"{trial['name']}.tune.json").read_text())
            startup.append(worker["attempts"][0]["training_start"] - driver["scheduled"][0])

        alone = []
        for trial in state["trials"]:
            folder = Path(scratch) / "alone" / trial["name"]
            folder.mkdir(parents=True)
            config = config_from_dict(trial["config"])
            begin = time.perf_counter()
            Run(config, progress=False).train(folder)
            alone.append(time.perf_counter() - begin)

    print(
        json.dumps(
            {
                "agent": args.agent,
                "env": args.env,
                "trials": args.trials,
                "concurrent": args.concurrent,
                "steps": args.steps,
                "trial_alone_s": [round(t, 2) for t in alone],
                "sweep_s": round(sweep_s, 2),
                "efficiency": round(sum(alone) / (args.concurrent * sweep_s), 3),
                "ray_start_to_first_step_s": {
                    "median": round(statistics.median(startup), 2),
                    "max": round(max(startup), 2),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
