"""Tabular Expected SARSA (van Seijen et al. 2009; Sutton & Barto 2018, section 6.6)."""

from __future__ import annotations

from dataclasses import dataclass

from rlkit.agents.base import register
from rlkit.agents.exploration import boltzmann_probabilities, epsilon_greedy_probabilities
from rlkit.agents.qlearning import QLearningAgent, QLearningConfig


@dataclass
class ExpectedSarsaConfig(QLearningConfig):
    """Tabular Expected SARSA: Q-learning's keys; the target follows the exploration keys."""


@register("expected-sarsa", ExpectedSarsaConfig, family="tabular", discrete_states=True)
class ExpectedSarsaAgent(QLearningAgent):
    """Tabular Expected SARSA: the TD target averages Q(s', ·) under the behaviour policy.

    Q(s,a) += α [r + γ Σ_a' π(a'|s') Q(s',a') − Q(s,a)], with π the policy the agent acts by at
    that step: ε-greedy (ε/|A| each, 1 − ε shared by the greedy actions) or softmax. Q-learning
    bootstraps from the greedy action instead, so it learns the greedy policy's values while
    exploring; Expected SARSA learns the values of the exploring policy itself, and so prefers
    paths where an exploratory step costs little (CliffWalking's safe path)."""

    def next_value(self, next_state: int, step: int) -> float:
        q_values = self.q_table[next_state : next_state + 1]
        if self.config.exploration == "softmax":
            policy = boltzmann_probabilities(q_values, self.temperature(step))
        else:
            policy = epsilon_greedy_probabilities(q_values, self.epsilon(step))
        return float(policy[0] @ q_values[0])
