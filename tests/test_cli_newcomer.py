"""What a newcomer meets first on the command line: help and version, one-line refusals of bad
numbers, seeds and keys, resumes that would silently change the schedules or nest a run in a
checkpoint, output files that are never overwritten without --force, and file permissions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

import rlkit
from rlkit.run import checkpoint

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
QUICK = ["--set", "eval_interval=100", "--set", "eval_episodes=2", "--set", "final_eval_episodes=2", "--no-progress"]


def _refused(cli, *args) -> str:
    """Run `rlkit ARGS...`, check that it is refused with one line and exit code 2; the line."""
    code, _, err = cli(*args)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rlkit: error: ") and "Traceback" not in err, err
    assert not err.startswith("rlkit: error: rlkit"), err
    return err


def _train(cli, root: Path, *extra, agent="qlearning", env="taxi", steps=200) -> Path:
    code, _, err = cli("train", "--agent", agent, "--env", env, "--steps", steps, "--run-dir", root, *QUICK, *extra)
    assert code == 0, err
    (run,) = [p for p in root.glob("*/*/*") if p.is_dir()]
    return run


# ------------------------------------------------------------------ help and version


@pytest.mark.parametrize("command", [[], ["list"], ["train"], ["eval"], ["plot"], ["board"]])
def test_every_help_prints_and_exits_0(cli, command):
    code, out, err = cli(*command, "--help")
    assert code == 0 and out.startswith("usage: rlkit") and err == ""


def test_the_plot_help_shows_its_percent_sign(cli):
    assert "95% bootstrap" in cli("--help")[1]


def test_version(cli):
    assert cli("--version") == (0, f"rlkit {rlkit.__version__}\n", "")


def test_rlkit_alone_prints_the_usage(cli):
    code, out, err = cli()
    assert code == 0 and out.startswith("usage: rlkit") and "train" in out and err == ""


def test_a_usage_error_names_the_command_once(cli):
    err = _refused(cli, "bogus")
    assert "invalid choice: 'bogus'" in err and "(see rlkit --help)" in err


# ------------------------------------------------------------------ numbers and seeds


@pytest.mark.parametrize("steps", ["0", "-100"])
def test_steps_below_1_get_one_message(cli, tmp_path, steps):
    err = _refused(cli, "train", "--steps", steps, "--run-dir", tmp_path / "runs")
    assert f"argument --steps: {steps} is out of range; valid: 1 or more" in err
    assert not (tmp_path / "runs").exists()


def test_workers_0_is_refused(cli, tmp_path):
    args = ("train", "--seeds", "1-2", "--workers", "0", "--steps", "10", "--run-dir", tmp_path / "runs")
    err = _refused(cli, *args, "--no-progress")
    assert "argument --workers: 0 is out of range; valid: 1 or more" in err
    assert not (tmp_path / "runs").exists()


def test_num_envs_0_is_refused(cli, tmp_path):
    err = _refused(cli, "eval", tmp_path, "--num-envs", "0")
    assert "argument --num-envs: 0 is out of range; valid: 1 or more" in err


def test_a_reversed_seed_range_is_named(cli, tmp_path):
    err = _refused(cli, "train", "--seeds", "3-1", "--run-dir", tmp_path / "runs")
    assert "3-1 is a reversed range" in err and "1-3" in err
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------ keys of another agent or section


@pytest.mark.parametrize(
    ("agent", "key", "message"),
    [
        (
            "qlearning",
            "batch_size=64",
            "batch_size is a hyperparameter of dqn agents, and this run's agent is qlearning",
        ),
        ("qlearning", "agent.batch_size=64", "batch_size is a hyperparameter of dqn agents"),
        (
            "dqn",
            "initial_q=1",
            "initial_q is a hyperparameter of qlearning and expected-sarsa agents, and this run's agent is dqn",
        ),
        ("qlearning", "env.learning_rate=0.1", "learning_rate is a key of agent; write agent.learning_rate"),
        ("qlearning", "train.gamma=0.9", "gamma is a key of agent; write agent.gamma"),
        ("qlearning", "agent.num_envs=2", "num_envs is a key of env; write env.num_envs"),
    ],
)
def test_a_key_of_another_agent_or_section_says_where_it_lives(cli, tmp_path, agent, key, message):
    env = "cartpole" if agent == "dqn" else "taxi"
    args = ("train", "--agent", agent, "--env", env, "--set", key, "--run-dir", tmp_path / "runs")
    err = _refused(cli, *args)
    assert message in err
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------ resume and the schedules


@pytest.fixture
def finished_run(cli, tmp_path):
    """A Q-learning run of 200 steps whose learning rate decays linearly to 0 at its end."""
    return _train(cli, tmp_path / "runs", "--set", "lr_schedule=linear")


def test_more_steps_past_a_finished_schedule_are_refused_naming_both_choices(cli, finished_run):
    before = checkpoint.find(finished_run)
    err = _refused(cli, "train", "--resume", finished_run, "--steps", 300, "--no-progress")
    assert "--extend-schedules" in err and "--keep-schedules" in err and "learning_rate" in err
    assert checkpoint.find(finished_run) == before and not list((finished_run / "checkpoints").glob("abandoned-*"))


def test_keep_schedules_trains_on_at_the_final_learning_rate(cli, finished_run):
    q_before = load_file(str(checkpoint.find(finished_run) / checkpoint.TENSORS))["q_table"]
    code, _, err = cli("train", "--resume", finished_run, "--steps", 300, "--keep-schedules", "--no-progress")
    assert code == 0, err
    tensors, meta, _ = checkpoint.load(checkpoint.find(finished_run))
    assert meta["step"] == 300 and meta["config"]["train"]["schedule_steps"] == 200
    np.testing.assert_array_equal(tensors["q_table"], q_before)  # α is 0 past step 200


def test_extend_schedules_stretches_them_to_the_new_total(cli, finished_run):
    q_before = load_file(str(checkpoint.find(finished_run) / checkpoint.TENSORS))["q_table"]
    code, _, err = cli("train", "--resume", finished_run, "--steps", 300, "--extend-schedules", "--no-progress")
    assert code == 0, err
    tensors, meta, _ = checkpoint.load(checkpoint.find(finished_run))
    assert meta["step"] == 300 and meta["config"]["train"]["schedule_steps"] == 300
    assert not np.array_equal(tensors["q_table"], q_before)


def test_more_steps_need_no_flag_when_no_schedule_changes(cli, tmp_path):
    # constant α, and ε's decay (half of 200 or of 300 steps) is over at step 200 either way
    run = _train(cli, tmp_path / "runs")
    code, _, err = cli("train", "--resume", run, "--steps", 300, "--no-progress")
    assert code == 0, err
    assert checkpoint.load(checkpoint.find(run))[1]["step"] == 300


def test_an_unfinished_run_resumes_without_a_flag(cli, tmp_path):
    from rlkit.config import build_config
    from rlkit.run.trainer import Run, new_run_dir

    config = build_config("qlearning", "taxi", 200, 0, ["lr_schedule=linear", "eval_interval=100"])
    run = new_run_dir(config, tmp_path / "runs")
    assert Run(config, progress=False).train(run, until=100) is None
    code, _, err = cli("train", "--resume", run, "--no-progress")
    assert code == 0, err
    assert checkpoint.load(checkpoint.find(run))[1]["config"]["train"]["schedule_steps"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--extend-schedules"],
        ["--keep-schedules", "--steps", "300"],
        ["--resume", "RUN", "--keep-schedules"],
        ["--resume", "RUN", "--steps", "300", "--keep-schedules", "--extend-schedules"],
    ],
)
def test_schedule_flags_go_with_a_resume_to_more_steps(cli, tmp_path, args):
    run_dir = tmp_path / "runs"
    args = [str(tmp_path) if a == "RUN" else a for a in args]
    err = _refused(cli, "train", *args, "--run-dir", run_dir)
    assert "schedules" in err and not run_dir.exists()


# ------------------------------------------------------------------ resume: what it is given


def test_resume_of_the_latest_checkpoint_folder_resumes_its_run(cli, finished_run):
    latest = checkpoint.find(finished_run)
    code, out, err = cli("train", "--resume", latest, "--steps", 300, "--keep-schedules", "--no-progress")
    assert code == 0, err
    assert f"the latest checkpoint of run {finished_run}" in out
    assert checkpoint.load(checkpoint.find(finished_run))[1]["step"] == 300
    assert not (latest / "checkpoints").exists() and not (latest / "config.json").exists()


def test_resume_of_the_checkpoints_folder_resumes_its_run(cli, finished_run):
    folder = finished_run / "checkpoints"
    code, out, err = cli("train", "--resume", folder, "--steps", 300, "--keep-schedules", "--no-progress")
    assert code == 0, err
    assert f"the checkpoints of run {finished_run}" in out
    assert checkpoint.load(checkpoint.find(finished_run))[1]["step"] == 300
    assert not (folder / "checkpoints").exists() and not (folder / "config.json").exists()


def test_resume_of_an_older_checkpoint_is_refused(cli, tmp_path):
    run = _train(cli, tmp_path / "runs", "--set", "checkpoint_interval=100", "--set", "lr_schedule=linear")
    older = run / "checkpoints" / "step-000000000100"
    assert older.is_dir()
    err = _refused(cli, "train", "--resume", older, "--steps", 300, "--keep-schedules")
    assert "not the latest checkpoint" in err and f"--resume {run}" in err
    assert checkpoint.load(checkpoint.find(run))[1]["step"] == 200 and not (older / "checkpoints").exists()


@pytest.mark.parametrize("option", [["--agent", "dqn"], ["--env", "cartpole"], ["--seed", "0"]])
def test_resume_refuses_options_of_a_new_run(cli, finished_run, option):
    err = _refused(cli, "train", "--resume", finished_run, *option, "--steps", 300, "--keep-schedules")
    assert f"{option[0]} cannot go with it" in err
    assert checkpoint.load(checkpoint.find(finished_run))[1]["step"] == 200


# ------------------------------------------------------------------ output files


def test_eval_json_needs_force_to_overwrite(cli, finished_run, tmp_path):
    existing = tmp_path / "mine.json"
    existing.write_text("keep me")
    err = _refused(cli, "eval", finished_run, "--episodes", 1, "--json", existing)
    assert "file exists" in err and "--force" in err and existing.read_text() == "keep me"
    code, _, err = cli("eval", finished_run, "--episodes", 1, "--json", existing, "--force")
    assert code == 0, err
    assert json.loads(existing.read_text())["episodes"] == 1


@pytest.fixture
def read_only(monkeypatch):
    """Make a folder read-only: chmod 555, and for root (whom the mode does not stop) os.access
    answers as it would for anyone else."""
    folders: list[Path] = []
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and Path(path).absolute() in folders:
            return False
        return real_access(path, mode, *args, **kwargs)

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o555)
        folders.append(folder.absolute())
        if os.geteuid() == 0:
            monkeypatch.setattr(os, "access", access)
        return folder

    yield make
    for folder in folders:
        folder.chmod(0o755)


@pytest.fixture
def no_work(monkeypatch):
    """Any evaluation, study or plot that starts fails the test: targets are checked first."""
    import rlkit.plot
    import rlkit.run.evaluation
    import rlkit.run.study

    def forbidden(*args, **kwargs):
        raise AssertionError("the work started before its output target was checked")

    monkeypatch.setattr(rlkit.run.evaluation, "play_episodes", forbidden)
    monkeypatch.setattr(rlkit.run.study, "study", forbidden)
    monkeypatch.setattr(rlkit.plot, "draw", forbidden)


@pytest.mark.parametrize(
    ("command", "option", "name"),
    [("eval", "--json", "out.json"), ("study", "--json", "out.json"), ("plot", "--out", "curves.png")],
)
def test_an_output_file_in_a_folder_that_cannot_be_written_is_refused_first(
    cli, finished_run, tmp_path, read_only, no_work, command, option, name
):
    locked = read_only(tmp_path / "locked")
    err = _refused(cli, command, finished_run, option, locked / name)
    assert f"{option} {locked / name}: folder {locked} is read-only here" in err
    err = _refused(cli, command, finished_run, option, tmp_path / "missing" / name)
    assert f"folder {tmp_path / 'missing'} does not exist" in err
    assert list(locked.iterdir()) == [] and not (tmp_path / "missing").exists()


def test_a_video_folder_that_cannot_be_written_is_refused_first(cli, finished_run, tmp_path, read_only, no_work):
    locked = read_only(tmp_path / "locked")
    for target in (locked / "videos", locked):
        err = _refused(cli, "eval", finished_run, "--video", target)
        assert f"--video {target}: folder {locked} is read-only here" in err
    (tmp_path / "a-file").write_text("x")
    err = _refused(cli, "eval", finished_run, "--video", tmp_path / "a-file" / "videos")
    assert f"cannot be created, {tmp_path / 'a-file'} is a file" in err
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_solved_return_that_is_not_finite_is_refused(cli, finished_run, value):
    err = _refused(cli, "study", finished_run, f"--solved-return={value}")
    assert f"argument --solved-return: {value} is not a finite number" in err


# ------------------------------------------------------------------ eval of several runs


def test_eval_takes_several_runs_as_a_glob_gives_them(cli, tmp_path):
    first = _train(cli, tmp_path / "a")
    second = _train(cli, tmp_path / "b")
    code, out, err = cli("eval", first, second, "--episodes", 1)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{first}: return ") and lines[1].startswith(f"{second}: return ")
    code, out, _ = cli("eval", first, "--episodes", 1)
    assert code == 0 and out.startswith("return ")  # one run: the line as before
    for option, value in (("--json", tmp_path / "r.json"), ("--video", tmp_path / "videos")):
        err = _refused(cli, "eval", first, second, option, value)
        assert f"{option} goes with one PATH, and 2 were given" in err and not value.exists()
    code, out, err = cli("eval", first, tmp_path / "nope", "--episodes", 1)
    assert code == 2 and out == "" and f"{tmp_path / 'nope'}: no such file or folder" in err  # checked before any


# ------------------------------------------------------------------ environments, ports, progress


def test_an_env_module_that_fails_to_import_is_one_line(cli, tmp_path, monkeypatch):
    import gymnasium as gym

    (tmp_path / "broken_env_module.py").write_text('raise RuntimeError("needs a licence\\nfile")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    runs = tmp_path / "runs"
    err = _refused(cli, "train", "--env", "broken_env_module:Broken-v0", "--run-dir", runs)
    assert "cannot import module 'broken_env_module' (RuntimeError: needs a licence file)" in err
    gym.register("RlkitMissingModule-v0", entry_point="no_such_rlkit_module:Env")
    gym.register("RlkitBrokenModule-v0", entry_point="broken_env_module:Env")
    try:
        err = _refused(cli, "train", "--agent", "dqn", "--env", "RlkitMissingModule-v0", "--run-dir", runs)
        assert "environment 'RlkitMissingModule-v0': cannot import module 'no_such_rlkit_module'" in err
        assert "ModuleNotFoundError" in err
        err = _refused(cli, "train", "--agent", "dqn", "--env", "RlkitBrokenModule-v0", "--run-dir", runs)
        assert "cannot import module 'broken_env_module' (RuntimeError: needs a licence file)" in err
    finally:
        del gym.registry["RlkitMissingModule-v0"], gym.registry["RlkitBrokenModule-v0"]
    assert not runs.exists()


@pytest.mark.parametrize("port", ["65536", "-1", "http"])
def test_a_board_port_out_of_range_is_refused(cli, tmp_path, port):
    err = _refused(cli, "board", tmp_path, "--port", port)
    assert "argument --port" in err and "valid: 1 to 65535, or 0 for any free port" in err


def test_the_board_help_gives_the_port_range(cli):
    assert "1 to 65535, or 0 for any free one" in cli("board", "--help")[1]


def test_the_progress_bar_of_a_run_shorter_than_log_interval_ends_at_100_percent(cli, tmp_path):
    args = ("--steps", 500, "--set", "eval_interval=0", "--set", "final_eval_episodes=1", "--set", "log_interval=1000")
    code, _, err = cli("train", "--run-dir", tmp_path, *args)
    assert code == 0, err
    assert "500/500" in err and "100%" in err


def test_ablate_needs_force_to_train_into_an_existing_folder(ablate, tmp_path, capsys):
    out = tmp_path / "ablation"
    stale = out / "cartpole" / "plain" / "seed-9"
    stale.mkdir(parents=True)
    args = ["--out", out, "--envs", "cartpole", "--variants", "plain", "--seeds", "1", "--steps", 200]
    args = [str(a) for a in [*args, "--eval-interval", 100, "--workers", 1]]
    assert ablate.main(args) == 2
    assert "--force" in capsys.readouterr().err and stale.is_dir()
    assert ablate.main([*args, "--force"]) == 0
    assert sorted(p.name for p in (out / "cartpole" / "plain").iterdir()) == ["seed-1"]
    assert json.loads((out / "ablation.json").read_text())["cartpole"]["variants"]["plain"]["seeds"] == 1


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_checkpoint_files_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        folder = checkpoint.save(tmp_path / "step-000000000001", {"a": np.zeros(3)}, {"step": 1}, {"x": np.arange(2)})
    finally:
        os.umask(previous)
    for name in (checkpoint.TENSORS, checkpoint.REPLAY, checkpoint.META):
        assert (folder / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
