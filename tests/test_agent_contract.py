"""Every registered agent, through the whole contract on a tiny budget: train, checkpoint,
resume, load, evaluate. An agent is covered the day it registers: the list comes from the
registry, and each is trained from a preset file that names only its algo."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import rlkit
from rlkit.agents import registry
from rlkit.run.trainer import resume

STEPS, HALF = 400, 200


class StopAtHalf(rlkit.Callback):
    def on_step(self, run, transition):
        return run.step < HALF


def _preset(tmp_path, name: str):
    path = tmp_path / f"{name}-contract.toml"
    path.write_text(f'algo = "{name}"\n')
    return path


def _overrides(name: str) -> dict:
    """Evaluate and checkpoint at the half, keep the replay for an exact resume, and let agents
    that wait before learning (learning_starts) learn within the budget."""
    values = {
        "train.eval_interval": HALF,
        "train.eval_episodes": 2,
        "train.final_eval_episodes": 3,
        "train.checkpoint_interval": HALF,
        "train.save_replay": True,
        "train.log_interval": 100,
    }
    if registry()[name].discrete_states:  # the noise env's 4 numbers cut into 16 states
        values |= {"env.bins": [2, 2, 2, 2], "env.low": [-1.0] * 4, "env.high": [1.0] * 4}
    keys = {field.name for field in dataclasses.fields(registry()[name].config_class)}
    for key, value in {"learning_starts": 50, "batch_size": 16, "train_freq": 1, "buffer_size": 1_000}.items():
        if key in keys:
            values[f"agent.{key}"] = value
    return values


# Episodes of exactly 10 steps whose reset draws nothing (tests/noise_env.py): a run stopped
# at step 200 stops on an episode boundary, where a resume is bit-exact
NOISE = "noise_env:Noise-v0"


def _final_state(run_dir):
    (checkpoint,) = sorted((run_dir / "checkpoints").glob(f"step-{STEPS:012d}"))
    return load_file(str(checkpoint / "tensors.safetensors"))


@pytest.mark.parametrize("name", sorted(registry()))
def test_a_registered_agent_trains_resumes_exactly_loads_and_evaluates(name, tmp_path):
    preset, env = _preset(tmp_path, name), NOISE
    straight = rlkit.train(
        agent=str(preset), env=env, steps=STEPS, seed=3, overrides=_overrides(name), run_dir=tmp_path / "straight"
    )
    assert straight.evaluation["step"] == STEPS and straight.evaluation["episodes"] == 3

    halved = rlkit.train(
        agent=str(preset),
        env=env,
        steps=STEPS,
        seed=3,
        overrides=_overrides(name),
        run_dir=tmp_path / "halved",
        callbacks=[StopAtHalf()],
    )
    assert halved.evaluation["step"] == HALF  # stopped by the callback: checkpoint and final evaluation there
    resumed = resume(halved.run_dir, progress=False)
    assert resumed["step"] == STEPS
    # the run stopped at the half and resumed ends exactly where the straight run ends
    assert resumed["returns"] == straight.evaluation["returns"]
    a, b = _final_state(straight.run_dir), _final_state(halved.run_dir)
    assert a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)

    policy = rlkit.load(straight.run_dir)
    observation = np.zeros(policy.env_info["observation_shape"], dtype=policy.env_info["observation_dtype"])
    assert policy.q_values(observation).shape == (policy.env_info["num_actions"],)
    assert 0 <= policy.act(observation) < policy.env_info["num_actions"]
    result = rlkit.evaluate(policy, episodes=2, seed=0)
    assert len(result["returns"]) == 2
    assert json.loads((straight.run_dir / "eval.json").read_text())["returns"] == straight.evaluation["returns"]
