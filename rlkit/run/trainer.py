"""The training loop shared by every agent: step envs, act in a batch, learn, log, evaluate,
checkpoint. It never asks which agent it drives."""

from __future__ import annotations

import importlib.metadata
import platform
import random
import signal
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import rlkit
from rlkit.agents import Agent, agent_spec, create_agent
from rlkit.config import RunConfig, config_from_dict
from rlkit.envs import describe, make_vector_env
from rlkit.errors import RlkitError
from rlkit.lazy import lazy_import
from rlkit.replay.transition import Transition
from rlkit.run import checkpoint, lock
from rlkit.run.callbacks import Callback, Checkpointing, Logging, PeriodicEvaluation, StopAtReturn, overrides
from rlkit.run.evaluation import evaluation_seeds, play_episodes
from rlkit.run.logger import Logger
from rlkit.run.memory import check_fits
from rlkit.streams import Stream, env_seeds, global_seed, sequence, torch_seed

torch = lazy_import("torch", globals())  # imported by the runs of agents that use it


class Interrupted(Exception):
    """Training stopped by Ctrl-C (or SIGTERM) after a final checkpoint was written."""

    def __init__(self, checkpoint_path: Path):
        super().__init__(f"interrupted; checkpoint saved in {checkpoint_path}")
        self.checkpoint_path = checkpoint_path


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RlkitError(f"train.device = {name!r} is not a torch device; valid: auto, cpu, cuda, cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RlkitError(f"train.device = {name!r} but CUDA is not available here; use auto or cpu")
    return name


def new_run_dir(config: RunConfig, root: Path, label: str | None = None) -> Path:
    """A fresh folder root/<env>/<agent>/<date>-<time>-<label> (label: s<seed> by default);
    an existing folder is never reused: a clash gets a -2, -3, ... suffix."""
    parent = Path(root) / config.env_name / config.agent_name
    name = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{label or f's{config.train.seed}'}"
    for attempt in range(1000):
        folder = parent / (f"{name}-{attempt + 1}" if attempt else name)
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            continue
        except OSError as error:
            raise RlkitError(f"--run-dir {root}: cannot create {folder}: {error.strerror}") from None
    raise RlkitError(f"could not create a new folder under {parent}")


def _versions() -> dict[str, str]:
    return {
        "rlkit": rlkit.__version__,
        "torch": importlib.metadata.version("torch"),
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _global_rng_states() -> dict[str, Any]:
    state = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    return {"python": [state[0], list(state[1]), state[2]], "numpy": numpy_state}


def _restore_global_rngs(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = dict(states["numpy"])
    numpy_state["state"] = {**numpy_state["state"], "key": np.array(numpy_state["state"]["key"], dtype=np.uint32)}
    np.random.set_state(numpy_state)


def _env_rng_states(envs: gym.vector.VectorEnv) -> list[Any] | None:
    """Each training env's RNG state, where the vector env exposes its envs (sync only)."""
    if not isinstance(envs, gym.vector.SyncVectorEnv):
        return None
    return [env.unwrapped.np_random.bit_generator.state for env in envs.envs]


def _restore_env_rngs(envs: gym.vector.VectorEnv, states: list[Any] | None) -> None:
    if states and isinstance(envs, gym.vector.SyncVectorEnv) and len(states) == len(envs.envs):
        for env, state in zip(envs.envs, states):
            env.unwrapped.np_random.bit_generator.state = state


class Run:
    """One training run: (config, run folder) plus the live state the loop advances."""

    def __init__(self, config: RunConfig, progress: bool = True, label: str | None = None, runs_at_once: int = 1):
        """Build the agent and check that it fits the env and the machine's memory (with
        `runs_at_once` such runs together; 0: the caller checked); touches no file, so bad input
        is refused before any run folder exists."""
        self.config = config
        self.progress = progress
        self.label = label  # prefixes the run's console lines (a seed of a group)
        train = config.train
        # an agent that never touches torch (a Q-table) runs without importing it
        self.uses_torch = getattr(agent_spec(config.algo).agent_class, "uses_torch", True)
        random.seed(int.from_bytes(global_seed(train.seed).tobytes(), "little"))
        np.random.seed(global_seed(train.seed))
        if self.uses_torch:
            from rlkit.determinism import use_deterministic_kernels

            if train.torch_threads:
                torch.set_num_threads(train.torch_threads)
            torch.manual_seed(torch_seed(train.seed))
            use_deterministic_kernels(train.deterministic)
        self.device = resolve_device(train.device) if self.uses_torch or train.device not in ("auto", "cpu") else "cpu"
        self.env_info = describe(config.env)
        self.memory = agent_spec(config.algo).agent_class.memory_estimate(
            config.agent, self.env_info, config.env.num_envs, self.device
        )
        if runs_at_once:
            check_fits(self.memory, self.device, runs_at_once)
        self.agent: Agent = create_agent(config, self.env_info, self.device)
        self.step = 0
        self.episodes = 0
        self.best_eval_return = -float("inf")
        self.evaluations: list[dict[str, Any]] = []
        self.resumed_from: Path | None = None
        self.seconds_before = 0.0  # wall seconds of the run before this process (a resume)
        self.eval_seconds = 0.0  # wall seconds spent in evaluations, over the whole run
        self.env_rng_states: list[Any] | None = None
        self.envs: gym.vector.VectorEnv | None = None  # the training envs, while train() runs
        self.callbacks: list[Callback] = []
        self.metrics: dict[str, Any] = {}  # the agent's latest training metrics
        self.stop: _StopFlag | None = None  # while train() runs: set by Ctrl-C or SIGTERM
        self.replay_restored = False

    # ------------------------------------------------------------------ resume

    def restore(self, folder: Path) -> None:
        """Take the state of a checkpoint written by a run of the same config."""
        tensors, meta, replay = checkpoint.load(folder, with_replay=True)
        try:
            self._restore(tensors, meta, replay)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as error:
            raise checkpoint.CheckpointError(
                f"{folder / checkpoint.META}: malformed ({type(error).__name__}: {error})"
            ) from None
        self.resumed_from = folder

    def _restore(
        self, tensors: dict[str, np.ndarray], meta: dict[str, Any], replay: dict[str, np.ndarray] | None
    ) -> None:
        self.agent.load_state(tensors, meta["agent"])
        if replay is not None:
            self.agent.load_replay(replay)
            self.replay_restored = True
        self.step = meta["step"]
        self.episodes = meta["episodes"]
        self.best_eval_return = meta["best_eval_return"] if meta["best_eval_return"] is not None else -float("inf")
        self.evaluations = meta["evaluations"]
        self.seconds_before = meta["wall_seconds"]
        self.eval_seconds = meta["eval_seconds"]
        _restore_global_rngs(meta["rng"])
        if self.uses_torch:
            torch.set_rng_state(torch.from_numpy(tensors["rng.torch"]))
        self.env_rng_states = meta["rng"]["envs"]

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, kind: str = "step") -> Path:
        existing = self.checkpoints / checkpoint.checkpoint_name(kind, self.step)
        if kind == "best" and existing.exists():  # written before a resume at this very step: same weights
            return existing
        tensors, agent_meta = self.agent.state()
        if self.uses_torch:
            tensors["rng.torch"] = torch.get_rng_state().numpy()
        meta = {
            "kind": kind,
            "step": self.step,
            "episodes": self.episodes,
            "best_eval_return": self.best_eval_return if np.isfinite(self.best_eval_return) else None,
            "evaluations": self.evaluations,
            "wall_seconds": self.seconds_before + time.perf_counter() - self.started,
            "eval_seconds": self.eval_seconds,
            "config": self.config.to_dict(),
            "env_info": self.env_info,
            "agent": agent_meta,
            "rng": {**_global_rng_states(), "envs": _env_rng_states(self.envs) if self.envs is not None else None},
            "versions": _versions(),
            "saved_at": datetime.now().isoformat(timespec="seconds"),
        }
        replay = self.agent.replay_arrays() if kind == "step" and self.keeps_replay() else None
        folder = checkpoint.save(self.checkpoints / checkpoint.checkpoint_name(kind, self.step), tensors, meta, replay)
        checkpoint.prune(self.checkpoints, kind, self.config.train.keep_checkpoints if kind == "step" else 1)
        return folder

    def keeps_replay(self) -> bool:
        """Whether step checkpoints hold the replay: save_replay is on and the replay, at full
        capacity, fits train.save_replay_max_mb."""
        replay = self.memory.get("replay")
        train = self.config.train
        return train.save_replay and replay is not None and replay.nbytes <= train.save_replay_max_mb * (1 << 20)

    def _save_latest(self) -> Path:
        existing = self.checkpoints / checkpoint.checkpoint_name("step", self.step)
        return existing if existing.exists() else self.save_checkpoint("step")

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, episodes: int, seeds: np.random.SeedSequence) -> dict[str, Any]:
        eval_envs = make_vector_env(self.config.env, self.config.train.eval_num_envs, training=False)
        record = self.config.train.eval_video and self.env_info["kind"] in ("pixel", "grid")
        try:
            return play_episodes(
                self.agent,
                eval_envs,
                episodes,
                self.config.train.eval_epsilon,
                seeds,
                record,
                should_stop=lambda: self.stop is not None and self.stop.requested,
                progress=self.progress,
                label=self.label,
            )
        finally:
            eval_envs.close()

    def _record_eval(self, result: dict[str, Any], logger: Logger, started: float) -> None:
        """Log an evaluation and remember it with the wall time spent training so far (the
        time of evaluations left out, so that runs with other eval settings compare)."""
        logger.images(self.agent.images(), self.step)
        if "frames" in result:
            logger.video("eval/video", result.pop("frames"), self.step)
        self.eval_seconds += time.perf_counter() - started
        logger.scalars(
            {
                "eval/return_mean": result["return_mean"],
                "eval/return_std": result["return_std"],
                "eval/length_mean": result["length_mean"],
            },
            self.step,
        )
        elapsed = self.seconds_before + time.perf_counter() - self.started
        self.evaluations.append(
            {
                "step": self.step,
                "return_mean": result["return_mean"],
                "return_std": result["return_std"],
                "time_s": elapsed,
                "train_time_s": elapsed - self.eval_seconds,
            }
        )

    def periodic_evaluation(self) -> bool:
        """A greedy evaluation at the current step, logged and kept; the best checkpoint when it
        is the best so far; then every callback's on_evaluation. False: a callback stops the run."""
        started = time.perf_counter()
        result = self.evaluate(self.config.train.eval_episodes, evaluation_seeds(self.config.train.seed, self.step))
        self._record_eval(result, self.logger, started)
        self.logger.message(
            f"step {self.step:>10,}  eval return {result['return_mean']:.2f} ± {result['return_std']:.2f}"
        )
        if result["return_mean"] > self.best_eval_return:
            self.best_eval_return = result["return_mean"]
            self.save_checkpoint("best")
        go_on = True
        for callback in self.callbacks:
            if overrides(callback, "on_evaluation"):
                go_on = callback.on_evaluation(self, result) is not False and go_on
        return go_on

    def default_callbacks(self) -> list[Callback]:
        """What the config asks of every run: logging, periodic evaluation, checkpoints, and a
        stop at train.stop_at_return."""
        train = self.config.train
        callbacks: list[Callback] = [Logging(train.log_interval)]
        if train.eval_interval:
            callbacks.append(PeriodicEvaluation(train.eval_interval))
        if self.checkpoint_interval():
            callbacks.append(Checkpointing(self.checkpoint_interval()))
        if train.stop_at_return is not None:
            callbacks.append(StopAtReturn(train.stop_at_return))
        return callbacks

    def checkpoint_interval(self) -> int:
        """Steps between periodic checkpoints: train.checkpoint_interval, or by default one at
        each periodic evaluation (every tenth of the run without them); 0: only at the end."""
        train = self.config.train
        if train.checkpoint_interval is not None:
            return train.checkpoint_interval
        return train.eval_interval or max(1, train.total_steps // 10)

    # ------------------------------------------------------------------ the loop

    def train(
        self,
        run_dir: Path,
        until: int | None = None,
        callbacks: Sequence[Callback] = (),
        owner: str | None = None,
        break_lock: bool = False,
    ) -> dict[str, Any] | None:
        """Run to total_steps in `run_dir`; write checkpoints, eval.json and the event files.
        `callbacks` run after the config's own (logging, evaluation, checkpoints); any of their
        on_step, on_episode or on_evaluation returning False ends the run as total_steps would.
        With `until`, stop at that step after a checkpoint, as a preempted job would, and
        return None. A later resume restarts the envs' episodes: it continues exactly as if the
        run had not stopped only when `until` falls on an episode boundary of every env and
        the envs' reset draws no random numbers (the restarted episodes differ otherwise).

        The run folder's lock is held throughout (rlkit.run.lock: `owner` is the token of a
        launcher's job, whose retry may take over its lock from another host; `break_lock`
        takes over any). Ctrl-C or SIGTERM, in any phase (training, an evaluation, the final
        one), stops within a step with a checkpoint and raises Interrupted; an exception from a
        callback or an evaluation comes through after a checkpoint is written."""
        with lock.holding(Path(run_dir), "run", owner, break_lock):
            return self._train(Path(run_dir), until, callbacks)

    def _train(self, run_dir: Path, until: int | None, callbacks: Sequence[Callback]) -> dict[str, Any] | None:
        config, train = self.config, self.config.train
        self.run_dir = run_dir
        self.checkpoints = self.run_dir / "checkpoints"
        checkpoint.remove_partial(self.checkpoints)
        if self.resumed_from is not None:
            checkpoint.set_aside_newer(self.checkpoints, self.step)
        if self.resumed_from is None:
            checkpoint.write_json(self.run_dir / "config.json", config.to_dict())
        envs = self.envs = make_vector_env(config.env, config.env.num_envs, training=True)
        # fresh start states from the envs' own streams; on resume, the sync envs' saved RNG states follow
        observations, _ = envs.reset(
            seed=env_seeds(sequence(train.seed, Stream.TRAINING_ENVS, self.step), envs.num_envs)
        )
        _restore_env_rngs(envs, self.env_rng_states)
        logger = self.logger = Logger(self.run_dir, train.total_steps, self.step, self.progress, self.label)
        self.started = logger.start_time
        if self.resumed_from is None:
            logger.hyperparameters(config.to_dict())
            logger.layout(config.to_dict(), agent_spec(config.algo).family)
        else:
            empty = "" if self.replay_restored or "replay" not in self.memory else "; its replay starts empty"
            logger.message(f"resumed from {self.resumed_from} at step {self.step:,}{empty}")
        if "replay" in self.memory and train.save_replay and not self.keeps_replay():
            logger.message(
                f"checkpoints keep the weights but not the replay ({self.memory['replay'].nbytes / (1 << 20):,.0f} MiB "
                f"at capacity, above train.save_replay_max_mb = {train.save_replay_max_mb:,}): a resume starts "
                "with an empty replay"
            )
        self.callbacks = [*self.default_callbacks(), *callbacks]
        on_step = [c for c in self.callbacks if overrides(c, "on_step")]
        on_episode = [c for c in self.callbacks if overrides(c, "on_episode")]
        stop = self.stop = _StopFlag()
        self.metrics = {}
        go_on = True  # False once a callback asks the run to end
        whole = True  # the state is whole (between two vector steps): a checkpoint may be taken
        result = None
        try:
            for callback in self.callbacks:
                callback.on_training_start(self)
            end = min(train.total_steps, until or train.total_steps)
            while self.step < end and not stop.requested and go_on:
                whole = False
                with logger.timed("acting"):
                    actions = self.agent.act(observations, self.step)
                    next_observations, rewards, terminated, truncated, infos = envs.step(actions)
                self.step += envs.num_envs
                real_next = next_observations
                if "final_obs" in infos:
                    real_next = next_observations.copy()
                    for i in np.flatnonzero(infos["_final_obs"]):
                        real_next[i] = infos["final_obs"][i]
                with logger.timed("learning"):
                    transition = Transition(observations, actions, rewards, real_next, terminated, truncated)
                    self.metrics = self.agent.observe(transition, self.step) or self.metrics
                observations = next_observations
                whole = True
                if "final_obs" in infos:
                    go_on = self._episodes_ended(infos["final_info"], on_episode)
                for callback in on_step:
                    go_on = callback.on_step(self, transition) is not False and go_on
            if stop.requested:
                raise KeyboardInterrupt
            self._save_latest()
            if self.step >= train.total_steps or not go_on:
                result = self._final_eval(logger)
        except KeyboardInterrupt:
            saved = self._save_latest()
            logger.message(f"interrupted at step {self.step:,}; checkpoint saved in {saved}")
            raise Interrupted(saved) from None
        except Exception as error:
            if whole and not isinstance(error, checkpoint.WriteError):
                self._save_after(error)
            raise
        finally:
            stop.restore()
            self.stop = None
            try:
                for callback in self.callbacks:
                    callback.on_training_end(self, result)
            finally:
                logger.close()
                envs.close()
        return result

    def _save_after(self, error: Exception) -> None:
        """A checkpoint after an exception in a callback or an evaluation (the state is whole),
        so that the run can be resumed and evaluated; the exception goes on."""
        try:
            saved = self._save_latest()
        except Exception as failure:  # the first error is the one to see: this one only in a line
            self.logger.message(f"{type(error).__name__} at step {self.step:,}; no checkpoint written: {failure}")
            return
        self.logger.message(
            f"{type(error).__name__} at step {self.step:,}; checkpoint saved in {saved} "
            f"(continue with: rlkit train --resume {self.run_dir})"
        )

    def _episodes_ended(self, final_info: dict[str, Any], on_episode: list[Callback]) -> bool:
        """Count the episodes that ended in this step and hand each to the callbacks."""
        if "episode" not in final_info:
            return True  # a life lost under terminal_on_life_loss: the game goes on
        episode = final_info["episode"]
        go_on = True
        for i in np.flatnonzero(final_info["_episode"]):
            self.episodes += 1
            episode_return, length = float(episode["r"][i]), int(episode["l"][i])
            for callback in on_episode:
                go_on = callback.on_episode(self, episode_return, length) is not False and go_on
        return go_on

    def _final_eval(self, logger: Logger) -> dict[str, Any]:
        started = time.perf_counter()
        result = self.evaluate(self.config.train.final_eval_episodes, evaluation_seeds(self.config.train.seed))
        self._record_eval(result, logger, started)
        if result["return_mean"] > self.best_eval_return:
            self.best_eval_return = result["return_mean"]
            self.save_checkpoint("best")
        summary = {
            **result,
            "step": self.step,
            "env_id": self.config.env.id,
            "agent": self.config.agent_name,
            "seed": self.config.train.seed,
            "run": str(self.run_dir),
            "num_envs": self.config.train.eval_num_envs,
            "epsilon": self.config.train.eval_epsilon,
            "best_eval_return": self.best_eval_return,
            "evaluations": self.evaluations,
        }
        checkpoint.write_json(self.run_dir / "eval.json", summary)
        return summary  # the caller prints it, once the progress bar is closed


class _StopFlag:
    """Turns SIGTERM and a first Ctrl-C into a clean stop at the end of the current step, so a
    checkpoint never holds half a round of gradient steps or half a stored transition; a
    second Ctrl-C stops at once (KeyboardInterrupt, still saving a checkpoint). A process that
    ignores SIGINT (a worker of a seed group) keeps ignoring it."""

    def __init__(self):
        self.requested = False
        self.previous: dict[int, Any] = {}
        try:
            self.previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._request)
            if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
                self.previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._request)
        except ValueError:  # not the main thread
            pass

    def _request(self, number: int, _: Any) -> None:
        if number == signal.SIGINT and self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def train(
    config: RunConfig, runs_root: Path = Path("runs"), progress: bool = True, callbacks: Sequence[Callback] = ()
) -> dict[str, Any]:
    """Train a new run in a new folder under `runs_root`; returns the final evaluation."""
    run = Run(config, progress)
    return run.train(new_run_dir(config, runs_root), callbacks=callbacks)


def resume(
    run_dir: Path,
    total_steps: int | None = None,
    progress: bool = True,
    schedules: str | None = None,
    label: str | None = None,
    callbacks: Sequence[Callback] = (),
    owner: str | None = None,
    break_lock: bool = False,
    runs_at_once: int = 1,
    device: str | None = None,
) -> dict[str, Any]:
    """Continue the run in `run_dir` (or the run whose checkpoint folder it is) from its latest
    checkpoint, in the same folder, holding its lock (see Run.train for `owner` and
    `break_lock`); `device` replaces the saved train.device (a Ray task's assigned one). A new `total_steps` that changes what the ε, learning-rate or β schedules
    would do needs `schedules`: "extend" stretches them to the new total, "keep" keeps their
    horizon (past it they stay at their final values)."""
    if schedules not in (None, "extend", "keep"):
        raise ValueError(f"schedules={schedules!r}; valid: None, 'extend', 'keep'")
    run_dir = _run_folder_of(Path(run_dir))
    if not run_dir.is_dir():
        raise RlkitError(f"--resume {run_dir}: no such run folder")
    with lock.holding(run_dir, "run", owner, break_lock):
        return _resume(run_dir, total_steps, progress, schedules, label, callbacks, runs_at_once, device)


def _resume(
    run_dir: Path,
    total_steps: int | None,
    progress: bool,
    schedules: str | None,
    label: str | None,
    callbacks: Sequence[Callback],
    runs_at_once: int,
    device: str | None,
) -> dict[str, Any]:
    latest = checkpoint.find(run_dir)
    _, meta, _ = checkpoint.load(latest)
    checkpoint.check_belongs(run_dir, latest, meta)
    config = config_from_dict(meta.get("config"))
    if not isinstance(meta.get("step"), int):
        raise checkpoint.CheckpointError(f"{latest / checkpoint.META}: malformed (no step count)")
    if total_steps is not None and total_steps <= meta["step"]:
        raise RlkitError(
            f"--resume {run_dir} --steps {total_steps:,}: the run is at step {meta['step']:,} already; "
            "give --steps N beyond it to train on"
        )
    # a run stopped after its last checkpoint but before its final evaluation only evaluates
    if total_steps is None and meta["step"] >= config.train.total_steps and (run_dir / "eval.json").exists():
        raise RlkitError(
            f"--resume {run_dir}: the run is complete at step {meta['step']:,}; give --steps N beyond it to train on"
        )
    if total_steps is not None:
        horizon = config.train.schedule_steps or config.train.total_steps
        changed = _schedules_changed_by(config, meta["step"], horizon, total_steps)
        if schedules is None and total_steps > config.train.total_steps and changed:
            raise RlkitError(
                f"--resume {run_dir} --steps {total_steps:,}: the run's schedules ({', '.join(changed)}) span "
                f"{horizon:,} steps; add --extend-schedules to stretch them to {total_steps:,} steps, or "
                f"--keep-schedules to keep them (past step {horizon:,} they stay at their final values)"
            )
        config.train.schedule_steps = total_steps if schedules == "extend" else horizon
        config.train.total_steps = total_steps
    if device is not None:
        config.train.device = device
    run = Run(config, progress, label, runs_at_once)
    run.restore(latest)
    return run.train(run_dir, callbacks=callbacks)


def _run_folder_of(path: Path) -> Path:
    """The run folder `path` means: itself, or the run of its checkpoints/ folder or of its
    latest checkpoint (said in one line); an older checkpoint is refused."""
    if path.name == "checkpoints" and path.is_dir() and (path.parent / "config.json").is_file():
        print(f"--resume {path}: the checkpoints of run {path.parent}; resuming that run", flush=True)
        return path.parent
    if not (path / checkpoint.META).is_file():
        return path
    run = path.parent.parent
    if path.parent.name != "checkpoints" or not (run / "config.json").is_file():
        raise RlkitError(f"--resume {path}: is a checkpoint, not a run folder; give the folder of its run")
    latest = checkpoint.find(run)
    if latest.resolve() != path.resolve():
        raise RlkitError(
            f"--resume {path}: not the latest checkpoint of run {run} (that is {latest.name}); "
            f"a resume continues a run from its latest checkpoint: give --resume {run}"
        )
    print(f"--resume {path}: the latest checkpoint of run {run}; resuming that run", flush=True)
    return run


def _schedules_changed_by(config: RunConfig, step: int, horizon: int, total_steps: int) -> list[str]:
    """The schedules (as the agent logs them) whose values between `step` and `total_steps`
    differ between keeping their `horizon` and stretching it to `total_steps`."""
    from rlkit.schedules import linear

    agent = config.agent

    def values(at: int, span: int) -> dict[str, float]:
        found = {**agent.exploration_metric(at, span), "train/learning_rate": agent.learning_rate_at(at, span)}
        if getattr(agent, "prioritized_replay", False):
            found["train/per_beta"] = linear(agent.per_beta, 1.0, span, at)
        return found

    # the schedules are piecewise linear or exponential ramps: dense samples find any difference
    changed: set[str] = set()
    for at in {step, step + 1, total_steps, *np.linspace(step, total_steps, 1001).astype(int).tolist()}:
        kept, stretched = values(at, horizon), values(at, total_steps)
        changed |= {name.removeprefix("train/") for name in kept if kept[name] != stretched[name]}
    return sorted(changed)
