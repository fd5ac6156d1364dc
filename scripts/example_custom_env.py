"""Train DQN on an env of your own: a function that returns a gymnasium.Env (here CartPole with
a penalty for drifting from the centre, through a gymnasium wrapper), stopped by a callback
as soon as a greedy evaluation balances the pole for 300 steps on average.

    python scripts/example_custom_env.py [--steps 50000] [--run-dir runs]
"""

import argparse

import gymnasium as gym
import numpy as np

import rlkit


class CentrePenalty(gym.RewardWrapper):
    """Reward 1 − 0.1·|cart position| per step: stay near the middle of the track."""

    def reward(self, reward: float) -> float:
        return float(reward) - 0.1 * abs(float(self.env.unwrapped.state[0]))


def make_env() -> gym.Env:
    return CentrePenalty(gym.make("CartPole-v1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--run-dir", default="runs")
    args = parser.parse_args()

    result = rlkit.train(
        agent="dqn-fast",
        env=make_env,  # rlkit calls it for each training and evaluation env
        steps=args.steps,
        seed=0,
        overrides={"eval_interval": 2_500},
        run_dir=args.run_dir,
        callbacks=[rlkit.StopAtReturn(300)],
    )
    print(f"stopped at step {result.evaluation['step']:,}: final greedy return {result.evaluation['return_mean']:.1f}")
    observation = np.zeros(4, dtype=np.float32)
    print("Q at the upright centre:", result.agent.q_values(observation).round(2))


if __name__ == "__main__":
    main()
