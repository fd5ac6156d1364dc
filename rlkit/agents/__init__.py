"""The agents, found through one registry.

Each agent module registers its class next to its definition (`rlkit.agents.base.register`).
The modules of this package are imported on the first look into the registry, so an agent
added here needs no list edited. The helpers that hold no agent (HELPERS) are left to the
agents to import: networks and normalization import torch, which an agent module defers to its
first use (rlkit.lazy), so that `rlkit list` and config checks start without torch. An agent
outside rlkit registers through the entry-point
group `rlkit.agents` (in its package's pyproject.toml:
`[project.entry-points."rlkit.agents"] my_agent = "my_package.my_agent"`), whose module is
imported then too."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import warnings
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from rlkit.agents.base import REGISTRY, Agent, AgentConfig, AgentSpec, register
from rlkit.errors import RlkitError

if TYPE_CHECKING:
    from rlkit.config import RunConfig

ENTRY_POINT_GROUP = "rlkit.agents"
HELPERS = frozenset(
    {"base", "exploration", "heads", "images", "networks", "normalization"}
)  # modules that register no agent
_discovered = False


def registry() -> dict[str, AgentSpec]:
    """Every registered agent by name, after importing the agent modules of this package and
    of the `rlkit.agents` entry points."""
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            if module.name not in HELPERS:
                importlib.import_module(f"{__name__}.{module.name}")
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                entry.load()
            except Exception as error:  # a broken plug-in must not hide rlkit's own agents
                warnings.warn(
                    f"agent plug-in {entry.name} ({entry.value}) failed to import and is left out: {error}",
                    stacklevel=2,
                )
        _discovered = True
    return REGISTRY


def agent_spec(name: str) -> AgentSpec:
    """The registered agent `name`, or one line naming the valid ones."""
    agents = registry()
    if name not in agents:
        close = difflib.get_close_matches(str(name), list(agents), n=2, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise RlkitError(f"algo = {name!r} is not a registered agent{hint}; valid: {', '.join(agents)}")
    return agents[name]


def create_agent(config: RunConfig, env_info: dict[str, Any], device: str = "cpu") -> Agent:
    """The agent that `config.algo` names, built for the env that `env_info` describes."""
    return agent_spec(config.algo).agent_class(
        config.agent,
        env_info,
        config.train.schedule_steps or config.train.total_steps,
        config.train.seed,
        device,
        config.env.num_envs,
    )


__all__ = ["Agent", "AgentConfig", "AgentSpec", "agent_spec", "create_agent", "register", "registry"]
