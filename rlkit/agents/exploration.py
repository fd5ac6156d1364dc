"""Exploratory action choice from Q values, shared by the Q-table and DQN."""

from __future__ import annotations

import numpy as np


def boltzmann_probabilities(q_values: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(Q / temperature) per row, computed stably (the row maximum subtracted first)."""
    scaled = (np.asarray(q_values, dtype=np.float64) - np.max(q_values, axis=1, keepdims=True)) / temperature
    weights = np.exp(scaled)
    return weights / weights.sum(axis=1, keepdims=True)


def epsilon_greedy_probabilities(q_values: np.ndarray, epsilon: float) -> np.ndarray:
    """π(a|s) of ε-greedy acting per row: ε/|A| for every action, and 1 − ε shared equally by
    the actions tied for the maximum (greedy choices break ties at random)."""
    q_values = np.asarray(q_values, dtype=np.float64)
    best = q_values == q_values.max(axis=1, keepdims=True)
    return epsilon / q_values.shape[1] + (1.0 - epsilon) * best / best.sum(axis=1, keepdims=True)


def boltzmann(q_values: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One action per row, drawn with probability ∝ exp(Q / temperature) (Boltzmann exploration)."""
    cumulative = np.cumsum(boltzmann_probabilities(q_values, temperature), axis=1)
    draws = rng.random(len(cumulative))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), q_values.shape[1] - 1)
