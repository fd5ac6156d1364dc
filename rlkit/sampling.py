"""Which stored transitions a replay buffer hands to the learner: uniformly, or in proportion to
their priorities (Schaul et al. 2016, proportional variant, on a sum-tree)."""

from __future__ import annotations

import numpy as np


class SumTree:
    """A complete binary tree whose leaves hold non-negative priorities and whose inner nodes hold
    the sums of their children: setting leaves and finding the leaf at a prefix sum both take
    O(log capacity), vectorised over many leaves at once."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.first_leaf = max(2, 1 << (capacity - 1).bit_length())  # a power of two >= capacity
        self.nodes = np.zeros(2 * self.first_leaf, dtype=np.float64)  # node 1 is the root; i has 2i, 2i+1

    def total(self) -> float:
        return float(self.nodes[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[self.first_leaf + np.asarray(indices)]

    def set(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set leaves (the last value wins for a repeated index) and recompute the sums above them."""
        nodes = self.first_leaf + np.asarray(indices, dtype=np.int64)
        self.nodes[nodes] = priorities
        while nodes[0] > 1:  # every node of `nodes` is on the same level
            nodes = np.unique(nodes // 2)
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]

    def find(self, prefix_sums: np.ndarray) -> np.ndarray:
        """For each value v in [0, total), the leaf i with sum(leaves < i) <= v < sum(leaves <= i)."""
        values = np.array(prefix_sums, dtype=np.float64)
        nodes = np.ones(len(values), dtype=np.int64)
        while nodes[0] < self.first_leaf:
            left = 2 * nodes
            right = values >= self.nodes[left]
            values = np.where(right, values - self.nodes[left], values)
            nodes = np.where(right, left + 1, left)
        return nodes - self.first_leaf

    def leaves(self) -> np.ndarray:
        return self.nodes[self.first_leaf : self.first_leaf + self.capacity]


class UniformSampler:
    """Every stored transition equally likely; importance weights are all 1."""

    def __init__(self, capacity: int, rng: np.random.Generator):
        self.rng = rng

    def added(self, indices: np.ndarray) -> None:
        pass

    def sample(self, count: int, size: int) -> np.ndarray:
        return self.rng.integers(size, size=count)

    def exclude(self, indices: np.ndarray) -> None:
        pass

    def weights(self, indices: np.ndarray, size: int, beta: float) -> np.ndarray:
        return np.ones(len(indices), dtype=np.float32)

    def update(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        pass

    def nbytes(self) -> int:
        return 0

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        pass


class PrioritizedSampler:
    """Transition i is drawn with probability P(i) = p_i^α / Σ_k p_k^α, p_i = |δ_i| + eps, its
    latest TD error. New transitions get the largest priority seen so far, so each is replayed
    at least about once. A batch is stratified: one draw from each of `count` equal slices of
    the total. Importance weights (N · P(i))^-β are divided by the batch's largest one."""

    def __init__(self, capacity: int, rng: np.random.Generator, alpha: float, eps: float):
        self.tree = SumTree(capacity)
        self.rng = rng
        self.alpha = alpha
        self.eps = eps
        self.max_priority = 1.0  # of p = |δ| + eps, before the exponent

    def added(self, indices: np.ndarray) -> None:
        self.tree.set(indices, np.full(len(indices), self.max_priority**self.alpha))

    def sample(self, count: int, size: int) -> np.ndarray:
        total = self.tree.total()
        values = (np.arange(count) + self.rng.random(count)) * (total / count)
        # a rounding error at the last slice's end could walk past the stored leaves
        return np.minimum(self.tree.find(np.minimum(values, np.nextafter(total, 0.0))), size - 1)

    def exclude(self, indices: np.ndarray) -> None:
        """Never draw these again until they are overwritten (their frames are gone)."""
        self.tree.set(indices, np.zeros(len(indices)))

    def probabilities(self, indices: np.ndarray) -> np.ndarray:
        return self.tree.get(indices) / self.tree.total()

    def weights(self, indices: np.ndarray, size: int, beta: float) -> np.ndarray:
        weights = (size * self.probabilities(indices)) ** -beta
        return (weights / weights.max()).astype(np.float32)

    def update(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.set(indices, priorities**self.alpha)

    def nbytes(self) -> int:
        return self.tree.nodes.nbytes

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"priorities": self.tree.leaves().copy(), "max_priority": np.array(self.max_priority)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if "priorities" not in arrays:
            raise ValueError("the saved replay has no priorities; it was written without prioritized_replay")
        priorities = arrays["priorities"]
        if priorities.shape != (self.tree.capacity,):
            raise ValueError(f"saved priorities are {list(priorities.shape)}, expected [{self.tree.capacity}]")
        self.tree.set(np.arange(self.tree.capacity), priorities)
        self.max_priority = float(arrays["max_priority"])
