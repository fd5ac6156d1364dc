"""What the loop hands an agent after each vector step."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Transition(NamedTuple):
    """One step of every env: arrays with the number of envs as first dimension.
    `next_observations` holds the true last observation where an episode ended."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
