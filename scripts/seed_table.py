"""A Markdown table of seed studies, one row per group of `rlkit train --seeds`, from each
run's final greedy evaluation (the same numbers as `rlkit study GROUP`): seeds solved, collapses (reached
the goal, ended more than 25% of it below), median, IQM, the worst seed and first solves.

    python scripts/seed_table.py runs/cartpole/dqn/*-seeds101-120 runs/acrobot/dqn/*-seeds101-120
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rlkit.errors import RlkitError
from rlkit.run.study import study

HEADER = (
    "| env | agent | steps | solved (final ≥ goal) | collapses | median | IQM [95% CI] | worst (seed) | "
    "first solve: seeds, median steps, median s |\n|---|---|---|---|---|---|---|---|---|"
)


def row(summary: dict) -> str:
    if summary["solved_return"] is None:  # no goal: nothing counts as solved or collapsed
        raise RlkitError(
            f"{summary['env_id']}: no threshold to judge by; set train.solved_return in the runs' config "
            "(the env registers no reward_threshold)"
        )
    low, high = summary["iqm_ci"]
    first, collapses = summary["first_solve"], summary["collapses"]
    solve = "–"
    if first and first["seeds"]:
        solve = f"{first['seeds']}, {first['median_steps']:,.0f}, {first['median_train_seconds']:.1f}"
    return (
        f"| {summary['env_id']} | `{summary['agent']}` | {summary['total_steps']:,} | "
        f"{summary['solved']}/{summary['seeds']} (≥ {summary['solved_return']:g}) | {len(collapses['seeds'])} | "
        f"{summary['median']:.2f} | "
        f"{summary['iqm']:.2f} [{low:.2f}, {high:.2f}] | {summary['worst']['return']:.2f} ({summary['worst']['seed']}) "
        f"| {solve} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="+", type=Path, help="group folders of rlkit train --seeds")
    parser.add_argument("--json", type=Path, help="also write the summaries to this file (refused if it exists)")
    args = parser.parse_args()
    if args.json is not None and args.json.exists():
        print(f"seed_table.py: --json {args.json} exists; give a new file name", file=sys.stderr)
        return 2
    try:
        summaries = [study([group]) for group in args.groups]
    except RlkitError as error:
        print(f"seed_table.py: {error}", file=sys.stderr)
        return 2
    try:
        rows = [row(summary) for summary in summaries]
    except RlkitError as error:
        print(f"seed_table.py: {error}", file=sys.stderr)
        return 2
    print(HEADER)
    print("\n".join(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(summaries, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
