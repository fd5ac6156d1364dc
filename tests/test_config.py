import json

import pytest

from rlkit.agents.dqn import DQNConfig
from rlkit.config import build_config, parse_value, preset_files
from rlkit.errors import RlkitError

BAD_INPUTS = [
    (["--set", "learning_rat=0.1"], "unknown key 'learning_rat' (did you mean learning_rate"),
    (["--set", "batch_size=abc"], "agent.batch_size = 'abc' is not an integer"),
    (["--set", "batch_size=2.5"], "is not an integer"),
    (["--set", "gamma=1.5"], "agent.gamma = 1.5 is out of range; valid: >= 0.0 and <= 1.0"),
    (["--set", "buffer_size=0"], "agent.buffer_size = 0 is out of range; valid: >= 1"),
    (["--set", "lr_schedule=cosine"], "valid: constant, linear, exponential"),
    (["--set", "double_q=yes"], "is not true or false"),
    (["--set", "net_arch=64"], "is not a list of int"),
    (["--set", "nonsense"], "is not key=value"),
    (["--set", "agent.gama=0.9"], "unknown key 'agent.gama' (did you mean gamma"),
    (["--set", "trian.seed=3"], "unknown section 'trian'"),
    (["--agent", "dqnn"], "unknown agent preset 'dqnn' (did you mean dqn"),
    (["--env", "cartpol"], "unknown environment 'cartpol' (did you mean cartpole"),
    (["--env", "CartPole-v9"], "unknown environment id 'CartPole-v9' (did you mean CartPole-v1"),
    (["--env", "missing.toml"], "preset file missing.toml does not exist"),
    (["--steps", "-5"], "--steps: -5 is out of range; valid: 1 or more"),
    (["--steps", "many"], "'many' is not a whole number"),
    (["--steps", "0"], "--steps: 0 is out of range; valid: 1 or more"),
    (["--set", "encoder=nature_cnn"], "nature_cnn encoder needs pixel observations"),
    (["--set", "device=tpu"], "not a torch device"),
    (["--set", "learning_rate=nan"], "agent.learning_rate = nan is not a finite number"),
    (["--set", "exploration_fraction=inf"], "is not a finite number"),
    (["--set", "net_arch=[-3]"], "valid: every item >= 1"),
    (["--run-dir", "/dev/null/runs"], "cannot create"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_no_run_folder(cli, tmp_path, args, message):
    runs = tmp_path / "runs"
    code, out, err = cli("train", "--agent", "dqn", "--env", "cartpole", "--run-dir", runs, *args)
    assert code == 2
    assert message in err, err
    assert err.count("\n") == 1 and err.startswith("rlkit: error: ") and "Traceback" not in err
    assert not runs.exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("pong", "qlearning needs discrete states, but the env gives pixel observations"),
        ("Pendulum-v1", "value-based agents need Discrete actions"),
        ("acrobot", "set env.bins"),
    ],
)
def test_qlearning_refuses_envs_it_cannot_learn(cli, tmp_path, env, message):
    code, _, err = cli("train", "--agent", "qlearning", "--env", env, "--run-dir", tmp_path / "runs")
    assert code == 2 and message in err and not (tmp_path / "runs").exists()


def test_env_needing_missing_packages_is_one_line(cli, tmp_path):
    pytest.importorskip("gymnasium")
    try:
        import Box2D  # noqa: F401

        pytest.skip("Box2D is installed here")
    except ImportError:
        pass
    code, _, err = cli("train", "--agent", "dqn", "--env", "LunarLander-v3", "--run-dir", tmp_path / "runs")
    assert code == 2 and "needs packages that are not installed" in err and err.count("\n") == 1


def test_user_toml_with_unknown_key_is_named(cli, tmp_path):
    preset = tmp_path / "mine.toml"
    preset.write_text('[env]\nid = "CartPole-v1"\nnum_env = 2\n')
    code, _, err = cli("train", "--agent", "dqn", "--env", preset, "--run-dir", tmp_path / "runs")
    assert code == 2 and "unknown key 'env.num_env' (did you mean num_envs" in err


def test_broken_toml_is_named(cli, tmp_path):
    preset = tmp_path / "broken.toml"
    preset.write_text("[agent\n")
    code, _, err = cli("train", "--agent", preset, "--env", "cartpole", "--run-dir", tmp_path / "runs")
    assert code == 2 and "broken.toml: not valid TOML" in err


def test_order_of_overrides():
    config = build_config("dqn", "acrobot", steps=123, seed=4, overrides=["learning_rate=3e-4", "env.num_envs=2"])
    assert config.algo == "dqn" and isinstance(config.agent, DQNConfig)
    assert config.train.total_steps == 123 and config.train.seed == 4
    assert config.agent.learning_rate == 3e-4  # --set beats the env preset's tuned value
    assert config.agent.batch_size == 128  # the acrobot preset's [tuned.dqn] beats dqn.toml's 64
    assert config.env.num_envs == 2 and config.env.id == "Acrobot-v1"


def test_discretize_bins_apply_only_to_agents_that_need_discrete_states():
    assert build_config("qlearning", "cartpole").env.bins == [1, 1, 6, 12]
    assert build_config("dqn", "cartpole").env.bins == []


def test_a_gymnasium_id_works_as_env():
    assert build_config("dqn", "MountainCar-v0").env.id == "MountainCar-v0"


def test_every_preset_resolves():
    for agent in preset_files("agents"):
        for env in preset_files("envs"):
            config = build_config(agent, env)
            assert config.env.id and config.train.total_steps > 0


def test_parse_value_reads_toml_scalars_and_lists():
    assert parse_value("3") == 3 and parse_value("1e-4") == 1e-4 and parse_value("true") is True
    assert parse_value("[64, 64]") == [64, 64] and parse_value("linear") == "linear"


def test_list_prints_every_preset(cli):
    code, out, _ = cli("list")
    assert code == 0
    for name in [
        "qlearning",
        "dqn",
        "dqn-atari",
        "cartpole",
        "acrobot",
        "mountaincar",
        "frozenlake",
        "taxi",
        "cliffwalking",
        "pong",
        "breakout",
    ]:
        assert f"  {name} " in out


def test_preset_errors_raise_rlkit_error():
    with pytest.raises(RlkitError):
        build_config("dqn", "cartpole", overrides=["gamma=-1"])


# ------------------------------------------------------------------ composition


def _write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return str(path)


def test_a_new_tabular_agent_takes_the_tabular_tuning_with_no_env_preset_edited():
    config = build_config("expected-sarsa", "cartpole")
    assert config.algo == "expected-sarsa"
    assert config.env.bins == [1, 1, 6, 12] and config.train.total_steps == 300_000
    assert config.agent.lr_schedule == "linear"  # [tuned.tabular]


def test_an_extending_preset_keeps_the_env_tuning_and_its_own_values_win(tmp_path):
    wide = _write(tmp_path, "wide.toml", 'extends = "dqn"\n[agent]\nnet_arch = [256, 256]\nlearning_rate = 2e-3\n')
    config = build_config(wide, "cartpole")
    assert config.algo == "dqn" and config.agent.net_arch == [256, 256] and config.agent.learning_rate == 2e-3
    assert config.env.num_envs == 8 and config.agent.n_steps == 5  # cartpole's [tuned.dqn]
    assert config.agent.target_update_interval == 1 and config.agent.tau == 0.005  # dqn.toml, under the tuning


def test_values_of_a_preset_file_win_over_the_env_tuning(tmp_path):
    best = _write(tmp_path, "best.toml", 'algo = "dqn"\n[agent]\nlearning_rate = 7e-4\nbatch_size = 32\n')
    config = build_config(best, "cartpole")
    assert config.agent.learning_rate == 7e-4 and config.agent.batch_size == 32
    assert config.agent.n_steps == 5  # keys the file leaves alone still come from [tuned.dqn]


def test_a_per_preset_table_applies_to_that_preset_only(tmp_path):
    env = _write(
        tmp_path,
        "env.toml",
        '[env]\nid = "CartPole-v1"\n[tuned.dqn]\nbatch_size = 48\n[tuned.preset.dqn-fast]\nbatch_size = 96\n',
    )
    assert build_config("dqn-fast", env).agent.batch_size == 96
    assert build_config("dqn", env).agent.batch_size == 48


def test_bad_composition_gets_one_line(tmp_path):
    a = _write(tmp_path, "a.toml", f'extends = "{tmp_path / "b.toml"}"\n')
    _write(tmp_path, "b.toml", f'extends = "{a}"\n')
    with pytest.raises(RlkitError, match="extends makes a cycle"):
        build_config(a, "cartpole")
    changed = _write(tmp_path, "c.toml", 'extends = "dqn"\nalgo = "qlearning"\n')
    with pytest.raises(RlkitError, match="an extending preset keeps its algo"):
        build_config(changed, "taxi")
    env = _write(tmp_path, "e.toml", '[env]\nid = "Taxi-v4"\n[tuned.qlearning]\nlearning_rate = 0.5\n')
    with pytest.raises(RlkitError, match=r"\[tuned.qlearning\] is not a family of agents.*valid: \[tuned.dqn\]"):
        build_config("qlearning", env)
    unknown = _write(tmp_path, "u.toml", 'algo = "sarsa"\n')
    with pytest.raises(RlkitError, match="not a registered agent.*valid: "):
        build_config(unknown, "taxi")


def test_an_extends_cycle_is_named_in_the_order_extends_goes(tmp_path):
    a, b, c = (str(tmp_path / f"{name}.toml") for name in "abc")
    _write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path, "b.toml", f'extends = "{c}"\n')  # an absolute path: the same file as c.toml
    _write(tmp_path, "c.toml", 'extends = "a.toml"\n')
    with pytest.raises(RlkitError) as error:
        build_config(a, "cartpole")
    assert str(error.value) == f"agent preset {a}: extends makes a cycle ({a} extends {b} extends {c} extends {a})"
    with pytest.raises(RlkitError) as error:
        build_config(b, "cartpole")
    assert f"extends makes a cycle ({b} extends {c} extends {a} extends {b})" in str(error.value)
    itself = _write(tmp_path, "self.toml", 'extends = "self.toml"\n')
    with pytest.raises(RlkitError) as error:
        build_config(itself, "cartpole")
    assert str(error.value) == f"agent preset {itself}: extends makes a cycle ({itself} extends {itself})"


@pytest.mark.parametrize(("option", "name"), [("--agent", "presets/"), ("--env", "folder.toml"), ("--agent", "x.toml")])
def test_a_folder_given_as_a_preset_is_named_a_folder(cli, tmp_path, monkeypatch, option, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).mkdir()
    code, _, err = cli("train", option, name, "--run-dir", tmp_path / "runs")
    assert code == 2 and err.count("\n") == 1
    assert f"preset file {name} is a folder; give a TOML file, or a preset name (rlkit list)" in err
    assert not (tmp_path / "runs").exists()


def test_print_config_and_resolved_help_keys(cli, tmp_path):
    runs = tmp_path / "runs"
    code, out, _ = cli("train", "--agent", "expected-sarsa", "--env", "cartpole", "--print-config", "--run-dir", runs)
    assert code == 0 and json.loads(out)["env"]["bins"] == [1, 1, 6, 12]
    code, out, _ = cli("train", "--help-keys", "--agent", "dqn", "--env", "cartpole", "--set", "batch_size=80")
    assert code == 0 and "batch_size = 80" in out and "net_arch = [128, 128]" in out
    assert not runs.exists()  # nothing trained, no run folder


def test_a_path_to_a_built_in_preset_means_what_its_name_means(tmp_path):
    by_path, by_name = build_config("agents/dqn.toml", "cartpole"), build_config("dqn", "cartpole")
    assert (by_path.agent, by_path.env, by_path.train) == (by_name.agent, by_name.env, by_name.train)


def test_a_relative_extends_is_read_from_the_extending_files_folder(tmp_path, monkeypatch):
    (tmp_path / "presets").mkdir()
    _write(tmp_path / "presets", "base.toml", 'extends = "dqn"\n[agent]\nbatch_size = 40\n')
    child = _write(tmp_path / "presets", "child.toml", 'extends = "base.toml"\n[agent]\ngamma = 0.9\n')
    monkeypatch.chdir(tmp_path)  # not the presets' folder
    config = build_config(child, "cartpole")
    assert config.agent.batch_size == 40 and config.agent.gamma == 0.9


def test_a_per_preset_table_must_name_an_agent_preset(tmp_path):
    env = _write(tmp_path, "env.toml", '[env]\nid = "CartPole-v1"\n[tuned.preset.dqn-fsat]\nbatch_size = 96\n')
    with pytest.raises(
        RlkitError, match=r"\[tuned.preset.dqn-fsat\] must name an agent preset \(did you mean dqn-fast"
    ):
        build_config("dqn", env)
    env = _write(tmp_path, "old.toml", '[env]\nid = "Taxi-v4"\n[tuned.qlearning]\nlearning_rate = 0.5\n')
    with pytest.raises(RlkitError, match=r"the qlearning agent's family is tabular"):
        build_config("qlearning", env)


def test_help_keys_with_set_alone_resolves_the_default_agent_and_env(cli):
    code, out, _ = cli("train", "--help-keys", "--set", "learning_rate=0.3")
    assert code == 0 and "learning_rate = 0.3" in out and "resolved for qlearning on taxi" in out
    code, _, err = cli("train", "--help-keys", "--set", "learning_rate=-1")
    assert code == 2 and "learning_rate" in err
