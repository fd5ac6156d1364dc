"""The agents behind one contract, and the registry that maps an algorithm name to its class."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from rlkit.agents.dqn import DQNAgent
from rlkit.agents.qlearning import QLearningAgent
from rlkit.config import RunConfig
from rlkit.replay.transition import Transition


class Agent(Protocol):
    """What the training loop and the evaluator need from an agent."""

    def act(self, observations: np.ndarray, step: int) -> np.ndarray:
        """Exploratory actions for a batch of observations at environment step `step`."""

    def greedy_actions(self, observations: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """Greedy actions (random with probability `epsilon`), for evaluation; every random
        draw (exploration, ties) comes from `rng`, the evaluation's own stream."""

    def observe(self, batch: Transition, step: int) -> dict[str, Any]:
        """Learn from one vector step; returns the training metrics of any update it made."""

    def schedule_values(self, step: int) -> dict[str, float]:
        """Exploration rate and learning rate at `step`, under their metric names."""

    def images(self) -> dict[str, np.ndarray]:
        """Pictures worth a look in TensorBoard at evaluation time (RGB uint8, H×W×3)."""

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (for safetensors) and JSON-able values that restore the agent exactly."""

    def load_state(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None: ...

    def replay_arrays(self) -> dict[str, np.ndarray] | None:
        """The replay buffer's contents, or None for agents without one."""

    def load_replay(self, arrays: dict[str, np.ndarray]) -> None: ...


AGENTS: dict[str, type] = {"qlearning": QLearningAgent, "dqn": DQNAgent}


def create_agent(config: RunConfig, env_info: dict[str, Any], device: str = "cpu") -> Agent:
    """The agent that `config.algo` names, built for the env that `env_info` describes."""
    return AGENTS[config.algo](
        config.agent,
        env_info,
        config.train.schedule_steps or config.train.total_steps,
        config.train.seed,
        device,
        config.env.num_envs,
    )
