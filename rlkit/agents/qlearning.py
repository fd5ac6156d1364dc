"""Tabular Q-learning (Watkins 1989): a numpy Q-table, ε-greedy or softmax acting, α and
exploration schedules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlkit.agents.base import AgentConfig, BaseAgent, MemoryNeed, register
from rlkit.agents.images import heatmap, policy_map
from rlkit.errors import RlkitError
from rlkit.options import option
from rlkit.replay.transition import Transition


def tabular_update(
    q_table: np.ndarray,
    state: int,
    action: int,
    reward: float,
    next_value: float,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """Q(s,a) += α (r + γ (1 − terminated) V(s') − Q(s,a)), with V(s') the agent's value of the
    next state; returns the TD error. A truncated episode still bootstraps from s'."""
    bootstrap = 0.0 if terminated else gamma * next_value
    td_error = reward + bootstrap - q_table[state, action]
    q_table[state, action] += alpha * td_error
    return float(td_error)


@dataclass
class QLearningConfig(AgentConfig):
    """Tabular Q-learning."""

    initial_q: float = option(0.0, "initial value of every Q-table entry")


@register("qlearning", QLearningConfig, family="tabular", discrete_states=True)
class QLearningAgent(BaseAgent):
    """Tabular Q-learning: a Q-table over discrete (or discretized) states."""

    uses_torch = False  # numpy only: a Q-table run starts without torch's import

    def __init__(
        self,
        config: QLearningConfig,
        env_info: dict[str, Any],
        total_steps: int,
        seed: int,
        device: str = "cpu",
        num_envs: int = 1,
    ):
        if env_info["kind"] != "discrete":
            hint = {
                "pixel": "use the dqn-atari agent for pixel observations",
                "grid": "use the dqn-minatar agent (MinAtar's grids are far too many states for a table)",
                "vector": "set env.bins (and env.low/env.high) to discretize them, or use the dqn agent",
            }[env_info["kind"]]
            raise RlkitError(
                f"{self.algo} needs discrete states, but the env gives {env_info['kind']} observations: {hint}"
            )
        super().__init__(config, total_steps, seed)
        self.num_actions = env_info["num_actions"]
        self.q_table = np.full((env_info["num_states"], self.num_actions), config.initial_q, dtype=np.float64)
        self.grid = env_info.get("grid")
        self.action_names = env_info.get("action_names")

    @classmethod
    def memory_estimate(
        cls, config: AgentConfig, env_info: dict[str, Any], num_envs: int, device: str
    ) -> dict[str, MemoryNeed]:
        """The Q-table: one float64 per state and action."""
        return {"Q-table": MemoryNeed(int(env_info.get("num_states") or 0) * env_info["num_actions"] * 8)}

    def action_values(self, observations: np.ndarray) -> np.ndarray:
        return self.q_table[observations]

    def next_value(self, next_state: int, step: int) -> float:
        """V(s') in the TD target: max_a' Q(s', a') for Q-learning (the greedy policy's value,
        whatever the agent does). Tabular variants override this and nothing else."""
        return self.q_table[next_state].max()

    def observe(self, batch: Transition, step: int) -> dict[str, float]:
        alpha = self.learning_rate(step)
        td_errors = [
            tabular_update(self.q_table, s, a, r, self.next_value(s2, step), term, alpha, self.config.gamma)
            for s, a, r, s2, term in zip(
                batch.observations.tolist(),
                batch.actions.tolist(),
                batch.rewards.tolist(),
                batch.next_observations.tolist(),
                batch.terminated.tolist(),
            )
        ]
        return {"train/td_error": sum(map(abs, td_errors)) / len(td_errors)}  # Python's: a few envs' worth

    def images(self) -> dict[str, np.ndarray]:
        """The Q-table as a heatmap, and on grid worlds the greedy policy drawn on the map."""
        pictures = {"q_table": heatmap(self.q_table, self.action_names)}
        if self.grid is not None and (policy := policy_map(self.q_table, self.grid)) is not None:
            pictures["policy"] = policy
        return pictures

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        tensors = {"q_table": self.q_table}
        return tensors, {"rng": self.rng.bit_generator.state}

    def load_state(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        q_table = tensors["q_table"]
        if q_table.shape != self.q_table.shape:
            raise RlkitError(
                f"the checkpoint's Q-table is {q_table.shape[0]} states × {q_table.shape[1]} actions, the env has {self.q_table.shape[0]} × {self.q_table.shape[1]}"
            )
        self.q_table[...] = q_table
        self.rng.bit_generator.state = meta["rng"]

    def replay_arrays(self) -> dict[str, np.ndarray] | None:
        return None

    def load_replay(self, arrays: dict[str, np.ndarray]) -> None:
        raise RlkitError(f"{self.algo} keeps no replay buffer")
