"""MinAtar in rlkit: the grid observation kind, its env (seeding, sticky actions, action sets),
its bit-packed replay, MinAtar's network, the preset, the refusals, and the colour pictures."""

import io
import json
import math
import sys

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

pytest.importorskip("minatar", reason="MinAtar tests need the minatar package: pip install 'rlkit[minatar]'")

from rlkit.agents.dqn import DQNAgent  # noqa: E402
from rlkit.agents.networks import MinAtarCNN, build_q_network  # noqa: E402
from rlkit.config import build_config  # noqa: E402
from rlkit.envs import EnvConfig, check_env_id, describe, make_env, make_vector_env  # noqa: E402
from rlkit.envs.minatar import PALETTE, MinAtarEnv, grid_rgb  # noqa: E402
from rlkit.errors import RlkitError  # noqa: E402
from rlkit.replay.buffer import ReplayBuffer  # noqa: E402
from rlkit.replay.frames import FrameReplay  # noqa: E402
from rlkit.run.evaluation import play_episodes  # noqa: E402

# game → (channels, size of the minimal action set)
GAMES = {"Asterix": (4, 5), "Breakout": (4, 3), "Freeway": (7, 3), "Seaquest": (10, 6), "SpaceInvaders": (6, 4)}
PRESETS = {
    "Asterix": "minatar-asterix",
    "Breakout": "minatar-breakout",
    "Freeway": "minatar-freeway",
    "Seaquest": "minatar-seaquest",
    "SpaceInvaders": "minatar-space-invaders",
}


def _config(game: str, **settings) -> EnvConfig:
    return EnvConfig(id=f"MinAtar/{game}-v0", **settings)


# ----------------------------------------------------------------------------- the env


@pytest.mark.filterwarnings("ignore:.*not having a spec")  # the checker's note: rlkit makes these envs itself
@pytest.mark.parametrize("game", GAMES)
def test_every_game_gives_channels_first_uint8_grids_and_six_actions(game):
    channels, minimal = GAMES[game]
    assert describe(_config(game)) == {
        "kind": "grid",
        "observation_shape": [channels, 10, 10],
        "observation_dtype": "uint8",
        "num_states": None,
        "num_actions": 6,
        "grid": None,
        "action_names": None,  # MinAtar names no actions
    }
    assert describe(_config(game, minimal_actions=True))["num_actions"] == minimal
    env = make_env(_config(game))
    observation, _ = env.reset(seed=0)
    assert observation.shape == (channels, 10, 10) and observation.dtype == np.uint8
    assert observation.flags.c_contiguous and set(np.unique(observation)) <= {0, 1}
    state = env.unwrapped.game.state()  # the game's own 10×10×n bool planes
    np.testing.assert_array_equal(observation, state.transpose(2, 0, 1))
    check_env(env.unwrapped, skip_render_check=False)


def test_presets_name_every_game_with_the_papers_settings():
    for game, preset in PRESETS.items():
        config = build_config("dqn-minatar", preset)
        assert config.env.id == f"MinAtar/{game}-v0"
        assert config.env.sticky_action_prob == 0.1 and not config.env.minimal_actions
    assert EnvConfig().sticky_action_prob == 0.1  # a bare MinAtar id plays the paper's game too


def _trajectory(env, seed: int, steps: int = 400) -> list:
    rng = np.random.default_rng(123)
    observation, _ = env.reset(seed=seed)
    trajectory = [observation]
    for _ in range(steps):
        observation, reward, terminated, truncated, _ = env.step(int(rng.integers(6)))
        trajectory += [observation, reward, terminated]
        if terminated or truncated:
            observation, _ = env.reset()
            trajectory.append(observation)
    return trajectory


def _same(first: list, second: list) -> bool:
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("game", ["Seaquest", "Breakout"])
def test_reset_seed_makes_the_game_and_its_sticky_actions_reproducible(game):
    env, other = make_env(_config(game)), make_env(_config(game))
    first = _trajectory(env, seed=5)
    assert _same(first, _trajectory(other, seed=5))
    assert _same(first, _trajectory(env, seed=5))  # the same env, seeded again after its own history
    assert not _same(first, _trajectory(other, seed=6))


def test_vector_envs_are_seeded_reproducibly_and_differently():
    def rollout():
        envs = make_vector_env(_config("Asterix"), 2)
        observations, _ = envs.reset(seed=11)
        seen = [observations]
        for step in range(200):
            seen.append(envs.step(np.array([step % 6, (step * 5) % 6]))[0])
        envs.close()
        return np.stack(seen)

    first = rollout()
    np.testing.assert_array_equal(first, rollout())
    assert not np.array_equal(first[:, 0], first[:, 1])


def test_the_game_draws_from_gymnasiums_np_random_so_its_state_is_all_to_save():
    env = MinAtarEnv("seaquest")
    env.reset(seed=3)
    saved = env.np_random.bit_generator.state
    game = env.unwrapped.game
    draws = [game.random.rand() for _ in range(5)]
    env.np_random.bit_generator.state = saved
    assert [game.random.rand() for _ in range(5)] == draws and game.env.random is game.random


class _ActionSpy:
    """Records the actions the game itself receives (after sticky actions)."""

    def __init__(self, game):
        self.played: list[int] = []
        act = game.env.act
        game.env.act = lambda action: (self.played.append(action), act(action))[1]


def test_sticky_actions_repeat_the_previous_action_one_time_in_ten():
    env = MinAtarEnv("freeway")  # 2,500-step games: few resets
    assert env.game.sticky_action_prob == 0.1
    spy = _ActionSpy(env.game)
    env.reset(seed=0)
    chosen = [1, 3] * 2000  # left, right, ...: every action differs from the one before
    for action in chosen:
        env.step(action)
    repeated = sum(played != wanted for played, wanted in zip(spy.played, chosen))
    expected, sd = 0.1 * len(chosen), math.sqrt(0.09 * len(chosen))
    assert abs(repeated - expected) < 5 * sd, repeated

    plain = MinAtarEnv("freeway", sticky_action_prob=0.0)
    spy = _ActionSpy(plain.game)
    plain.reset(seed=0)
    for action in chosen[:500]:
        plain.step(action)
    assert spy.played == chosen[:500]


def test_sticky_memory_starts_at_no_op_on_every_reset():
    env = MinAtarEnv("breakout", sticky_action_prob=1.0)  # always repeat: only the first action's memory shows
    spy = _ActionSpy(env.game)
    env.reset(seed=0)
    env.step(3)
    env.reset()
    env.step(3)
    assert spy.played == [0, 0]


def test_minimal_action_set_maps_onto_the_games_actions():
    env = make_env(_config("Breakout", minimal_actions=True, sticky_action_prob=0.0))
    assert env.action_space.n == 3
    game = env.unwrapped.game
    assert list(env.unwrapped.action_set) == game.minimal_action_set() == [0, 1, 3]  # no-op, left, right
    spy = _ActionSpy(game)
    env.reset(seed=0)
    for action in (0, 1, 2):
        env.step(action)
    assert spy.played == [0, 1, 3]
    assert list(make_env(_config("Breakout")).unwrapped.action_set) == list(range(6))


def test_episode_statistics_count_every_step_and_reward_under_a_time_limit():
    envs = make_vector_env(_config("Breakout", max_episode_steps=15), 1)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    length, total, ends = 0, 0.0, {"terminated": 0, "truncated": 0}
    for _ in range(1000):
        _, reward, terminated, truncated, infos = envs.step(rng.integers(6, size=1))
        length, total = length + 1, total + float(reward[0])
        if terminated[0] or truncated[0]:
            episode = infos["final_info"]["episode"]
            assert (episode["l"][0], episode["r"][0]) == (length, total)
            assert length <= 15 and (length == 15 or terminated[0])
            ends["terminated" if terminated[0] else "truncated"] += 1
            length, total = 0, 0.0
    assert ends["terminated"] >= 5 and ends["truncated"] >= 5, ends


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        ("MinAtar/Breakot-v0", "did you mean MinAtar/Breakout-v0"),
        ("MinAtar/Breakout-v1", "rlkit's id is MinAtar/Breakout-v0 with env.minimal_actions = true"),
    ],
)
def test_bad_minatar_ids_say_what_is_valid(env_id, message):
    with pytest.raises(RlkitError, match=message):
        check_env_id(env_id)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"repeat_action_probability": 0.25}, "set env.sticky_action_prob"),
        ({"full_action_space": True}, "env.minimal_actions"),
        ({"make_kwargs": {"difficulty": 3}}, "cannot be made with"),
    ],
)
def test_atari_settings_and_bad_keywords_are_refused(settings, message):
    with pytest.raises(RlkitError, match=message):
        make_env(_config("Breakout", **settings))


def test_difficulty_ramping_goes_through_make_kwargs():
    env = make_env(_config("Seaquest", make_kwargs={"difficulty_ramping": False}))
    assert env.unwrapped.game.env.ramping is False
    assert make_env(_config("Seaquest")).unwrapped.game.env.ramping is True


# ----------------------------------------------------------------------------- replay


def _rollout(game: str, num_envs: int, steps: int, seed: int = 0):
    """Transitions of a real MinAtar vector env under random actions: terminations, and
    truncations from a short time limit."""
    envs = make_vector_env(_config(game, max_episode_steps=15), num_envs)
    observations, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        actions = rng.integers(6, size=num_envs)
        next_observations, rewards, terminated, truncated, infos = envs.step(actions)
        real_next = next_observations.copy()
        if "final_obs" in infos:
            for i in np.flatnonzero(infos["_final_obs"]):
                real_next[i] = infos["final_obs"][i]
        yield observations, actions, rewards.astype(np.float32), real_next, terminated, truncated
        observations = next_observations
    envs.close()


@pytest.mark.parametrize("game", GAMES)
@pytest.mark.parametrize(("capacity", "n_steps"), [(2 * 300, 1), (2 * 300, 3), (2 * 110, 1)])
def test_packed_grids_give_the_batches_of_a_plain_buffer(game, capacity, n_steps):
    transitions = list(_rollout(game, num_envs=2, steps=300))
    shape = transitions[0][0].shape[1:]
    assert sum(int(t[5].sum()) for t in transitions) >= 5  # every game: time-limit truncations
    if game == "Breakout":  # and games that end
        assert sum(int(t[4].sum()) for t in transitions) >= 10
    plain = ReplayBuffer(capacity, shape, np.uint8, num_envs=2, n_steps=n_steps)
    packed = FrameReplay(capacity, 2, shape, n_steps=n_steps, bit_planes=True)
    for transition in transitions:
        plain.add(*transition)
        packed.add(*transition)
    assert packed.size == plain.size == capacity  # the last case wrapped around
    # with short episodes the frames of the oldest transitions go first (see rlkit.replay.frames)
    indices = np.flatnonzero(~packed.invalid)
    assert len(indices) == len(packed) >= 0.9 * capacity
    expected, actual = plain.batch(indices), packed.batch(indices)
    for name, a, b in zip(expected._fields, expected, actual):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    sampled = packed.sample_indices(32)
    assert torch.equal(packed.batch(sampled).observations, plain.batch(sampled).observations)


def _replay_bytes(channels: int, capacity: int = 100_000) -> float:
    return FrameReplay(capacity, 1, [channels, 10, 10], bit_planes=True).nbytes() / capacity


@pytest.mark.parametrize("game", GAMES)
def test_bytes_per_transition(game):
    """A transition costs one packed grid, ⌈100·C / 8⌉ bytes (in a ring 1/32 longer than the
    capacity), plus 35 bytes of bookkeeping: 86.8 B for 4 channels, 164.2 B for Seaquest's 10,
    against 2·100·C + 14 in a buffer of unpacked observation pairs."""
    channels, _ = GAMES[game]
    frame = math.ceil(100 * channels / 8)
    capacity = 100_000
    slots = capacity + capacity // 32 + 1
    expected = (slots * (frame + 8) + capacity * 27) / capacity  # and 16 bytes of write counters per env
    assert _replay_bytes(channels, capacity) == pytest.approx(expected, abs=0.01)
    assert _replay_bytes(channels, capacity) < (2 * 100 * channels + 14) / 9
    if channels <= 4:
        assert _replay_bytes(channels, capacity) <= 100


def test_dqn_stores_grids_packed():
    config = build_config("dqn-minatar", "minatar-seaquest")
    agent = DQNAgent(config.agent, describe(config.env), total_steps=1000, seed=0)
    assert isinstance(agent.replay, FrameReplay) and agent.replay.bit_planes
    assert agent.replay.frames.shape[-1] == 125 and agent.replay.frames.dtype == torch.uint8


# ----------------------------------------------------------------------------- network and preset


@pytest.mark.parametrize(("channels", "actions"), [(4, 6), (10, 6), (7, 3)])
def test_minatar_network_layer_sizes(channels, actions):
    network = build_q_network("grid", [channels, 10, 10], actions, net_arch=[])
    encoder = network.encoder
    assert isinstance(encoder, MinAtarCNN)
    convolution, linear = encoder.convolutions[0], encoder.linear[0]
    assert (convolution.in_channels, convolution.out_channels) == (channels, 16)
    assert convolution.kernel_size == (3, 3) and convolution.stride == (1, 1) and convolution.padding == (0, 0)
    assert (linear.in_features, linear.out_features) == (16 * 8 * 8, 128)
    assert (network.head.in_features, network.head.out_features) == (128, actions)
    parameters = sum(p.numel() for p in network.parameters())
    assert parameters == (channels * 9 + 1) * 16 + (1024 + 1) * 128 + (128 + 1) * actions


def test_minatar_network_reads_planes_unscaled():
    network = build_q_network("grid", [4, 10, 10], 6, net_arch=[])
    planes = torch.randint(0, 2, (5, 4, 10, 10), dtype=torch.uint8)
    torch.testing.assert_close(network(planes), network(planes.float()))


def test_preset_is_the_reference_dqn():
    config = build_config("dqn-minatar", "minatar-breakout")
    agent, train = config.agent, config.train
    assert (agent.optimizer, agent.rmsprop_centered, agent.learning_rate) == ("rmsprop", True, 2.5e-4)
    assert (agent.rmsprop_alpha, agent.rmsprop_eps, agent.max_grad_norm) == (0.95, 0.01, 0.0)
    assert (agent.buffer_size, agent.batch_size, agent.train_freq, agent.gradient_steps) == (100_000, 32, 1, 1)
    assert (agent.learning_starts, agent.target_update_interval, agent.tau, agent.gamma) == (5_000, 1_000, 1.0, 0.99)
    assert agent.encoder == "auto" and agent.net_arch == [] and not agent.double_q and agent.n_steps == 1
    assert train.total_steps == 1_000_000
    for total_steps in (train.total_steps, 5_000_000):  # the ε schedule does not move with --steps
        horizon = train.schedule_steps or total_steps
        epsilons = [agent.epsilon_at(step, horizon) for step in (0, 5_000, 55_000, 105_000, 900_000)]
        assert epsilons == pytest.approx([1.0, 1.0, 0.55, 0.1, 0.1])
    dqn = DQNAgent(agent, describe(config.env), total_steps=train.schedule_steps, seed=0)
    assert isinstance(dqn.q_network.encoder, MinAtarCNN)


# ----------------------------------------------------------------------------- bad input


def _one_line_error(cli, tmp_path, *args) -> str:
    runs = tmp_path / "runs"
    code, _, err = cli("train", *args, "--run-dir", runs, "--no-progress")
    assert code == 2 and err.count("\n") == 1 and err.startswith("rlkit: error: ") and "Traceback" not in err, err
    assert not runs.exists()
    return err


def test_missing_minatar_is_one_line_naming_the_extra(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "minatar", None)  # `import minatar` now fails
    err = _one_line_error(cli, tmp_path, "--agent", "dqn-minatar", "--env", "minatar-breakout")
    assert "pip install 'rlkit[minatar]'" in err
    build_config("dqn-minatar", "minatar-seaquest")  # configs and presets need no package


def test_qlearning_on_a_grid_says_which_agent_fits(cli, tmp_path):
    err = _one_line_error(cli, tmp_path, "--agent", "qlearning", "--env", "minatar-breakout")
    assert "qlearning needs discrete states, but the env gives grid observations: use the dqn-minatar agent" in err


@pytest.mark.parametrize("args", [["--agent", "dqn-atari"], ["--agent", "dqn-minatar", "--set", "encoder=nature_cnn"]])
def test_nature_cnn_on_a_grid_says_what_fits(cli, tmp_path, args):
    err = _one_line_error(cli, tmp_path, *args, "--env", "minatar-freeway")
    assert "the nature_cnn encoder reads 84×84 Atari frames" in err
    assert "grid observations [7, 10, 10]" in err and "set agent.encoder = 'auto'" in err


# ----------------------------------------------------------------------------- pictures


def test_grid_picture_has_one_colour_per_channel():
    observation = np.zeros((10, 10, 10), dtype=np.uint8)
    for channel in range(10):
        observation[channel, channel, 0] = 1  # channel c alone in cell (c, 0)
    observation[2, 5, 5] = observation[7, 5, 5] = 1  # two channels in one cell: the higher one shows
    picture = grid_rgb(observation, cell=4)
    assert picture.shape == (40, 40, 3) and picture.dtype == np.uint8
    colours = [tuple(picture[4 * channel + 1, 1]) for channel in range(10)]
    assert len(set(colours)) == 10 and (0, 0, 0) not in colours
    assert colours == [tuple(colour) for colour in PALETTE]
    assert tuple(picture[21, 21]) == colours[7]
    assert tuple(picture[4 * 9 + 1, 4 * 9 + 1]) == (0, 0, 0)  # an empty cell is black
    assert (picture[:4, :4] == picture[0, 0]).all()  # a cell is a solid 4×4 square


def test_rgb_array_render_draws_the_current_grid():
    env = make_env(_config("Seaquest"), render_mode="rgb_array")
    observation, _ = env.reset(seed=0)
    for _ in range(30):
        observation, *_ = env.step(5)
    frame = env.render()
    assert frame.shape == (160, 160, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, grid_rgb(observation))
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 3  # black and at least two channels' colours


class _RandomAgent:
    def greedy_actions(self, observations, epsilon, rng):
        return rng.integers(6, size=len(observations))


def test_recorded_evaluation_frames_are_colour_pictures_and_make_a_gif(tmp_path):
    from PIL import Image

    from rlkit.run.logger import Logger

    envs = make_vector_env(_config("Breakout"), 1, training=False)
    result = play_episodes(_RandomAgent(), envs, 1, 0.0, np.random.SeedSequence(0), record=True)
    frames = result["frames"]
    assert frames.shape == (result["length_mean"] + 1, 160, 160, 3) and frames.dtype == np.uint8
    colours = {tuple(colour) for colour in np.unique(frames.reshape(-1, 3), axis=0)}
    assert colours == {(0, 0, 0), *(tuple(colour) for colour in PALETTE[:4])}  # paddle, ball, trail, brick

    logger = Logger(tmp_path, total_steps=1, progress=False)
    logger.video("eval/video", frames, step=0)
    logger.close()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path)).Reload()
    gif = Image.open(io.BytesIO(events.Images("eval/video")[0].encoded_image_string))
    assert gif.n_frames == len(frames) and gif.size == (160, 160)
    np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), frames[0])


def test_cli_trains_evaluates_and_records_a_video(cli, tmp_path):
    code, _, err = cli(
        "train",
        "--agent",
        "dqn-minatar",
        "--env",
        "minatar-breakout",
        "--steps",
        "2000",
        *("--set", "learning_starts=500", "--set", "eval_interval=1000", "--set", "final_eval_episodes=3"),
        *("--set", "eval_video=true", "--run-dir", tmp_path / "runs", "--no-progress"),
    )
    assert code == 0, err
    (run,) = (tmp_path / "runs" / "minatar-breakout" / "dqn-minatar").iterdir()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    videos = EventAccumulator(str(run), size_guidance={"images": 0}).Reload().Images("eval/video")
    assert videos and videos[0].width == 160  # the grid drawn in colour, 16 pixels a cell
    result = json.loads((run / "eval.json").read_text())
    assert result["episodes"] == 3 and len(result["evaluations"]) >= 2
    config = json.loads((run / "config.json").read_text())
    assert config["env"]["id"] == "MinAtar/Breakout-v0" and config["agent"]["optimizer"] == "rmsprop"
    pytest.importorskip("moviepy", reason="--video needs moviepy: pip install 'rlkit[video]'")
    code, _, err = cli("eval", run, "--episodes", "1", "--video", tmp_path / "video")
    assert code == 0, err
    assert len(list((tmp_path / "video").glob("*.mp4"))) == 1


# A stand-in for MinAtar's examples/dqn.py with the interface bench_minatar_reference.py uses (the
# reference itself is GPL-3.0 and not shipped): it records what it was asked and writes the files
# the reference writes, with a network that always plays action 0.
STAND_IN = """
import json, torch
from torch import nn
NUM_FRAMES = 5000000
device = torch.device("cpu")
class QNetwork(nn.Module):
    def __init__(self, in_channels, num_actions):
        super().__init__()
        self.output = nn.Linear(in_channels * 100, num_actions)
        with torch.no_grad():
            self.output.weight.zero_()
            self.output.bias.copy_(torch.arange(num_actions, 0, -1).float())
    def forward(self, x):
        return self.output(x.flatten(1))
def get_state(s):
    return torch.tensor(s, device=device).permute(2, 0, 1).unsqueeze(0).float()
def dqn(env, replay_off, target_off, output_file_name, store_intermediate_result=False, load_path=None):
    net = QNetwork(env.state_shape()[2], env.num_actions())
    with open(output_file_name + "_asked.json", "w") as f:
        json.dump({"frames": NUM_FRAMES, "load_path": load_path, "save": store_intermediate_result}, f)
    torch.save({"returns": [1.0] * 50 + [3.0] * 100, "policy_net_state_dict": net.state_dict()},
               output_file_name + "_data_and_weights")
"""


def test_the_reference_benchmark_runs_the_reference_and_plays_its_network_greedily(tmp_path, capsys):
    from conftest import load_script

    bench = load_script("bench_minatar_reference")
    checkout = tmp_path / "MinAtar"
    (checkout / "examples").mkdir(parents=True)
    (checkout / "examples" / "dqn.py").write_text(STAND_IN)
    out = tmp_path / "ref"
    args = ["--minatar", str(checkout), "--game", "breakout", "--frames", "1234", "--episodes", "3", "--out", str(out)]
    assert bench.main(args) == 0
    asked = json.loads((out / "breakout_asked.json").read_text())
    assert asked == {"frames": 1234, "load_path": None, "save": True}  # the budget, checkpoints on, a fresh run
    result = json.loads((out / "result.json").read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert result["train_return_last_100_episodes"] == 3.0 and result["greedy_episodes"] == 3
    # the stand-in's greedy action is 0 (no-op) everywhere: the same games played so by hand
    from minatar import Environment

    env, returns = Environment("breakout"), []
    env.seed(1)  # the evaluation's seed: --seed (0) + 1
    for _ in range(3):
        env.reset()
        total, terminated = 0.0, False
        while not terminated:
            reward, terminated = env.act(0)
            total += reward
        returns.append(total)
    assert result["greedy_return_mean"] == pytest.approx(np.mean(returns)) and not result["resumed"]
    assert bench.main(args) == 2  # never overwrites a result
    assert "exists" in capsys.readouterr().err
    (out / "result.json").unlink()
    (out / "breakout_checkpoint").write_bytes(b"")  # the reference's checkpoint: the next run resumes from it
    assert bench.main(args) == 0
    assert json.loads((out / "breakout_asked.json").read_text())["load_path"] == str(out / "breakout_checkpoint")
    assert json.loads((out / "result.json").read_text())["resumed"]
    with pytest.raises(SystemExit, match="examples/dqn.py not found"):
        bench.main(["--minatar", str(tmp_path), "--game", "breakout", "--out", str(tmp_path / "other")])
