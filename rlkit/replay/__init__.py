"""Replay memories: ReplayBuffer (rlkit.replay.buffer) for vectors and discrete states,
FrameReplay (rlkit.replay.frames) for pixels and grids, each frame stored once. Both answer the
Replay protocol below, which is all an agent may rely on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # the protocol needs no torch at import time
    from rlkit.replay.buffer import Batch


@runtime_checkable
class Replay(Protocol):
    """A replay memory of one transition per env per vector step, with n-step returns and
    uniform or prioritized sampling.

    Transitions are added one vector step at a time, in order; an env whose episode ended
    (terminated or truncated) starts its next one at its next `add`. A sample is drawn with
    replacement from the transitions whose whole n-step window is stored; its `indices` are
    what `update_priorities` takes. `state_arrays` / `load_state_arrays` save and restore the
    contents exactly (checkpoints with `save_replay`), and `end_episodes` cuts every env's
    episode where a resumed run starts again."""

    rng: np.random.Generator  # the sampling stream, saved in checkpoints

    def __len__(self) -> int:
        """How many transitions can be sampled."""

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

    def sample(self, batch_size: int, beta: float = 1.0) -> Batch:
        """A batch with its n-step returns, discounts and (prioritized) importance weights of
        exponent `beta`, on the replay's device."""

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """New priorities from the TD errors of the transitions at `indices` (prioritized only)."""

    def end_episodes(self) -> None:
        """Treat every env's newest transition as the end of its episode."""

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The contents as numpy arrays, for a checkpoint."""

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what state_arrays returned."""


__all__ = ["Replay"]
