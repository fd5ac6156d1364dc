"""Tabular Expected SARSA: its target is the expectation of Q(s', ·) under the policy it acts
by, and it learns Taxi as Q-learning does."""

from __future__ import annotations

import numpy as np
import pytest

import rlkit
from rlkit.agents.expected_sarsa import ExpectedSarsaAgent, ExpectedSarsaConfig

INFO = {"kind": "discrete", "num_states": 3, "num_actions": 4}


def _agent(**values) -> ExpectedSarsaAgent:
    return ExpectedSarsaAgent(ExpectedSarsaConfig(**values), INFO, total_steps=100, seed=0)


def test_the_epsilon_greedy_target_shares_the_greedy_mass_among_tied_actions():
    agent = _agent(exploration_initial_eps=0.2, exploration_final_eps=0.2)
    agent.q_table[1] = [1.0, 3.0, 3.0, -2.0]
    # each action ε/4 = 0.05; the two tied maxima share 1 − ε = 0.8
    expected = 0.05 * (1.0 + 3.0 + 3.0 - 2.0) + 0.4 * 3.0 + 0.4 * 3.0
    assert agent.next_value(1, step=0) == pytest.approx(expected)


def test_the_softmax_target_weights_by_the_boltzmann_probabilities():
    agent = _agent(exploration="softmax", exploration_initial_temperature=2.0, exploration_final_temperature=2.0)
    agent.q_table[2] = [0.0, 1.0, 2.0, 3.0]
    weights = np.exp(agent.q_table[2] / 2.0)
    assert agent.next_value(2, step=50) == pytest.approx(weights @ agent.q_table[2] / weights.sum())


def test_with_a_greedy_policy_the_target_is_q_learnings():
    agent = _agent(exploration_initial_eps=0.0, exploration_final_eps=0.0)
    agent.q_table[0] = [0.5, -1.0, 2.5, 2.0]
    assert agent.next_value(0, step=0) == 2.5


@pytest.mark.slow
def test_taxi_expected_sarsa(tmp_path):
    # the learning tests' seed (tests/test_learning.py); the README's table has seeds 101-120
    result = rlkit.train(
        agent="expected-sarsa", env="taxi", seed=101, run_dir=tmp_path, overrides={"final_eval_episodes": 1000}
    )
    assert result.evaluation["return_mean"] >= 7.0
