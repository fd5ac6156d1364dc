import json
import os
import pickle
import signal
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import pytest
from conftest import child
from safetensors.numpy import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rlkit.config import build_config
from rlkit.run import checkpoint
from rlkit.run.checkpoint import CheckpointError
from rlkit.run.trainer import Run, new_run_dir

TESTS = Path(__file__).parent
NOISE = "noise_env:Noise-v0"


def _run_folder(root: Path) -> Path:
    (run,) = [p for p in root.glob("*/*/*") if p.is_dir()]
    return run


_SETTINGS = {
    "qlearning": ["--set", "eval_interval=50", "--set", "eval_episodes=2", "--set", "final_eval_episodes=3"],
    "dqn": [
        "--set",
        "eval_interval=50",
        "--set",
        "eval_episodes=2",
        "--set",
        "final_eval_episodes=3",
        "--set",
        "learning_starts=20",
        "--set",
        "train_freq=2",
        "--set",
        "gradient_steps=1",
        "--set",
        "batch_size=8",
        "--set",
        "net_arch=[16]",
        "--set",
        "target_update_interval=30",
        "--set",
        "buffer_size=1000",
    ],
}


def _train(cli, root, *extra, agent="dqn", env=NOISE, steps=200):
    args = ["train", "--agent", agent, "--env", env, "--steps", steps, "--seed", 5, "--run-dir", root, "--no-progress"]
    code, out, err = cli(*args, *_SETTINGS[agent], *extra)
    assert code == 0, err
    return _run_folder(root)


# ------------------------------------------------------------------ format


def test_save_and_load_round_trip(tmp_path):
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.array(3.0, dtype=np.float32)}
    folder = checkpoint.save(tmp_path / "step-000000000001", tensors, {"step": 1}, {"x": np.arange(4)})
    loaded, meta, replay = checkpoint.load(folder, with_replay=True)
    np.testing.assert_array_equal(loaded["a"], tensors["a"])
    assert meta["step"] == 1 and meta["format_version"] == checkpoint.FORMAT_VERSION
    np.testing.assert_array_equal(replay["x"], np.arange(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000000000001"]  # no temporary left
    with pytest.raises(CheckpointError, match="exists already"):
        checkpoint.save(folder, tensors, {})


def test_a_safetensors_header_whose_length_starts_with_0x80_is_no_pickle(tmp_path):
    for length in range(1, 200):  # find a key length that makes the header length ≡ 128 (mod 256)
        folder = checkpoint.save(tmp_path / f"step-{length:012d}", {"k" * length: np.zeros(1)}, {})
        if (folder / "tensors.safetensors").read_bytes()[0] == 0x80:
            assert checkpoint.load(folder)[0]["k" * length].shape == (1,)
            return
    pytest.fail("no header length starting with 0x80 was tried")


def test_only_the_newest_checkpoints_and_the_best_are_kept(cli, tmp_path):
    run = _train(cli, tmp_path, "--set", "checkpoint_interval=40", "--set", "keep_checkpoints=2")
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert [n for n in names if n.startswith("step-")] == ["step-000000000160", "step-000000000200"]
    assert len([n for n in names if n.startswith("best-")]) == 1


# ------------------------------------------------------------------ bad checkpoints


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from rlkit.cli import main

    root = tmp_path_factory.mktemp("runs")
    assert (
        main(
            [
                "train",
                "--agent",
                "qlearning",
                "--env",
                "taxi",
                "--steps",
                "2000",
                "--run-dir",
                str(root),
                "--no-progress",
                "--set",
                "eval_interval=1000",
                "--set",
                "final_eval_episodes=2",
            ]
        )
        == 0
    )
    return _run_folder(root)


def _copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    latest = checkpoint.find(run)
    target = tmp_path / latest.name
    shutil.copytree(latest, target)
    return target


def _eval_error(cli, path, *extra) -> str:
    code, out, err = cli("eval", path, "--episodes", 1, *extra)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_missing_path(cli, tmp_path):
    assert "no such file or folder" in _eval_error(cli, tmp_path / "nope")


def test_folder_that_is_not_a_checkpoint(cli, tmp_path):
    assert "not a checkpoint" in _eval_error(cli, tmp_path)


def test_truncated_tensor_file(cli, trained_run, tmp_path):
    folder = _copy(trained_run, tmp_path)
    data = (folder / "tensors.safetensors").read_bytes()
    (folder / "tensors.safetensors").write_bytes(data[: len(data) // 2])
    err = _eval_error(cli, folder)
    assert "tensors.safetensors: corrupted" in err


def test_one_flipped_byte(cli, trained_run, tmp_path):
    folder = _copy(trained_run, tmp_path)
    data = bytearray((folder / "tensors.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (folder / "tensors.safetensors").write_bytes(bytes(data))
    assert "corrupted" in _eval_error(cli, folder)


def test_garbled_metadata(cli, trained_run, tmp_path):
    folder = _copy(trained_run, tmp_path)
    (folder / "meta.json").write_text('{"format_version": 1, "files": ')
    assert "meta.json: corrupted" in _eval_error(cli, folder)


def test_newer_format_version(cli, trained_run, tmp_path):
    folder = _copy(trained_run, tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["format_version"] = checkpoint.FORMAT_VERSION + 1
    (folder / "meta.json").write_text(json.dumps(meta))
    assert "is newer than this rlkit reads" in _eval_error(cli, folder)


def test_checkpoint_for_another_env_shape(cli, trained_run, tmp_path):
    folder = _copy(trained_run, tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["config"]["env"]["id"] = "CliffWalking-v1"  # 48 states, 4 actions; the Q-table is 500 × 6
    (folder / "meta.json").write_text(json.dumps(meta))
    err = _eval_error(cli, folder)
    assert (
        "written for observations [], 500 states and 6 actions, but the env gives observations [], 48 states and 4 actions"
        in err
    )


class _Payload:
    """Unpickling this creates a file: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_a_pickle_with_a_payload_never_runs(cli, trained_run, tmp_path):
    folder = _copy(trained_run, tmp_path)
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps({"q_table": _Payload(marker)})
    (folder / "tensors.safetensors").write_bytes(payload)
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"]["tensors.safetensors"] = checkpoint._sha256(folder / "tensors.safetensors")  # a careful attacker
    (folder / "meta.json").write_text(json.dumps(meta))
    err = _eval_error(cli, folder)
    assert "is a pickle" in err
    assert not marker.exists()
    assert (folder / "tensors.safetensors").exists()  # nothing of the user's deleted


def test_a_replay_archive_holding_pickled_objects_is_refused(tmp_path):
    folder = checkpoint.save(tmp_path / "step-000000000001", {"a": np.zeros(1)}, {}, {"x": np.arange(3)})
    marker = tmp_path / "payload-ran"
    np.savez(folder / "replay.npz", x=np.array([_Payload(marker)], dtype=object))
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"]["replay.npz"] = checkpoint._sha256(folder / "replay.npz")
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="replay.npz: unreadable"):
        checkpoint.load(folder, with_replay=True)
    assert not marker.exists()


# ------------------------------------------------------------------ evaluation


def test_eval_of_a_qtable_run(cli, trained_run, tmp_path):
    out_json = tmp_path / "result.json"
    code, out, err = cli("eval", trained_run, "--episodes", 4, "--seed", 3, "--json", out_json)
    assert code == 0, err
    assert " over 4 episodes" in out and "±" in out and "(" in out
    result = json.loads(out_json.read_text())
    assert result["episodes"] == 4 and len(result["returns"]) == 4 and result["epsilon"] == 0.0
    assert result["return_mean"] == pytest.approx(np.mean(result["returns"]))
    code, out, _ = cli("eval", trained_run, "--best", "--episodes", 2)
    assert code == 0 and " over 2 episodes" in out


def test_eval_of_a_dqn_checkpoint_is_reproducible(cli, tmp_path):
    run = _train(cli, tmp_path / "runs", env="CartPole-v1", steps=300)
    first = cli("eval", run, "--episodes", 3, "--seed", 1)
    second = cli("eval", run, "--episodes", 3, "--seed", 1)
    assert first[0] == 0 and first[1] == second[1]
    code, _, err = cli("eval", run, "--episodes", 2, "--video", tmp_path / "videos")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == [
        "rl-video-episode-0.mp4",
        "rl-video-episode-1.mp4",
    ]
    assert "not an empty folder" in _eval_error(cli, run, "--video", tmp_path / "videos")


def test_eval_json_target_is_never_overwritten(cli, trained_run, tmp_path):
    existing = tmp_path / "mine.json"
    existing.write_text("keep me")
    assert "file exists" in _eval_error(cli, trained_run, "--json", existing)
    assert existing.read_text() == "keep me"


def test_a_checkpoint_of_another_run_in_a_run_folder_is_refused(cli, trained_run, tmp_path):
    import shutil

    import rlkit

    run = _train(cli, tmp_path / "runs", env="CartPole-v1", steps=200)
    own = sorted(p.name for p in (run / "checkpoints").iterdir())
    stranger = run / "checkpoints" / "step-000000009999"  # the newest: what the run folder means now
    shutil.copytree(checkpoint.find(trained_run), stranger)
    names = f"{stranger}: a checkpoint of qlearning on Taxi-v4, but its run {run} is dqn on CartPole-v1"
    assert names in _eval_error(cli, run)
    assert names in _eval_error(cli, stranger)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        rlkit.load(run)
    code, _, err = cli("train", "--resume", run, "--steps", 400, "--no-progress")
    assert code == 2 and names in err and err.count("\n") == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == sorted([*own, stranger.name])  # nothing moved
    shutil.rmtree(stranger)
    assert cli("eval", run, "--episodes", 1)[0] == 0  # its own checkpoint still evaluates


# ------------------------------------------------------------------ resume


def _weights(run: Path) -> dict[str, np.ndarray]:
    return load_file(str(checkpoint.find(run) / "tensors.safetensors"))


ALL_SWITCHES = [
    "dueling=true",
    "n_steps=3",
    "prioritized_replay=true",
    "double_q=true",
    "normalize_observations=true",
    "optimizer=rmsprop",
    "exploration=softmax",
    "init=orthogonal",
]


@pytest.mark.parametrize("agent", ["dqn", "qlearning", "dqn-all-switches"])
def test_resume_gives_the_same_weights_as_a_straight_run(cli, tmp_path, agent):
    # The noise env's episodes last 10 steps, so step 100 is an episode boundary (see noise_env.py);
    # Taxi is not, so for the Q-table only the learner's state is compared, after a boundary-free resume.
    env = NOISE
    extra = ["--set", "save_replay=true", "--set", "exploration_fraction=0.8", "--set", "lr_schedule=linear"]
    all_switches = agent == "dqn-all-switches"  # then priorities and observation statistics travel too
    if all_switches:
        agent = "dqn"
        extra += [item for switch in ALL_SWITCHES for item in ("--set", switch)]
    if agent == "qlearning":
        extra = [
            "--set",
            "env.bins=[2, 2, 2, 2]",
            "--set",
            "env.low=[-1, -1, -1, -1]",
            "--set",
            "env.high=[1, 1, 1, 1]",
            "--set",
            "exploration_fraction=0.8",
            "--set",
            "lr_schedule=linear",
        ]
    straight = _train(cli, tmp_path / "a", *extra, agent=agent, env=env, steps=200)
    config = build_config(agent, env, 200, 5, [a for a in _SETTINGS[agent] + extra if a != "--set"])
    halves = new_run_dir(config, tmp_path / "b")
    assert Run(config, progress=False).train(halves, until=100) is None  # stopped as a preempted job would be
    time.sleep(1.1)  # TensorBoard orders event files by name, whose first key is the second they were made in
    code, _, err = cli("train", "--resume", halves, "--no-progress")
    assert code == 0, err
    a, b = _weights(straight), _weights(halves)
    assert a.keys() == b.keys()
    if all_switches:
        assert "obs_normalizer.mean" in a and "q_network.advantage.2.weight" in a
        with np.load(checkpoint.find(halves) / "replay.npz") as replay:
            assert replay["priorities"].max() > 0
    for name in a:
        if not name.startswith("rng."):
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    events = EventAccumulator(str(halves)).Reload()
    assert [e.step for e in events.Scalars("eval/return_mean")] == [50, 100, 150, 200]


def test_resume_from_an_older_checkpoint_sets_newer_ones_aside(cli, tmp_path):
    run = _train(cli, tmp_path, "--set", "checkpoint_interval=100", agent="qlearning", env="taxi", steps=200)
    import shutil

    checkpoints = run / "checkpoints"
    for best in checkpoints.glob("best-*"):  # whichever evaluation was best, make it the one at step 200
        shutil.rmtree(best)
    shutil.copytree(checkpoints / "step-000000000200", checkpoints / "best-000000000200")
    shutil.rmtree(checkpoints / "step-000000000200")  # as if killed before the last one was written
    newer_best = ["best-000000000200"]
    code, _, err = cli("train", "--resume", run, "--no-progress")
    assert code == 0, err
    aside = run / "checkpoints" / "abandoned-after-000000000100"
    assert sorted(p.name for p in aside.iterdir()) == sorted(newer_best)
    assert (run / "checkpoints" / "step-000000000200").is_dir()


def test_resume_with_more_steps_keeps_the_schedule_horizon(cli, tmp_path):
    run = _train(cli, tmp_path, "--set", "lr_schedule=linear", agent="qlearning", env="taxi", steps=200)
    code, _, err = cli("train", "--resume", run, "--steps", 300, "--keep-schedules", "--no-progress")
    assert code == 0, err
    meta = checkpoint.load(checkpoint.find(run))[1]
    assert meta["step"] == 300 and meta["config"]["train"]["schedule_steps"] == 200


def test_resume_of_a_finished_run_needs_more_steps(cli, trained_run):
    code, _, err = cli("train", "--resume", trained_run, "--no-progress")
    assert code == 2 and "--steps N beyond it" in err


def test_resume_with_set_is_refused(cli, trained_run):
    code, _, err = cli("train", "--resume", trained_run, "--set", "gamma=0.5")
    assert code == 2 and "only --steps" in err


def _spawn_training(root: Path, steps: int, *extra: str) -> AbstractContextManager[subprocess.Popen]:
    """A DQN run on the noise env in a `conftest.child` (Ctrl-C reaches it; it dies with the test)."""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    command = [
        sys.executable,
        "-m",
        "rlkit.cli",
        "train",
        "--agent",
        "dqn",
        "--env",
        NOISE,
        "--steps",
        str(steps),
        "--run-dir",
        str(root),
        "--no-progress",
        "--set",
        "learning_starts=50",
        "--set",
        "train_freq=4",
        "--set",
        "gradient_steps=1",
        "--set",
        "batch_size=16",
        "--set",
        "net_arch=[16]",
        "--set",
        "buffer_size=200000",
        "--set",
        "eval_interval=0",
        "--set",
        "final_eval_episodes=1",
        *extra,
    ]
    return child(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_run_killed_while_writing_a_checkpoint_resumes(cli, tmp_path):
    # a large replay makes every checkpoint take a while to write; kill as soon as one is being written
    training = _spawn_training(tmp_path, 200_000, "--set", "save_replay=true", "--set", "checkpoint_interval=20000")
    with training as process:
        deadline = time.time() + 240
        killed_mid_write = False
        while time.time() < deadline and process.poll() is None:
            partial = list(tmp_path.glob("*/*/*/checkpoints/.tmp-*"))
            complete = list(tmp_path.glob("*/*/*/checkpoints/step-*"))
            if partial and complete:
                process.send_signal(signal.SIGKILL)
                killed_mid_write = True
                break
            time.sleep(0.005)
        process.wait()
    assert killed_mid_write, "the run never wrote a second checkpoint"
    run = _run_folder(tmp_path)
    latest = checkpoint.find(run)
    tensors, meta, replay = checkpoint.load(latest, with_replay=True)  # the earlier one is whole
    assert meta["step"] % 20000 == 0 and len(replay["actions"]) == meta["step"]
    code, _, err = cli("train", "--resume", run, "--steps", meta["step"] + 100, "--no-progress")
    assert code == 0, err
    assert not list((run / "checkpoints").glob(".tmp-*"))
    assert checkpoint.load(checkpoint.find(run))[1]["step"] == meta["step"] + 100


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    with _spawn_training(tmp_path, 10_000_000) as process:
        deadline = time.time() + 120
        while time.time() < deadline and not list(tmp_path.glob("*/*/*/events.*")):
            time.sleep(0.1)
        time.sleep(2.0)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "checkpoint saved in" in err
    step = checkpoint.load(checkpoint.find(_run_folder(tmp_path)))[1]["step"]
    assert 0 < step < 10_000_000


def test_eval_video_prints_no_display_warning(trained_run, tmp_path):
    """Videos are drawn off screen: SDL's 'XDG_RUNTIME_DIR is invalid' must not reach the user."""
    pytest.importorskip("moviepy", reason="--video needs moviepy: pip install 'rlkit[video]'")
    env = {key: value for key, value in os.environ.items() if key not in ("XDG_RUNTIME_DIR", "SDL_VIDEODRIVER")}
    command = [sys.executable, "-m", "rlkit.cli", "eval", str(trained_run), "--episodes", "1"]
    done = subprocess.run([*command, "--video", str(tmp_path / "video")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "XDG_RUNTIME_DIR" not in done.stderr and list((tmp_path / "video").glob("*.mp4"))
