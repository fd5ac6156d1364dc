"""What a run shows in TensorBoard: the HParams table, the Custom Scalars charts, the time per
step of acting and learning, and the Q-table picture."""

import json
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port, only_run
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import metadata

from rlkit.agents.images import VIRIDIS, colour_range, colours, heatmap, policy_map
from rlkit.board import start_board
from rlkit.cli import main
from rlkit.config import build_config
from rlkit.run.logger import Logger, charts, run_hyperparameters

HEADLINE = ["Agent", "Env", "Learning rate", "Seed", "Steps"]
COMMON = {
    *HEADLINE,
    "algo",
    "env.kind",
    "env.num_envs",
    "env.vectorization",
    "env.max_episode_steps",
    "train.schedule_steps",
    "train.eval_interval",
    "train.eval_episodes",
    "train.final_eval_episodes",
    "train.eval_epsilon",
    "train.eval_num_envs",
    "agent.gamma",
    "agent.lr_schedule",
    "agent.exploration",
    "agent.exploration_fraction",
    "agent.exploration_start",
    "agent.exploration_initial_eps",
    "agent.exploration_final_eps",
}
# A new config key shows up here: decide whether it applies to every run or only under a setting.
CARTPOLE_DQN = COMMON | {
    "agent.learning_rate_final",  # the dqn preset's learning rate decays linearly
    "agent.lr_decay_steps",
    "agent.buffer_size",
    "agent.learning_starts",
    "agent.batch_size",
    "agent.train_freq",
    "agent.gradient_steps",
    "agent.target_update_interval",
    "agent.tau",
    "agent.max_grad_norm",
    "agent.net_arch",
    "agent.encoder",
    "agent.double_q",
    "agent.dueling",
    "agent.n_steps",
    "agent.prioritized_replay",
    "agent.optimizer",
    "agent.adam_eps",
    "agent.init",
    "agent.normalize_observations",
    "agent.head",
    "agent.noisy",
    "agent.layer_norm",
}
TAXI_QLEARNING = COMMON | {"agent.initial_q"}


PLAIN_DQN = ["double_q=false", "dueling=false", "n_steps=1", "prioritized_replay=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A folder with two short real runs: DQN on CartPole and Q-learning on Taxi."""
    root = tmp_path_factory.mktemp("runs")
    for agent, env in (("dqn", "cartpole"), ("qlearning", "taxi")):
        settings = ("eval_interval=0", "final_eval_episodes=1", "log_interval=100")
        if agent == "dqn":  # plain DQN (the cartpole preset turns the family's switches on)
            settings += tuple(PLAIN_DQN)
        overrides = [argument for setting in settings for argument in ("--set", setting)]
        arguments = ["train", "--agent", agent, "--env", env, "--steps", "300", *overrides]
        assert main([*arguments, "--run-dir", str(root), "--no-progress"]) == 0
    return root


def _session_hparams(run: Path) -> dict:
    """The hyperparameters a run wrote for the HParams tab, as protobuf Values."""
    contents = EventAccumulator(str(run)).Reload().PluginTagToContent(metadata.PLUGIN_NAME)
    assert set(contents) == {metadata.SESSION_START_INFO_TAG, metadata.EXPERIMENT_TAG}
    return dict(metadata.parse_session_start_info_plugin_data(contents[metadata.SESSION_START_INFO_TAG]).hparams)


def test_hparams_hold_only_the_keys_that_apply(runs):
    dqn = _session_hparams(only_run(runs / "cartpole" / "dqn"))
    qlearning = _session_hparams(only_run(runs / "taxi" / "qlearning"))
    assert set(dqn) == CARTPOLE_DQN
    assert set(qlearning) == TAXI_QLEARNING
    assert dqn["agent.double_q"].WhichOneof("kind") == "bool_value" and dqn["agent.double_q"].bool_value is False
    assert dqn["Agent"].string_value == "dqn" and dqn["Env"].string_value == "CartPole-v1"
    assert dqn["Learning rate"].number_value == 1e-3 and dqn["Steps"].number_value == 300
    assert dqn["agent.net_arch"].string_value == "[128, 128]"


def _hparams_columns(logdir: Path, least: int) -> list[dict]:
    """The HParams tab's columns (in its order) as TensorBoard serves them for `logdir`."""
    address = start_board(logdir, free_port())
    deadline, columns = time.time() + 60, []
    while time.time() < deadline and len(columns) < least:
        request = urllib.request.Request(
            address + "data/plugin/hparams/experiment",
            data=json.dumps({"experimentName": ""}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            columns = json.loads(response.read()).get("hparamInfos", [])
        time.sleep(0.2)
    return columns


def test_hparams_columns_start_with_agent_env_learning_rate_seed(runs):
    """Every run writes the same experiment, so the table's columns do not depend on which run
    TensorBoard reads it from: every key either run has, the headline first (the five columns the
    table shows at first, Seed among them even where every run has the same seed)."""
    for logdir in (only_run(runs / "taxi" / "qlearning"), runs):
        columns = _hparams_columns(logdir, len(CARTPOLE_DQN | TAXI_QLEARNING))
        names = [column["name"] for column in columns]
        assert names[:5] == HEADLINE
        assert set(names) >= CARTPOLE_DQN | TAXI_QLEARNING
        assert {column["name"]: column["type"] for column in columns}["agent.double_q"] == "DATA_TYPE_BOOL"


def test_hparams_metrics_are_the_final_greedy_evaluation(runs):
    """The metric columns are the final evaluation's mean and spread (the last value of their tags,
    written by the final evaluation), not every scalar's last value (one noisy episode)."""
    contents = EventAccumulator(str(only_run(runs / "cartpole" / "dqn"))).Reload().PluginTagToContent(metadata.PLUGIN_NAME)
    experiment = metadata.parse_experiment_plugin_data(contents[metadata.EXPERIMENT_TAG])
    assert [metric.name.tag for metric in experiment.metric_infos] == ["eval/return_mean", "eval/return_std"]
    evaluation = json.loads((only_run(runs / "cartpole" / "dqn") / "eval.json").read_text())
    last = EventAccumulator(str(only_run(runs / "cartpole" / "dqn"))).Reload().Scalars("eval/return_mean")[-1]
    assert last.value == pytest.approx(evaluation["return_mean"])


def _hparams_of(agent: str, env: str, *overrides: str, **config_changes) -> dict:
    config = build_config(agent, env, overrides=overrides).to_dict()
    for key, value in config_changes.items():
        section, name = key.split("__")
        config[section][name] = value
    return run_hyperparameters(config)


def test_option_keys_appear_only_with_their_option():
    plain = _hparams_of("dqn", "cartpole", *PLAIN_DQN)
    assert not {key for key in plain if "rmsprop" in key or "sgd" in key or "per_" in key or "temperature" in key}
    assert {"env.bins", "env.noop_max", "agent.lr_decay_rate", "agent.compile", "train.device"}.isdisjoint(plain)
    rmsprop = _hparams_of("dqn", "cartpole", *PLAIN_DQN, "optimizer=rmsprop")
    assert {"agent.rmsprop_alpha", "agent.rmsprop_eps", "agent.rmsprop_centered"} <= set(rmsprop)
    assert "agent.adam_eps" not in rmsprop and rmsprop["agent.rmsprop_centered"] is False
    per = _hparams_of("dqn", "cartpole", "prioritized_replay=true")
    assert {"agent.per_alpha", "agent.per_beta", "agent.per_eps", "agent.per_weights"} <= set(per)
    softmax = _hparams_of("qlearning", "taxi", "exploration=softmax", "lr_schedule=exponential")
    assert {"agent.exploration_initial_temperature", "agent.exploration_final_temperature"} <= set(softmax)
    assert {"agent.lr_decay_rate", "agent.lr_decay_steps", "agent.learning_rate_final"} <= set(softmax)
    assert "agent.exploration_initial_eps" not in softmax
    plain_keys = {"agent.atoms", "agent.v_min", "agent.v_max", "agent.quantiles", "agent.noisy_sigma0"}
    assert plain_keys.isdisjoint(plain)
    c51 = _hparams_of("c51", "cartpole")
    assert {"agent.atoms", "agent.v_min", "agent.v_max"} <= set(c51) and "agent.quantiles" not in c51
    assert "agent.quantiles" in _hparams_of("qrdqn", "cartpole")
    rainbow = _hparams_of("rainbow", "cartpole")  # noisy nets: the ε schedule does not apply
    assert "agent.noisy_sigma0" in rainbow
    assert not {key for key in rainbow if key.startswith("agent.exploration")}
    binned = _hparams_of("qlearning", "cartpole")  # the cartpole preset's qlearning table sets bins
    assert binned["env.bins"] == "[1, 1, 6, 12]" and "env.low" in binned and "env.high" in binned
    assert _hparams_of("qlearning", "frozenlake")["env.make_kwargs.is_slippery"] is True
    atari = _hparams_of("dqn", "cartpole", env__id="ALE/Pong-v5")
    assert {"env.noop_max", "env.frame_skip", "env.terminal_on_life_loss", "env.max_frames"} <= set(atari)
    assert atari["env.clip_reward"] is True
    assert "env.max_episode_steps" not in atari and "agent.normalize_observations" not in atari


def _charts(run: Path) -> dict[str, list[str]]:
    events = EventAccumulator(str(run)).Reload()
    layout = layout_pb2.Layout.FromString(events.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0])
    return {chart.title: list(chart.multiline.tag) for category in layout.category for chart in category.chart}


def test_custom_scalars_give_each_quantity_its_own_chart(runs):
    charts = _charts(only_run(runs / "cartpole" / "dqn"))
    chart_of = {tag: title for title, tags in charts.items() for tag in tags}
    # training episodes and the few greedy evaluations apart, so the evaluations stay visible
    assert chart_of["rollout/episode_return"] != chart_of["eval/return_mean"]
    assert len({chart_of[tag] for tag in ("train/loss", "train/q_mean", "train/grad_norm")}) == 3
    assert chart_of["train/epsilon"] != chart_of["train/learning_rate"]
    assert charts[chart_of["time/sps"]] == ["time/sps"]
    assert charts[chart_of["time/acting_ms_per_step"]] == ["time/acting_ms_per_step", "time/learning_ms_per_step"]


def test_custom_scalars_hold_only_the_charts_a_run_logs(runs):
    """A chart of a tag no run logs shows "Matches (0)": a Q-table run has no loss, Q or gradient
    chart, a DQN run no TD error chart, and every chart of the Q-table run has its points."""
    taxi = only_run(runs / "taxi" / "qlearning")
    charts = _charts(taxi)
    logged = set(EventAccumulator(str(taxi)).Reload().Tags()["scalars"])
    assert {tag for tags in charts.values() for tag in tags} <= logged
    assert "train/td_error" in logged and not {"train/loss", "train/grad_norm"} & logged
    dqn_tags = {tag for tags in _charts(only_run(runs / "cartpole" / "dqn")).values() for tag in tags}
    assert "train/td_error" not in dqn_tags and "train/per_beta" not in dqn_tags  # plain DQN: no priorities


def test_charts_follow_the_options_of_the_run():
    per = build_config("dqn", "cartpole", overrides=["prioritized_replay=true"]).to_dict()
    assert charts(per, "dqn")["prioritized replay: importance-weight exponent β"] == ["train/per_beta"]
    softmax = build_config("qlearning", "taxi", overrides=["exploration=softmax"]).to_dict()
    assert ["train/temperature"] in charts(softmax, "tabular").values()
    assert ["train/epsilon"] not in charts(softmax, "tabular").values()


def test_phase_times_are_logged_in_milliseconds_per_environment_step(tmp_path):
    logger = Logger(tmp_path, total_steps=20, progress=False)
    with logger.timed("acting"):
        time.sleep(0.02)
    logger.progress({}, step=10)
    logger.progress({}, step=20)  # nothing timed since the last line: no point
    logger.close()
    (point,) = EventAccumulator(str(tmp_path)).Reload().Scalars("time/acting_ms_per_step")
    assert point.step == 10 and point.value >= 2.0  # at least 20 ms over 10 steps


# ----------------------------------------------------------------------------- the Q-table picture


@pytest.mark.parametrize(("states", "actions"), [(500, 6), (48, 4), (64, 4), (72, 2), (5000, 4), (10, 18)])
def test_heatmap_is_a_readable_picture_of_any_table(states, actions):
    picture = heatmap(np.random.default_rng(0).normal(size=(states, actions)))
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    height, width = picture.shape[:2]
    # about as wide as TensorBoard's image cards (320-400 px), which shrink wider pictures, text and all
    assert 300 <= width <= 420 and height <= 1400
    pixels = {tuple(pixel) for pixel in picture.reshape(-1, 3)}
    assert tuple(VIRIDIS[0].astype(int)) in pixels and tuple(VIRIDIS[-1].astype(int)) in pixels  # the colour bar


def test_colours_leave_out_far_outliers():
    rng = np.random.default_rng(0)
    cliff = rng.uniform(-15, 0, size=(48, 4))
    cliff[24:35, 2] = -100  # the actions that step off the cliff: 6% of the table
    low, high = colour_range(cliff)
    assert -50 < low < -15 and high == cliff.max()
    mostly_zero = np.zeros((16, 4))
    mostly_zero[3, 1], mostly_zero[5, 2] = -1.0, 2.0  # quartiles equal: the whole range
    assert colour_range(mostly_zero) == (-1.0, 2.0)
    assert colour_range(np.full((4, 2), 3.0)) == (3.0, 3.0)
    ends = colours(np.array([-5.0, 0.0, 1.0, 9.0]), 0.0, 1.0)
    assert (ends[0] == ends[1]).all() and (ends[2] == ends[3]).all() and (ends[1] == VIRIDIS[0]).all()


def test_the_heatmap_needs_no_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert heatmap(np.zeros((48, 4))).shape[2] == 3
    assert policy_map(np.zeros((48, 4)), {"tiles": ["." * 12] * 4, "arrows": "↑→↓←"}) is None


def test_the_q_table_picture_names_the_actions_the_env_names():
    from rlkit.envs import describe

    taxi = describe(build_config("qlearning", "taxi").env)
    assert taxi["action_names"] == ["south", "north", "east", "west", "pickup", "drop-off"]
    assert describe(build_config("qlearning", "frozenlake").env)["action_names"] == ["left", "down", "right", "up"]
    table = np.random.default_rng(0).random((500, 6))
    numbered, named = heatmap(table), heatmap(table, taxi["action_names"])
    assert named.shape[1] > numbered.shape[1]  # room on the left for the names
    assert np.array_equal(heatmap(table, ["a", "b"]), numbered)  # names that do not fit the table: numbers
