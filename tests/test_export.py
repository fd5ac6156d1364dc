"""`rlkit export` and `rlkit.export`: an exported policy gives the Q values `rlkit.load` gives,
on random observations and on the env's own, in onnxruntime and in TorchScript; a Q-table's
.npz holds the table and the state encoding its env uses; bad input is one line."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.errors import RlkitError

TINY = {"learning_starts": 100, "eval_interval": 0, "final_eval_episodes": 1, "env.num_envs": 1, "buffer_size": 1000}
VARIANTS = {
    "q": ("dqn", "cartpole", {"normalize_observations": True}),
    "c51-dueling": ("c51", "cartpole", {"dueling": True}),
    "qr-noisy-layernorm": ("qrdqn", "acrobot", {"noisy": True, "layer_norm": True}),
    "discrete-states": ("dqn", "taxi", {}),
    "minatar-grid": ("dqn-minatar-fast", "minatar-breakout", {}),
}


def _onnxruntime():
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnxscript") is None:
        if os.environ.get("CI"):
            pytest.fail("under CI the export extra must be installed: pip install -e '.[export]'")
        pytest.skip("needs the export extra: pip install 'rlkit[export]'")
    import onnxruntime

    return onnxruntime


def _observations(policy: rlkit.Policy, env_id: str, count: int = 64) -> np.ndarray:
    """Real observations of the policy's env (its own preprocessing), then random ones of its
    shape and dtype."""
    from rlkit.envs import make_env

    env = make_env(policy.config.env, training=False)
    real, (observation, _) = [], env.reset(seed=3)
    rng = np.random.default_rng(0)
    while len(real) < count:
        real.append(observation)
        observation, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            observation, _ = env.reset()
    env.close()
    info = policy.env_info
    if info.get("num_states") is not None:
        noise = rng.integers(info["num_states"], size=count)
    elif info["observation_dtype"] == "uint8":
        noise = rng.integers(0, 2, size=(count, *info["observation_shape"]), dtype=np.uint8)
    else:
        noise = rng.normal(scale=2.0, size=(count, *info["observation_shape"])).astype(info["observation_dtype"])
    return np.concatenate([np.asarray(real), noise])


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_exported_network_gives_the_q_values_of_rlkit_load(variant, tmp_path):
    onnxruntime = _onnxruntime()
    agent, env, overrides = VARIANTS[variant]
    result = rlkit.train(agent=agent, env=env, steps=400, seed=1, overrides=TINY | overrides, run_dir=tmp_path)
    policy = rlkit.load(result.run_dir)
    observations = _observations(policy, env)
    expected = policy.q_values(observations)

    onnx_file = rlkit.export(result.run_dir, "onnx")
    assert onnx_file == Path(result.run_dir) / "policy.onnx"
    card = json.loads(Path(f"{onnx_file}.json").read_text())
    assert card["input"]["name"] == "observation" and card["output"]["name"] == "q_values"
    session = onnxruntime.InferenceSession(str(onnx_file))
    dtype = np.int64 if policy.env_info.get("num_states") is not None else np.dtype(card["input"]["dtype"])
    (got,) = session.run(["q_values"], {"observation": observations.astype(dtype)})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(axis=1), policy.act(observations))

    script = torch.jit.load(str(rlkit.export(result.run_dir, "torchscript")))
    with torch.no_grad():
        got = script(torch.as_tensor(observations.astype(dtype))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_q_table_exports_with_its_state_encoding(tmp_path):
    result = rlkit.train(agent="qlearning", env="cartpole", steps=2000, seed=1, run_dir=tmp_path,
                         overrides={"eval_interval": 0, "final_eval_episodes": 1})
    out = rlkit.export(result.run_dir, "npz", out=tmp_path / "cartpole-table.npz")
    card = json.loads(Path(f"{out}.json").read_text())
    arrays = np.load(out, allow_pickle=False)
    policy = rlkit.load(result.run_dir)
    np.testing.assert_array_equal(arrays["q_table"], policy.agent.q_table)
    bins = arrays["bins"]
    edges = [arrays[f"edges_{d}"] for d in range(len(bins))]
    from rlkit.envs import Discretizer

    env = gym.make("CartPole-v1")
    binned = Discretizer(gym.make("CartPole-v1"), list(bins), policy.config.env.low, policy.config.env.high)
    observation, _ = env.reset(seed=0)
    for step in range(200):  # the card's recipe gives the wrapper's state for every observation
        indices = tuple(int(np.searchsorted(e, x, side="right")) for e, x in zip(edges, observation))
        assert np.ravel_multi_index(indices, tuple(bins)) == binned.observation(observation)
        observation, _, terminated, truncated, _ = env.step(step % 2)
        if terminated or truncated:
            observation, _ = env.reset()
    assert "searchsorted" in card["state"] and card["greedy_action"] == "argmax of q_table[state]"


def test_a_format_that_does_not_fit_is_refused_naming_the_one_that_does(tmp_path, cli):
    table = rlkit.train(agent="qlearning", env="taxi", steps=500, run_dir=tmp_path / "t",
                        overrides={"eval_interval": 0, "final_eval_episodes": 1})
    network = rlkit.train(agent="dqn", env="cartpole", steps=200, run_dir=tmp_path / "n", overrides=TINY)
    code, _, err = cli("export", table.run_dir, "--format", "onnx")
    assert code == 2 and "export it with --format npz" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("export", network.run_dir, "--format", "npz")
    assert code == 2 and "--format onnx or --format torchscript" in err
    with pytest.raises(RlkitError, match="unknown export format 'tflite'; valid: onnx, torchscript, npz"):
        rlkit.export(network.run_dir, "tflite")
    code, out, _ = cli("export", network.run_dir, "--format", "torchscript")
    assert code == 0 and "policy.pt" in out
    code, _, err = cli("export", network.run_dir, "--format", "torchscript")  # never replaces a file
    assert code == 2 and "exists" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("export", empty, "--format", "onnx")
    assert code == 2 and "no checkpoint" in err
    assert not list(Path(table.run_dir).glob("policy*"))  # refused exports leave nothing
