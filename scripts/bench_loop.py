"""The training loop's own cost per environment step: a do-nothing agent trained by rlkit's loop
on N vector envs, minus the same envs stepped bare with the same actions, per env step.

The do-nothing agent answers the agent contract with nothing behind it (constant actions, no
learning), so what remains beyond the bare envs is the loop: the final-observation handling,
the transition tuple, the schedules and metrics at log intervals, the progress bar, the
acting/learning timers and the checkpoint at the end. Both are timed back to back in one
process, best of several repeats, one torch thread. Prints one JSON line.

    python scripts/bench_loop.py --num-envs 8 --steps 200000

With --agent, the loop with a real agent (acting and learning included) on one env against that
env stepped alone with random actions: the whole cost of a step of training against the env's own.

    python scripts/bench_loop.py --agent qlearning --env taxi --num-envs 1 --steps 200000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlkit.config import build_config
from rlkit.envs import make_env, make_vector_env
from rlkit.run import trainer


class DoNothingAgent:
    """The agent contract with no agent behind it: action 0 everywhere, nothing learned."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def act(self, observations: np.ndarray, step: int) -> np.ndarray:
        return np.zeros(len(observations), dtype=np.int64)

    def greedy_actions(self, observations: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(len(observations), dtype=np.int64)

    def observe(self, batch: Any, step: int) -> dict[str, Any]:
        return {}

    def schedule_values(self, step: int) -> dict[str, float]:
        return {}

    def images(self) -> dict[str, np.ndarray]:
        return {}

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def load_state(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        pass

    def replay_arrays(self) -> None:
        return None


def time_loop(env: str, num_envs: int, steps: int, agent: str | None = None) -> float:
    """Seconds of rlkit's loop (Run.train) with the do-nothing agent, or with the `agent`
    preset's real agent (acting and learning included)."""
    config = build_config(
        agent or "dqn", env, steps, 0, [f"env.num_envs={num_envs}", "eval_interval=0", "final_eval_episodes=1"]
    )
    original = trainer.create_agent
    if agent is None:
        trainer.create_agent = lambda *args, **kwargs: DoNothingAgent()
    try:
        run = trainer.Run(config, progress=True)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            run.train(trainer.new_run_dir(config, Path(folder)))
            return time.perf_counter() - start
    finally:
        trainer.create_agent = original


def time_bare_env(env: str, steps: int, agent: str) -> float:
    """Seconds of one env (as make_env builds it for the agent) stepped alone with uniformly
    random actions, resetting at each episode's end: the env's own cost, no vector around it."""
    config = build_config(agent, env, steps, 0, [])
    single = make_env(config.env)
    single.reset(seed=0)
    actions = np.random.default_rng(0).integers(single.action_space.n, size=steps).tolist()
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = single.step(action)
        if terminated or truncated:
            single.reset()
    elapsed = time.perf_counter() - start
    single.close()
    return elapsed


def time_bare(env: str, num_envs: int, steps: int) -> float:
    """Seconds of the same vector envs stepped with the same actions, nothing else."""
    config = build_config("dqn", env, steps, 0, [f"env.num_envs={num_envs}"])
    envs = make_vector_env(config.env, num_envs)
    envs.reset(seed=0)
    actions = np.zeros(num_envs, dtype=np.int64)
    start = time.perf_counter()
    for _ in range(steps // num_envs):
        envs.step(actions)
    elapsed = time.perf_counter() - start
    envs.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="cartpole", help="env preset or gymnasium id (default: cartpole)")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per measurement (all envs)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many measurements of each")
    parser.add_argument(
        "--agent",
        help="an agent preset (e.g. qlearning, with --env taxi --num-envs 1): the loop with that real agent, "
        "acting and learning included, against its one env stepped bare (default: the do-nothing agent "
        "against the same vector envs stepped bare)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.agent is not None:
        if args.num_envs != 1:
            raise SystemExit("bench_loop: --agent measures one env against its bare step; give --num-envs 1")
        loop = min(time_loop(args.env, 1, args.steps, args.agent) for _ in range(args.repeats))
        bare = min(time_bare_env(args.env, args.steps, args.agent) for _ in range(args.repeats))
        result = {
            "env": args.env,
            "agent": args.agent,
            "num_envs": 1,
            "steps": args.steps,
            "loop_s": round(loop, 3),
            "bare_env_s": round(bare, 3),
            "loop_us_per_env_step": round(1e6 * loop / args.steps, 2),
            "bare_us_per_env_step": round(1e6 * bare / args.steps, 2),
            "loop_over_bare": round(loop / bare, 2),
        }
        print(json.dumps(result))
        return
    loop = min(time_loop(args.env, args.num_envs, args.steps) for _ in range(args.repeats))
    bare = min(time_bare(args.env, args.num_envs, args.steps) for _ in range(args.repeats))
    print(
        json.dumps(
            {
                "env": args.env,
                "num_envs": args.num_envs,
                "steps": args.steps,
                "loop_s": round(loop, 3),
                "bare_envs_s": round(bare, 3),
                "loop_overhead_us_per_env_step": round(1e6 * (loop - bare) / args.steps, 2),
                "bare_us_per_env_step": round(1e6 * bare / args.steps, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
