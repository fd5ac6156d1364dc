"""The README's MinAtar table: per game, each seed's final greedy return (eval.json, 100
episodes), their mean with a 95% t-interval over seeds, and the minutes of each run: wall-clock,
and training alone (its evaluations left out).

    python scripts/minatar_table.py runs/minatar-*/dqn-minatar-fast
    python scripts/minatar_table.py docs/results/minatar/minatar-*/rainbow-minatar-fast

docs/results/minatar keeps the eval.json and config.json of the README's MinAtar runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

# two-sided 95% Student t quantiles by degrees of freedom (1.96 beyond 30)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
T95 |= {11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093}
T95 |= {20: 2.086, 25: 2.060, 30: 2.042}


def t95(degrees: int) -> float:
    return T95.get(degrees) or T95[max(d for d in T95 if d <= degrees)] if degrees <= 30 else 1.96


def row(folder: Path) -> str:
    results = [json.loads(path.read_text()) for path in sorted(folder.glob("*/eval.json"))]
    results.sort(key=lambda result: result["seed"])
    finals = [result["return_mean"] for result in results]
    minutes = [result["evaluations"][-1]["time_s"] / 60 for result in results]
    # training alone: the evaluations (a final one of 100 Freeway episodes is 250k greedy steps) left out
    training = [result["evaluations"][-1].get("train_time_s") for result in results]
    mean = statistics.fmean(finals)
    seeds = ", ".join(f"{final:.1f} ({result['seed']})" for final, result in zip(finals, results))
    steps = results[0]["step"]
    interval = " (one seed: no interval)"
    if len(finals) > 1:
        half = t95(len(finals) - 1) * statistics.stdev(finals) / len(finals) ** 0.5
        interval = f" [{mean - half:.1f}, {mean + half:.1f}]"
    wall = f"{min(minutes):.1f}–{max(minutes):.1f}" if len(minutes) > 1 else f"{minutes[0]:.1f}"
    train = "–"  # a run that did not record its training time
    if None not in training:
        train = f"{min(training) / 60:.1f}–{max(training) / 60:.1f}" if len(training) > 1 else f"{training[0] / 60:.1f}"
    return f"| {results[0]['env_id']} | {steps:,} | {seeds} | {mean:.1f}{interval} | {wall} | {train} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="one folder of runs per game (<run-dir>/<env>/<agent>)")
    args = parser.parse_args()
    print(
        "| game | steps | final greedy return (seed) | mean [95% CI] | wall minutes | training minutes |\n"
        "|---|---|---|---|---|---|"
    )
    for folder in args.folders:
        if any(folder.glob("*/eval.json")):  # runs still training have none yet
            print(row(folder))


if __name__ == "__main__":
    main()
