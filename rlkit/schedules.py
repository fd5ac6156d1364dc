"""Schedules of a value against the environment step: exploration rates and learning rates."""

from __future__ import annotations


def linear(initial: float, final: float, duration: int, step: int) -> float:
    """Go from `initial` to `final` linearly over `duration` steps, then stay at `final`."""
    if duration <= 0:
        return final
    fraction = min(max(step / duration, 0.0), 1.0)
    return initial + fraction * (final - initial)


def exponential(initial: float, rate: float, decay_steps: int, step: int) -> float:
    """Decay as initial * rate ** (step / decay_steps)."""
    return initial * rate ** (step / decay_steps)


def scheduled_value(
    kind: str, initial: float, final: float, duration: int, step: int, decay_rate: float = 0.5
) -> float:
    """Value of a named schedule: 'constant', 'linear' (initial → final over duration steps)
    or 'exponential' (initial × decay_rate^(step/duration), never below final)."""
    if kind == "constant":
        return initial
    if kind == "linear":
        return linear(initial, final, duration, step)
    if kind == "exponential":
        return max(exponential(initial, decay_rate, max(duration, 1), step), final)
    raise ValueError(f"unknown schedule {kind!r}; valid: constant, linear, exponential")
