"""The `rlkit` command: list presets, train, resume and evaluate agents.

Exit codes: 0 success, 2 bad input (one line on stderr), 1 anything else, 130 interrupted
(Ctrl-C at any moment, after saving a checkpoint if a run had started; one line, no
traceback), 141 stdout closed by its reader (`rlkit list | head -1`; nothing printed, as for
a tool that SIGPIPE ends).

The module imports only the standard library at its top; each command imports what it needs
(torch comes with the trainer, 1.5–3 s), so `--help`, `--version` and `list` answer at once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import sys
from collections.abc import Sequence
from pathlib import Path

import rlkit
from rlkit.errors import RlkitError

DEFAULT_AGENT, DEFAULT_ENV = "qlearning", "taxi"

# the commands' exceptions for a stopped run (exit 130) and a failed group (exit 1), by module
# and class: main() asks only modules already imported (see _raised_by)
_STOPPED = (
    ("rlkit.run.trainer", "Interrupted"),
    ("rlkit.run.launch", "GroupInterrupted"),
    ("rlkit.tune.sweep", "SweepInterrupted"),
)
_FAILED = (("rlkit.run.launch", "GroupFailed"), ("rlkit.run.checkpoint", "WriteError"))


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2 like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise RlkitError(f"{message} (see {self.prog} --help)")


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; valid: {least} or more") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} is out of range; valid: {least} or more")
    return value


def _natural(text: str) -> int:
    return _whole_number(text, 0)


def _positive(text: str) -> int:
    return _whole_number(text, 1)


def _port(text: str) -> int:
    valid = "valid: 1 to 65535, or 0 for any free port"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; {valid}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is out of range; {valid}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number; valid: a number such as 475")
    return value


def _new_file(option: str, path: Path | None, force: bool) -> None:
    """Refuse an output file that exists (unless `force`), or that cannot be written: its folder
    is missing or read-only. Checked before any work, so no work is lost to a bad target."""
    if path is None:
        return
    if path.is_dir():
        raise RlkitError(f"{option} {path}: is a folder; give a file name")
    if path.exists() and not force:
        raise RlkitError(f"{option} {path}: file exists; give a new file name, or add --force to overwrite it")
    if not path.parent.is_dir():
        raise RlkitError(f"{option} {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise RlkitError(f"{option} {path}: folder {path.parent} is read-only here; give a folder you can write")
    if path.exists() and not os.access(path, os.W_OK):
        raise RlkitError(f"{option} {path}: the file is read-only here; give another file name")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rlkit", description="Value-based reinforcement learning: Q-learning and DQN.")
    parser.add_argument("--version", action="version", version=f"rlkit {rlkit.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    commands.add_parser("list", help="print every algorithm, agent preset and env preset, one line each")

    train = commands.add_parser(
        "train",
        help="train an agent (or resume a run)",
        description="Train an agent. Keys for --set: rlkit train --help-keys.",
    )
    train.add_argument("--agent", help=f"agent preset name or TOML file (default: {DEFAULT_AGENT})")
    train.add_argument("--env", help=f"env preset, gymnasium id or TOML file (default: {DEFAULT_ENV})")
    train.add_argument("--steps", type=_positive, help="total environment steps")
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
        "--workers",
        type=_positive,
        help="with --seeds (or --resume of a group): runs in parallel processes (default: 1, or the group's)",
    )
    train.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="with --seeds (or --resume of a group): run the seeds as tasks on this Ray cluster "
        "(default: $RAY_ADDRESS if set, else local processes); needs the tune extra",
    )
    train.add_argument(
        "--run-dir", type=Path, default=Path("runs"), help="folder the run folder goes under (default: runs)"
    )
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue this run from its latest checkpoint (a checkpoint folder of it is taken to mean the run)",
    )
    horizon = train.add_mutually_exclusive_group()
    horizon.add_argument(
        "--extend-schedules",
        dest="schedules",
        action="store_const",
        const="extend",
        help="with --resume and --steps N: stretch the ε, learning-rate and β schedules to the new total N",
    )
    horizon.add_argument(
        "--keep-schedules",
        dest="schedules",
        action="store_const",
        const="keep",
        help="with --resume and --steps N: keep the schedules' horizon; past it they stay at their final values",
    )
    train.add_argument(
        "--break-lock",
        action="store_true",
        help="with --resume: take over the run's (or group's) lock although its writer may live: for a writer "
        "on a machine that is gone (a lock of a dead process on this machine is taken over without it)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument(
        "--help-keys",
        action="store_true",
        help="list every config key with its help and exit: with --agent or --env, the values they resolve to "
        "(--steps, --seed and --set included); without, the defaults",
    )
    train.add_argument(
        "--print-config",
        action="store_true",
        help="print the whole resolved config (as config.json would hold it) and exit without training",
    )

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint or a run's latest checkpoint")
    evaluate.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="checkpoint folder or run folder; several are evaluated in turn, one line each",
    )
    evaluate.add_argument("--best", action="store_true", help="a run folder's best checkpoint instead of its latest")
    evaluate.add_argument(
        "--episodes", type=_positive, help="episodes to play (default: the run's final_eval_episodes)"
    )
    evaluate.add_argument(
        "--seed",
        type=_natural,
        help="seed of the evaluation's streams (default: the run's seed, which replays its eval.json's episodes)",
    )
    evaluate.add_argument("--epsilon", type=float, help="exploration rate (default: the run's eval_epsilon)")
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="also write the results to FILE")
    evaluate.add_argument("--force", action="store_true", help="overwrite the --json file if it exists")
    evaluate.add_argument("--video", type=Path, metavar="DIR", help="record the episodes as videos in DIR")
    evaluate.add_argument("--num-envs", type=_positive, help="envs played together (default: the run's eval_num_envs)")

    export = commands.add_parser(
        "export",
        help="write a trained policy to a file that runs without rlkit (ONNX, TorchScript, or a Q-table as .npz)",
        description="The network of a DQN-family run as ONNX or TorchScript (observations in, Q values out, "
        "the observation normaliser folded in), or a Q-table as .npz with its state encoding; a JSON file "
        "beside it says what the file takes and gives.",
    )
    export.add_argument("path", type=Path, metavar="PATH", help="run folder (its latest checkpoint) or checkpoint folder")
    export.add_argument("--best", action="store_true", help="a run folder's best checkpoint instead of its latest")
    export.add_argument(
        "--format", required=True, choices=["onnx", "torchscript", "npz"], help="onnx or torchscript (networks), npz (Q-tables)"
    )
    export.add_argument(
        "--out", type=Path, metavar="FILE", help="file to write (default: policy.onnx, policy.pt or policy.npz in the run folder)"
    )

    plot = commands.add_parser(
        "plot",
        help="learning curves of runs or groups of seeds, with 95%% bootstrap bands",
        description="One curve per config: runs of the same env, agent and settings are averaged over their "
        "seeds (mean and 95% bootstrap band); runs that differ are drawn apart, labelled with what differs.",
    )
    plot.add_argument("paths", type=Path, nargs="+", metavar="RUN_OR_GROUP", help="run folders or group folders")
    plot.add_argument(
        "--out", type=Path, required=True, metavar="FILE.png", help="image to write (.png, .pdf, .svg, ...)"
    )
    plot.add_argument("--force", action="store_true", help="overwrite the --out file if it exists")
    plot.add_argument("--metric", default="eval/return_mean", help="scalar to plot (default: eval/return_mean)")

    study = commands.add_parser(
        "study",
        help="how one config does across seeds: solved seeds, median, IQM, worst seed, time to solve",
        description="A summary of the finished runs of one config (a group of rlkit train --seeds), from each "
        "run's final greedy evaluation (eval.json), never its best checkpoint.",
    )
    study.add_argument("paths", type=Path, nargs="+", metavar="GROUP_OR_RUN", help="group folders or run folders")
    study.add_argument(
        "--solved-return",
        type=_finite,
        metavar="R",
        help="return that counts as solved (default: the run's train.solved_return, else the env's reward_threshold)",
    )
    study.add_argument("--json", type=Path, metavar="FILE", help="also write the summary to FILE")
    study.add_argument(
        "--worst-figure",
        type=Path,
        metavar="FILE",
        help="also draw the evaluation curves of the worst seeds (by final return) into FILE (.png, .svg, ...)",
    )
    study.add_argument(
        "--worst", type=int, metavar="N", help="how many seeds --worst-figure draws (default: 5)"
    )
    study.add_argument("--force", action="store_true", help="overwrite the --json or --worst-figure file if it exists")

    tune = commands.add_parser(
        "tune",
        help="hyperparameter search on Ray Tune: random draws, ASHA, the best retrained on fresh seeds",
        description="Random search on Ray Tune. Each trial is a run folder under SWEEP/trials; the top trials are "
        "retrained on fresh seeds; the sweep writes sweep.md, sweep.png and best.toml (an agent preset).",
    )
    tune.add_argument("--agent", help=f"agent preset name or TOML file (default: {DEFAULT_AGENT})")
    tune.add_argument("--env", help=f"env preset, gymnasium id or TOML file (default: {DEFAULT_ENV})")
    tune.add_argument(
        "--space", type=Path, metavar="FILE.toml", help="search space (default: the agent preset's [search] table)"
    )
    tune.add_argument("--samples", type=_positive, help="trials to draw (default: 16; --refine: the parent's)")
    tune.add_argument("--concurrent", type=_positive, help="trials at once (default: the CPUs of this machine)")
    tune.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="G",
        help="GPUs each trial that trains on a GPU requests from Ray: a fraction in (0, 1] or a whole number "
        "(default: the cluster's GPUs shared evenly by the concurrent trials, at most one each)",
    )
    tune.add_argument("--steps", type=_positive, help="total environment steps of each trial")
    tune.add_argument("--seed", type=_natural, help="seed of the draws and of the trials' runs (default: 0)")
    tune.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed override for every trial")
    tune.add_argument(
        "--scheduler", choices=("asha", "fifo"), help="asha: stop poor trials early (default); fifo: run all to the end"
    )
    tune.add_argument("--top", type=_natural, help="trials retrained on fresh seeds after the search (default: 3)")
    tune.add_argument("--confirm-seeds", type=_natural, help="fresh seeds per retrained trial (default: 5)")
    tune.add_argument(
        "--address", metavar="HOST:PORT", help="an existing Ray cluster (default: $RAY_ADDRESS, else a local instance)"
    )
    tune.add_argument(
        "--run-dir", type=Path, default=Path("runs"), help="folder the sweep folder goes under (default: runs)"
    )
    again = tune.add_mutually_exclusive_group()
    again.add_argument("--resume", type=Path, metavar="SWEEP_DIR", help="continue a stopped sweep")
    tune.add_argument(
        "--break-lock",
        action="store_true",
        help="with --resume: take over the sweep's lock from a driver on a machine that is gone",
    )
    again.add_argument(
        "--refine", type=Path, metavar="SWEEP_DIR", help="a next round in a new sweep folder, its space narrowed "
        "around that sweep's best quarter"
    )

    board = commands.add_parser("board", help="start TensorBoard on a runs folder (localhost)")
    board.add_argument("runs_dir", type=Path, nargs="?", default=Path("runs"), help="runs folder (default: runs)")
    board.add_argument(
        "--port", type=_port, default=6006, help="port on localhost: 1 to 65535, or 0 for any free one (default: 6006)"
    )
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
    from rlkit.plot import few_seeds_note, plot, summary_table

    _new_file("--out", args.out, args.force)
    groups = plot(args.paths, args.out, args.metric, force=args.force)
    print(summary_table(groups))
    note = few_seeds_note(groups)
    if note:
        print(f"note: {note}")
    print(f"plot written to {args.out}")
    return 0


def _list() -> int:
    from rlkit.agents import registry
    from rlkit.config import load_preset, preset_files

    print("algorithms (algo = ... in an agent preset; family: the [tuned.<family>] table of env presets they take):")
    for name, spec in sorted(registry().items()):
        print(f"  {name:<16} family {spec.family:<8} {spec.summary}")
    for kind in ("agents", "envs"):
        print(f"{kind}:")
        names = preset_files(kind)
        width = max([16, *(len(name) for name in names)])
        for name in names:
            _, data = load_preset(kind, name)
            print(f"  {name:<{width}} {data.get('description', '')}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from rlkit.config import build_config, key_help

    if args.help_keys or args.print_config:  # no trainer, so no torch: these answer at once
        if args.resume is not None or args.seeds is not None:
            flag = "--help-keys" if args.help_keys else "--print-config"
            raise RlkitError(f"{flag} resolves a new run's config; it does not go with --resume or --seeds")
        resolving = args.agent or args.env or args.set or args.steps is not None or args.seed is not None
        if args.help_keys and not resolving:
            print(key_help())
            return 0
        config = build_config(args.agent or DEFAULT_AGENT, args.env or DEFAULT_ENV, args.steps, args.seed, args.set)
        print(key_help(config) if args.help_keys else json.dumps(config.to_dict(), indent=2))
        return 0
    if args.schedules is not None and (args.resume is None or args.steps is None):
        flag = f"--{args.schedules}-schedules"
        raise RlkitError(f"{flag} goes with --resume RUN_DIR --steps N (a resume that changes the total steps)")
    if args.break_lock and args.resume is None:
        raise RlkitError("--break-lock goes with --resume RUN_DIR (a new run's folder is new: nobody holds it)")
    agent, env = args.agent or DEFAULT_AGENT, args.env or DEFAULT_ENV
    from rlkit.run import trainer
    from rlkit.run.launch import is_group, resume_group

    if args.seeds is not None:
        from rlkit.run.launch import parse_seeds, train_seeds

        if args.seed is not None or args.resume is not None:
            raise RlkitError("--seeds runs a new group of runs; it does not go with --seed or --resume")
        seeds = parse_seeds(args.seeds)
        config = build_config(agent, env, args.steps, seeds[0], args.set)
        summary = train_seeds(
            config, seeds, args.run_dir, args.workers or 1, progress=not args.no_progress, address=_address(args)
        )
        _print_group(summary)
        return 0
    for flag, value in (("--workers", args.workers), ("--address", args.address)):
        if value is not None and (args.resume is None or not is_group(args.resume)):
            raise RlkitError(f"{flag} goes with --seeds (or --resume of a group folder)")
    if args.resume is not None and is_group(args.resume):
        if args.agent or args.env or args.seed is not None or args.set or args.steps is not None:
            raise RlkitError(
                "--resume of a group continues its seeds with their saved config; only --workers and --address may go with it"
            )
        address = _address(args)
        if address:
            from rlkit.run.launch import check_address, import_ray

            import_ray()
            check_address(address)
        _print_group(
            resume_group(
                args.resume, args.workers, progress=not args.no_progress, address=address, break_lock=args.break_lock
            )
        )
        return 0
    if args.resume is not None:
        options = {"--agent": args.agent, "--env": args.env, "--seed": args.seed, "--set": args.set or None}
        given = [flag for flag, value in options.items() if value is not None]
        if given:
            raise RlkitError(
                f"--resume continues a run with its saved config, so {' and '.join(given)} cannot go with it; "
                "only --steps (with --extend-schedules or --keep-schedules) may"
            )
        result = trainer.resume(
            args.resume, args.steps, progress=not args.no_progress, schedules=args.schedules, break_lock=args.break_lock
        )
    else:
        config = build_config(agent, env, args.steps, args.seed, args.set)
        run = trainer.Run(config, progress=not args.no_progress)
        run_dir = trainer.new_run_dir(config, args.run_dir)
        print(f"run folder: {run_dir}\nwatch it:   rlkit board {args.run_dir}", flush=True)
        result = run.train(run_dir)
    print(
        f"final eval: return {result['return_mean']:.2f} ± {result['return_std']:.2f} over {result['episodes']} "
        f"episodes; run folder {result['run']}"
    )
    return 0


def _address(args: argparse.Namespace) -> str | None:
    from rlkit.run.launch import resolve_address

    return resolve_address(args.address)


def _tune(args: argparse.Namespace) -> int:
    from rlkit.tune import sweep

    if args.resume is not None or args.refine is not None:
        fixed = {"--agent": args.agent, "--env": args.env, "--space": args.space, "--steps": args.steps,
                 "--seed": args.seed, "--set": args.set or None, "--scheduler": args.scheduler}
        if args.resume is not None:
            fixed |= {"--samples": args.samples, "--concurrent": args.concurrent, "--top": args.top,
                      "--confirm-seeds": args.confirm_seeds, "--gpus-per-trial": args.gpus_per_trial}
        given = [flag for flag, value in fixed.items() if value is not None]
        if given:
            what = "--resume continues a sweep" if args.resume is not None else "--refine narrows a sweep"
            allowed = (
                "--address" if args.resume is not None else "--samples, --concurrent, --top, --confirm-seeds, --gpus-per-trial"
            )
            raise RlkitError(
                f"{what} with its saved settings, so {' and '.join(given)} cannot go with it; only {allowed} may"
            )
    if args.break_lock and args.resume is None:
        raise RlkitError("--break-lock goes with --resume SWEEP_DIR (a new sweep's folder is new: nobody holds it)")
    if args.gpus_per_trial is not None:
        from rlkit.run.resources import check_gpu_share

        check_gpu_share(args.gpus_per_trial)
    if args.resume is not None:
        folder = sweep.resume_sweep(args.resume, args.address, break_lock=args.break_lock)
    else:
        if args.refine is not None:
            request, origin = sweep.refine_request(args.refine, args.samples, args.concurrent, args.top, args.confirm_seeds)
            if args.gpus_per_trial is not None:
                request.gpus_per_trial = args.gpus_per_trial
        else:
            agent = args.agent or DEFAULT_AGENT
            if args.space is not None:
                table, origin = sweep.read_space_file(args.space), f"--space {args.space}"
            else:
                table, origin = sweep.default_space(agent)
            request = sweep.Request(
                agent=agent,
                env=args.env or DEFAULT_ENV,
                space=table,
                samples=args.samples or 16,
                concurrent=args.concurrent or os.cpu_count() or 1,
                steps=args.steps,
                seed=args.seed or 0,
                overrides=list(args.set),
                scheduler=args.scheduler or "asha",
                top=3 if args.top is None else args.top,
                confirm_seeds=5 if args.confirm_seeds is None else args.confirm_seeds,
                first_seed=args.seed or 0,
                gpus_per_trial=args.gpus_per_trial,
            )
        folder = sweep.start(request, origin, args.run_dir, args.address)
    print("\n".join(sweep.summary_lines(folder)))
    return 0


def _print_group(summary: dict) -> None:
    from rlkit.run.study import table

    for run in summary["runs"]:
        print(f"seed {run['seed']}: return {run['return_mean']:.2f} ± {run['return_std']:.2f}  ({run['run']})")
    print(
        f"over {len(summary['runs'])} seeds: final return {summary['return_mean']:.2f} ± {summary['return_std']:.2f}; "
        f"group folder {summary['group']}"
    )
    print(table(summary["study"]))


def _study(args: argparse.Namespace) -> int:
    from rlkit.run.study import study, table

    _new_file("--json", args.json, args.force)
    _new_file("--worst-figure", args.worst_figure, args.force)
    if args.worst is not None and args.worst_figure is None:
        raise RlkitError("--worst N says how many seeds --worst-figure draws; give --worst-figure FILE with it")
    worst = 5 if args.worst is None else args.worst
    if worst < 1:
        raise RlkitError(f"--worst {worst}: draws no seed; valid: 1 or more")
    if args.worst_figure is not None:
        from rlkit.plot import check_image_format

        check_image_format("--worst-figure", args.worst_figure)
    summary = study(args.paths, args.solved_return)
    print(table(summary))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1))
    if args.worst_figure is not None:
        from rlkit.run.study import worst_figure

        seeds = worst_figure(args.paths, args.worst_figure, worst, args.solved_return)
        print(f"the curves of seeds {', '.join(map(str, seeds))} written to {args.worst_figure}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from rlkit.run.export import export

    out = export(args.path, args.format, args.out, args.best)
    print(f"wrote {out} and {out.name}.json (what it takes and gives)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from rlkit.run import checkpoint
    from rlkit.run.evaluation import check_video_dir, evaluate_checkpoint

    if args.epsilon is not None and not 0.0 <= args.epsilon <= 1.0:
        raise RlkitError(f"--epsilon {args.epsilon} is out of range; valid: 0 to 1")
    several = len(args.paths) > 1
    for flag, value in (("--json", args.json), ("--video", args.video)):
        if several and value is not None:
            raise RlkitError(f"{flag} goes with one PATH, and {len(args.paths)} were given; evaluate each alone")
    _new_file("--json", args.json, args.force)
    check_video_dir(args.video)
    folders = [checkpoint.find(path, best=args.best) for path in args.paths]  # every path checked before any episode
    for path, folder in zip(args.paths, folders):
        options = (args.episodes, args.seed, args.epsilon, args.best, args.video, args.num_envs)
        result = evaluate_checkpoint(folder, *options, progress=sys.stderr.isatty())
        print(
            f"{f'{path}: ' if several else ''}return {result['return_mean']:.2f} ± {result['return_std']:.2f} "
            f"({result['return_min']:.2f}, {result['return_max']:.2f}) over {result['episodes']} episodes"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


def _raised_by(error: Exception, kinds: tuple[tuple[str, str], ...]) -> bool:
    """Whether `error` is one of `kinds` (module, class). Only modules already imported are
    asked: one never imported raised nothing, and importing it here would cost torch's import."""
    return any(
        module in sys.modules and isinstance(error, getattr(sys.modules[module], name)) for module, name in kinds
    )


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (`rlkit ... | head`): poll reports an error."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # stdout is no file (captured, replaced): no pipe of ours
        return False
    if not hasattr(select, "poll"):  # Windows: assume the usual cause
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rlkit` console script. Every command imports what it needs inside
    this function, so `--help` and `--version` answer at once, and a Ctrl-C at any moment (torch's
    import takes seconds) or a closed stdout ends with one line or none, never a traceback."""
    try:
        code = _command(argv)
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's last flush
        return code
    except RlkitError as error:
        print(f"rlkit: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe broke (a worker's): an error to show, not a reader that left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the unwritten rest goes nowhere
        return 141
    except Exception as error:
        if _raised_by(error, _STOPPED):
            print(f"rlkit: {error}", file=sys.stderr)
            return 130
        if _raised_by(error, _FAILED):
            print(f"rlkit: error: {error}", file=sys.stderr)
            return 1
        raise


def _command(argv: Sequence[str] | None) -> int:
    """Parse the command line and run its command."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help and --version print and stop here
        return int(done.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    handlers = {
        "list": lambda: _list(),
        "train": lambda: _train(args),
        "eval": lambda: _evaluate(args),
        "board": lambda: _board(args),
        "export": lambda: _export(args),
        "plot": lambda: _plot(args),
        "study": lambda: _study(args),
        "tune": lambda: _tune(args),
    }
    return handlers[args.command]()


if __name__ == "__main__":
    sys.exit(main())
