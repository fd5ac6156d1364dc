"""Search spaces for `rlkit tune`: how each hyperparameter is drawn, and how a round of trials
narrows the space for the next one (coarse to fine). Plain numpy, no Ray.

A space is a TOML table, one line per config key (the keys `--set` takes):

    learning_rate = { log_uniform = [1e-5, 1e-2] }         # 10^r, r uniform in [-5, -2]
    gamma = { one_minus_log_uniform = [0.9, 0.999] }       # 1 − γ drawn log-uniformly in [0.001, 0.1]
    batch_size = { choice = [32, 64, 128] }
    tau = { uniform = [0.001, 0.05] }
    train_freq = { int_uniform = [1, 8] }                  # both ends included

Random draws rather than a grid, and rates on a log scale, so that every trial tries a new value
of every key and each decade of a rate gets its share of trials.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlkit.errors import RlkitError

KINDS = ("log_uniform", "one_minus_log_uniform", "uniform", "int_uniform", "choice")
REFINE_FRACTION = 0.25  # a refined round keeps the range of the best quarter of the trials
REFINE_MARGIN = 0.1  # ... widened by this fraction of the old range on each side


@dataclass(frozen=True)
class Dimension:
    """How one key is drawn: `kind` (one of KINDS) over [low, high], or from `choices`."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    @property
    def logarithmic(self) -> bool:
        """Whether the key is drawn (and plotted) on a log scale: log_uniform draws the value,
        one_minus_log_uniform draws 1 − value."""
        return self.kind in ("log_uniform", "one_minus_log_uniform")

    def to_unit(self, value: float) -> float:
        """The coordinate in which draws are uniform: log10(v), log10(1 − v), or v."""
        if self.kind == "log_uniform":
            return math.log10(value)
        if self.kind == "one_minus_log_uniform":
            return math.log10(1.0 - value)
        return float(value)

    def from_unit(self, unit: float) -> Any:
        if self.kind == "log_uniform":
            return float(10.0**unit)
        if self.kind == "one_minus_log_uniform":
            return float(1.0 - 10.0**unit)
        if self.kind == "int_uniform":
            return int(round(unit))
        return float(unit)

    def unit_range(self) -> tuple[float, float]:
        ends = sorted((self.to_unit(self.low), self.to_unit(self.high)))
        return ends[0], ends[1]

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.kind == "int_uniform":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        low, high = self.unit_range()
        return self.from_unit(rng.uniform(low, high))

    def to_toml(self) -> Any:
        if self.kind == "choice":
            return {"choice": list(self.choices)}
        if self.kind == "int_uniform":
            return {"int_uniform": [int(self.low), int(self.high)]}
        return {self.kind: [self.low, self.high]}

    def describe(self) -> str:
        if self.kind == "choice":
            return f"choice of {list(self.choices)}"
        return f"{self.kind} [{self.low:g}, {self.high:g}]"


def parse_dimension(key: str, spec: Any, origin: str) -> Dimension:
    """One line of a space; every mistake is one RlkitError that names the key and what is valid."""
    where = f"{origin}: {key}"
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise RlkitError(
            f"{where} = {spec!r} is not a distribution; write one of {', '.join(KINDS)}, "
            "e.g. { log_uniform = [1e-5, 1e-2] } or { choice = [32, 64] }"
        )
    ((kind, values),) = spec.items()
    if kind not in KINDS:
        raise RlkitError(f"{where}: unknown distribution {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise RlkitError(f"{where}: choice needs a non-empty list of values, e.g. {{ choice = [32, 64, 128] }}")
        return Dimension(key, kind, choices=tuple(values))
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    ):
        raise RlkitError(f"{where}: {kind} needs [low, high], two numbers, e.g. {{ {kind} = [{_example(kind)}] }}")
    low, high = values
    if not low < high:
        raise RlkitError(f"{where}: {kind} = [{low}, {high}] needs low < high")
    if kind == "log_uniform" and low <= 0:
        raise RlkitError(f"{where}: log_uniform = [{low}, {high}] reaches 0 or below; a log range needs 0 < low < high")
    if kind == "one_minus_log_uniform" and not 0 <= low < high < 1:
        raise RlkitError(
            f"{where}: one_minus_log_uniform = [{low}, {high}] draws 1 − value on a log scale, "
            "so it needs 0 <= low < high < 1 (e.g. [0.9, 0.999])"
        )
    if kind == "int_uniform" and not all(float(v).is_integer() for v in values):
        raise RlkitError(f"{where}: int_uniform = [{low}, {high}] needs whole numbers")
    return Dimension(key, kind, float(low), float(high))


def _example(kind: str) -> str:
    return {"log_uniform": "1e-5, 1e-2", "one_minus_log_uniform": "0.9, 0.999", "int_uniform": "1, 8"}.get(
        kind, "0.0, 1.0"
    )


@dataclass(frozen=True)
class Space:
    dimensions: tuple[Dimension, ...]

    @property
    def keys(self) -> list[str]:
        return [dimension.key for dimension in self.dimensions]

    def __getitem__(self, key: str) -> Dimension:
        return next(dimension for dimension in self.dimensions if dimension.key == key)

    def sample(self, count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        """`count` independent draws, each a {key: value} of every dimension."""
        return [{d.key: d.sample(rng) for d in self.dimensions} for _ in range(count)]

    def to_toml(self) -> dict[str, Any]:
        return {dimension.key: dimension.to_toml() for dimension in self.dimensions}

    def bounds_to_check(self) -> list[dict[str, Any]]:
        """Configurations that together put every end of every range and every choice in the
        config once, so that validating them validates the whole space before anything runs."""
        per_key = []
        for d in self.dimensions:
            if d.kind == "choice":
                per_key.append(list(d.choices))
            else:
                per_key.append([d.from_unit(end) for end in d.unit_range()])
        longest = max((len(values) for values in per_key), default=0)
        return [
            {d.key: values[min(i, len(values) - 1)] for d, values in zip(self.dimensions, per_key)}
            for i in range(longest)
        ]


def parse_space(table: Mapping[str, Any], origin: str, check_key: Callable[[str], None] | None = None) -> Space:
    """A Space from a TOML table; `check_key` raises RlkitError for a key the config lacks."""
    if not isinstance(table, Mapping) or not table:
        raise RlkitError(
            f"{origin}: the search space is empty; give one line per key, e.g. learning_rate = {{ log_uniform = [1e-5, 1e-2] }}"
        )
    dimensions = []
    for key, spec in table.items():
        if check_key is not None:
            try:
                check_key(key)
            except RlkitError as error:
                raise RlkitError(f"{origin}: {error}") from None
        dimensions.append(parse_dimension(key, spec, origin))
    return Space(tuple(dimensions))


def refine(space: Space, ranked: Sequence[Mapping[str, Any]], fraction: float = REFINE_FRACTION) -> Space:
    """The next round's space from trials' values, best first: each numeric range narrowed to
    the span of the best `fraction` of the trials (at least two trials), widened by
    REFINE_MARGIN of the old range on each side and kept inside it, in the draw's own
    coordinate (log10 for log keys); a choice keeps only the choices those trials used."""
    if len(ranked) < 2:
        raise RlkitError(f"refining needs at least 2 ranked trials; this sweep has {len(ranked)}")
    top = ranked[: max(2, math.ceil(fraction * len(ranked)))]
    dimensions = []
    for d in space.dimensions:
        values = [trial[d.key] for trial in top]
        if d.kind == "choice":
            dimensions.append(Dimension(d.key, d.kind, choices=tuple(c for c in d.choices if c in values)))
            continue
        old_low, old_high = d.unit_range()
        units = [d.to_unit(v) for v in values]
        margin = REFINE_MARGIN * (old_high - old_low)
        low, high = max(old_low, min(units) - margin), min(old_high, max(units) + margin)
        ends = sorted((d.from_unit(low), d.from_unit(high)))
        if d.kind == "int_uniform":
            ends = [math.floor(min(values) - margin), math.ceil(max(values) + margin)]
            ends = [max(int(d.low), ends[0]), min(int(d.high), ends[1])]
            if ends[0] == ends[1]:  # one integer left: keep a range of two where the old one allows
                ends = [ends[0], ends[0] + 1] if ends[0] < d.high else [ends[0] - 1, ends[0]]
        dimensions.append(Dimension(d.key, d.kind, float(ends[0]), float(ends[1])))
    return Space(tuple(dimensions))
