"""One writer per folder: a run, a seed group or a sweep holds a lock file while a process
writes it.

    <folder>/.rlkit-lock   {"host", "pid", "process_start", "started", "command", "owner"}

Taking a lock is one atomic file creation. A lock whose process is gone is taken over: on
this host when its PID no longer runs (or now runs another process: PIDs are reused, so the
process's start time is compared too); a lock written on another host only by the retry of
the same job (the launcher gives every attempt of one job the same `owner` token, which only
it knows) or when the user breaks it explicitly (`--break-lock`). Readers (evaluation, plots)
never take it. A lock is re-entrant within its process, so a resume that holds its run's lock
may hand the run to the loop, which takes it again.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rlkit.errors import RlkitError

LOCK_FILE = ".rlkit-lock"

_held: dict[Path, int] = {}  # folders this process holds, and how many times


class FolderLocked(RlkitError):
    """Another live process writes the folder: one line naming it."""


def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot, Linux), to tell a reused PID apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of stat; the command name may hold spaces


def _alive(record: dict[str, Any]) -> bool:
    """Whether the process a lock names (on this host) still runs."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # runs, under another user
    recorded = record.get("process_start")
    return recorded is None or _process_start(pid) in (None, recorded)


def read(folder: Path) -> dict[str, Any] | None:
    """The lock record of `folder`, or None when nobody holds it (an unreadable lock counts as
    held by nobody: it is one a process died writing)."""
    try:
        record = json.loads((Path(folder) / LOCK_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def describe(record: dict[str, Any]) -> str:
    command = f" ({record['command']})" if record.get("command") else ""
    return f"PID {record.get('pid')} on host {record.get('host')} since {record.get('started')}{command}"


def _record(owner: str | None) -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "process_start": _process_start(os.getpid()),
        "started": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["rlkit", *sys.argv[1:]]) if Path(sys.argv[0]).name == "rlkit" else None,
        "owner": owner,
    }


def _stale(record: dict[str, Any], owner: str | None, break_lock: bool) -> bool:
    """Whether a lock held by `record` may be taken over."""
    if break_lock or not record:
        return True
    if owner is not None and record.get("owner") == owner:
        return True  # a retry of the same job: the attempt that wrote the lock is gone
    if record.get("host") == socket.gethostname():
        return not _alive(record)
    return False


def acquire(folder: Path, what: str, owner: str | None = None, break_lock: bool = False) -> None:
    """Take the lock of `folder` (a `what`: run, group, sweep), or FolderLocked naming its holder."""
    folder = Path(folder).resolve()
    if _held.get(folder):
        _held[folder] += 1
        return
    path = folder / LOCK_FILE
    for _ in range(10):
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            record = read(folder)
            if record is None:
                continue  # released meanwhile
            if not _stale(record, owner, break_lock):
                other_host = record.get("host") != socket.gethostname()
                how = (
                    "if that process is gone (its machine lost), add --break-lock"
                    if other_host
                    else f"wait for it to end or stop it (kill {record.get('pid')})"
                )
                raise FolderLocked(f"{what} {folder} is being written by {describe(record)}; {how}") from None
            _take_over(path, record)
            continue
        except OSError as error:
            raise RlkitError(f"{what} {folder}: cannot write its lock file ({error.strerror})") from None
        with os.fdopen(descriptor, "w") as file:
            json.dump(_record(owner), file)
        _held[folder] = 1
        return
    raise FolderLocked(f"{what} {folder}: its lock changed hands ten times while taking it; try again")


def _take_over(path: Path, record: dict[str, Any]) -> None:
    """Remove a stale lock, unless another process replaced it since it was read."""
    aside = path.with_name(f"{LOCK_FILE}.stale-{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    try:
        moved = json.loads(aside.read_text())
    except (OSError, ValueError):
        moved = {}
    if record and moved != record and not path.exists():
        os.rename(aside, path)  # a fresh lock, taken between the read and the rename: put it back
        return
    aside.unlink(missing_ok=True)


def release(folder: Path) -> None:
    """Give back a lock taken with `acquire` (the file goes with the last release)."""
    folder = Path(folder).resolve()
    count = _held.get(folder, 0)
    if count > 1:
        _held[folder] = count - 1
        return
    _held.pop(folder, None)
    record = read(folder)
    if record and record.get("pid") == os.getpid() and record.get("host") == socket.gethostname():
        (folder / LOCK_FILE).unlink(missing_ok=True)


@contextmanager
def holding(folder: Path, what: str, owner: str | None = None, break_lock: bool = False) -> Iterator[None]:
    """The lock of `folder` for the duration of a with block."""
    acquire(folder, what, owner, break_lock)
    try:
        yield
    finally:
        release(folder)
