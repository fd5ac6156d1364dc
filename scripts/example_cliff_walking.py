"""Q-learning against Expected SARSA on CliffWalking with a constant ε of 0.1 (Sutton & Barto
2018, example 6.6): Q-learning learns the values of the greedy policy, so its greedy path runs
along the cliff edge (return -13) while its exploring steps keep falling off; Expected SARSA
learns the values of the ε-greedy policy it follows, takes a path away from the edge, and
earns more while it explores.

Prints, per agent, the mean training return of the last 100 episodes and the final greedy
return (the path), averaged over the seeds.

    python scripts/example_cliff_walking.py [--steps 20000] [--seeds 101-110] [--run-dir runs]
"""

import argparse

import numpy as np

import rlkit
from rlkit.run.launch import parse_seeds


class TrainingReturns(rlkit.Callback):
    """Keeps the return of every training episode (played with ε = 0.1)."""

    def __init__(self):
        self.returns: list[float] = []

    def on_episode(self, run, episode_return, length):
        self.returns.append(episode_return)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", default="101-110")
    parser.add_argument("--run-dir", default="runs")
    args = parser.parse_args()

    constant_epsilon = {"exploration_initial_eps": 0.1, "exploration_final_eps": 0.1, "learning_rate": 0.5}
    for agent in ("qlearning", "expected-sarsa"):
        training, greedy = [], []
        for seed in parse_seeds(args.seeds):
            returns = TrainingReturns()
            result = rlkit.train(
                agent=agent,
                env="cliffwalking",
                steps=args.steps,
                seed=seed,
                overrides=constant_epsilon,
                run_dir=args.run_dir,
                callbacks=[returns],
            )
            training.append(np.mean(returns.returns[-100:]))
            greedy.append(result.evaluation["return_mean"])
        print(
            f"{agent:<15} training return (last 100 episodes, ε 0.1) {np.mean(training):7.2f}   "
            f"greedy path return {np.mean(greedy):7.2f}   (greedy per seed: {', '.join(f'{g:g}' for g in greedy)})"
        )


if __name__ == "__main__":
    main()
