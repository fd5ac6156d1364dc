"""Helpers shared by several test files: the command line run in-process, a script of
scripts/ loaded as a module, the one run folder under a root, a free local port, and a network
namespace for the tests that start Ray."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from rlkit.cli import main

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture
def cli(capsys):
    """Call `rlkit ARGS...`; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def ablate():
    """scripts/ablate.py as a module."""
    return load_script("ablate")


def load_script(name: str):
    """scripts/<name>.py imported as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def only_run(root: Path) -> Path:
    """The one run folder under `root`: root/<env>/<agent>/<run>, or root/<run>."""
    runs = [p for p in root.glob("*/*/*") if (p / "config.json").is_file()]
    runs = runs or [p for p in root.iterdir() if (p / "config.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def in_network_namespace(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run a command in a network namespace of its own with only loopback up, where Ray (which
    binds to the machine's address by default) keeps every connection on 127.0.0.1."""
    return subprocess.run(
        ["unshare", "--net", "bash", "-c", 'ip link set lo up && exec "$@"', "namespace", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def ray_namespace():
    """`in_network_namespace`, or a skip with the reason (Ray missing, no namespace possible);
    under CI (CI set) a Ray test that cannot run fails instead of skipping."""
    reason = None
    if importlib.util.find_spec("ray") is None:
        reason = "needs the tune extra: pip install 'rlkit[tune]'"
    elif shutil.which("unshare") is None or shutil.which("ip") is None:
        reason = "needs unshare and ip (util-linux, iproute2) to give Ray a network namespace of its own"
    else:
        probe = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
        if probe.returncode != 0:
            reason = f"cannot create a network namespace for Ray (unshare --net: {probe.stderr.strip()}); run as root"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"under CI every Ray test must run: {reason}")
        pytest.skip(reason)
    return in_network_namespace
