"""Speed of DQN on Atari Pong, in three ceilings, for the chosen number of envs and device.

- env_sps: environment-only ceiling: random actions through rlkit's Atari wrapper and vector env;
- learner_updates_per_s: learner-only ceiling: DQN updates per second (Nature CNN, batch 32)
  sampling from a filled frame replay;
- train_sps: end-to-end training, environment steps per second, at the Nature replay ratio (one
  batch-32 update per 4 environment steps), measured after learning starts;
- with --replay-bytes: bytes per transition of the frame replay, measured from its arrays.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch

from rlkit.agents.dqn import DQNAgent
from rlkit.config import build_config
from rlkit.envs import describe, make_vector_env
from rlkit.replay.frames import FrameReplay
from rlkit.run.trainer import Run, new_run_dir, resolve_device


def env_ceiling(config, num_envs: int, steps: int) -> float:
    envs = make_vector_env(config.env, num_envs)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    vector_steps = max(steps // num_envs, 1)
    started = time.perf_counter()
    for _ in range(vector_steps):
        envs.step(rng.integers(envs.single_action_space.n, size=num_envs))
    elapsed = time.perf_counter() - started
    envs.close()
    return vector_steps * num_envs / elapsed


def learner_ceiling(config, env_info, device: str, updates: int) -> float:
    agent = DQNAgent(config.agent, env_info, 1, 0, device, num_envs=1)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2_000, 4, 84, 84), dtype=np.uint8)
    for i in range(len(frames) - 1):
        agent.replay.add(
            frames[i : i + 1],
            np.array([i % 6]),
            np.zeros(1, np.float32),
            frames[i + 1 : i + 2],
            np.array([False]),
            np.array([False]),
        )
    for _ in range(10):  # warm up
        agent.update(agent.replay.sample(32))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(updates):
        metrics = agent.update(agent.replay.sample(32))
    float(metrics["train/loss"])  # waits for the device
    return updates / (time.perf_counter() - started)


def train_throughput(config, steps: int, learning_starts: int) -> float:
    config.train.total_steps = learning_starts + steps
    config.agent.learning_starts = learning_starts
    config.train.eval_interval = 0
    config.train.final_eval_episodes = 1
    config.env.max_frames = 20_000
    with tempfile.TemporaryDirectory() as root:
        run = Run(config, progress=False)
        run.train(new_run_dir(config, root), until=learning_starts)
        started = time.perf_counter()
        run.train(run.run_dir, until=learning_starts + steps)
        return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="pong", help="env preset (default: pong)")
    parser.add_argument("--num-envs", type=int, default=8, help="envs stepped together (default: 8)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--vectorization",
        default="sync",
        choices=["sync", "async", "ale"],
        help="vector env: gymnasium sync/async or ale-py's AtariVectorEnv (default: sync)",
    )
    parser.add_argument("--env-steps", type=int, default=4_000, help="steps for the environment ceiling")
    parser.add_argument("--updates", type=int, default=200, help="updates for the learner ceiling")
    parser.add_argument(
        "--train-steps", type=int, default=4_000, help="steps of end-to-end training after learning starts"
    )
    parser.add_argument("--learning-starts", type=int, default=2_000, help="random steps before learning")
    parser.add_argument("--replay-bytes", action="store_true", help="also report bytes per transition of the replay")
    parser.add_argument("--buffer-size", type=int, default=100_000, help="replay capacity for --replay-bytes")
    args = parser.parse_args()

    device = resolve_device(args.device)
    overrides = [
        f"env.num_envs={args.num_envs}",
        f"env.vectorization={args.vectorization}",
        f"device={device}",
        "buffer_size=50000",
        "train_freq=4",
        "gradient_steps=1",
        "batch_size=32",
        "log_interval=100000",
    ]
    config = build_config("dqn-atari", args.env, overrides=overrides)
    if config.train.torch_threads:
        torch.set_num_threads(config.train.torch_threads)
    env_info = describe(config.env)
    line = {
        "benchmark": "atari_dqn",
        "env": config.env.id,
        "num_envs": args.num_envs,
        "vectorization": args.vectorization,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "replay_ratio": 0.25,
        "env_sps": env_ceiling(config, args.num_envs, args.env_steps),
        "learner_updates_per_s": learner_ceiling(config, env_info, device, args.updates),
        "train_sps": train_throughput(config, args.train_steps, args.learning_starts),
    }
    if args.replay_bytes:
        replay = FrameReplay(args.buffer_size, args.num_envs, env_info["observation_shape"], "cpu")
        line["replay_bytes_per_transition"] = replay.nbytes() / args.buffer_size
    print(json.dumps(line))


if __name__ == "__main__":
    main()
