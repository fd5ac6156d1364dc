"""Experience replay: preallocated ring arrays, uniform sampling, batches as tensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch


class Batch(NamedTuple):
    """Sampled transitions as tensors on the learner's device."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor


class ReplayBuffer:
    """A circular buffer of transitions. Pixels stay uint8; `terminated` and `truncated` are
    kept apart so that a time-limit truncation still bootstraps."""

    FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")

    def __init__(
        self,
        capacity: int,
        observation_shape: Sequence[int],
        observation_dtype: np.dtype,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ):
        self.capacity = capacity
        self.device = torch.device(device)
        self.observations = np.zeros((capacity, *observation_shape), dtype=observation_dtype)
        self.next_observations = np.zeros_like(self.observations)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.bool_)
        self.truncated = np.zeros(capacity, dtype=np.bool_)
        self.position = 0
        self.size = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """Store one transition per env (arrays with the env count as first dimension)."""
        count = len(actions)
        slots = (self.position + np.arange(count)) % self.capacity
        self.observations[slots] = observations
        self.actions[slots] = actions
        self.rewards[slots] = rewards
        self.next_observations[slots] = next_observations
        self.terminated[slots] = terminated
        self.truncated[slots] = truncated
        self.position = int((self.position + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)

    def sample_indices(self, batch_size: int) -> np.ndarray:
        return self.rng.integers(self.size, size=batch_size)

    def batch(self, indices: np.ndarray) -> Batch:
        """The transitions at `indices`, as tensors on the buffer's device."""

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array[indices]).to(self.device, non_blocking=True)

        return Batch(*(tensor(getattr(self, name)) for name in self.FIELDS))

    def sample(self, batch_size: int) -> Batch:
        """A batch drawn uniformly, with replacement, from the stored transitions."""
        return self.batch(self.sample_indices(batch_size))

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The stored transitions and the write position, for a checkpoint (the sampling RNG's
        state travels in the agent's JSON)."""
        arrays = {name: getattr(self, name)[: self.size] for name in self.FIELDS}
        arrays["position"] = np.array(self.position)
        return arrays

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        size = len(arrays["actions"])
        if size > self.capacity:
            raise ValueError(f"the saved replay holds {size} transitions, more than buffer_size {self.capacity}")
        for name in self.FIELDS:
            target = getattr(self, name)
            if arrays[name].shape[1:] != target.shape[1:] or arrays[name].dtype != target.dtype:
                raise ValueError(
                    f"saved replay field {name} is {arrays[name].dtype}{list(arrays[name].shape[1:])}, expected {target.dtype}{list(target.shape[1:])}"
                )
            target[:size] = arrays[name]
        self.size = size
        self.position = int(arrays["position"])
