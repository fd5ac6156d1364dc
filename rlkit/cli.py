"""The `rlkit` command: list presets, train, resume and evaluate agents.

Exit codes: 0 success, 2 bad input (one line on stderr), 1 anything else, 130 interrupted
(after saving a checkpoint).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rlkit.errors import RlkitError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2 like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise RlkitError(f"{self.prog}: {message}")


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; valid: 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rlkit", description="Value-based reinforcement learning: Q-learning and DQN.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="print every agent and env preset, one line each")

    train = commands.add_parser(
        "train",
        help="train an agent (or resume a run)",
        description="Train an agent. Keys for --set: rlkit train --help-keys.",
    )
    train.add_argument("--agent", default="qlearning", help="agent preset name or TOML file (default: qlearning)")
    train.add_argument("--env", default="taxi", help="env preset, gymnasium id or TOML file (default: taxi)")
    train.add_argument("--steps", type=_natural, help="total environment steps")
    train.add_argument("--seed", type=_natural, help="random seed")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set learning_rate=3e-4 (repeatable)",
    )
    train.add_argument(
        "--seeds", metavar="SEEDS", help="several seeds, each its own run under one group folder: 1,2,3 or 1-5"
    )
    train.add_argument(
        "--workers", type=_natural, default=1, help="with --seeds: runs in parallel processes (default: 1)"
    )
    train.add_argument(
        "--run-dir", type=Path, default=Path("runs"), help="folder the run folder goes under (default: runs)"
    )
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its latest checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--help-keys", action="store_true", help="list every config key with its default and exit")

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint or a run's latest checkpoint")
    evaluate.add_argument("path", type=Path, help="checkpoint folder or run folder")
    evaluate.add_argument("--best", action="store_true", help="a run folder's best checkpoint instead of its latest")
    evaluate.add_argument("--episodes", type=_natural, default=10, help="episodes to play (default: 10)")
    evaluate.add_argument("--seed", type=_natural, default=0, help="seed of the evaluation envs (default: 0)")
    evaluate.add_argument("--epsilon", type=float, help="exploration rate (default: 0, or 0.05 for Atari)")
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="also write the results to FILE")
    evaluate.add_argument("--video", type=Path, metavar="DIR", help="record the episodes as videos in DIR")
    evaluate.add_argument("--num-envs", type=_natural, default=1, help="envs played together (default: 1)")

    plot = commands.add_parser("plot", help="learning curves of runs or groups of seeds, with 95% bootstrap bands")
    plot.add_argument("paths", type=Path, nargs="+", metavar="RUN_OR_GROUP", help="run folders or group folders")
    plot.add_argument("--out", type=Path, required=True, metavar="FILE.png", help="image to write")
    plot.add_argument("--metric", default="eval/return_mean", help="scalar to plot (default: eval/return_mean)")

    board = commands.add_parser("board", help="start TensorBoard on a runs folder (localhost)")
    board.add_argument("runs_dir", type=Path, nargs="?", default=Path("runs"), help="runs folder (default: runs)")
    board.add_argument("--port", type=_natural, default=6006, help="port on localhost (default: 6006)")
    return parser


def _board(args: argparse.Namespace) -> int:
    import time

    from rlkit.board import start_board

    address = start_board(args.runs_dir, args.port)
    print(f"TensorBoard on {args.runs_dir}: {address}  (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def _plot(args: argparse.Namespace) -> int:
    from rlkit.plot import plot, summary_table

    groups = plot(args.paths, args.out, args.metric)
    print(summary_table(groups))
    print(f"plot written to {args.out}")
    return 0


def _list() -> int:
    from rlkit.config import load_preset, preset_files

    for kind in ("agents", "envs"):
        print(f"{kind}:")
        for name in preset_files(kind):
            _, data = load_preset(kind, name)
            print(f"  {name:<16} {data.get('description', '')}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from rlkit import trainer
    from rlkit.config import build_config, key_help

    if args.help_keys:
        print(key_help())
        return 0
    if args.seeds is not None:
        from rlkit.seeds import parse_seeds, train_seeds

        if args.seed is not None or args.resume is not None:
            raise RlkitError("--seeds runs a new group of runs; it does not go with --seed or --resume")
        seeds = parse_seeds(args.seeds)
        config = build_config(args.agent, args.env, args.steps, seeds[0], args.set)
        summary = train_seeds(config, seeds, args.run_dir, max(args.workers, 1), progress=not args.no_progress)
        for run in summary["runs"]:
            print(f"seed {run['seed']}: return {run['return_mean']:.2f} ± {run['return_std']:.2f}  ({run['run']})")
        print(f"over {len(seeds)} seeds: final return {summary['return_mean']:.2f} ± {summary['return_std']:.2f}")
        return 0
    if args.resume is not None:
        if args.set or args.seed is not None:
            raise RlkitError("--resume continues a run with its saved config; only --steps may be given with it")
        result = trainer.resume(args.resume, args.steps, progress=not args.no_progress)
    else:
        config = build_config(args.agent, args.env, args.steps, args.seed, args.set)
        run = trainer.Run(config, progress=not args.no_progress)
        run_dir = trainer.new_run_dir(config, args.run_dir)
        print(f"run folder: {run_dir}\nwatch it:   tensorboard --logdir {args.run_dir}", flush=True)
        result = run.train(run_dir)
    print(f"return {result['return_mean']:.2f} ± {result['return_std']:.2f} over {result['episodes']} episodes")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from rlkit.evaluate import evaluate_checkpoint

    if args.episodes < 1:
        raise RlkitError("--episodes must be 1 or more")
    if args.epsilon is not None and not 0.0 <= args.epsilon <= 1.0:
        raise RlkitError(f"--epsilon {args.epsilon} is out of range; valid: 0 to 1")
    if args.json is not None and args.json.exists():
        raise RlkitError(f"--json {args.json}: file exists; give a new file name")
    if args.json is not None and not args.json.parent.is_dir():
        raise RlkitError(f"--json {args.json}: folder {args.json.parent} does not exist")
    result = evaluate_checkpoint(
        args.path, args.episodes, args.seed, args.epsilon, args.best, args.video, max(args.num_envs, 1)
    )
    print(
        f"return {result['return_mean']:.2f} ± {result['return_std']:.2f} "
        f"({result['return_min']:.2f}, {result['return_max']:.2f}) over {result['episodes']} episodes"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rlkit` console script."""
    from rlkit.trainer import Interrupted

    try:
        args = build_parser().parse_args(argv)
        handlers = {
            "list": lambda: _list(),
            "train": lambda: _train(args),
            "eval": lambda: _evaluate(args),
            "board": lambda: _board(args),
            "plot": lambda: _plot(args),
        }
        return handlers[args.command]()
    except RlkitError as error:
        print(f"rlkit: error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"rlkit: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("rlkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
