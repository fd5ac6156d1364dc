"""Shared helpers: run the command line in-process and capture what it prints."""

from __future__ import annotations

import pytest

from rlkit.cli import main


@pytest.fixture
def cli(capsys):
    """Call `rlkit ARGS...`; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
