"""Ray scenarios for tests/test_tune_ray.py, each run as `python ray_scenarios.py NAME FOLDER`
inside a network namespace of its own with only loopback up (conftest.in_network_namespace),
so that every Ray connection stays on 127.0.0.1. A scenario drives the `rlkit` command as a
user would and writes what it saw to FOLDER/result.json; the test asserts on it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import child, free_port, run_child  # this script's folder, tests/, is first on sys.path

RLKIT = [sys.executable, "-m", "rlkit.cli"]


# short trials: an evaluation (and so a checkpoint) every 10k steps, small evaluations
TRIAL_SETTINGS = (
    "--set train.eval_interval=10000 --set train.eval_episodes=5 --set train.final_eval_episodes=10".split()
)


def command(text: str, *paths: Path | str) -> list[str]:
    """`rlkit TEXT` as an argument list, each {} word of TEXT replaced by the next of `paths`
    (after the split, so a path may hold spaces)."""
    values = iter(paths)
    return [*RLKIT, *(str(next(values)) if word == "{}" else word for word in text.split())]


def rlkit(text: str, *paths: Path | str, env: dict | None = None, timeout: float = 600) -> dict:
    """Run `rlkit TEXT` (see `command`); its exit code and output."""
    process = run_child(command(text, *paths), timeout=timeout, env=env)
    return {"rc": process.returncode, "out": process.stdout[-4000:], "err": process.stderr[-4000:]}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"gave up waiting for {what}")


def answers(address: str) -> bool:
    """Whether something listens at HOST:PORT."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except OSError:
        return False
    return True


def sweep_folders(root: Path) -> list[Path]:
    return sorted(path.parent for path in root.glob("*/*/*/sweep.json"))


def checkpointed_trial(root: Path) -> Path | None:
    """A trial run folder that has saved a periodic checkpoint and is still training."""
    for run in sorted(root.glob("*/*/*/trials/trial-*/checkpoints/step-*")):
        trial = run.parent.parent
        if not (trial / "eval.json").exists():
            return trial
    return None


def taxi(folder: Path) -> dict:
    """Q-learning on Taxi: a sweep stopped with Ctrl-C and resumed (fifo, so that the trial seen
    training was stopped by Ctrl-C and not by ASHA); a trial evaluated; best.toml trained; a
    refined round."""
    space = folder / "space.toml"
    space.write_text(
        "learning_rate = { log_uniform = [0.05, 1.0] }\n"
        "gamma = { one_minus_log_uniform = [0.9, 0.999] }\n"
        "exploration_fraction = { uniform = [0.1, 0.6] }\n"
    )
    root = folder / "runs"
    result: dict = {}
    tune = command(
        "tune --agent qlearning --env taxi --space {} --samples 4 --concurrent 2 --top 2 --confirm-seeds 2 "
        "--seed 3 --scheduler fifo --steps 40000 --run-dir {}",
        space,
        root,
    )
    with child(tune + TRIAL_SETTINGS, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            result["stopped_trial"] = str(wait_for(lambda: checkpointed_trial(root), 240, "a trial's first checkpoint"))
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = process.communicate(timeout=240)
    result["interrupted"] = {"rc": process.returncode, "out": output[-4000:]}
    sweep = sweep_folders(root)[0]
    result["sweep"] = str(sweep)
    result["resumed"] = rlkit("tune --resume {}", sweep)
    trial = sorted((sweep / "trials").glob("trial-*/eval.json"))[0].parent
    result["eval"] = rlkit("eval {} --episodes 3", trial)
    best = sweep / "best.toml"
    result["best_config"] = rlkit("train --agent {} --env taxi --print-config", best)
    result["best_train"] = rlkit(
        "train --agent {} --env taxi --seed 77 --run-dir {} --no-progress", best, folder / "best-runs"
    )
    result["refined"] = rlkit("tune --refine {} --samples 2 --top 0 --run-dir {}", sweep, root)
    return result


def cartpole(folder: Path) -> dict:
    """DQN on CartPole: a tiny sweep with the preset's own default space, under ASHA. Ray's temp
    folder holds the address file of a cluster that has gone (as a `ray start` whose `ray stop` never
    ran leaves it): a sweep without --address must start its own instance, not try to join that one."""
    ray_temp = Path(os.environ["RAY_TMPDIR"]) / "ray"
    ray_temp.mkdir(exist_ok=True)
    (ray_temp / "ray_current_cluster").write_text(f"127.0.0.1:{free_port()}")
    return {
        "tune": rlkit(
            "tune --agent dqn --env cartpole --samples 2 --concurrent 2 --steps 3000 --set learning_starts=500 "
            "--set train.eval_interval=1000 --set train.eval_episodes=2 --set train.final_eval_episodes=3 "
            "--top 1 --confirm-seeds 2 --scheduler asha --run-dir {}",
            folder / "runs",
        )
    }


def cluster(folder: Path) -> dict:
    """A two-node cluster (a head and a worker, one CPU each); a sweep on it whose trial worker
    is killed with SIGKILL mid-trial; then seeds of `rlkit train --seeds` on the same cluster."""
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # a second node is refused without it
    port = sys.argv[3]
    address = f"127.0.0.1:{port}"
    ray = [sys.executable, "-m", "ray.scripts.scripts"]
    result: dict = {}
    try:
        start = time.monotonic()
        result["head"] = subprocess.run(
            [
                *ray,
                "start",
                "--head",
                "--port",
                port,
                "--num-cpus",
                "1",
                "--include-dashboard",
                "false",
                "--disable-usage-stats",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        ).returncode
        result["worker"] = subprocess.run(
            [*ray, "start", "--address", address, "--num-cpus", "1", "--disable-usage-stats"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        ).returncode
        result["cluster_start_s"] = time.monotonic() - start
        root = folder / "runs"
        tune = command(
            "tune --agent qlearning --env taxi --samples 2 --concurrent 2 --steps 150000 --scheduler fifo "
            "--top 1 --confirm-seeds 1 --address {} --run-dir {}",
            address,
            root,
        )
        streams = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
        with child(tune + TRIAL_SETTINGS, env=env, **streams) as process:
            trial = wait_for(lambda: checkpointed_trial(root), 300, "a trial's first checkpoint")
            sidecar = json.loads(trial.with_suffix(".json").read_text())
            pid = sidecar["attempts"][-1]["pid"]
            os.kill(pid, signal.SIGKILL)
            result["killed"] = {"trial": trial.name, "pid": pid}
            output, _ = process.communicate(timeout=600)
        result["tune"] = {"rc": process.returncode, "out": output[-6000:]}
        result["sweep"] = str(sweep_folders(root)[0])
        result["seeds"] = rlkit(
            "train --agent qlearning --env taxi --steps 20000 --seeds 1-2 --set train.final_eval_episodes=10 "
            "--address {} --run-dir {}",
            address,
            folder / "seed-runs",
            env=env,
        )
    finally:
        subprocess.run([*ray, "stop", "--force"], capture_output=True, env=env, timeout=120)
    return result


def recurring_error(folder: Path) -> dict:
    """A sweep of two short Q-learning trials, written as `rlkit tune` writes it before Ray
    starts, whose trial-000 has a corrupted checkpoint (an RlkitError on every attempt);
    `rlkit tune --resume` runs it."""
    from rlkit.run import checkpoint
    from rlkit.tune.sweep import SWEEP_FILE, Request, check_request, trial_configs, write_json

    overrides = ["train.eval_interval=2000", "train.eval_episodes=2", "train.final_eval_episodes=5"]
    space = {"learning_rate": {"log_uniform": [0.05, 1.0]}}
    request = Request("qlearning", "taxi", space, 2, 2, steps=6000, overrides=overrides, scheduler="fifo", top=0)
    checked = check_request(request, "test space")
    sweep = folder / "sweep"
    (sweep / "trials").mkdir(parents=True)
    state = {"request": request.__dict__ | {"space": checked.to_toml()}, "space_origin": "test space"}
    state |= {"status": "searching", "next_seed": 2, "trials": trial_configs(request, checked)}
    write_json(sweep / SWEEP_FILE, state)
    broken = sweep / "trials" / "trial-000" / "checkpoints" / checkpoint.checkpoint_name("step", 2000)
    broken.mkdir(parents=True)
    (broken / checkpoint.META).write_text("{not json")
    return {"sweep": str(sweep), "tune": rlkit("tune --resume {}", sweep, timeout=300)}


def gpus(folder: Path) -> dict:
    """A one-node cluster that declares 2 GPUs it does not have: a sweep of `device = auto`
    trials (each asks for a GPU and, finding no CUDA there, fails at once), one of CPU trials
    (no GPU asked, trained); then a cluster without GPUs, which refuses a CUDA sweep."""
    # as on a cluster of several nodes, with one token for both heads (each would make its own)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0123456789abcdef0123456789abcdef"}
    port = sys.argv[3]
    address = f"127.0.0.1:{port}"
    ray = [sys.executable, "-m", "ray.scripts.scripts"]
    options = ["--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"]
    head = [*ray, "start", "--head", "--port", port, *options]
    sweep = "tune --agent qlearning --env taxi --samples 2 --concurrent 2 --steps 2000 --scheduler fifo --top 0 "
    sweep += "--address {} --run-dir {} --set train.eval_interval=1000 --set train.final_eval_episodes=2"
    result: dict = {}
    try:
        result["head"] = subprocess.run(
            [*head, "--num-gpus", "2"], capture_output=True, env=env, timeout=120
        ).returncode
        wait_for(lambda: answers(address), 60, "the head node's port")
        result["auto"] = rlkit(sweep, address, folder / "auto", env=env, timeout=300)
        result["cpu"] = rlkit(sweep + " --set train.device=cpu", address, folder / "cpu", env=env, timeout=300)
        subprocess.run([*ray, "stop", "--force"], capture_output=True, env=env, timeout=120)
        port = str(free_port())  # a new head on a new port: the old one's may linger a while
        second = [*ray, "start", "--head", "--port", port, *options, "--num-gpus", "0"]
        result["head_without_gpus"] = subprocess.run(second, capture_output=True, env=env, timeout=120).returncode
        address = f"127.0.0.1:{port}"
        wait_for(lambda: answers(address), 60, "the second head node's port")
        result["cuda"] = rlkit(sweep + " --set train.device=cuda", address, folder / "cuda", env=env, timeout=300)
    finally:
        subprocess.run([*ray, "stop", "--force"], capture_output=True, env=env, timeout=120)
    result["sweeps"] = {kind: [str(path) for path in sweep_folders(folder / kind)] for kind in ("auto", "cpu", "cuda")}
    return result


if __name__ == "__main__":
    name, out = sys.argv[1], Path(sys.argv[2])
    scenarios = {
        "taxi": taxi,
        "cartpole": cartpole,
        "cluster": cluster,
        "recurring_error": recurring_error,
        "gpus": gpus,
    }
    # Ray's files (sessions, sockets, the address file `ray start` writes) in a folder of this
    # scenario's own, short because Ray's socket paths live there: nothing is left in the machine's
    # /tmp/ray for a later Ray to find
    with tempfile.TemporaryDirectory(prefix="rlk", dir="/tmp", ignore_cleanup_errors=True) as temp:
        os.environ["RAY_TMPDIR"] = temp
        outcome = scenarios[name](out)
    (out / "result.json").write_text(json.dumps(outcome, indent=1))
