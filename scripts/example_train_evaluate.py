"""Train a Q-table on Taxi, load it back from its run folder, and evaluate it: rlkit's API.

python scripts/example_train_evaluate.py [--steps 200000] [--run-dir runs]
"""

import argparse

import rlkit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--run-dir", default="runs")
    args = parser.parse_args()

    result = rlkit.train(agent="qlearning", env="taxi", steps=args.steps, seed=0, run_dir=args.run_dir)
    print(f"trained in {result.run_dir}: final greedy return {result.evaluation['return_mean']:.2f}")

    policy = rlkit.load(result.run_dir)  # the latest checkpoint of the run
    print("action in state 328:", policy.act(328), "Q values:", policy.q_values(328).round(2))
    evaluation = rlkit.evaluate(policy, episodes=100, seed=1)
    print(f"100 new episodes: {evaluation['return_mean']:.2f} ± {evaluation['return_std']:.2f}")


if __name__ == "__main__":
    main()
