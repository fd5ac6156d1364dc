"""Imports put off until first use. A module that needs torch only inside its functions binds
`torch = lazy_import("torch", globals())` at its top, and torch (1.5–3 s) loads when the first
attribute of it is read: the agent registry, `rlkit list`, `--help-keys` and config checks read
the agent modules without paying for it (the idea of TensorFlow's LazyLoader)."""

from __future__ import annotations

import importlib
import types
from typing import Any


class _Deferred(types.ModuleType):
    """Stands in for module `name` in `namespace` until an attribute is read from it; then
    imports the module and puts it in its own place there, so later reads are plain look-ups."""

    def __init__(self, name: str, namespace: dict[str, Any]):
        super().__init__(name)
        self._deferred_namespace = namespace

    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self.__name__)
        namespace = self._deferred_namespace
        for key in [key for key, value in namespace.items() if value is self]:
            namespace[key] = module
        return getattr(module, attribute)


def lazy_import(name: str, namespace: dict[str, Any]) -> Any:
    """The module `name`, imported when an attribute of it is first read; `namespace` is the
    caller's `globals()`, where the module replaces this stand-in then."""
    return _Deferred(name, namespace)
