"""A small learning-rate comparison: the `qlearning` agent on Taxi at three step sizes spaced on
a log scale, three seeds each, on a short budget. Prints the mean final greedy return of each.

    python scripts/example_lr_comparison.py [--steps 50000] [--seeds 3] [--run-dir runs]
"""

import argparse

import numpy as np

import rlkit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--run-dir", default="runs")
    args = parser.parse_args()

    for learning_rate in (0.01, 0.1, 0.5):
        finals = [
            rlkit.train(
                agent="qlearning",
                env="taxi",
                steps=args.steps,
                seed=seed,
                overrides={"learning_rate": learning_rate, "final_eval_episodes": 100},
                run_dir=args.run_dir,
            ).evaluation["return_mean"]
            for seed in range(args.seeds)
        ]
        print(f"learning rate {learning_rate:<5} final return {np.mean(finals):8.2f}  (seeds: {finals})")


if __name__ == "__main__":
    main()
