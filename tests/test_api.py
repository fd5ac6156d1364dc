"""The public API: rlkit.train, rlkit.load, rlkit.evaluate, callbacks, and the example scripts."""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import run_child

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


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert error.type is RlkitError and "\n" not in message
    return message


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        ({"agent": 123}, "agent = 123"),
        ({"agent": None}, "agent = None"),
        ({"env": None}, "env = None"),
        ({"env": 7}, "env = 7"),
        ({"overrides": ["learning_rate=0.1"]}, "overrides is a list; valid: a mapping"),
        ({"overrides": {1: 2}}, "overrides key 1 is not a string"),
        ({"callbacks": [1]}, "callbacks[0] = 1 is not an rlkit.Callback"),
        ({"callbacks": [rlkit.Callback]}, "is not an rlkit.Callback; valid: instances"),
        ({"callbacks": 5}, "callbacks = 5 is not valid"),
        ({"steps": 2.5}, "train.total_steps = 2.5 is not an integer"),
    ],
)
def test_bad_arguments_of_train_are_one_line_before_any_folder(tmp_path, arguments, names):
    with pytest.raises(RlkitError) as error:
        rlkit.train(**{"agent": "qlearning", "env": "taxi", "run_dir": tmp_path, **arguments})
    assert names in _one_line(error)
    assert not any(tmp_path.iterdir())
    with pytest.raises(RlkitError, match="run_dir = None"):
        rlkit.train(agent="qlearning", env="taxi", run_dir=None)


def test_numpy_scalars_are_their_python_equivalents(tmp_path):
    overrides = {**QUICK, "eval_episodes": np.int64(3), "gamma": np.float32(0.5), "save_replay": np.bool_(True)}
    result = rlkit.train("qlearning", "taxi", np.int64(200), np.uint8(4), overrides=overrides, run_dir=tmp_path)
    config = result.agent.config
    assert (config.train.eval_episodes, config.train.total_steps, config.train.seed) == (3, 200, 4)
    assert type(config.train.eval_episodes) is int and type(config.train.save_replay) is bool
    assert config.agent.gamma == 0.5 and type(config.agent.gamma) is float
    with pytest.raises(RlkitError, match=r"train.eval_episodes = 2.0 is not an integer"):
        rlkit.train("qlearning", "taxi", overrides={"eval_episodes": np.float64(2.0)}, run_dir=tmp_path / "x")
    with pytest.raises(RlkitError, match=r"env.bins = \[3, 0\] is out of range"):  # an array is its list
        rlkit.train("qlearning", "taxi", overrides={"env.bins": np.array([3, 0])}, run_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def taxi_policy(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return rlkit.train(agent="qlearning", env="taxi", steps=200, overrides=QUICK, run_dir=root).agent


@pytest.mark.parametrize(
    ("state", "names"),
    [
        (-1, "state -1 is out of range; this policy takes whole numbers 0 to 499"),
        (500, "state 500 is out of range"),
        ([3, 500, 2], "state 500 is out of range"),
        (3.7, "state 3.7 is not a whole number"),
        (float("nan"), "state nan is not a whole number"),
        (True, "state True is not a whole number"),
        ("3", "state '3' is not a whole number"),
    ],
)
def test_a_q_table_policy_refuses_states_it_does_not_have(taxi_policy, state, names):
    for method in (taxi_policy.act, taxi_policy.q_values):
        with pytest.raises(RlkitError) as error:
            method(state)
        assert names in _one_line(error)


def test_a_q_table_policy_takes_whole_numbers_of_any_type(taxi_policy):
    table = taxi_policy.agent.q_table
    assert np.array_equal(taxi_policy.q_values(3.0), table[3])
    assert np.array_equal(taxi_policy.q_values(np.int64(499)), table[499])
    assert taxi_policy.act(np.array([0.0, 499.0])).shape == (2,)


@pytest.mark.parametrize("epsilon", [2, -0.1, float("nan"), "0.1", None, True])
def test_epsilon_outside_0_to_1_is_refused(taxi_policy, epsilon):
    with pytest.raises(RlkitError) as error:
        taxi_policy.act(3, epsilon=epsilon)
    assert f"epsilon = {epsilon!r} is not valid; valid: a number from 0 to 1" in _one_line(error)
    with pytest.raises(RlkitError, match="epsilon = .* is not valid"):
        rlkit.evaluate(taxi_policy, episodes=1, epsilon=epsilon)


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        ({"epsilon": 5}, "epsilon = 5"),
        ({"episodes": 2.5}, "episodes = 2.5 is not valid; valid: a whole number, 1 or more"),
        ({"episodes": "3"}, "episodes = '3'"),
        ({"num_envs": 0}, "num_envs = 0"),
        ({"num_envs": 1.0}, "num_envs = 1.0"),
        ({"seed": -1}, "seed = -1 is not valid; valid: a whole number, 0 or more"),
    ],
)
def test_bad_arguments_of_evaluate_are_one_line(taxi_policy, arguments, names):
    with pytest.raises(RlkitError) as error:
        rlkit.evaluate(taxi_policy, **arguments)
    assert names in _one_line(error)


def test_evaluate_and_load_name_what_they_were_given(taxi_policy):
    with pytest.raises(RlkitError, match="policy = 'runs' is not valid; valid: a Policy"):
        rlkit.evaluate("runs")
    with pytest.raises(RlkitError, match="path = None is not valid"):
        rlkit.load(None)
    assert rlkit.evaluate(taxi_policy, episodes=np.int64(1), epsilon=np.float32(0.5))["episodes"] == 1


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
    done = run_child([sys.executable, str(SCRIPTS / script), *args, "--run-dir", str(tmp_path)], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
