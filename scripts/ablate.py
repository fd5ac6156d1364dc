"""Ablation of the DQN family, two ways: plain DQN, each improvement alone and all of them
together (added to `dqn`, the default); or Rainbow with each of four parts removed in turn
(removed from a Rainbow preset, as Hessel et al. 2018 and Obando-Ceron & Castro 2021 ablate).

Trains --agent on each env (with the env preset's [tuned.dqn] values, the family's switches
set by the variant) once per variant and seed, then writes into --out:
  ablation.png   the greedy evaluation return against env steps, mean over seeds with a 95%
                 bootstrap band, one panel per env;
  ablation.md    a table per env: final return (mean and IQM over seeds, 95% bootstrap
                 intervals) and the env steps until the greedy evaluation first reached the env's
                 reward_threshold (median over the seeds that reached it, and how many did);
  ablation.json  the same numbers, and every run's final return.
Each run is an ordinary run folder (out/<env>/<variant>/seed-<n>), so `rlkit plot` and
`rlkit board` read them too.

    python scripts/ablate.py --out ablation --seeds 1-5 --steps 50000 --workers 2
    python scripts/ablate.py --out rainbow-ablation --agent rainbow-minatar-fast \
        --envs minatar-breakout minatar-seaquest --variants rainbow no-distributional no-noisy \
        no-n-step no-prioritized --seeds 1-3 --steps 500000 --eval-interval 50000 --final-episodes 100
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from rlkit.config import build_config
from rlkit.errors import RlkitError
from rlkit.plot import draw, find_runs, read_curve
from rlkit.run.launch import parse_seeds
from rlkit.run.study import bootstrap_interval, iqm
from rlkit.run.study import threshold as study_threshold
from rlkit.run.trainer import Run

SWITCHES = {
    "double_q": ["double_q=true"],
    "dueling": ["dueling=true"],
    "n_steps=3": ["n_steps=3"],
    "prioritized": ["prioritized_replay=true"],
}
# every switch off first, so that an env preset's [tuned.dqn] table (CartPole turns them on) does not leak in
PLAIN = ["double_q=false", "dueling=false", "n_steps=1", "prioritized_replay=false"]
ADDED = {
    "plain": PLAIN,
    **{name: [*PLAIN, *switch] for name, switch in SWITCHES.items()},
    # prioritized replay whose importance weights are divided by the buffer's largest, not the batch's
    "prioritized-buffer": [*PLAIN, "prioritized_replay=true", "per_weights=buffer"],
    "all": [*PLAIN, *(s for switch in SWITCHES.values() for s in switch)],
}
# Rainbow's parts taken out one at a time (the preset's own ε schedule explores without noisy nets)
REMOVED = {
    "rainbow": [],
    "no-distributional": ["head=q"],
    "no-noisy": ["noisy=false"],
    "no-n-step": ["n_steps=1"],
    "no-prioritized": ["prioritized_replay=false"],
}
VARIANTS = {**ADDED, **REMOVED}


def _train(
    agent: str, env: str, variant: str, seed: int, steps: int, eval_interval: int, final_episodes: int, folder: Path
) -> float:
    overrides = [
        f"eval_interval={eval_interval}",
        "eval_episodes=10",
        f"final_eval_episodes={final_episodes}",
        *VARIANTS[variant],
    ]
    config = build_config(agent, env, steps, seed, overrides)
    start = time.perf_counter()
    Run(config, progress=False).train(folder)
    return time.perf_counter() - start


def _steps_to_threshold(run: Path, threshold: float | None) -> int | None:
    if threshold is None:  # an env without a reward_threshold (MinAtar's): no goal to count
        return None
    steps, values = read_curve(run, "eval/return_mean")
    reached = np.flatnonzero(values >= threshold)
    return int(steps[reached[0]]) if len(reached) else None


def summarize(out: Path, envs: list[str], variants: list[str]) -> dict:
    """The table's numbers for every env and variant, from the runs' event files."""
    summary: dict = {}
    for env in envs:
        config = json.loads(next((out / env).rglob("config.json")).read_text())
        env_id = config["env"]["id"]
        # the runs' train.solved_return, else the registered threshold; none for an id this process has
        # not registered (MinAtar's, ALE's: --summarize-only makes no env) or one that has none
        threshold = study_threshold(config)
        rows = {}
        for variant in variants:
            runs = find_runs(out / env / variant)
            finals = np.array([read_curve(run, "eval/return_mean")[1][-1] for run in runs])
            solved = [s for s in (_steps_to_threshold(run, threshold) for run in runs) if s is not None]
            rows[variant] = {
                "seeds": len(runs),
                "final_mean": float(finals.mean()),
                "final_mean_ci": bootstrap_interval(finals, np.mean),
                "final_iqm": iqm(finals),
                "final_iqm_ci": bootstrap_interval(finals, iqm),
                "solved": len(solved),
                "median_steps_to_threshold": float(np.median(solved)) if solved else None,
                "finals": finals.tolist(),
            }
        summary[env] = {"env_id": env_id, "threshold": threshold, "variants": rows}
    return summary


def markdown(summary: dict, steps: int) -> str:
    lines = []
    for table in summary.values():
        threshold = f"threshold {table['threshold']:g}" if table["threshold"] is not None else "no threshold"
        lines += [
            f"**{table['env_id']}** ({steps:,} steps; {threshold})",
            "",
            "| variant | final return, mean [95% CI] | IQM [95% CI] | seeds reaching the threshold | median steps to it |",
            "|---|---|---|---|---|",
        ]
        for variant, row in table["variants"].items():
            low, high = row["final_mean_ci"]
            iqm_low, iqm_high = row["final_iqm_ci"]
            median = row["median_steps_to_threshold"]
            reached = f"{row['solved']}/{row['seeds']}" if table["threshold"] is not None else "—"
            lines.append(
                f"| {variant} | {row['final_mean']:.1f} [{low:.1f}, {high:.1f}] | {row['final_iqm']:.1f} "
                f"[{iqm_low:.1f}, {iqm_high:.1f}] | {reached} | "
                f"{f'{median:,.0f}' if median is not None else '—'} |"
            )
        lines.append("")
    return "\n".join(lines)


def figure(out: Path, envs: list[str], variants: list[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(envs), figsize=(6.5 * len(envs), 5.2), squeeze=False)
    for env, ax in zip(envs, axes[0]):
        draw([out / env / variant for variant in variants], "eval/return_mean", ax)
        ax.get_legend().remove()
        ax.set_ylabel("greedy evaluation return")
    lines = axes[0][0].get_lines()  # one per variant, in the order given
    columns = min(len(variants), 3 * len(envs))  # about three names fit across one panel
    rows = -(-len(variants) // columns)
    fig.legend(lines, variants, loc="lower center", ncol=columns, frameon=False)
    fig.tight_layout(rect=(0, 0.05 * rows + 0.03, 1, 1))
    path = out / "ablation.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the runs, figure and tables")
    parser.add_argument("--envs", nargs="+", default=["cartpole", "acrobot"], help="env presets or gymnasium ids")
    parser.add_argument("--agent", default="dqn", help="the agent preset the variants change (default: dqn)")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(ADDED),
        choices=list(VARIANTS),
        help=f"switches added to plain DQN ({', '.join(ADDED)}) or Rainbow's parts removed ({', '.join(REMOVED)})",
    )
    parser.add_argument("--seeds", default="1-5", help="e.g. 1-5 or 6,7,8")
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per run")
    parser.add_argument("--eval-interval", type=int, default=5_000, help="greedy evaluation every this many steps")
    parser.add_argument("--final-episodes", type=int, default=20, help="episodes of each run's final evaluation")
    parser.add_argument("--workers", type=int, default=2, help="runs trained in parallel (one torch thread each)")
    parser.add_argument("--summarize-only", action="store_true", help="only redraw and retabulate existing runs")
    parser.add_argument(
        "--force",
        action="store_true",
        help="train into an existing --out, replacing the runs of the envs and variants given and the tables",
    )
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
        if min(args.steps, args.eval_interval, args.workers, args.final_episodes) < 1:
            raise RlkitError("--steps, --eval-interval, --final-episodes and --workers must be 1 or more")
        if not args.summarize_only:
            if args.out.exists() and not args.out.is_dir():
                raise RlkitError(f"--out {args.out}: is a file; give a folder for the runs, figure and tables")
            if args.out.exists() and not args.force:
                raise RlkitError(
                    f"--out {args.out}: exists; give a new folder, add --summarize-only to retabulate its runs, "
                    "or --force to train them again"
                )
            for env in args.envs:  # a bad env, agent or variant for them: fail before any run
                for variant in args.variants:
                    build_config(args.agent, env, args.steps, seeds[0], VARIANTS[variant])
            jobs = []
            for env in args.envs:
                for variant in args.variants:
                    if (args.out / env / variant).exists():  # only with --force: its seeds are trained anew
                        shutil.rmtree(args.out / env / variant)
                    for seed in seeds:
                        folder = args.out / env / variant / f"seed-{seed}"
                        folder.mkdir(parents=True)
                        jobs.append(
                            (
                                args.agent,
                                env,
                                variant,
                                seed,
                                args.steps,
                                args.eval_interval,
                                args.final_episodes,
                                folder,
                            )
                        )
            start = time.perf_counter()
            if args.workers == 1:
                seconds = [_train(*job) for job in jobs]
            else:
                with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
                    seconds = pool.starmap(_train, jobs)
            print(
                f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s (median {np.median(seconds):.0f} s per run)"
            )
        summary = summarize(args.out, args.envs, args.variants)
        (args.out / "ablation.json").write_text(json.dumps({"steps": args.steps, "seeds": seeds, **summary}, indent=1))
        table = markdown(summary, args.steps)
        (args.out / "ablation.md").write_text(table)
        print(table)
        print(f"figure: {figure(args.out, args.envs, args.variants)}")
    except RlkitError as error:
        print(f"ablate.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
