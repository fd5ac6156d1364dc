"""Helpers shared by several test files: the command line run in-process, a script of
scripts/ loaded as a module, the one run folder under a root, and a free local port."""

from __future__ import annotations

import importlib.util
import socket
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
