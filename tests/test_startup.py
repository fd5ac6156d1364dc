"""What a command costs to start, and how it ends when stopped early: `--help`, `--version`,
`list` and config checks import no torch; a Ctrl-C at any moment (torch's import included) ends
with exit 130 and one line; a stdout closed by its reader ends quietly with exit 141."""

import importlib
import pkgutil
import signal
import subprocess
import sys

import pytest
from conftest import child

import rlkit.agents
from rlkit import cli
from rlkit.agents import HELPERS, registry
from rlkit.lazy import lazy_import

RLKIT = [sys.executable, "-m", "rlkit.cli"]

NO_TORCH = """
import contextlib, io, sys
from rlkit.cli import build_parser, main
build_parser()
for args in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0, args
loaded = sorted(name for name in sys.modules if name == "torch" or name.startswith("torch."))
assert not loaded, loaded[:5]
"""


def test_help_version_list_and_config_checks_import_no_torch():
    commands = [
        ["--version"],
        ["--help"],
        ["list"],
        ["train", "--help"],
        ["eval", "--help"],
        ["train", "--help-keys", "--agent", "dqn"],
        ["train", "--agent", "dqn", "--env", "cartpole", "--print-config"],
    ]
    done = subprocess.run([sys.executable, "-c", NO_TORCH.format(commands=commands)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_q_table_trains_resumes_and_evaluates_without_importing_torch(tmp_path):
    """torch's import costs seconds that a Q-table never uses: rlkit train, --resume and eval of
    tabular agents (one with a discretized env) run without it."""
    run = tmp_path / "runs"
    commands = [
        ["train", "--steps", "2000", "--set", "final_eval_episodes=3", "--run-dir", str(run), "--no-progress"],
        [
            "train",
            "--agent",
            "expected-sarsa",
            "--env",
            "cartpole",
            "--steps",
            "2000",
            "--set",
            "final_eval_episodes=2",
            "--run-dir",
            str(run),
            "--no-progress",
        ],
    ]
    script = (
        NO_TORCH.format(commands=commands)
        + f"""
from pathlib import Path
first = sorted(Path({str(run)!r}).glob("taxi/qlearning/*"))[0]
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["train", "--resume", str(first), "--steps", "3000", "--keep-schedules", "--no-progress"]) == 0
    assert main(["eval", str(first), "--episodes", "2"]) == 0
assert "torch" not in sys.modules
"""
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_registry_imports_every_agent_module_and_no_helper():
    """HELPERS, the modules the registry leaves to the agents, hold no agent; every other module
    of rlkit.agents registers one (so the list of helpers cannot hide an agent)."""
    registering = {spec.agent_class.__module__.rsplit(".", 1)[-1] for spec in registry().values()}
    for module in pkgutil.iter_modules(rlkit.agents.__path__):
        importlib.import_module(f"rlkit.agents.{module.name}")
        assert (module.name in HELPERS) == (module.name not in registering), module.name


@pytest.mark.parametrize("kinds", [cli._STOPPED, cli._FAILED])
def test_the_exceptions_main_ends_in_one_line_exist(kinds):
    for module, name in kinds:
        assert issubclass(getattr(importlib.import_module(module), name), Exception), (module, name)


@pytest.mark.parametrize("args", [["train", "--print-config"], ["list"], ["train", "--help-keys"]])
def test_a_stdout_closed_by_its_reader_ends_quietly(args):
    """`rlkit train --print-config | head -2`, the reader gone before rlkit writes: no
    BrokenPipeError traceback, nothing on stderr, exit 141."""
    with child([*RLKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        process.stdout.close()  # the reader is gone before the command writes
        err = process.stderr.read()
        process.wait(timeout=120)
    assert process.returncode == 141 and err == "", err


def test_a_shell_pipe_into_head_ends_quietly():
    """The same through a shell, as `set -o pipefail` sees it. (`| head -2` closes the pipe only
    after its first read, by when rlkit has often written all its 3 KB: `head -n 0` never reads.)"""
    script = f"set -o pipefail; {' '.join(RLKIT)} train --print-config | head -n 0"
    with child(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        out, err = process.communicate(timeout=120)
    assert process.returncode == 141 and out == err == "", err


@pytest.mark.parametrize("moment", ["rlkit.config", "torch._C", "torch.nn"])
def test_ctrl_c_while_importing_ends_in_one_line(tmp_path, moment):
    """Ctrl-C in the first seconds of `rlkit train`, while it imports (`-X importtime` says
    where it is): exit 130, "rlkit: interrupted", no traceback, no run folder."""
    command = [sys.executable, "-X", "importtime", "-m", "rlkit.cli", "train", "--agent", "dqn"]
    command += ["--env", "cartpole", "--no-progress", "--run-dir", str(tmp_path)]
    with child(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        for line in process.stderr:
            if line.rsplit("|", 1)[-1].strip() == moment:  # imported: the next import is under way
                break
        else:
            pytest.fail(f"{moment} was never imported")
        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    said = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert said == ["rlkit: interrupted"], said[-20:]
    assert not any(tmp_path.iterdir())


def test_a_broken_pipe_that_is_not_stdouts_is_an_error(monkeypatch):
    """Only a reader of stdout that went away ends quietly; a worker's broken pipe surfaces."""

    def broken(argv):
        raise BrokenPipeError(32, "a worker's pipe")

    monkeypatch.setattr(cli, "_command", broken)
    with pytest.raises(BrokenPipeError, match="a worker's pipe"):
        cli.main([])


def test_lazy_import_loads_on_first_use_and_takes_its_place():
    namespace: dict = {}
    namespace["decoder"] = lazy_import("json.decoder", namespace)
    assert namespace["decoder"].JSONDecoder().decode("[1]") == [1]
    assert namespace["decoder"] is importlib.import_module("json.decoder")  # the stand-in is gone
