"""rlkit DQN against Stable-Baselines3 DQN on CartPole-v1, trained in one run with the same
hyperparameters (the SB3 zoo's CartPole-v1 set), one torch thread, several seeds each.

Measures, per library, the medians over seeds of: environment steps per second of training
(evaluation time left out), wall seconds and environment steps until a greedy evaluation
first reaches 475, and the final greedy evaluation return (20 episodes). Prints one JSON line
with the medians and the ratios rlkit/SB3.

SB3 is never a dependency of rlkit: install it into the benchmark's own environment, e.g.
    python -m venv --system-site-packages .bench
    .bench/bin/pip install -c constraints.txt stable-baselines3
    .bench/bin/python scripts/bench_cartpole.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.agents.dqn import DQNAgent
from rlkit.config import build_config
from rlkit.run.trainer import Run, new_run_dir

# rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1
ZOO = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
}
NET_ARCH = [256, 256]
# the zoo's set is plain DQN: every family switch off (the cartpole preset's [tuned.dqn] turns them on)
PLAIN = ["double_q=false", "dueling=false", "n_steps=1", "prioritized_replay=false"]
SOLVED = 475.0


def first_solved(evaluations: list[dict[str, Any]]) -> tuple[float | None, int | None]:
    """(training seconds, steps) of the first evaluation at or above SOLVED."""
    for evaluation in evaluations:
        if evaluation["return_mean"] >= SOLVED:
            return evaluation["train_time_s"], evaluation["step"]
    return None, None


def run_rlkit(seed: int, steps: int, eval_interval: int, eval_episodes: int) -> dict[str, Any]:
    overrides = [f"{k}={v}" for k, v in ZOO.items()] + [
        f"net_arch={NET_ARCH}",
        *PLAIN,
        "tau=1.0",
        "lr_schedule=constant",
        "max_grad_norm=10",
        f"eval_interval={eval_interval}",
        f"eval_episodes={eval_episodes}",
        "final_eval_episodes=20",
        "torch_threads=1",
        "log_interval=10000",
        "device=cpu",
    ]
    config = build_config("dqn", "cartpole", steps=steps, seed=seed, overrides=overrides)
    with tempfile.TemporaryDirectory() as root:
        result = Run(config, progress=False).train(new_run_dir(config, root))
    train_seconds = result["evaluations"][-1]["train_time_s"]
    solved_seconds, solved_steps = first_solved(result["evaluations"])
    return {
        "sps": steps / train_seconds,
        "solved_s": solved_seconds,
        "solved_steps": solved_steps,
        "final_return": result["return_mean"],
    }


def greedy_return(model, episodes: int, seed: int) -> float:
    env = gym.make("CartPole-v1")
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(observation, deterministic=True)
            observation, reward, terminated, truncated, _ = env.step(int(action))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def zoo_model(seed: int):
    """SB3's DQN on CartPole-v1 with the zoo's set, on the CPU."""
    from stable_baselines3 import DQN

    return DQN(
        "MlpPolicy",
        gym.make("CartPole-v1"),
        policy_kwargs={"net_arch": NET_ARCH},
        seed=seed,
        device="cpu",
        max_grad_norm=10,
        **ZOO,
    )


def run_sb3(seed: int, steps: int, eval_interval: int, eval_episodes: int) -> dict[str, Any]:
    from stable_baselines3.common.callbacks import BaseCallback

    class GreedyEvaluation(BaseCallback):
        """Evaluate every eval_interval steps; keep the evaluation time out of the training time."""

        def __init__(self):
            super().__init__()
            self.evaluations: list[dict[str, Any]] = []
            self.eval_seconds = 0.0
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_interval == 0 and self.num_timesteps < steps:
                began = time.perf_counter()
                value = greedy_return(self.model, eval_episodes, seed + 1_000_003)
                self.eval_seconds += time.perf_counter() - began
                self.evaluations.append(
                    {
                        "step": self.num_timesteps,
                        "return_mean": value,
                        "train_time_s": time.perf_counter() - self.start - self.eval_seconds,
                    }
                )
            return True

    model = zoo_model(seed)
    callback = GreedyEvaluation()
    model.learn(steps, callback=callback)
    train_seconds = time.perf_counter() - callback.start - callback.eval_seconds
    final = greedy_return(model, 20, seed + 1_000_003)
    callback.evaluations.append({"step": steps, "return_mean": final, "train_time_s": train_seconds})
    solved_seconds, solved_steps = first_solved(callback.evaluations)
    return {
        "sps": steps / train_seconds,
        "solved_s": solved_seconds,
        "solved_steps": solved_steps,
        "final_return": final,
    }


def update_milliseconds(updates: int = 2000) -> float:
    """Milliseconds of one rlkit DQN update with the zoo's batch and network, from a filled buffer."""
    config = build_config(
        "dqn", "cartpole", overrides=[f"{k}={v}" for k, v in ZOO.items()] + [f"net_arch={NET_ARCH}", *PLAIN]
    )
    info = {
        "kind": "vector",
        "observation_shape": [4],
        "observation_dtype": "float32",
        "num_states": None,
        "num_actions": 2,
    }
    agent = DQNAgent(config.agent, info, 1, 0)
    rng = np.random.default_rng(0)
    count = 5_000
    agent.replay.add(
        rng.normal(size=(count, 4)).astype(np.float32),
        rng.integers(2, size=count),
        rng.normal(size=count).astype(np.float32),
        rng.normal(size=(count, 4)).astype(np.float32),
        np.zeros(count, dtype=bool),
        np.zeros(count, dtype=bool),
    )
    for _ in range(50):
        agent.update(agent.replay.sample(ZOO["batch_size"]))
    started = time.perf_counter()
    for _ in range(updates):
        agent.update(agent.replay.sample(ZOO["batch_size"]))
    return (time.perf_counter() - started) / updates * 1000


def median(values: list[float | None]) -> float | None:
    """Median over seeds; a seed that never solved counts as infinitely slow."""
    if not values:
        return None
    result = statistics.median([np.inf if v is None else v for v in values])
    return None if np.isinf(result) else float(result)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "sps": median([r["sps"] for r in runs]),
        "solved_s": median([r["solved_s"] for r in runs]),
        "solved_steps": median([r["solved_steps"] for r in runs]),
        "final_return": median([r["final_return"] for r in runs]),
        "seeds_solved": sum(r["solved_steps"] is not None for r in runs),
        "per_seed": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default: 1,2,3)")
    parser.add_argument("--steps", type=int, default=50_000, help="environment steps per run (zoo: 50,000)")
    parser.add_argument("--eval-interval", type=int, default=5_000, help="steps between greedy evaluations")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation")
    parser.add_argument("--only", choices=["rlkit", "sb3"], help="run one library only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    libraries = {"rlkit": run_rlkit, "sb3": run_sb3}
    if args.only:
        libraries = {args.only: libraries[args.only]}
    results = {}
    for name, runner in libraries.items():
        results[name] = summarise([runner(seed, args.steps, args.eval_interval, args.eval_episodes) for seed in seeds])
    line: dict[str, Any] = {
        "benchmark": "cartpole_dqn",
        "steps": args.steps,
        "seeds": seeds,
        "torch_threads": 1,
        "replay_ratio": ZOO["gradient_steps"] / ZOO["train_freq"],
        **results,
    }
    if "rlkit" in results:
        line["rlkit_update_ms"] = update_milliseconds()
    if "rlkit" in results and "sb3" in results:
        ours, theirs = results["rlkit"], results["sb3"]
        line["sps_ratio"] = ours["sps"] / theirs["sps"]
        if ours["solved_steps"] and theirs["solved_steps"]:
            line["solved_steps_ratio"] = ours["solved_steps"] / theirs["solved_steps"]
            line["solved_seconds_ratio"] = ours["solved_s"] / theirs["solved_s"]
    print(json.dumps(line))


if __name__ == "__main__":
    main()
