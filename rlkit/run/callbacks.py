"""Callbacks: what the training loop calls besides the agent and the envs.

A callback overrides any of the hooks below. `on_step`, `on_episode` and `on_evaluation` may
return False to stop the run cleanly: the loop ends at that step, saves a checkpoint, runs the
final evaluation and writes eval.json, like a run that reached its total steps (the CLI exits
0), and `--resume` (or `rlkit.train` on the same run folder) trains on to total_steps.

Periodic evaluation, checkpointing and logging are callbacks of this kind, which the loop is
given by the run's config (`Run.default_callbacks`); user callbacks come after them.

    class PrintEvaluations(rlkit.Callback):
        def on_evaluation(self, run, result):
            print(run.step, result["return_mean"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlkit.replay.transition import Transition
    from rlkit.run.trainer import Run


class Callback:
    """Hooks of the training loop; the defaults do nothing. `run` is the live Run: `run.step`
    (environment steps so far, all envs together), `run.episodes`, `run.agent`, `run.config`,
    `run.run_dir`, `run.logger`."""

    def on_training_start(self, run: Run) -> None:
        """Before the first step (of this process: also after a resume)."""

    def on_step(self, run: Run, transition: Transition) -> bool | None:
        """After each vector step, once the agent has observed `transition` (one row per env)."""

    def on_episode(self, run: Run, episode_return: float, length: int) -> bool | None:
        """After each finished training episode (its raw return and length)."""

    def on_evaluation(self, run: Run, result: dict[str, Any]) -> bool | None:
        """After each periodic greedy evaluation (`result`: return_mean, return_std, returns, ...)."""

    def on_training_end(self, run: Run, result: dict[str, Any] | None) -> None:
        """After the final evaluation (`result`: what eval.json holds), or with None when the
        run stopped early without one (Ctrl-C, `until`)."""


def overrides(callback: Callback, hook: str) -> bool:
    """Whether `callback` has its own `hook`, so the loop calls only the hooks that do something."""
    return getattr(type(callback), hook) is not getattr(Callback, hook)


def _crossed(before: int, after: int, interval: int) -> bool:
    """True when a multiple of `interval` lies in (before, after]."""
    return after // interval > before // interval


class EveryInterval(Callback):
    """A callback that acts when the step count crosses a multiple of `interval`: `due(run)`,
    asked once per vector step, says whether this step crossed one."""

    def __init__(self, interval: int):
        self.interval = interval
        self.last_step = 0

    def on_training_start(self, run: Run) -> None:
        self.last_step = run.step

    def due(self, run: Run) -> bool:
        crossed = _crossed(self.last_step, run.step, self.interval)
        self.last_step = run.step
        return crossed


class Logging(EveryInterval):
    """Each finished episode's return and length, and every `interval` steps the agent's
    schedules and latest training metrics with the speed (see rlkit.run.logger for the names)."""

    def on_step(self, run: Run, transition: Transition) -> None:
        if self.due(run):
            run.logger.progress({**run.agent.schedule_values(run.step), **run.metrics}, run.step)

    def on_episode(self, run: Run, episode_return: float, length: int) -> None:
        run.logger.episode(episode_return, length, run.episodes, run.step)

    def on_training_end(self, run: Run, result: dict[str, Any] | None) -> None:
        run.logger.advance(run.step)  # the steps after the last multiple of the interval, or a run shorter than it


class PeriodicEvaluation(EveryInterval):
    """A greedy evaluation of train.eval_episodes episodes every `interval` steps (none at
    total_steps: the final evaluation is there); it is logged, kept in the run's evaluations,
    saves the best checkpoint when it is the best so far, and is handed to every callback's
    on_evaluation."""

    def on_step(self, run: Run, transition: Transition) -> bool:
        if self.due(run) and run.step < run.config.train.total_steps:
            return run.periodic_evaluation()
        return True


class Checkpointing(EveryInterval):
    """A checkpoint every `interval` steps (the loop always writes one at the end)."""

    def on_step(self, run: Run, transition: Transition) -> None:
        if self.due(run):
            run.save_checkpoint("step")


class StopAtReturn(Callback):
    """Stop the run after the first periodic evaluation whose mean return reaches `threshold`
    (the config key train.stop_at_return adds one)."""

    def __init__(self, threshold: float):
        self.threshold = float(threshold)

    def on_evaluation(self, run: Run, result: dict[str, Any]) -> bool:
        if result["return_mean"] >= self.threshold:
            run.logger.message(f"step {run.step:>10,}  stop_at_return {self.threshold:g} reached")
            return False
        return True
