"""`rlkit board`: TensorBoard on a runs folder, served on localhost."""

from __future__ import annotations

from pathlib import Path

from rlkit.errors import RlkitError


def start_board(runs_dir: Path, port: int = 6006, host: str = "127.0.0.1") -> str:
    """Start TensorBoard on `runs_dir` in a background thread; returns its address."""
    from tensorboard import program

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RlkitError(f"{runs_dir}: no such runs folder; train a run first (rlkit train) or give its folder")
    board = program.TensorBoard()
    board.configure(
        argv=[None, "--logdir", str(runs_dir), "--port", str(port), "--host", host, "--reload_interval", "5"]
    )
    try:
        return board.launch()
    except program.TensorBoardServerException as error:
        raise RlkitError(f"TensorBoard cannot listen on {host}:{port}: {error.msg}; choose another --port") from None
