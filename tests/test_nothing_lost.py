"""Nothing lost, nobody surprised: one writer per run folder, interrupts honoured in every
phase, checkpoints by default, a failing callback or a full disk leaving the last good
checkpoint, and runs too big for the machine refused before their folder exists."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import child, only_run

import rlkit
from rlkit.config import build_config
from rlkit.errors import RlkitError
from rlkit.run import checkpoint, lock, memory
from rlkit.run.launch import parse_seeds
from rlkit.run.trainer import Interrupted, Run, new_run_dir, resume

# ----------------------------------------------------------------------------- locks


@pytest.fixture
def sleeper():
    """A live process of this host that is not this one."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def _write_lock(folder, **record):
    (folder / lock.LOCK_FILE).write_text(json.dumps(record))


def test_a_folder_written_by_a_live_process_is_refused_naming_it(tmp_path, sleeper):
    _write_lock(tmp_path, host=socket.gethostname(), pid=sleeper.pid, started="2026-12-03T10:00:00", command="rlkit x")
    with pytest.raises(lock.FolderLocked, match=f"run {tmp_path} is being written by PID {sleeper.pid} on host"):
        lock.acquire(tmp_path, "run")


def test_a_lock_of_a_dead_process_is_taken_over(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _write_lock(tmp_path, host=socket.gethostname(), pid=int(finished.stdout), started="2026-12-03T10:00:00")
    with lock.holding(tmp_path, "run"):
        assert lock.read(tmp_path)["pid"] == os.getpid()
    assert lock.read(tmp_path) is None  # released with the last holder


def test_a_reused_pid_does_not_keep_a_lock(tmp_path, sleeper):
    _write_lock(tmp_path, host=socket.gethostname(), pid=sleeper.pid, process_start="1", started="then")
    with lock.holding(tmp_path, "run"):
        assert lock.read(tmp_path)["pid"] == os.getpid()


def test_a_lock_from_another_host_yields_only_to_its_job_or_break_lock(tmp_path):
    _write_lock(tmp_path, host="node-7", pid=123, started="2026-12-03T10:00:00", owner="ray-task-abc")
    with pytest.raises(lock.FolderLocked, match="on host node-7 .*add --break-lock"):
        lock.acquire(tmp_path, "run")
    with pytest.raises(lock.FolderLocked):
        lock.acquire(tmp_path, "run", owner="ray-task-other")
    with lock.holding(tmp_path, "run", owner="ray-task-abc"):  # the retry of the same job
        assert lock.read(tmp_path)["owner"] == "ray-task-abc"
    _write_lock(tmp_path, host="node-7", pid=123, started="2026-12-03T10:00:00")
    with lock.holding(tmp_path, "run", break_lock=True):
        assert lock.read(tmp_path)["host"] == socket.gethostname()


def test_a_lock_is_reentrant_in_its_process(tmp_path):
    with lock.holding(tmp_path, "run"):
        with lock.holding(tmp_path, "run"):
            pass
        assert lock.read(tmp_path)["pid"] == os.getpid()  # still held by the outer holder
    assert not (tmp_path / lock.LOCK_FILE).exists()


def _rlkit(arguments: str, runs):
    """`rlkit ARGUMENTS --run-dir RUNS --no-progress` in a conftest.child (SIGINT's default
    handler; killed whatever happens)."""
    command = [sys.executable, "-c", "import sys; from rlkit.cli import main; sys.exit(main(sys.argv[1:]))"]
    command += [*arguments.split(), "--run-dir", str(runs), "--no-progress"]
    return child(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, process, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    stderr = process.stderr.read() if process.poll() is not None else "(still running)"
    raise AssertionError(f"not seen within {timeout} s; the child's stderr: {stderr}")


def test_a_second_writer_is_refused_at_once_and_eval_still_works(cli, tmp_path):
    """The issue's case: a resume started while the run trains is refused in one line naming
    the process; evaluating the run meanwhile works."""
    with _rlkit(
        "train --agent dqn --env cartpole --steps 10000000 --set net_arch=[8] --set checkpoint_interval=500 --set eval_interval=0",
        tmp_path,
    ) as process:
        _wait_for(lambda: list(tmp_path.glob("*/*/*/checkpoints/step-*")), process)
        run = only_run(tmp_path)
        started = time.time()
        code, _, err = cli("train", "--resume", run, "--steps", 20_000_000, "--extend-schedules", "--no-progress")
        assert code == 2 and err.count("\n") == 1, err
        assert f"is being written by PID {process.pid} on host {socket.gethostname()}" in err
        assert time.time() - started < 10
        code, out, err = cli("eval", run, "--episodes", 1)
        assert code == 0, err
        events = list(run.glob("events.*"))
        assert len(events) == 1  # no second writer's events file


def test_a_run_killed_by_sigkill_is_resumed_from_its_periodic_checkpoint_with_its_replay(cli, tmp_path):
    """Checkpoints are periodic by default (at each evaluation) and keep a replay that fits the
    limit, so a SIGKILL loses at most one interval and the resume is exact; the dead process's
    lock is taken over."""
    with _rlkit(
        "train --agent dqn --env cartpole --steps 10000000 --set net_arch=[8] --set eval_interval=1000 --set eval_episodes=1",
        tmp_path,
    ) as process:
        _wait_for(lambda: len(list(tmp_path.glob("*/*/*/checkpoints/step-*"))) >= 2, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
    run = only_run(tmp_path)
    assert lock.read(run)["pid"] == process.pid  # left behind by the SIGKILL
    latest = checkpoint.find(run)
    _, meta, replay = checkpoint.load(latest, with_replay=True)
    assert meta["step"] % 1000 == 0 and replay is not None and len(replay["actions"]) == meta["step"]
    code, out, err = cli("train", "--resume", run, "--steps", meta["step"] + 200, "--keep-schedules", "--no-progress")
    assert code == 0, err
    assert "replay starts empty" not in out + err
    assert lock.read(run) is None


def test_a_replay_above_the_limit_is_left_out_and_the_resume_says_so(cli, tmp_path):
    common = [
        "--agent",
        "dqn",
        "--env",
        "cartpole",
        "--set",
        "net_arch=[8]",
        "--set",
        "eval_interval=0",
        "--set",
        "final_eval_episodes=1",
        "--run-dir",
        tmp_path,
        "--no-progress",
    ]
    code, out, err = cli("train", "--steps", 600, "--set", "save_replay_max_mb=0", *common)
    assert code == 0, err
    assert "checkpoints keep the weights but not the replay" in out + err
    run = only_run(tmp_path)
    assert checkpoint.load(checkpoint.find(run), with_replay=True)[2] is None
    code, out, err = cli("train", "--resume", run, "--steps", 800, "--keep-schedules", "--no-progress")
    assert code == 0, err
    assert "its replay starts empty" in out + err


# ----------------------------------------------------------------------------- interrupts


def _interrupt_in_evaluation(run, monkeypatch, at_call):
    """Send this process a Ctrl-C at the `at_call`-th greedy action of an evaluation; returns
    the list of evaluation calls made."""
    greedy, calls = run.agent.greedy_actions, []

    def interrupted(observations, epsilon, rng):
        calls.append(1)
        if len(calls) == at_call:
            os.kill(os.getpid(), signal.SIGINT)
        return greedy(observations, epsilon, rng)

    monkeypatch.setattr(run.agent, "greedy_actions", interrupted)
    return calls


@pytest.mark.parametrize("phase", ["periodic", "final"])
def test_ctrl_c_during_an_evaluation_abandons_it_with_a_checkpoint(tmp_path, monkeypatch, phase):
    settings = ["eval_interval=1000", "eval_episodes=100000"] if phase == "periodic" else ["eval_interval=0"]
    config = build_config("qlearning", "taxi", 2000, 0, [*settings, "final_eval_episodes=100000"])
    run = Run(config, progress=False)
    calls = _interrupt_in_evaluation(run, monkeypatch, at_call=50)
    folder = new_run_dir(config, tmp_path)
    with pytest.raises(Interrupted) as stopped:
        run.train(folder)
    assert len(calls) == 50  # no step of the evaluation after the Ctrl-C
    step = 1000 if phase == "periodic" else 2000
    assert stopped.value.checkpoint_path.name == checkpoint.checkpoint_name("step", step)
    assert not (folder / "eval.json").exists()  # an abandoned final evaluation writes no result
    assert lock.read(folder) is None


def test_ctrl_c_during_the_final_evaluation_exits_130(tmp_path):
    with _rlkit(
        "train --agent qlearning --env taxi --steps 2000 --set eval_interval=0 --set final_eval_episodes=1000000",
        tmp_path,
    ) as process:
        _wait_for(lambda: list(tmp_path.glob("*/*/*/checkpoints/step-000000002000")), process)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "checkpoint saved in" in err
    assert not (only_run(tmp_path) / "eval.json").exists()


# ----------------------------------------------------------------------------- errors mid-run


class _Fails(rlkit.Callback):
    def on_step(self, run, transition):
        if run.step == 700:
            raise ZeroDivisionError("the user's own bug")


def test_a_callback_that_raises_comes_through_after_a_checkpoint(tmp_path):
    with pytest.raises(ZeroDivisionError, match="the user's own bug"):
        rlkit.train(
            "qlearning",
            "taxi",
            steps=3000,
            overrides={"eval_interval": 0, "final_eval_episodes": 3},
            run_dir=tmp_path,
            callbacks=[_Fails()],
        )
    run = only_run(tmp_path)
    assert checkpoint.find(run).name == checkpoint.checkpoint_name("step", 700)
    assert lock.read(run) is None
    assert rlkit.load(run).act(0) in range(6)  # evaluable
    assert resume(run, progress=False)["step"] == 3000  # and resumable


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_the_last_good_checkpoint_and_no_partial_folder(tmp_path, monkeypatch):
    config = build_config("dqn", "cartpole", 2000, 0, ["net_arch=[8]", "eval_interval=0", "checkpoint_interval=500"])
    run = Run(config, progress=False)
    folder = new_run_dir(config, tmp_path)
    saves = []
    real_savez = np.savez

    def savez_until_full(*args, **kwargs):
        saves.append(1)
        if len(saves) == 3:
            _disk_full()
        return real_savez(*args, **kwargs)

    monkeypatch.setattr(checkpoint.np, "savez", savez_until_full)
    with pytest.raises(checkpoint.WriteError, match="No space left on device; the last good checkpoints are intact"):
        run.train(folder)
    left = sorted(p.name for p in (folder / "checkpoints").iterdir())
    assert left == [p.name for p in checkpoint.list_checkpoints(folder / "checkpoints")]  # no partial folder
    assert len(left) == 2
    for name in left:
        checkpoint.load(folder / "checkpoints" / name, with_replay=True)
    assert lock.read(folder) is None


def test_a_json_file_that_cannot_be_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    (tmp_path / "group.json").write_text("{}")
    monkeypatch.setattr(checkpoint.os, "replace", _disk_full)
    with pytest.raises(checkpoint.WriteError, match=f"cannot write {tmp_path / 'group.json'}: No space left"):
        checkpoint.write_json(tmp_path / "group.json", {"seeds": [1]})
    assert [p.name for p in tmp_path.iterdir()] == ["group.json"]
    assert json.loads((tmp_path / "group.json").read_text()) == {}


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    "overrides, part",
    [
        ({"buffer_size": 2_000_000_000}, "replay"),
        ({"net_arch": [100_000_000]}, "networks"),
        ({"algo_preset": "qlearning", "env.bins": [100_000] * 4}, "Q-table"),
    ],
)
def test_a_run_bigger_than_the_memory_available_is_refused_before_its_folder(tmp_path, overrides, part):
    overrides = dict(overrides)
    agent = overrides.pop("algo_preset", "dqn")
    with pytest.raises(
        RlkitError, match=rf"this run needs [\d.]+ GiB of host memory \(.*{part} [\d.]+ GiB.*\), [\d.]+ GiB available"
    ):
        rlkit.train(agent, "cartpole", steps=100, overrides=overrides, run_dir=tmp_path)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_group_counts_the_memory_of_its_workers_together(tmp_path, monkeypatch):
    config = build_config("dqn", "cartpole", 100, 0, ["buffer_size=1000000"])  # about 46 MiB of replay
    monkeypatch.setattr(memory, "available_host_bytes", lambda: 100 << 20)
    Run(config, progress=False, runs_at_once=2)  # 2 × 46 MiB fit in 100 MiB
    with pytest.raises(RlkitError, match=r"needs 0.\d GiB of host memory for 3 runs at once .* or fewer --workers"):
        Run(config, progress=False, runs_at_once=3)


def test_too_many_seeds_are_refused_without_listing_them():
    started = time.time()
    with pytest.raises(RlkitError, match="is 1,000,000,000 seeds; valid: at most 10,000"):
        parse_seeds("1-1000000000")
    assert time.time() - started < 1.0
    assert len(parse_seeds("1-10000")) == 10_000


def test_a_batch_larger_than_the_replay_is_refused(cli, tmp_path):
    code, _, err = cli(
        "train",
        "--agent",
        "dqn",
        "--env",
        "cartpole",
        "--set",
        "batch_size=1000",
        "--set",
        "buffer_size=100",
        "--run-dir",
        tmp_path,
    )
    assert code == 2
    assert "agent.batch_size = 1000 is larger than agent.buffer_size = 100" in err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_the_replay_estimate_is_what_the_buffers_allocate():
    from rlkit.agents import agent_spec, create_agent
    from rlkit.envs import describe

    for agent, env, values in [
        ("dqn", "cartpole", {"buffer_size": 5000}),
        ("dqn", "cartpole", {"buffer_size": 5000, "prioritized_replay": True, "per_weights": "buffer"}),
        ("dqn", "taxi", {"buffer_size": 3000}),
        ("dqn-minatar", "minatar-breakout", {"buffer_size": 7000}),
    ]:
        config = build_config(agent, env, values=values)
        env_info = describe(config.env)
        needs = agent_spec(config.algo).agent_class.memory_estimate(config.agent, env_info, config.env.num_envs, "cpu")
        built = create_agent(config, env_info, "cpu")
        assert needs["replay"].nbytes == built.replay.nbytes(), (agent, env, values)
        parameters = sum(p.numel() for p in built.q_network.parameters())
        copies = 5 if config.agent.optimizer == "adam" else 4
        assert needs["networks"].nbytes == 4 * copies * parameters
