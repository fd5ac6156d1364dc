"""Config fields with their help text and limits: the one helper every config dataclass uses
(env, train and each agent's)."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def option(default: Any, help: str, **limits: Any) -> Any:
    """A dataclass field with its help text and allowed range (min, max, exclusive_min,
    item_min) as metadata, which validation and `--help-keys` read."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **limits})
    return field(default=default, metadata={"help": help, **limits})
