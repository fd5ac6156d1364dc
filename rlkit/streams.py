"""The random streams of one run, all spawned from one `numpy.random.SeedSequence(seed)`.

Every consumer of randomness draws from its own child of the run's seed sequence, so no two
streams share numbers: not the agent's exploration and the replay sampler, not two training
envs, not an evaluation and the training envs, and not the streams of runs with neighbouring
seeds (`SeedSequence(s)` and `SeedSequence(s + 1)` hash to unrelated states, where `seed + i`
schemes make run s's env 1 run s + 1's env 0).

A child is `SeedSequence(seed, spawn_key=(stream, *key))`, which is what
`SeedSequence(seed).spawn(...)` yields, built directly so that it does not depend on how many
children were spawned before it.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """The first spawn key of each consumer; a number, once given, never changes meaning."""

    EXPLORATION = 0  # the agent's exploratory actions
    REPLAY = 1  # the replay sampler
    NETWORK = 2  # torch: initial weights and anything else torch draws
    GLOBAL = 3  # Python's `random` and numpy's legacy global generator
    TRAINING_ENVS = 4  # keyed by the step at which the envs are (re)built, then the env index
    EVALUATION = 5  # periodic evaluations, keyed by the step
    FINAL_EVALUATION = 6  # the final evaluation, on seeds no periodic evaluation uses
    NOISE = 7  # a noisy network's noise (a torch generator of the agent's own)


def sequence(seed: int, stream: Stream, *key: int) -> np.random.SeedSequence:
    """The child of `SeedSequence(seed)` for `stream` (and a further key, such as a step)."""
    return np.random.SeedSequence(seed, spawn_key=(int(stream), *(int(k) for k in key)))


def child(parent: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """A child of `parent` under `key`, as `parent.spawn` would give it."""
    return np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, *(int(k) for k in key)))


def generator(seed: int, stream: Stream, *key: int) -> np.random.Generator:
    """A numpy Generator on the stream."""
    return np.random.default_rng(sequence(seed, stream, *key))


def integer(parent: np.random.SeedSequence) -> int:
    """A 63-bit integer seed drawn from `parent`, for APIs that take an int (gymnasium's
    `reset(seed=...)`, which hashes it into a SeedSequence of its own)."""
    return int(parent.generate_state(1, np.uint64)[0] >> 1)


def env_seeds(parent: np.random.SeedSequence, count: int) -> list[int]:
    """One integer seed per env, each from its own child of `parent`."""
    return [integer(child(parent, index)) for index in range(count)]


def torch_seed(seed: int, stream: Stream = Stream.NETWORK) -> int:
    """The seed of a torch generator for a run's stream: by default torch's global generator."""
    return int(sequence(seed, stream).generate_state(1, np.uint64)[0])


def global_seed(seed: int) -> np.ndarray:
    """The seed of Python's `random` and numpy's legacy generator for a run (uint32 words)."""
    return sequence(seed, Stream.GLOBAL).generate_state(4, np.uint32)
