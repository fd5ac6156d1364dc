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


def _contract(name: str, tmp_path, switches: dict | None = None) -> None:
    """Train straight; train again stopped at the half and resumed; compare; load and evaluate."""
    preset, env = _preset(tmp_path, name), NOISE
    overrides = _overrides(name) | {f"agent.{key}": value for key, value in (switches or {}).items()}
    straight = rlkit.train(
        agent=str(preset), env=env, steps=STEPS, seed=3, overrides=overrides, run_dir=tmp_path / "straight"
    )
    assert straight.evaluation["step"] == STEPS and straight.evaluation["episodes"] == 3

    halved = rlkit.train(
        agent=str(preset),
        env=env,
        steps=STEPS,
        seed=3,
        overrides=overrides,
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


@pytest.mark.parametrize("name", sorted(registry()))
def test_a_registered_agent_trains_resumes_exactly_loads_and_evaluates(name, tmp_path):
    _contract(name, tmp_path)


# The DQN family's switches (Rainbow's six parts, observation normalisation and LayerNorm), as values that
# turn each on; a head is one switch with two settings (c51, qr)
SWITCHES = {
    "c51": {"head": "c51", "v_min": -5.0, "v_max": 5.0, "atoms": 11},
    "qr": {"head": "qr", "quantiles": 8},
    "noisy": {"noisy": True},
    "double_q": {"double_q": True},
    "dueling": {"dueling": True},
    "dueling_linear": {"dueling": True, "dueling_hidden": False},
    "n_steps": {"n_steps": 3},
    "prioritized": {"prioritized_replay": True},
    "normalized": {"normalize_observations": True},
    "layer_norm": {"layer_norm": True},
}
EVERYTHING = ["noisy", "double_q", "dueling", "n_steps", "prioritized", "normalized", "layer_norm"]
SAME_SWITCH = [{"c51", "qr"}, {"dueling", "dueling_linear"}]  # two settings of one switch
PAIRS = [(a, b) for i, a in enumerate(SWITCHES) for b in list(SWITCHES)[i + 1 :] if {a, b} not in SAME_SWITCH]
RAINBOW_MINATAR = ["noisy", "double_q", "dueling_linear", "n_steps", "prioritized"]  # its dueling streams


def _switched(names) -> dict:
    return {key: value for name in names for key, value in SWITCHES[name].items()}


@pytest.mark.parametrize(
    "names",
    [
        ("c51",),
        ("qr",),
        ("noisy",),
        ("layer_norm",),
        ("c51", *EVERYTHING),
        ("qr", *EVERYTHING),
        ("c51", *RAINBOW_MINATAR),
    ],
    ids="+".join,
)
def test_dqn_heads_alone_and_everything_on_resume_exactly(names, tmp_path):
    _contract("dqn", tmp_path, _switched(names))


@pytest.mark.slow
@pytest.mark.parametrize("names", PAIRS, ids="+".join)
def test_every_pair_of_dqn_switches_resumes_exactly(names, tmp_path):
    _contract("dqn", tmp_path, _switched(names))
