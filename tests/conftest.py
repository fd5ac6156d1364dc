"""Helpers shared by several test files: the command line run in-process, a script of
scripts/ loaded as a module, the one run folder under a root, a free local port, child
processes that Ctrl-C reaches and that never outlive their test, and a network namespace for
the tests that start Ray."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rlkit.cli import main

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@contextlib.contextmanager
def _sigint_not_ignored() -> Iterator[None]:
    """While a child starts, SIGINT caught here rather than ignored: exec keeps an ignored signal
    ignored but resets a caught one to its default action, so the child starts with it. This runs
    no Python code in the forked child (a preexec_fn would, and a library's fork handlers loaded
    in this process, grpc's, may then abort the child or write to its stderr)."""
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def child(args: Sequence[str], **popen) -> Iterator[subprocess.Popen]:
    """`args` started as subprocess.Popen(args, **popen) would, but with SIGINT's default
    handler (a pytest started in the background, `pytest &` or nohup, passes SIGINT on ignored,
    and a Ctrl-C test would then wait in vain) and as a process group of its own; on leaving,
    whatever of that group still runs is killed (a failed assertion or a timeout leaves no
    training behind). A terminal's Ctrl-C is `os.killpg(process.pid, signal.SIGINT)`."""
    with _sigint_not_ignored():
        process = subprocess.Popen(list(args), start_new_session=True, **popen)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing left to kill
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()  # reaps it and closes its pipes


def run_child(args: Sequence[str], timeout: float, **popen) -> subprocess.CompletedProcess:
    """subprocess.run(args, capture_output=True, text=True, timeout=timeout) in a `child`: on a
    timeout, its whole process group is killed (workers too), not only the process."""
    with child(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen) as process:
        out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


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


def namespace_problem() -> str | None:
    """Why no network namespace with only loopback up can be made here, or None when it can."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2) to give Ray a network namespace of its own"
    probe = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace for Ray (unshare --net: {probe.stderr.strip()}); run as root"
    return None


@pytest.fixture
def ray_namespace():
    """`in_network_namespace`, or a skip with the reason (Ray missing, no namespace possible);
    under CI (CI set) a Ray test that cannot run fails instead of skipping."""
    reason = "needs the tune extra: pip install 'rlkit[tune]'" if importlib.util.find_spec("ray") is None else None
    reason = reason or namespace_problem()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"under CI every Ray test must run: {reason}")
        pytest.skip(reason)
    return in_network_namespace


def td_loss_gradcheck(agent, fast_mode: bool = False) -> bool:
    """torch.autograd.gradcheck of `agent.td_loss` with respect to the online network's
    parameters, in float64 (the agent's networks and head are made float64 first), on a batch of
    5 transitions with 4-number observations and 3 actions: one terminated, rewards large
    enough that some |δ| > 1 takes the Huber loss's linear branch."""
    import torch
    from torch.func import functional_call

    from rlkit.replay.buffer import Batch

    agent.q_network.double()
    agent.target_network.double()
    agent.head.double()
    generator = torch.Generator().manual_seed(1)
    batch = Batch(
        torch.randn(5, 4, dtype=torch.float64, generator=generator),
        torch.tensor([0, 1, 2, 1, 0]),
        torch.randn(5, dtype=torch.float64, generator=generator) * 3,
        torch.randn(5, 4, dtype=torch.float64, generator=generator),
        torch.tensor([False, True, False, False, False]),
        torch.zeros(5, dtype=torch.bool),
        torch.full((5,), 0.9, dtype=torch.float64),
        torch.rand(5, dtype=torch.float64, generator=generator),
        torch.arange(5),
    )
    online = agent.q_network
    names = [name for name, _ in online.named_parameters()]
    parameters = tuple(p.detach().clone().requires_grad_(True) for p in online.parameters())

    def loss(*values):
        agent.q_network = lambda x: functional_call(online, dict(zip(names, values)), (x,))
        try:
            return agent.td_loss(batch).loss
        finally:
            agent.q_network = online

    return torch.autograd.gradcheck(loss, parameters, eps=1e-6, atol=1e-5, fast_mode=fast_mode)
