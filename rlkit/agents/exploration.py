"""Exploratory action choice from Q values, shared by the Q-table and DQN."""

from __future__ import annotations

import numpy as np


def boltzmann_probabilities(q_values: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(Q / temperature) per row, computed stably (the row maximum subtracted first)."""
    scaled = (np.asarray(q_values, dtype=np.float64) - np.max(q_values, axis=1, keepdims=True)) / temperature
    weights = np.exp(scaled)
    return weights / weights.sum(axis=1, keepdims=True)


def boltzmann(q_values: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One action per row, drawn with probability ∝ exp(Q / temperature) (Boltzmann exploration)."""
    cumulative = np.cumsum(boltzmann_probabilities(q_values, temperature), axis=1)
    draws = rng.random(len(cumulative))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), q_values.shape[1] - 1)
