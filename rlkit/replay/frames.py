"""Replay for stacked frames that stores each frame once and rebuilds the stacks when sampling.

A frame-stacked observation shares all but one frame with the next. Storing full stacks for
observation and next observation (as SB3 and CleanRL do) keeps every frame 8 times; here each
env writes its own stream of frames, and a transition points at the newest frame of its next
observation. A stack is the last `stack` frames of the stream up to a frame, where frames from
before the episode's first frame are replaced by that first frame: exactly the "reset" padding
of gymnasium's FrameStackObservation, so rebuilt stacks equal the observations the env gave,
and transitions near an episode start are sampled like any other. (Dopamine's circular replay
pads with zeros instead and never samples a stack that crosses an episode start.) Streams are
per env, so no stack mixes frames of two envs or two episodes.

Each env's frames live in a ring a little longer than its share of transitions. An episode's
first observation costs one frame more than its transitions (two with the ALE's blank padding),
so when episodes are very short the frames of the oldest transitions are overwritten before the
transitions themselves: those transitions are marked invalid as their frames go, `len()` counts
only the transitions that can still be sampled, and sampling never returns another. With
episodes of L steps the buffer holds about min(1, (1 + 1/32) · L / (L + 1)) of its capacity:
all of it from L = 32, half of it for one-step episodes.

Transitions of env e lie `num_envs` places apart (every `add` stores one per env), so n-step
returns are summed along them when sampling, as in rlkit.replay.buffer; the observation is rebuilt at
the window's first frame and the next observation at its last. Priorities, when prioritized
replay is on, are the only storage added: one float64 leaf (and its tree node) per transition.

Frames live in one uint8 tensor (on the GPU when the learner is there, so batches never cross
the bus); the bookkeeping stays in numpy on the host.

Grids (MinAtar's C×H×W binary planes, no frame stack) are streams of one-frame stacks: each
observation is one frame, stored once with its bits packed eight to a byte (np.packbits order:
the first bit is the most significant) and unpacked on the buffer's device when sampling, so a
transition holds ⌈C·H·W / 8⌉ bytes of frame (50 for 4×10×10) instead of 2·C·H·W.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rlkit.lazy import lazy_import
from rlkit.replay.buffer import (
    Batch,
    Prioritization,
    assemble_batch,
    end_newest_episodes,
    make_sampler,
    sampler_nbytes,
)

torch = lazy_import("torch", globals())  # on first use: the agent registry imports this module


class FrameReplay:
    """Uniform replay of `capacity` transitions from `num_envs` envs stepped together."""

    FIELDS = ("transition_env", "transition_frame", "actions", "rewards", "terminated", "truncated")

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        observation_shape: Sequence[int],
        device: torch.device | str = "cpu",
        seed: int | np.random.SeedSequence = 0,
        n_steps: int = 1,
        gamma: float = 0.99,
        prioritized: Prioritization | None = None,
        margin: float = 1 / 32,
        bit_planes: bool = False,
    ):
        """`prioritized`: the settings of prioritized sampling; None samples uniformly.
        `bit_planes`: the observations are binary planes of 0 and 1 without a frame stack (grids):
        each is one frame, stored bit-packed."""
        self.observation_shape = tuple(observation_shape)
        self.bit_planes = bit_planes
        if bit_planes:
            self.stack, frame_shape = 1, [-(-math.prod(observation_shape) // 8)]
        else:
            self.stack, *frame_shape = observation_shape
        self.capacity = capacity
        self.num_envs = num_envs
        self.device = torch.device(device)
        # row b: the 8 bits of byte b, most significant first (np.packbits' order)
        self.byte_bits = torch.from_numpy(np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)).to(
            self.device
        )
        per_env = -(-capacity // num_envs)
        # frames of one env: its transitions, the first frames of its episodes, and the stack
        self.slots = per_env + max(int(per_env * margin), 2 * self.stack) + self.stack
        self.frames = torch.zeros((num_envs, self.slots, *frame_shape), dtype=torch.uint8, device=self.device)
        self.episode_position = np.zeros((num_envs, self.slots), dtype=np.int32)  # 0: an episode's first frame
        # the place of the transition whose next observation ends at a frame (-1: none), to find
        # the transitions that a frame write makes invalid
        self.place_of_frame = np.full((num_envs, self.slots), -1, dtype=np.int32 if capacity < 2**31 else np.int64)
        self.written = np.zeros(num_envs, dtype=np.int64)  # frames written by each env so far
        self.current = np.full(num_envs, -1, dtype=np.int64)  # stream index of each env's current frame
        self.transition_env = np.zeros(capacity, dtype=np.int32)
        self.transition_frame = np.zeros(capacity, dtype=np.int64)  # newest frame of the next observation
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.bool_)
        self.truncated = np.zeros(capacity, dtype=np.bool_)
        self.invalid = np.zeros(capacity, dtype=np.bool_)  # stored, but a frame of it is gone
        self.invalid_count = 0
        self.position = 0
        self.size = 0
        self.n_steps = n_steps
        self.gamma = gamma
        self.rng = np.random.default_rng(seed)
        self.sampler = make_sampler(capacity, self.rng, prioritized)

    def __len__(self) -> int:
        """Transitions that can be sampled."""
        return self.size - self.invalid_count

    @staticmethod
    def estimate_nbytes(
        capacity: int,
        num_envs: int,
        observation_shape: Sequence[int],
        prioritized: Prioritization | None,
        margin: float = 1 / 32,
        bit_planes: bool = False,
    ) -> int:
        """Bytes a replay of these settings allocates, before it exists (nbytes once it does)."""
        if bit_planes:
            stack, frame = 1, -(-math.prod(observation_shape) // 8)
        else:
            stack, frame = observation_shape[0], math.prod(observation_shape[1:])
        per_env = -(-capacity // num_envs)
        slots = num_envs * (per_env + max(int(per_env * margin), 2 * stack) + stack)
        place = 4 if capacity < 2**31 else 8
        per_slot = frame + 4 + place  # the frame, its episode position, the place of its transition
        per_transition = 4 + 8 + 8 + 4 + 1 + 1 + 1  # env, frame, action, reward, three flags
        return slots * per_slot + capacity * per_transition + 16 * num_envs + sampler_nbytes(capacity, prioritized)

    def nbytes(self) -> int:
        """Bytes held by all arrays of the buffer."""
        host = [self.episode_position, self.place_of_frame, self.invalid, self.written, self.current]
        host += [getattr(self, name) for name in self.FIELDS]
        frames = self.frames.numel() * self.frames.element_size()
        return frames + sum(array.nbytes for array in host) + self.sampler.nbytes()

    # ------------------------------------------------------------------ frames

    def _as_frames(self, observations: np.ndarray) -> np.ndarray:
        """The frames of a batch of observations (N × stack × frame shape): the stacks
        themselves, or each grid packed into one frame."""
        if not self.bit_planes:
            return observations
        return np.packbits(observations.reshape(len(observations), 1, -1), axis=2)

    def _as_observations(self, frames: torch.Tensor) -> torch.Tensor:
        """Observations from their frames (N × stack × frame shape) on the buffer's device: the
        stacks themselves, or each grid unpacked from its frame."""
        if not self.bit_planes:
            return frames
        bits = self.byte_bits.index_select(0, frames.reshape(-1).int()).reshape(len(frames), -1)
        return bits[:, : math.prod(self.observation_shape)].reshape(-1, *self.observation_shape)

    # ------------------------------------------------------------------ writing

    def _oldest_needed(self, envs: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """The oldest frame that the transition whose next observation ends at `frames` needs:
        its observation's stack reaches `stack` frames back, or to its episode's first frame."""
        first_of_episode = frames - self.episode_position[envs, frames % self.slots]
        return np.maximum(frames - self.stack, first_of_episode)

    def _expire(self, envs: np.ndarray, indices: np.ndarray) -> None:
        """Before frame `indices[i]` of env `envs[i]` is written over the frame `slots` older:
        the transitions that need the old frame become invalid. They are among the `stack + 1`
        transitions whose next observation ends at that frame or just after it."""
        overwritten = indices - self.slots
        envs, overwritten = envs[overwritten >= 0], overwritten[overwritten >= 0]
        if not len(envs):
            return
        frames = (overwritten[:, None] + np.arange(self.stack + 1)).ravel()
        envs = np.repeat(envs, self.stack + 1)
        overwritten = np.repeat(overwritten, self.stack + 1)
        places = self.place_of_frame[envs, frames % self.slots].astype(np.int64)
        held = places >= 0
        envs, frames, overwritten, places = envs[held], frames[held], overwritten[held], places[held]
        expired = places[
            (self.transition_env[places] == envs)
            & (self.transition_frame[places] == frames)
            & ~self.invalid[places]
            & (self._oldest_needed(envs, frames) <= overwritten)
        ]
        if len(expired):
            self.invalid[expired] = True
            self.invalid_count += len(expired)
            self.sampler.exclude(expired)

    def _write(self, env: int, frame: np.ndarray | torch.Tensor, position: int) -> int:
        index = int(self.written[env])
        self._expire(np.array([env]), np.array([index]))
        slot = index % self.slots
        self.frames[env, slot] = torch.as_tensor(frame, device=self.device)
        self.episode_position[env, slot] = position
        self.place_of_frame[env, slot] = -1
        self.written[env] += 1
        return index

    def _start_episode(self, env: int, frames: np.ndarray) -> None:
        """Write the frames of a first observation. Leading frames equal to the first distinct
        one are padding and need not be stored (one frame after a reset)."""
        first = 0
        while first + 1 < self.stack and np.array_equal(frames[first + 1], frames[0]):
            first += 1
        for position, frame in enumerate(frames[first:]):
            self.current[env] = self._write(env, frame, position)

    def _continues(self, env: int, frames: np.ndarray) -> bool:
        """After an episode end that did not reset the game (a lost life under ale-py's vector
        env), the next observation (its `frames`) goes on from the last stored stack: no frame
        is stored again."""
        last = int(self.written[env]) - 1
        if last < 0:
            return False
        slots = self._stack_indices(np.array([env]), np.array([last]))[0]
        if not np.array_equal(self.frames[env, torch.as_tensor(slots, device=self.device)].cpu().numpy(), frames):
            return False
        self.current[env] = last
        return True

    def add(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """Store one transition per env. `observations` must continue each env's last
        `next_observations` unless that env's episode ended."""
        for env in np.flatnonzero(self.current < 0):
            frames = self._as_frames(observations[env : env + 1])[0]
            if not self._continues(int(env), frames):
                self._start_episode(int(env), frames)
        envs = np.arange(self.num_envs)
        indices = self.written.copy()
        self._expire(envs, indices)
        slots = indices % self.slots
        self.frames[envs, slots] = torch.as_tensor(self._as_frames(next_observations)[:, -1], device=self.device)
        previous_slots = self.current % self.slots
        self.episode_position[envs, slots] = self.episode_position[envs, previous_slots] + 1
        self.written += 1
        self.current = np.where(terminated | truncated, -1, indices)

        places = (self.position + envs) % self.capacity
        self.place_of_frame[envs, slots] = places
        self.invalid_count -= int(self.invalid[places].sum())  # overwritten: the new ones are valid
        self.invalid[places] = False
        self.transition_env[places] = envs
        self.transition_frame[places] = indices
        self.actions[places] = actions
        self.rewards[places] = rewards
        self.terminated[places] = terminated
        self.truncated[places] = truncated
        self.position = int((self.position + self.num_envs) % self.capacity)
        self.size = min(self.size + self.num_envs, self.capacity)
        self.sampler.added(places)

    # ------------------------------------------------------------------ reading

    def _stack_indices(self, envs: np.ndarray, newest: np.ndarray) -> np.ndarray:
        """Slots of the `stack` frames ending at stream index `newest`, padded at episode starts."""
        first_of_episode = newest - self.episode_position[envs, newest % self.slots]
        offsets = np.arange(self.stack - 1, -1, -1)
        return np.maximum(newest[:, None] - offsets, first_of_episode[:, None]) % self.slots

    def frames_stored(self, indices: np.ndarray) -> np.ndarray:
        """Whether every frame of these transitions is still stored (what `invalid` tracks)."""
        envs = self.transition_env[indices]
        frames = self.transition_frame[indices]
        return (frames >= self.written[envs] - self.slots) & (
            self._oldest_needed(envs, frames) >= self.written[envs] - self.slots
        )

    def end_episodes(self) -> None:
        """As rlkit.replay.buffer.end_newest_episodes; the next stacks also start afresh."""
        end_newest_episodes(self)
        self.current[:] = -1

    def batch(self, indices: np.ndarray, beta: float = 1.0) -> Batch:
        """The transitions at `indices` (in order of insertion, modulo capacity) with their n-step
        returns, stacks rebuilt."""
        return assemble_batch(self, indices, beta, self._stacks)

    def _stacks(self, first: np.ndarray, last: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The observation before transition `first` and the next observation after `last`
        (transitions of the same env), rebuilt from the frames."""
        envs = np.concatenate([self.transition_env[first]] * 2)
        newest = np.concatenate([self.transition_frame[first] - 1, self.transition_frame[last]])
        rows = torch.as_tensor(envs, device=self.device)[:, None]
        slots = torch.as_tensor(self._stack_indices(envs, newest), device=self.device)
        both = self._as_observations(self.frames[rows, slots])  # observations, then next observations
        return both[: len(first)], both[len(first) :]

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """Indices of valid transitions (prioritized sampling never draws an invalid one: its
        priority is 0; uniform draws of one are drawn again)."""
        if len(self) == 0:
            raise ValueError("no transition to sample: the replay is empty")
        indices = self.sampler.sample(batch_size, self.size)
        invalid = self.invalid[indices]
        while invalid.any():
            indices[invalid] = self.sampler.sample(int(invalid.sum()), self.size)
            invalid = self.invalid[indices]
        return indices

    def sample(self, batch_size: int, beta: float = 1.0) -> Batch:
        """A batch drawn with replacement, uniformly or by priority (importance weights with
        exponent `beta`)."""
        return self.batch(self.sample_indices(batch_size), beta)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        self.sampler.update(indices, td_errors)

    # ------------------------------------------------------------------ checkpoints

    def state_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self, name) for name in self.FIELDS}
        arrays |= {
            "frames": self.frames.cpu().numpy(),
            "episode_position": self.episode_position,
            "written": self.written,
            "current": self.current,
            "position": np.array(self.position),
            "size": np.array(self.size),
        }
        return arrays | self.sampler.state_arrays()

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if arrays["frames"].shape != tuple(self.frames.shape):
            raise ValueError(f"saved frames are {list(arrays['frames'].shape)}, expected {list(self.frames.shape)}")
        self.frames.copy_(torch.from_numpy(arrays["frames"]))
        for name in (*self.FIELDS, "episode_position", "written", "current"):
            getattr(self, name)[...] = arrays[name]
        self.position, self.size = int(arrays["position"]), int(arrays["size"])
        self.sampler.load_state_arrays(arrays)
        self._index_frames()
        self.end_episodes()  # a resumed run restarts its episodes

    def _index_frames(self) -> None:
        """Rebuild `invalid` and `place_of_frame` from the stored transitions."""
        places = np.arange(self.size)
        stored = self.frames_stored(places)
        self.invalid[:] = False
        self.invalid[places[~stored]] = True
        self.invalid_count = int((~stored).sum())
        self.place_of_frame[...] = -1
        kept = places[stored]
        self.place_of_frame[self.transition_env[kept], self.transition_frame[kept] % self.slots] = kept
