"""Exploratory action choice from Q values, shared by the Q-table and DQN: the functions
(ε-greedy, Boltzmann) and the strategy objects an agent holds (EpsilonGreedy, Softmax, and
Greedy for values that explore by themselves, a noisy network's), each asked for actions
given the values and naming its schedule's metric."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def boltzmann_probabilities(q_values: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(Q / temperature) per row, computed stably (the row maximum subtracted first)."""
    scaled = (np.asarray(q_values, dtype=np.float64) - np.max(q_values, axis=1, keepdims=True)) / temperature
    weights = np.exp(scaled)
    return weights / weights.sum(axis=1, keepdims=True)


def epsilon_greedy_probabilities(q_values: np.ndarray, epsilon: float) -> np.ndarray:
    """π(a|s) of ε-greedy acting per row: ε/|A| for every action, and 1 − ε shared equally by
    the actions tied for the maximum, as `epsilon_greedy` with `random_ties` (a Q-table's) acts."""
    q_values = np.asarray(q_values, dtype=np.float64)
    best = q_values == q_values.max(axis=1, keepdims=True)
    return epsilon / q_values.shape[1] + (1.0 - epsilon) * best / best.sum(axis=1, keepdims=True)


def epsilon_greedy(
    q_values: Callable[[], np.ndarray],
    num_rows: int,
    num_actions: int,
    epsilon: float,
    rng: np.random.Generator,
    random_ties: bool = True,
) -> np.ndarray:
    """One action per row: a uniformly random action with probability ε, else the greedy one.
    Ties between maximal Q values are broken uniformly at random (`random_ties`: a Q-table
    starts all ties), or go to the first maximal action (as torch.argmax; a network's values
    tie only by accident, and its seeded runs then stay what they were).

    `q_values()` returns the (num_rows, num_actions) values; it is called only when some row
    acts greedily, so a network is not run while every row explores. The draws from `rng`
    come in a fixed order, part of every seeded result: num_rows uniforms (explore or not),
    num_rows random actions (used by the rows that explore), then, with `random_ties` and only
    when some greedy row has tied maxima, num_actions uniforms for each such row."""
    if num_rows == 1:
        return _epsilon_greedy_one(q_values, num_actions, epsilon, rng, random_ties)
    return _epsilon_greedy_rows(q_values, num_rows, num_actions, epsilon, rng, random_ties)


def _epsilon_greedy_rows(
    q_values: Callable[[], np.ndarray],
    num_rows: int,
    num_actions: int,
    epsilon: float,
    rng: np.random.Generator,
    random_ties: bool,
) -> np.ndarray:
    """`epsilon_greedy` on arrays of draws, any number of rows."""
    explore = rng.random(num_rows) < epsilon
    random_actions = rng.integers(num_actions, size=num_rows)
    if explore.all():
        return random_actions
    values = np.asarray(q_values())
    actions = values.argmax(axis=1)
    if not random_ties:
        return np.where(explore, random_actions, actions)
    best = values == values.max(axis=1, keepdims=True)
    tied = (best.sum(axis=1) > 1) & ~explore
    if tied.any():
        noise = rng.random((int(tied.sum()), num_actions))
        actions[tied] = np.argmax(np.where(best[tied], noise, -1.0), axis=1)
    return np.where(explore, random_actions, actions)


def _epsilon_greedy_one(
    q_values: Callable[[], np.ndarray], num_actions: int, epsilon: float, rng: np.random.Generator, random_ties: bool
) -> np.ndarray:
    """`epsilon_greedy` for one row with scalar draws, several times cheaper than arrays of one
    for a Q-table stepping one env: numpy's scalar draws are the same numbers, in the same order,
    as its arrays of one (tests/test_exploration.py holds the two paths equal)."""
    explore = rng.random() < epsilon
    random_action = rng.integers(num_actions)
    if explore:
        return np.array([random_action])
    row = np.asarray(q_values())[0].tolist()  # a Python list: a handful of actions cost less than numpy's calls
    largest = max(row)
    action = row.index(largest)
    if random_ties and row.count(largest) > 1:
        noise = rng.random(num_actions).tolist()
        action = max((a for a, value in enumerate(row) if value == largest), key=noise.__getitem__)
    return np.array([action])


def boltzmann(q_values: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One action per row, drawn with probability ∝ exp(Q / temperature) (Boltzmann exploration)."""
    cumulative = np.cumsum(boltzmann_probabilities(q_values, temperature), axis=1)
    draws = rng.random(len(cumulative))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), q_values.shape[1] - 1)


class EpsilonGreedy:
    """ε-greedy acting at the scheduled ε (`epsilon(step)`), logged as train/epsilon."""

    def __init__(self, epsilon: Callable[[int], float], random_ties: bool = True):
        self.epsilon = epsilon
        self.random_ties = random_ties

    def act(
        self, values: Callable[[], np.ndarray], num_rows: int, num_actions: int, step: int, rng: np.random.Generator
    ) -> np.ndarray:
        return epsilon_greedy(values, num_rows, num_actions, self.epsilon(step), rng, self.random_ties)

    def metrics(self, step: int) -> dict[str, float]:
        return {"train/epsilon": self.epsilon(step)}


class Softmax:
    """Boltzmann acting at the scheduled temperature (`temperature(step)`), logged as
    train/temperature."""

    def __init__(self, temperature: Callable[[int], float]):
        self.temperature = temperature

    def act(
        self, values: Callable[[], np.ndarray], num_rows: int, num_actions: int, step: int, rng: np.random.Generator
    ) -> np.ndarray:
        return boltzmann(np.asarray(values()), self.temperature(step), rng)

    def metrics(self, step: int) -> dict[str, float]:
        return {"train/temperature": self.temperature(step)}


class Greedy:
    """The greedy action of values that explore by themselves (a noisy network's, Fortunato et
    al. 2018): ε-greedy is off, logged as train/epsilon = 0. Draws nothing from `rng`."""

    def act(
        self, values: Callable[[], np.ndarray], num_rows: int, num_actions: int, step: int, rng: np.random.Generator
    ) -> np.ndarray:
        return np.asarray(values()).argmax(axis=1)

    def metrics(self, step: int) -> dict[str, float]:
        return {"train/epsilon": 0.0}


Exploration = EpsilonGreedy | Softmax | Greedy
