"""Checkpoints that are safe to load: a folder of safetensors, JSON and (optionally) an .npz.

    <name>/meta.json             everything that is not an array, and a SHA-256 of every file
    <name>/tensors.safetensors   networks, optimizer moments, Q-table, torch RNG state
    <name>/replay.npz            the replay buffer, when kept (read with allow_pickle=False)

Nothing on the load path unpickles, so a checkpoint from a stranger cannot run code. A folder
is written under a temporary name and renamed when complete, so a run killed at any instant
leaves every earlier checkpoint whole; a file whose checksum does not match is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file
from safetensors.numpy import save as save_tensors

from rlkit.errors import RlkitError

FORMAT_VERSION = 1
META = "meta.json"
TENSORS = "tensors.safetensors"
REPLAY = "replay.npz"
_NAME = re.compile(r"^(step|best)-(\d{12})$")


class CheckpointError(RlkitError):
    """A checkpoint that cannot be loaded: one line naming the file and the problem."""


class WriteError(Exception):
    """A file rlkit writes could not be written (a full disk, a folder made read-only): one line
    naming it; the partial file is removed and the last good one is intact. Not bad input, so
    the command exits with 1."""


def write_json(path: Path, data: Any) -> None:
    """Write a JSON file atomically: into a temporary sibling, then one rename; on failure the
    temporary file is removed, the old file (if any) is intact, and WriteError says why."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {error.strerror or error}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def checkpoint_name(kind: str, step: int) -> str:
    return f"{kind}-{step:012d}"


def save(
    folder: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any], replay: dict[str, np.ndarray] | None = None
) -> Path:
    """Write a checkpoint folder atomically: into a temporary sibling, then one rename."""
    if folder.exists():
        raise CheckpointError(f"{folder}: a checkpoint of that name exists already")
    temporary = folder.with_name(f".tmp-{folder.name}-{os.getpid()}")
    try:
        _write_folder(temporary, tensors, meta, replay)
        os.rename(temporary, folder)
        _fsync(folder.parent)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        previous = [p.name for kind in ("step", "best") for p in list_checkpoints(folder.parent, kind)]
        intact = f"; the last good checkpoints are intact ({', '.join(previous)})" if previous else ""
        raise WriteError(f"cannot write checkpoint {folder}: {error.strerror or error}{intact}") from None
    return folder


def _write_folder(
    temporary: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any], replay: dict[str, np.ndarray] | None
) -> None:
    """The checkpoint's files in `temporary`, each synced, the metadata (with their checksums) last."""
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir(parents=True)
    # bytes written here, not with save_file (which creates its file 0600): the file follows the umask
    (temporary / TENSORS).write_bytes(save_tensors({k: np.ascontiguousarray(v) for k, v in tensors.items()}))
    files = [TENSORS]
    if replay is not None:
        np.savez(temporary / REPLAY, **replay)
        files.append(REPLAY)
    meta = {"format_version": FORMAT_VERSION, **meta, "files": {}}
    for name in files:
        _fsync(temporary / name)
        meta["files"][name] = _sha256(temporary / name)
    (temporary / META).write_text(json.dumps(meta, indent=1))
    _fsync(temporary / META)
    _fsync(temporary)


def _refuse_pickle(path: Path) -> None:
    """Name pickles and torch.save archives before any parser sees them. A safetensors file
    starts with its header's length and then '{'; an .npz is a zip of .npy files."""
    with path.open("rb") as file:
        head = file.read(9)
    if path.suffix == ".npz":
        suspicious = zipfile.is_zipfile(path) and any(n.endswith(".pkl") for n in zipfile.ZipFile(path).namelist())
    else:
        suspicious = head[8:9] != b"{" and (head[:1] == b"\x80" or head[:2] == b"PK")
    if suspicious:
        raise CheckpointError(f"{path}: is a pickle or torch.save file; rlkit never unpickles, so it will not load it")


def load(
    folder: Path, with_replay: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray] | None]:
    """Arrays, metadata and (if asked and present) replay arrays of a checkpoint folder."""
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such file or folder")
    if not folder.is_dir() or not (folder / META).is_file():
        raise CheckpointError(f"{folder}: not a checkpoint (a folder holding {META} and {TENSORS})")
    try:
        meta = json.loads((folder / META).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{folder / META}: corrupted ({error})") from None
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("format_version"), int)
        or not isinstance(meta.get("files"), dict)
    ):
        raise CheckpointError(f"{folder / META}: not rlkit checkpoint metadata (no format_version or files)")
    if meta["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{folder}: checkpoint format version {meta['format_version']} is newer than this rlkit "
            f"reads ({FORMAT_VERSION}); upgrade rlkit"
        )
    wanted = [TENSORS] + ([REPLAY] if with_replay and REPLAY in meta["files"] else [])
    for name in wanted:
        path = folder / name
        if name not in meta["files"]:
            raise CheckpointError(f"{path}: not listed in {META}")
        if not path.is_file():
            raise CheckpointError(f"{path}: missing")
        _refuse_pickle(path)
        if _sha256(path) != meta["files"][name]:
            raise CheckpointError(f"{path}: corrupted (its SHA-256 does not match {META})")
    try:
        tensors = load_file(str(folder / TENSORS))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{folder / TENSORS}: unreadable ({error})") from None
    replay = None
    if REPLAY in wanted:
        try:
            with np.load(folder / REPLAY, allow_pickle=False) as archive:
                replay = {key: archive[key] for key in archive.files}
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise CheckpointError(f"{folder / REPLAY}: unreadable ({error})") from None
    return tensors, meta, replay


def list_checkpoints(checkpoints: Path, kind: str = "step") -> list[Path]:
    """Complete checkpoints of one kind ('step' or 'best'), oldest first."""
    if not checkpoints.is_dir():
        return []
    found = [(int(m.group(2)), p) for p in checkpoints.iterdir() if (m := _NAME.match(p.name)) and m.group(1) == kind]
    return [path for _, path in sorted(found)]


def prune(checkpoints: Path, kind: str, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints of a kind."""
    for path in list_checkpoints(checkpoints, kind)[:-keep]:
        shutil.rmtree(path)


def set_aside_newer(checkpoints: Path, step: int) -> Path | None:
    """Move checkpoints written after `step` (by a run that went on past the checkpoint it is
    now resumed from) into checkpoints/abandoned-<step>/, so that they are neither lost nor
    taken for checkpoints of the resumed run."""
    newer = [p for kind in ("step", "best") for p in list_checkpoints(checkpoints, kind) if int(p.name[-12:]) > step]
    if not newer:
        return None
    target = checkpoints / f"abandoned-after-{step:012d}"
    target.mkdir(exist_ok=True)
    for path in newer:
        os.rename(path, target / path.name)
    return target


def remove_partial(checkpoints: Path) -> None:
    """Delete temporary folders left by a run killed while writing a checkpoint."""
    if checkpoints.is_dir():
        for path in checkpoints.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)


def find(path: Path, best: bool = False) -> Path:
    """The checkpoint folder that `path` means: itself, or a run folder's latest (or best)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    if (path / META).is_file():
        return path
    candidates = list_checkpoints(path / "checkpoints", "best" if best else "step")
    if not candidates:
        what = "best checkpoint" if best else "checkpoint"
        raise CheckpointError(f"{path}: not a checkpoint, and no {what} in {path / 'checkpoints'}")
    return candidates[-1]


def check_belongs(run_dir: Path, folder: Path, meta: dict[str, Any]) -> None:
    """Refuse the checkpoint `folder` (its metadata `meta`) found in run folder `run_dir` when
    it was written for another agent or env than the run's config.json says (a checkpoint of
    another run copied there); a run_dir without config.json is no run, and passes."""
    saved = Path(run_dir) / "config.json"
    if not saved.is_file():
        return
    try:
        ours = json.loads(saved.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
        raise CheckpointError(f"{saved}: unreadable ({error})") from None
    theirs = meta.get("config")
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return  # a malformed checkpoint is named where its config is read

    def identity(config: dict[str, Any]) -> tuple[Any, Any, Any]:
        env = config.get("env")
        return config.get("algo"), config.get("agent_preset"), env.get("id") if isinstance(env, dict) else None

    if identity(ours) != identity(theirs):

        def describe(config: dict[str, Any]) -> str:
            algo, preset, env_id = identity(config)
            return f"{preset}{'' if preset == algo else f' ({algo})'} on {env_id}"

        raise CheckpointError(
            f"{folder}: a checkpoint of {describe(theirs)}, but its run {run_dir} is {describe(ours)} (config.json); "
            "it belongs to another run: move it out of this run's checkpoints/ and give its own path"
        )
