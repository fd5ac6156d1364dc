"""The public API: rlkit.train, rlkit.load, rlkit.evaluate, callbacks, and the example scripts."""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rlkit
from rlkit.errors import RlkitError
from rlkit.run.trainer import resume

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
QUICK = {"eval_interval": 0, "final_eval_episodes": 5}


def test_train_load_evaluate_a_q_table(tmp_path):
    result = rlkit.train(agent="qlearning", env="taxi", steps=3000, seed=2, overrides=QUICK, run_dir=tmp_path)
    assert result.run_dir.parent.parent.parent == tmp_path and result.run_dir.name.endswith("-s2")
    assert result.evaluation == json.loads((result.run_dir / "eval.json").read_text())
    policy = rlkit.load(result.run_dir)
    assert np.array_equal(policy.agent.q_table, result.agent.agent.q_table)
    assert policy.q_values(17).shape == (6,) and policy.q_values([17, 18]).shape == (2, 6)
    assert policy.act(17) == int(np.argmax(policy.q_values(17))) or len(set(policy.q_values(17))) < 6
    assert policy.act(np.array([17, 18])).shape == (2,)
    first, again = (rlkit.evaluate(policy, episodes=4, seed=9) for _ in range(2))
    assert first["returns"] == again["returns"] and first["episodes"] == 4
    with pytest.raises(RlkitError, match="episodes = 0"):
        rlkit.evaluate(policy, episodes=0)


def test_a_dqn_policy_takes_one_observation_or_a_batch(tmp_path):
    result = rlkit.train(agent="dqn", env="cartpole", steps=800, seed=0, overrides=QUICK, run_dir=tmp_path)
    policy = result.agent
    single, batch = np.zeros(4), np.zeros((3, 4))
    assert isinstance(policy.act(single), int) and policy.act(batch).shape == (3,)
    assert policy.q_values(single).shape == (2,) and policy.q_values(batch).shape == (3, 2)
    assert policy.act(single) == int(np.argmax(policy.q_values(single)))
    with pytest.raises(RlkitError, match=r"observation of shape \(5,\)"):
        policy.act(np.zeros(5))


def test_overrides_are_checked_like_set(tmp_path):
    with pytest.raises(RlkitError, match="batch_size is a hyperparameter of dqn"):
        rlkit.train(agent="qlearning", env="taxi", overrides={"batch_size": 64}, run_dir=tmp_path)
    with pytest.raises(RlkitError, match="learning_rate"):
        rlkit.train(agent="dqn", env="cartpole", overrides={"learning_rate": -1.0}, run_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any run folder exists


class Recorder(rlkit.Callback):
    """Counts every hook; stops the run at `stop_at` steps (None: never)."""

    def __init__(self, stop_at=None):
        self.stop_at, self.calls = stop_at, {"start": 0, "step": 0, "episode": 0, "evaluation": 0, "end": []}

    def on_training_start(self, run):
        self.calls["start"] += 1

    def on_step(self, run, transition):
        self.calls["step"] += 1
        return self.stop_at is None or run.step < self.stop_at

    def on_episode(self, run, episode_return, length):
        self.calls["episode"] += 1

    def on_evaluation(self, run, result):
        self.calls["evaluation"] += 1

    def on_training_end(self, run, result):
        self.calls["end"].append(result is not None)
        self.episodes = run.episodes


def test_every_hook_is_called(tmp_path):
    recorder = Recorder()
    result = rlkit.train(
        agent="qlearning",
        env="taxi",
        steps=4000,
        overrides={"eval_interval": 1000, "eval_episodes": 2, "final_eval_episodes": 2, "env.num_envs": 2},
        run_dir=tmp_path,
        callbacks=[recorder],
    )
    calls = recorder.calls
    assert calls["start"] == 1 and calls["step"] == 2000 and calls["end"] == [True]
    assert calls["evaluation"] == 3 == len(result.evaluation["evaluations"]) - 1  # at 1000, 2000, 3000
    assert calls["episode"] == recorder.episodes > 0


def test_a_callback_stops_the_run_cleanly_and_it_resumes(tmp_path):
    recorder = Recorder(stop_at=1500)
    result = rlkit.train(
        agent="qlearning", env="taxi", steps=4000, overrides=QUICK, run_dir=tmp_path, callbacks=[recorder]
    )
    assert result.evaluation["step"] == 1500 and recorder.calls["end"] == [True]
    assert (result.run_dir / "checkpoints" / "step-000000001500").is_dir()
    resumed = resume(result.run_dir, progress=False)
    assert resumed["step"] == 4000


def test_a_function_env_gives_every_env_rlkit_needs(tmp_path):
    made = []

    def make():
        made.append(1)
        return gym.make("CartPole-v1")

    overrides = {**QUICK, "env.num_envs": 3, "learning_starts": 100}
    result = rlkit.train(agent="dqn", env=make, steps=600, seed=1, overrides=overrides, run_dir=tmp_path)
    assert result.evaluation["step"] == 600 and len(made) >= 5  # describe, 3 training envs, evaluation
    assert rlkit.evaluate(result.agent, make, episodes=2)["episodes"] == 2


def test_an_env_instance_is_the_one_training_env(tmp_path):
    env = gym.make("CartPole-v1")
    with pytest.raises(RlkitError, match="one training env"):
        rlkit.train(agent="dqn", env=env, overrides={"env.num_envs": 2}, run_dir=tmp_path)
    result = rlkit.train(
        agent="dqn",
        env=env,
        steps=400,
        overrides={**QUICK, "env.num_envs": 1, "learning_starts": 100},
        run_dir=tmp_path,
    )
    assert result.evaluation["episodes"] == 5
    assert env.unwrapped.state is not None  # reset and stepped by the run, not a copy


def test_the_run_folder_of_a_function_env_cannot_be_evaluated_from_another_process(tmp_path, cli):
    result = rlkit.train(
        agent="qlearning",
        env=lambda: gym.make("Taxi-v4"),
        steps=500,
        overrides=QUICK,
        run_dir=tmp_path,
    )
    code = subprocess.run(
        [sys.executable, "-m", "rlkit.cli", "eval", str(result.run_dir)], capture_output=True, text=True
    )
    assert code.returncode == 2 and "was a function or Env instance given to rlkit.train" in code.stderr


@pytest.mark.parametrize(
    "script, args, expected",
    [
        ("example_train_evaluate.py", ["--steps", "20000"], "100 new episodes"),
        ("example_custom_env.py", ["--steps", "3000"], "Q at the upright centre"),
        ("example_lr_comparison.py", ["--steps", "3000", "--seeds", "1"], "learning rate 0.5"),
        ("example_cliff_walking.py", ["--steps", "3000", "--seeds", "1"], "expected-sarsa"),
    ],
)
def test_the_example_scripts_run(tmp_path, script, args, expected):
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args, "--run-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
