"""Experience replay: preallocated ring arrays, uniform or prioritized sampling, one-step or
n-step returns assembled when sampling, batches as tensors."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from rlkit.lazy import lazy_import
from rlkit.replay.sampling import PrioritizedSampler, UniformSampler

torch = lazy_import("torch", globals())  # on first use: the agent registry imports this module


class Prioritization(NamedTuple):
    """Settings of proportional prioritized sampling (see rlkit.replay.sampling.PrioritizedSampler)."""

    alpha: float
    eps: float
    weight_normalization: str = "batch"  # importance weights over the batch's or the buffer's largest


class Batch(NamedTuple):
    """Sampled transitions as tensors on the learner's device."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    discounts: torch.Tensor  # γ^m for a return of m rewards: what multiplies the bootstrap value
    weights: torch.Tensor  # importance weights (all 1 under uniform sampling)
    indices: torch.Tensor  # where the transitions are stored, to update their priorities


def n_step_windows(
    indices: np.ndarray,
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    position: int,
    stride: int,
    n_steps: int,
    gamma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n-step returns R = Σ_{k<m} γ^k r_{t+k}, the index of each window's last transition and γ^m.

    `rewards`, `terminated` and `truncated` are a ring's arrays, written next at `position`;
    transitions of one env lie `stride` places apart. Every stored transition may be sampled,
    the newest included, and its window has m = n_steps rewards unless it is cut short:
    - after the first episode end within it (terminated or truncated, whose flags the last
      transition then carries: no bootstrap after a termination, a bootstrap from the true
      final observation after a truncation);
    - at the newest stored transition of its env: a transition among its env's newest
      n_steps − 1 gets the m rewards stored so far (m counts its env's transitions from it to
      the newest, both included) and bootstraps, with γ^m, from the newest one's next
      observation. (A resume or an env rebuild marks each env's newest transition truncated,
      end_newest_episodes, so no window runs on into the restarted episodes.)"""
    if n_steps == 1:  # every window is its own transition
        return rewards[indices], indices, np.full(len(indices), gamma, dtype=np.float32)
    capacity = len(rewards)
    offsets = np.arange(n_steps) * stride
    current = (indices[:, None] + offsets) % capacity  # one row per window: its n candidate transitions
    stored = offsets <= ((position - 1 - indices) % capacity)[:, None]  # not past the env's newest
    ends = terminated[current] | truncated[current]
    ended_before = np.zeros_like(ends)
    np.logical_or.accumulate(ends[:, :-1], axis=1, out=ended_before[:, 1:])
    in_window = stored & ~ended_before  # a prefix of each row: the window's m transitions
    terms = np.where(in_window, gamma ** np.arange(n_steps) * rewards[current], 0.0)
    returns = np.cumsum(terms, axis=1)[:, -1]  # added in order, k = 0 first
    counts = in_window.sum(axis=1)
    last = current[np.arange(len(indices)), counts - 1]
    return returns.astype(np.float32), last, (gamma**counts).astype(np.float32)


class ReplayBuffer:
    """A circular buffer of transitions. Pixels stay uint8; `terminated` and `truncated` are
    kept apart so that a time-limit truncation still bootstraps. `add` stores one transition
    per env, so an env's transitions lie `num_envs` places apart, and n-step returns are summed
    along them when sampling."""

    FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")

    def __init__(
        self,
        capacity: int,
        observation_shape: Sequence[int],
        observation_dtype: np.dtype,
        device: torch.device | str = "cpu",
        seed: int | np.random.SeedSequence = 0,
        num_envs: int = 1,
        n_steps: int = 1,
        gamma: float = 0.99,
        prioritized: Prioritization | None = None,
    ):
        """`prioritized`: the settings of prioritized sampling; None samples uniformly."""
        self.capacity = capacity
        self.device = torch.device(device)
        self.num_envs = num_envs
        self.n_steps = n_steps
        self.gamma = gamma
        self.observations = np.zeros((capacity, *observation_shape), dtype=observation_dtype)
        self.next_observations = np.zeros_like(self.observations)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.bool_)
        self.truncated = np.zeros(capacity, dtype=np.bool_)
        self.position = 0
        self.size = 0
        self.rng = np.random.default_rng(seed)
        self.sampler = make_sampler(capacity, self.rng, prioritized)

    def __len__(self) -> int:
        return self.size

    @staticmethod
    def estimate_nbytes(
        capacity: int, observation_shape: Sequence[int], observation_dtype: np.dtype, prioritized: Prioritization | None
    ) -> int:
        """Bytes a buffer of these settings allocates, before it exists (nbytes once it does)."""
        observation = math.prod(observation_shape) * np.dtype(observation_dtype).itemsize
        per_transition = 2 * observation + 8 + 4 + 1 + 1  # observations, next ones, action, reward, two flags
        return capacity * per_transition + sampler_nbytes(capacity, prioritized)

    def nbytes(self) -> int:
        """Bytes held by all arrays of the buffer."""
        return sum(getattr(self, name).nbytes for name in self.FIELDS) + self.sampler.nbytes()

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
        if self.n_steps > 1 and count != self.num_envs:
            raise ValueError(f"n-step replay stores one transition per env: got {count}, num_envs is {self.num_envs}")
        slots = (self.position + np.arange(count)) % self.capacity
        self.observations[slots] = observations
        self.actions[slots] = actions
        self.rewards[slots] = rewards
        self.next_observations[slots] = next_observations
        self.terminated[slots] = terminated
        self.truncated[slots] = truncated
        self.position = int((self.position + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)
        self.sampler.added(slots)

    def sample_indices(self, batch_size: int) -> np.ndarray:
        return self.sampler.sample(batch_size, self.size)

    def batch(self, indices: np.ndarray, beta: float = 1.0) -> Batch:
        """The transitions at `indices` with their n-step returns, as tensors on the buffer's device."""
        return assemble_batch(
            self,
            indices,
            beta,
            lambda first, last: (
                to_device(self.observations[first], self.device),
                to_device(self.next_observations[last], self.device),
            ),
        )

    def sample(self, batch_size: int, beta: float = 1.0) -> Batch:
        """A batch drawn with replacement, uniformly or by priority (importance weights with
        exponent `beta`)."""
        return self.batch(self.sample_indices(batch_size), beta)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        self.sampler.update(indices, td_errors)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The stored transitions, the write position and any priorities, for a checkpoint (the
        sampling RNG's state travels in the agent's JSON)."""
        arrays = {name: getattr(self, name)[: self.size] for name in self.FIELDS}
        arrays["position"] = np.array(self.position)
        return arrays | self.sampler.state_arrays()

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
        self.sampler.load_state_arrays(arrays)
        self.end_episodes()  # a resumed run restarts its episodes

    def end_episodes(self) -> None:
        end_newest_episodes(self)


def end_newest_episodes(buffer: Any) -> None:
    """The newest transition of each env of either replay kind ends its episode, as a
    truncation (it bootstraps from its own next observation): the envs restart, as on a resume,
    so no n-step window may run on into the transitions of the new episodes."""
    if buffer.size >= buffer.num_envs:
        newest = (buffer.position - buffer.num_envs + np.arange(buffer.num_envs)) % buffer.capacity
        buffer.truncated[newest] |= ~buffer.terminated[newest]


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(array).to(device, non_blocking=True)


def assemble_batch(
    buffer: Any,
    indices: np.ndarray,
    beta: float,
    observations_at: Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor]],
) -> Batch:
    """The Batch of the transitions at `indices` of either replay kind (ReplayBuffer,
    FrameReplay): n-step returns along each env's transitions, importance weights, and the
    observations that `observations_at(first, last)` gives for each window's first and last
    transition."""
    returns, last, discounts = n_step_windows(
        indices,
        buffer.rewards,
        buffer.terminated,
        buffer.truncated,
        buffer.position,
        buffer.num_envs,
        buffer.n_steps,
        buffer.gamma,
    )
    observations, next_observations = observations_at(indices, last)
    device = buffer.device
    return Batch(
        observations,
        to_device(buffer.actions[indices], device),
        to_device(returns, device),
        next_observations,
        to_device(buffer.terminated[last], device),
        to_device(buffer.truncated[last], device),
        to_device(discounts, device),
        to_device(buffer.sampler.weights(indices, buffer.size, beta), device),
        to_device(indices.astype(np.int64), device),
    )


def sampler_nbytes(capacity: int, prioritized: Prioritization | None) -> int:
    """Bytes the sampler of a replay of `capacity` holds (its sum-tree, and min-tree, if prioritized)."""
    if prioritized is None:
        return 0
    trees = 2 if prioritized.weight_normalization == "buffer" else 1
    return trees * 2 * max(2, 1 << (capacity - 1).bit_length()) * 8


def make_sampler(
    capacity: int, rng: np.random.Generator, prioritized: Prioritization | None
) -> UniformSampler | PrioritizedSampler:
    """Uniform sampling, or proportional prioritized sampling."""
    if prioritized is None:
        return UniformSampler(capacity, rng)
    return PrioritizedSampler(capacity, rng, prioritized.alpha, prioritized.eps, prioritized.weight_normalization)
