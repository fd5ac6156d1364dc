"""MinAtar's own reference DQN (its repository's examples/dqn.py, Young & Tian 2019) trained for a
budget of frames on one torch thread, then its final network played greedily: the judge that the
README's MinAtar tables put beside rlkit's presets (Seaquest's published curves predate a fix of the
game, so there the reference is run on today's package).

The reference is not part of rlkit (MinAtar is GPL-3.0): give the path of a MinAtar checkout. Its
examples/dqn.py is imported as it is and run with its published settings; this script only sets
the frame budget, seeds the game and Python's, numpy's and torch's global generators (the reference
draws from them), resumes from the reference's own checkpoint (written every 1,000 episodes) when the output
folder has one, and evaluates. Prints one JSON line and writes it to OUT/result.json.

    git clone https://github.com/kenjyoung/MinAtar /tmp/MinAtar
    python scripts/bench_minatar_reference.py --minatar /tmp/MinAtar --game seaquest \\
        --frames 1000000 --seed 101 --out minatar-reference/seaquest-101
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")
MODULE = "minatar_reference_dqn"  # the name the reference's pickled replay buffer refers to on resume


def load_reference(checkout: Path):
    path = checkout / "examples" / "dqn.py"
    if not path.is_file():
        raise SystemExit(f"bench_minatar_reference: {path} not found; valid: --minatar names a MinAtar checkout")
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    spec.loader.exec_module(module)
    return module


def greedy_returns(reference, game: str, weights: dict, episodes: int, seed: int) -> list[float]:
    """The trained network's greedy returns on fresh games (sticky actions 0.1, as in training)."""
    from minatar import Environment

    env = Environment(game)
    env.seed(seed)  # the game and its sticky actions
    network = reference.QNetwork(env.state_shape()[2], env.num_actions())
    network.load_state_dict(weights)
    network.eval()
    returns = []
    for _ in range(episodes):
        env.reset()
        total, terminated = 0.0, False
        while not terminated:
            with torch.no_grad():
                action = network(reference.get_state(env.state())).argmax(dim=1).item()
            reward, terminated = env.act(action)
            total += reward
        returns.append(total)
    return returns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minatar", type=Path, required=True, help="a checkout of github.com/kenjyoung/MinAtar")
    parser.add_argument("--game", choices=GAMES, required=True)
    parser.add_argument("--frames", type=int, default=1_000_000, help="training frames (the paper: 5M)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=100, help="greedy evaluation episodes")
    parser.add_argument("--out", type=Path, required=True, help="folder for the reference's files and result.json")
    args = parser.parse_args(argv)
    if (args.out / "result.json").exists():
        print(f"bench_minatar_reference: {args.out / 'result.json'} exists; valid: a new --out", file=sys.stderr)
        return 2

    torch.set_num_threads(1)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    reference = load_reference(args.minatar)
    reference.NUM_FRAMES = args.frames
    reference.device = torch.device("cpu")
    # the reference's checkpoint pickles its replay buffer, which torch.load refuses by default;
    # torch's own switch lets the reference's unchanged torch.load call read it
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    warnings.filterwarnings("ignore", message="Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")

    from minatar import Environment

    args.out.mkdir(parents=True, exist_ok=True)
    prefix = str(args.out / args.game)
    checkpoint = Path(prefix + "_checkpoint")
    resumed = checkpoint.exists()  # the generators start afresh on a resume: that run is not the unbroken one
    env = Environment(args.game)
    env.seed(args.seed)
    start = time.perf_counter()
    reference.dqn(
        env,
        False,
        False,
        prefix,
        store_intermediate_result=True,
        load_path=str(checkpoint) if resumed else None,
    )
    minutes = (time.perf_counter() - start) / 60
    data = torch.load(prefix + "_data_and_weights", weights_only=False)
    returns = greedy_returns(reference, args.game, data["policy_net_state_dict"], args.episodes, args.seed + 1)
    result = {
        "game": args.game,
        "frames": args.frames,
        "seed": args.seed,
        "resumed": resumed,
        "train_minutes_this_process": round(minutes, 1),
        "train_return_last_100_episodes": float(np.mean(data["returns"][-100:])),
        "greedy_return_mean": float(np.mean(returns)),
        "greedy_return_std": float(np.std(returns)),
        "greedy_episodes": args.episodes,
    }
    (args.out / "result.json").write_text(json.dumps(result) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
