"""rlkit: value-based reinforcement learning (tabular Q-learning and DQN).

The public API (see rlkit.api): train, load, evaluate, export (rlkit.run.export), Policy, TrainResult, and the callbacks
Callback and StopAtReturn (see rlkit.run.callbacks). They are imported on first use, so that
`import rlkit` and the command line's `--version` stay fast."""

__version__ = "0.1.0"

_EXPORTS = {
    "train": "rlkit.api",
    "load": "rlkit.api",
    "evaluate": "rlkit.api",
    "export": "rlkit.run.export",
    "Policy": "rlkit.api",
    "TrainResult": "rlkit.api",
    "Callback": "rlkit.run.callbacks",
    "StopAtReturn": "rlkit.run.callbacks",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rlkit' has no attribute {name!r}")
