"""Greedy evaluation: play full episodes with a trained agent and summarise their returns."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from rlkit.agents import Agent, create_agent
from rlkit.config import RunConfig, config_from_dict
from rlkit.envs import EnvConfig, is_grid, make_env, make_vector_env
from rlkit.envs.minatar import grid_rgb
from rlkit.errors import RlkitError
from rlkit.run import checkpoint
from rlkit.streams import Stream, child, env_seeds, sequence

PROGRESS_DELAY_S = 1.0  # an evaluation shows its progress bar once it has lasted this long


def play_episodes(
    agent: Agent,
    envs: gym.vector.VectorEnv,
    episodes: int,
    epsilon: float,
    seeds: np.random.SeedSequence,
    record: bool = False,
    should_stop: Callable[[], bool] | None = None,
    progress: bool = False,
    label: str | None = None,
) -> dict[str, Any]:
    """Play `episodes` episodes spread evenly over the envs (so short episodes are not
    over-represented) and return their returns and lengths from the raw env's statistics.
    Every random draw comes from `seeds`: the envs' start states and the policy's (ε, ties),
    so an evaluation is a function of its seed sequence and the agent.
    With `record`, also a picture of each observation of the first env's first episode as
    `frames`: the newest frame of a pixel stack, what the agent sees (T × H × W uint8), or a grid
    in colour, one per channel (T × H·16 × W·16 × 3 uint8, see rlkit.envs.minatar.grid_rgb).
    `should_stop`, asked after every step: True abandons the evaluation (KeyboardInterrupt), as
    a Ctrl-C during a training run's evaluation does. With `progress`, a bar counts the episodes
    once the evaluation has lasted a second (`label` names it), so a long one never sits silent."""
    picture = _recorded_picture(envs.single_observation_space)
    count = envs.num_envs
    wanted = np.array([(episodes + i) // count for i in range(count)])
    done = np.zeros(count, dtype=int)
    returns: list[float] = []
    lengths: list[int] = []
    policy_rng = np.random.default_rng(child(seeds, 1))
    observations, _ = envs.reset(seed=env_seeds(child(seeds, 0), count))
    frames = [picture(observations[0])] if record else []
    bar = tqdm(
        total=episodes,
        desc=f"{label} evaluation" if label else "evaluation",
        unit="episode",
        leave=False,
        delay=PROGRESS_DELAY_S,
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        while (done < wanted).any():
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt
            observations, _, _, _, infos = envs.step(agent.greedy_actions(observations, epsilon, policy_rng))
            if record and done[0] == 0:
                frames.append(
                    picture(infos["final_obs"][0] if infos.get("_final_obs", [False])[0] else observations[0])
                )
            final = infos.get("final_info", {})
            if "episode" not in final:
                continue
            for i in np.flatnonzero(final["_episode"]):
                if done[i] < wanted[i]:
                    returns.append(float(final["episode"]["r"][i]))
                    lengths.append(int(final["episode"]["l"][i]))
                    done[i] += 1
                    bar.update()
    finally:
        bar.close()
    return {
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "return_min": float(np.min(returns)),
        "return_max": float(np.max(returns)),
        "length_mean": float(np.mean(lengths)),
        "episodes": len(returns),
        "returns": returns,
        **({"frames": np.stack(frames)} if record else {}),
    }


def _recorded_picture(space: gym.Space) -> Callable[[np.ndarray], np.ndarray]:
    """What a recording keeps of an observation: a grid in colour, or the newest frame of a stack."""
    if is_grid(space):
        return grid_rgb
    return lambda observation: observation[-1].copy()


def evaluation_seeds(seed: int, step: int | None = None) -> np.random.SeedSequence:
    """The seed sequence of an evaluation of the run with `seed`: the periodic one at `step`,
    or, with no step, the final one (whose episodes no periodic evaluation plays)."""
    if step is None:
        return sequence(seed, Stream.FINAL_EVALUATION)
    return sequence(seed, Stream.EVALUATION, step)


def load_agent(folder: Path, device: str = "cpu") -> tuple[Agent, RunConfig, dict[str, Any], dict[str, Any]]:
    """The agent a checkpoint folder holds, rebuilt from its own config and env description
    (no env is made), with that config, env description and the checkpoint's metadata."""
    tensors, meta, _ = checkpoint.load(folder)
    if folder.parent.name == "checkpoints":  # in a run folder: it must be that run's
        checkpoint.check_belongs(folder.parent.parent, folder, meta)
    config = config_from_dict(meta.get("config", {}))
    env_info = meta.get("env_info")
    if not isinstance(env_info, dict) or not isinstance(meta.get("agent"), dict):
        raise checkpoint.CheckpointError(f"{folder / checkpoint.META}: malformed (no env_info or agent state)")
    try:
        agent = create_agent(config, env_info, device)
        agent.load_state(tensors, meta["agent"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as error:
        raise checkpoint.CheckpointError(f"{folder}: malformed ({type(error).__name__}: {error})") from None
    return agent, config, env_info, meta


def evaluate_checkpoint(
    path: Path,
    episodes: int | None = None,
    seed: int | None = None,
    epsilon: float | None = None,
    best: bool = False,
    video_dir: Path | None = None,
    num_envs: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Rebuild the env and agent a checkpoint recorded, and play greedy episodes: full games
    with true rewards (no reward clipping, no life-loss termination). What is not given comes
    from the run's config (its seed, final_eval_episodes, eval_epsilon, eval_num_envs), so a
    run's final checkpoint evaluated with no options plays exactly the episodes of its eval.json.
    `progress`: a bar of the episodes, once the evaluation has lasted a second."""
    folder = checkpoint.find(Path(path), best=best)
    agent, config, env_info, meta = load_agent(folder)
    train = config.train
    episodes = train.final_eval_episodes if episodes is None else episodes
    seed = train.seed if seed is None else seed
    epsilon = train.eval_epsilon if epsilon is None else epsilon
    num_envs = train.eval_num_envs if num_envs is None else num_envs
    check_video_dir(video_dir)
    envs = (
        _video_envs(config.env, Path(video_dir), episodes)
        if video_dir is not None
        else make_vector_env(config.env, num_envs, training=False)
    )
    try:
        _check_fits(folder, env_info, envs)
        result = play_episodes(agent, envs, episodes, epsilon, evaluation_seeds(seed), progress=progress)
    finally:
        envs.close()
    return {
        **result,
        "checkpoint": str(folder),
        "env_id": config.env.id,
        "epsilon": epsilon,
        "seed": seed,
        "step": meta.get("step"),
    }


def check_video_dir(video_dir: Path | None) -> None:
    """Refuse a --video folder that exists and is not empty, or that cannot be created or written
    here, before any episode is played."""
    if video_dir is None:
        return
    video_dir = Path(video_dir)
    try:
        if video_dir.exists() and (not video_dir.is_dir() or any(video_dir.iterdir())):
            raise RlkitError(f"--video {video_dir}: exists and is not an empty folder; give a new folder")
    except PermissionError:
        raise RlkitError(f"--video {video_dir}: cannot be read here; give a new folder") from None
    nearest = next(p for p in [video_dir, *video_dir.absolute().parents] if p.exists())
    if not nearest.is_dir():
        raise RlkitError(f"--video {video_dir}: cannot be created, {nearest} is a file; give a new folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise RlkitError(f"--video {video_dir}: folder {nearest} is read-only here; give a folder you can write")


def _check_fits(folder: Path, env_info: dict[str, Any], envs: gym.vector.VectorEnv) -> None:
    """Refuse a checkpoint written for other observations or actions than this env has."""
    space, actions = envs.single_observation_space, envs.single_action_space
    here = {"observations": list(space.shape), "states": getattr(space, "n", None), "actions": int(actions.n)}
    there = {
        "observations": env_info.get("observation_shape"),
        "states": env_info.get("num_states"),
        "actions": env_info.get("num_actions"),
    }
    if here != there:

        def describe(d: dict[str, Any]) -> str:
            states = f", {d['states']} states" if d["states"] is not None else ""
            return f"observations {d['observations']}{states} and {d['actions']} actions"

        raise checkpoint.CheckpointError(f"{folder}: written for {describe(there)}, but the env gives {describe(here)}")


def _video_envs(config: EnvConfig, video_dir: Path, episodes: int) -> gym.vector.VectorEnv:
    """One evaluation env that records every episode as an MP4 file (gymnasium's RecordVideo)."""
    try:
        import moviepy  # noqa: F401  (RecordVideo writes the files with it)
    except ImportError:
        raise RlkitError("--video needs moviepy (and pygame for classic control): pip install 'rlkit[video]'") from None
    # frames are drawn off screen (rgb_array): without this, SDL looks for a display and, on a
    # machine without one, prints "XDG_RUNTIME_DIR is invalid" though the video is fine
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

    def make() -> gym.Env:
        env = make_env(config, training=False, render_mode="rgb_array")
        return gym.wrappers.RecordVideo(
            env, str(video_dir), episode_trigger=lambda index: index < episodes, disable_logger=True
        )

    return gym.vector.SyncVectorEnv([make], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
