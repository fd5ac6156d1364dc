"""Every random stream of a run is its own child of SeedSequence(seed): no two coincide within
a run or across neighbouring seeds, runs stay reproducible, and each evaluation plays its own
start states."""

import json

import numpy as np
import pytest
import recording_env
from safetensors.numpy import load_file

from rlkit.config import build_config
from rlkit.run import checkpoint
from rlkit.run.evaluation import evaluate_checkpoint
from rlkit.run.trainer import Run, new_run_dir
from rlkit.streams import torch_seed

ENV = "recording_env:RecordingCartPole-v0"
SETTINGS = [
    "learning_starts=20",
    "batch_size=8",
    "net_arch=[16]",
    "buffer_size=500",
    "eval_interval=50",
    "eval_episodes=2",
    "final_eval_episodes=3",
    "eval_num_envs=2",
    "env.num_envs=3",
]


def _first_draws(generator: np.random.Generator) -> tuple[int, ...]:
    copy = np.random.Generator(type(generator.bit_generator)())
    copy.bit_generator.state = generator.bit_generator.state
    return tuple(copy.bit_generator.random_raw(4).tolist())


def _train(tmp_path, seed, monkeypatch, agent="dqn", extra=()):
    """Train a short run; return its folder and every stream it drew from, by name."""
    recording_env.SEEDED_RESETS.clear()
    config = build_config(agent, ENV, 150, seed, [*SETTINGS, *extra] if agent == "dqn" else list(extra))
    run = Run(config, progress=False)
    streams = {"exploration": _first_draws(run.agent.rng)}
    if agent == "dqn":
        streams["replay"] = _first_draws(run.agent.replay.rng)
    policy_streams = []
    greedy = run.agent.greedy_actions

    def recording_greedy(observations, epsilon, rng):
        if not any(rng is seen for seen, _ in policy_streams):
            policy_streams.append((rng, _first_draws(rng)))
        return greedy(observations, epsilon, rng)

    monkeypatch.setattr(run.agent, "greedy_actions", recording_greedy)
    folder = new_run_dir(config, tmp_path)
    run.train(folder)
    streams |= {f"evaluation policy {i}": draws for i, (_, draws) in enumerate(policy_streams)}
    streams |= {f"env reset {i}": draws for i, (_, draws) in enumerate(recording_env.SEEDED_RESETS)}
    return folder, streams, list(recording_env.SEEDED_RESETS)


@pytest.mark.parametrize("agent", ["dqn", "qlearning"])
def test_no_two_streams_coincide_within_a_run_or_across_neighbouring_seeds(tmp_path, monkeypatch, agent):
    extra = (
        ()
        if agent == "dqn"
        else (
            "env.bins=[3, 3, 3, 3]",
            "env.low=[-2, -2, -0.2, -2]",
            "env.high=[2, 2, 0.2, 2]",
            "env.num_envs=3",
            "eval_num_envs=2",
            "eval_interval=50",
        )
    )
    draws = {}
    for seed in (4, 5):
        _, streams, resets = _train(tmp_path / str(seed), seed, monkeypatch, agent, extra)
        # 3 training envs, 2 periodic evaluations (steps 51, 102) and the final one on 2 envs each
        assert len(resets) == 3 + 3 * 2
        assert sum(name.startswith("evaluation policy") for name in streams) == 3
        draws |= {(seed, name): value for name, value in streams.items()}
    values = list(draws.values())
    assert len(set(values)) == len(values), "two random streams drew the same numbers"
    assert torch_seed(4) != torch_seed(5)


def test_runs_are_reproducible(tmp_path, monkeypatch):
    first, first_streams, _ = _train(tmp_path / "a", 7, monkeypatch)
    second, second_streams, _ = _train(tmp_path / "b", 7, monkeypatch)
    assert first_streams == second_streams
    a, b = (json.loads((folder / "eval.json").read_text()) for folder in (first, second))
    assert a["returns"] == b["returns"]
    assert [e["return_mean"] for e in a["evaluations"]] == [e["return_mean"] for e in b["evaluations"]]
    weights = [load_file(str(checkpoint.find(folder) / "tensors.safetensors")) for folder in (first, second)]
    for name in weights[0]:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=name)


def test_each_evaluation_plays_its_own_start_states(tmp_path, monkeypatch):
    _, _, resets = _train(tmp_path, 3, monkeypatch)
    evaluations = [resets[3 + 2 * k : 5 + 2 * k] for k in range(3)]  # after the 3 training envs
    seeds = [tuple(seed for seed, _ in evaluation) for evaluation in evaluations]
    assert len(set(seeds)) == 3, "periodic evaluations and the final one share start states"
    assert len({seed for evaluation in seeds for seed in evaluation}) == 6


def test_evaluating_a_run_with_no_options_reproduces_its_eval_json(tmp_path, monkeypatch, cli):
    folder, _, _ = _train(tmp_path, 2, monkeypatch, extra=("eval_epsilon=0.3",))
    summary = json.loads((folder / "eval.json").read_text())
    again = evaluate_checkpoint(folder)
    assert again["returns"] == summary["returns"]
    assert (again["seed"], again["episodes"], again["epsilon"]) == (2, 3, 0.3)
    code, _, err = cli("eval", folder, "--json", tmp_path / "again.json")
    assert code == 0, err
    assert json.loads((tmp_path / "again.json").read_text())["returns"] == summary["returns"]
    code, _, err = cli("eval", folder, "--seed", 3, "--json", tmp_path / "other.json")
    assert code == 0, err
    assert json.loads((tmp_path / "other.json").read_text())["returns"] != summary["returns"]
