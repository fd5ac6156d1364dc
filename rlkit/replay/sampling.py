"""Which stored transitions a replay buffer hands to the learner: uniformly, or in proportion to
their priorities (Schaul et al. 2016, proportional variant, on a sum-tree)."""

from __future__ import annotations

import numpy as np


class SegmentTree:
    """A complete binary tree whose inner nodes hold `combine` (np.add, np.minimum) of their
    children: setting leaves and reading the root both take O(log capacity), vectorised over
    many leaves at once. Leaves not set hold `neutral`."""

    def __init__(self, capacity: int, combine: np.ufunc, neutral: float):
        self.capacity = capacity
        self.combine = combine
        self.first_leaf = max(2, 1 << (capacity - 1).bit_length())  # a power of two >= capacity
        self.nodes = np.full(2 * self.first_leaf, neutral, dtype=np.float64)  # node 1 is the root; i has 2i, 2i+1

    def root(self) -> float:
        return float(self.nodes[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[self.first_leaf + np.asarray(indices)]

    def set(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Set leaves (the last value wins for a repeated index) and recompute the nodes above them."""
        nodes = self.first_leaf + np.asarray(indices, dtype=np.int64)
        self.nodes[nodes] = values
        # sorted once: the parents of sorted nodes are sorted, so a level's repeats are neighbours
        # and drop without another sort (np.unique on every level cost a third of the time)
        nodes = np.unique(nodes)
        while nodes[0] > 1:  # every node of `nodes` is on the same level
            nodes = nodes // 2
            distinct = np.empty(len(nodes), dtype=bool)
            distinct[0] = True
            np.not_equal(nodes[1:], nodes[:-1], out=distinct[1:])
            nodes = nodes[distinct]
            self.nodes[nodes] = self.combine(self.nodes[2 * nodes], self.nodes[2 * nodes + 1])

    def leaves(self) -> np.ndarray:
        return self.nodes[self.first_leaf : self.first_leaf + self.capacity]


class SumTree(SegmentTree):
    """Leaves hold non-negative priorities; the root is their total, and `find` walks down to
    the leaf at a prefix sum."""

    def __init__(self, capacity: int):
        super().__init__(capacity, np.add, 0.0)

    def total(self) -> float:
        return self.root()

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


class MinTree(SegmentTree):
    """Leaves hold priorities, +inf where nothing can be drawn; the root is their minimum."""

    def __init__(self, capacity: int):
        super().__init__(capacity, np.minimum, np.inf)


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


WEIGHT_NORMALIZATIONS = ("batch", "buffer")


class PrioritizedSampler:
    """Transition i is drawn with probability P(i) = p_i^α / Σ_k p_k^α, p_i = |δ_i| + eps, its
    latest TD error. New transitions get the largest priority seen so far, so each is replayed
    at least about once. A batch is stratified: one draw from each of `count` equal slices of
    the total. Importance weights w_i = (N · P(i))^-β are divided by the largest weight of the
    batch (`weight_normalization="batch"`, as Dopamine does) or of the whole buffer (`"buffer"`,
    as Schaul et al. 2016 write it: the weight of the least likely stored transition, read
    from a min-tree kept beside the sum-tree)."""

    def __init__(
        self, capacity: int, rng: np.random.Generator, alpha: float, eps: float, weight_normalization: str = "batch"
    ):
        if weight_normalization not in WEIGHT_NORMALIZATIONS:
            raise ValueError(
                f"weight_normalization {weight_normalization!r}; valid: {', '.join(WEIGHT_NORMALIZATIONS)}"
            )
        self.tree = SumTree(capacity)
        self.min_tree = MinTree(capacity) if weight_normalization == "buffer" else None
        self.rng = rng
        self.alpha = alpha
        self.eps = eps
        self.max_priority = 1.0  # of p = |δ| + eps, before the exponent

    def _set(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Priorities after the exponent; 0 takes a transition out of sampling."""
        self.tree.set(indices, priorities)
        if self.min_tree is not None:
            self.min_tree.set(indices, np.where(priorities > 0, priorities, np.inf))

    def added(self, indices: np.ndarray) -> None:
        self._set(indices, np.full(len(indices), self.max_priority**self.alpha))

    def sample(self, count: int, size: int) -> np.ndarray:
        total = self.tree.total()
        values = (np.arange(count) + self.rng.random(count)) * (total / count)
        # a rounding error at the last slice's end could walk past the stored leaves
        return np.minimum(self.tree.find(np.minimum(values, np.nextafter(total, 0.0))), size - 1)

    def exclude(self, indices: np.ndarray) -> None:
        """Never draw these again until they are overwritten (their frames are gone)."""
        self._set(indices, np.zeros(len(indices)))

    def probabilities(self, indices: np.ndarray) -> np.ndarray:
        return self.tree.get(indices) / self.tree.total()

    def weights(self, indices: np.ndarray, size: int, beta: float) -> np.ndarray:
        weights = (size * self.probabilities(indices)) ** -beta
        if self.min_tree is None:
            return (weights / weights.max()).astype(np.float32)
        largest = (size * self.min_tree.root() / self.tree.total()) ** -beta
        return (weights / largest).astype(np.float32)

    def update(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self._set(indices, priorities**self.alpha)

    def nbytes(self) -> int:
        return self.tree.nodes.nbytes + (self.min_tree.nodes.nbytes if self.min_tree is not None else 0)

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"priorities": self.tree.leaves().copy(), "max_priority": np.array(self.max_priority)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if "priorities" not in arrays:
            raise ValueError("the saved replay has no priorities; it was written without prioritized_replay")
        priorities = arrays["priorities"]
        if priorities.shape != (self.tree.capacity,):
            raise ValueError(f"saved priorities are {list(priorities.shape)}, expected [{self.tree.capacity}]")
        self._set(np.arange(self.tree.capacity), priorities)
        self.max_priority = float(arrays["max_priority"])
