"""What every agent shares: the contract the training loop relies on (Agent), the
hyperparameters and schedules all agents have (AgentConfig), and the registry an agent joins
with one decorator next to its class (register)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np

from rlkit.agents.exploration import EpsilonGreedy, Exploration, Softmax, epsilon_greedy
from rlkit.errors import RlkitError
from rlkit.options import option
from rlkit.replay.transition import Transition
from rlkit.schedules import linear, scheduled_value
from rlkit.streams import Stream, generator


@dataclass
class AgentConfig:
    """Hyperparameters every agent shares."""

    gamma: float = option(0.99, "discount factor", min=0.0, max=1.0)
    learning_rate: float = option(
        1e-4, "step size (α for the Q-table, the optimizer's for DQN)", min=0.0, exclusive_min=True
    )
    lr_schedule: Literal["constant", "linear", "exponential"] = option(
        "constant",
        "learning-rate schedule: constant, linear to learning_rate_final over "
        "lr_decay_steps, or exponential learning_rate × lr_decay_rate^(step/lr_decay_steps)",
    )
    learning_rate_final: float = option(0.0, "end (linear) or floor (exponential) of the learning rate", min=0.0)
    lr_decay_steps: int = option(0, "steps of the learning-rate decay; 0: total_steps", min=0)
    lr_decay_rate: float = option(0.5, "factor per lr_decay_steps of the exponential schedule", min=0.0, max=1.0)
    exploration_fraction: float = option(0.1, "fraction of total_steps over which ε decays", min=0.0, max=1.0)
    exploration_start: int = option(
        0, "step at which the ε (and temperature) decay starts; before it they keep their initial value", min=0
    )
    exploration_initial_eps: float = option(1.0, "ε at step 0", min=0.0, max=1.0)
    exploration_final_eps: float = option(0.05, "ε after the decay", min=0.0, max=1.0)
    exploration: Literal["epsilon", "softmax"] = option(
        "epsilon",
        "epsilon: a random action with probability ε, else the greedy one; softmax: actions drawn "
        "with probability ∝ exp(Q / temperature) (Boltzmann)",
    )
    exploration_initial_temperature: float = option(
        1.0, "softmax temperature at step 0, in units of Q", min=0.0, exclusive_min=True
    )
    exploration_final_temperature: float = option(
        0.01, "softmax temperature after exploration_fraction × total_steps", min=0.0, exclusive_min=True
    )

    def resolve(self, set_keys: dict[str, str]) -> None:
        """Check what one key alone cannot (how keys fit together) and settle values that other
        keys decide, once every layer of presets and overrides is in. `set_keys` maps the keys
        given on the command line (--set) or as API overrides to where they came from. Raises
        RlkitError naming the keys and what would be valid."""

    def epsilon_at(self, step: int, horizon: int) -> float:
        """ε at `step`: linear from the initial to the final value over exploration_fraction × horizon
        steps from exploration_start."""
        duration = int(self.exploration_fraction * horizon)
        elapsed = step - self.exploration_start
        return linear(self.exploration_initial_eps, self.exploration_final_eps, duration, elapsed)

    def temperature_at(self, step: int, horizon: int) -> float:
        """Softmax temperature at `step`: linear over exploration_fraction × horizon from
        exploration_start, like ε."""
        duration = int(self.exploration_fraction * horizon)
        elapsed = step - self.exploration_start
        return linear(self.exploration_initial_temperature, self.exploration_final_temperature, duration, elapsed)

    def exploration_metric(self, step: int, horizon: int) -> dict[str, float]:
        """The exploration schedule's value under its metric name."""
        if self.exploration == "softmax":
            return {"train/temperature": self.temperature_at(step, horizon)}
        return {"train/epsilon": self.epsilon_at(step, horizon)}

    def learning_rate_at(self, step: int, horizon: int) -> float:
        """The learning rate at `step` under lr_schedule (decaying over lr_decay_steps or the horizon)."""
        return scheduled_value(
            self.lr_schedule,
            self.learning_rate,
            self.learning_rate_final,
            self.lr_decay_steps or horizon,
            step,
            self.lr_decay_rate,
        )


class MemoryNeed(NamedTuple):
    """Bytes one part of an agent (its replay, networks, table) will allocate, and whether on
    the run's device (a GPU) rather than in the host's memory."""

    nbytes: int
    on_device: bool = False


class Agent(Protocol):
    """What the training loop and the evaluator need from an agent.

    An agent is built as `cls(config, env_info, total_steps, seed, device, num_envs)`: its own
    config section (an instance of its registered config class), the env's description
    (rlkit.envs.describe: kind, observation shape and dtype, number of actions and of states),
    the horizon of its schedules, the run's seed (every random stream of the agent is spawned
    from it: rlkit.streams), the torch device and the number of training envs.

    The order of calls during training: for each vector step of `num_envs` envs,
    `act(observations, step)` once, `step` being the env steps taken before this vector step
    (all envs together), then `observe(transition, step + num_envs)` once with what the envs
    returned: its `step` counts the env steps after this vector step, the transitions it brings
    included (the first observe of a run gets num_envs, never 0); `schedule_values(step)`
    whenever the loop logs. Evaluation calls only `greedy_actions` (never `act`, so an
    evaluation draws nothing from the agent's exploration stream), and `images()` when it
    ends. A checkpoint calls `state()` (and `replay_arrays()` when the replay is saved); a
    resume builds the agent anew, then calls `load_state(...)` (and `load_replay(...)`)
    before the first `act`."""

    @classmethod
    def memory_estimate(
        cls, config: AgentConfig, env_info: dict[str, Any], num_envs: int, device: str
    ) -> dict[str, MemoryNeed]:
        """What an agent of this config will allocate, by part, computed before it is built (so
        that a run too big for the machine is refused before its folder exists)."""

    def act(self, observations: np.ndarray, step: int) -> np.ndarray:
        """Exploratory actions for a batch of observations at environment step `step`."""

    def greedy_actions(self, observations: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """Greedy actions (random with probability `epsilon`), for evaluation; every random
        draw (exploration, ties) comes from `rng`, the evaluation's own stream. Actions tied for
        the largest Q value: the agent says which wins (BaseAgent.random_ties)."""

    def action_values(self, observations: np.ndarray) -> np.ndarray:
        """Q(s, ·) for a batch of observations, as a numpy array (N, actions): what acting
        greedily maximises (a distributional agent gives the mean of its distribution)."""

    def observe(self, batch: Transition, step: int) -> dict[str, Any]:
        """Learn from one vector step; `step` counts the env steps after it (its own included).
        Returns the training metrics of any update it made."""

    def schedule_values(self, step: int) -> dict[str, float]:
        """Exploration rate and learning rate at `step`, under their metric names."""

    def images(self) -> dict[str, np.ndarray]:
        """Pictures worth a look in TensorBoard at evaluation time (RGB uint8, H×W×3)."""

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (for safetensors) and JSON-able values that restore the agent exactly."""

    def load_state(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None: ...

    def replay_arrays(self) -> dict[str, np.ndarray] | None:
        """The replay buffer's contents, or None for agents without one."""

    def load_replay(self, arrays: dict[str, np.ndarray]) -> None: ...


class BaseAgent:
    """What every agent shares: its config section, the horizon of its schedules, its
    exploration stream (a child of the run's seed, rlkit.streams), the schedules read from
    the config (ε or the softmax temperature, and the learning rate), the exploration strategy
    it acts with (rlkit.agents.exploration: ε-greedy or softmax on `exploring_values`), and the
    torch generators it owns (`own_generator`), whose states go into its checkpoints. A
    subclass sets `self.num_actions` and answers `action_values`."""

    algo = "agent"  # its registered name, set by register

    def __init__(self, config: AgentConfig, total_steps: int, seed: int):
        self.config = config
        self.total_steps = total_steps
        self.rng = generator(seed, Stream.EXPLORATION)
        self.torch_generators: dict[str, Any] = {}
        self.exploration: Exploration = self.make_exploration()

    num_actions: int
    random_ties = True  # greedy ties broken at random (exploration.epsilon_greedy); False: the first maximum
    uses_torch = True  # False: the run never imports torch (seeds, threads and RNG state are left alone)

    @classmethod
    def memory_estimate(
        cls, config: AgentConfig, env_info: dict[str, Any], num_envs: int, device: str
    ) -> dict[str, MemoryNeed]:
        """Nothing worth counting, unless a subclass says otherwise."""
        return {}

    def epsilon(self, step: int) -> float:
        return self.config.epsilon_at(step, self.total_steps)

    def make_exploration(self) -> Exploration:
        """The exploration strategy: softmax at the scheduled temperature, or ε-greedy at the
        scheduled ε (ties as `random_ties` says)."""
        if self.config.exploration == "softmax":
            return Softmax(self.temperature)
        return EpsilonGreedy(self.epsilon, self.random_ties)

    def act(self, observations: np.ndarray, step: int) -> np.ndarray:
        """Exploratory actions from the exploration strategy, on `exploring_values`, every draw
        from the agent's exploration stream."""
        return self.exploration.act(
            lambda: self.exploring_values(observations), len(observations), self.num_actions, step, self.rng
        )

    def exploring_values(self, observations: np.ndarray) -> np.ndarray:
        """The values exploration acts on: `action_values`, unless the agent's values explore
        by themselves (a noisy network's, with fresh noise)."""
        return self.action_values(observations)

    def own_generator(self, name: str, torch_generator: Any) -> Any:
        """Register a torch.Generator the agent draws from, so that `generator_states` saves it."""
        self.torch_generators[name] = torch_generator
        return torch_generator

    def generator_states(self) -> dict[str, np.ndarray]:
        """The states of the torch generators the agent owns, as arrays for its checkpoint."""
        return {f"generator.{name}": g.get_state().numpy().copy() for name, g in self.torch_generators.items()}

    def load_generator_states(self, tensors: dict[str, np.ndarray]) -> None:
        """Restore every owned generator from `generator_states`' arrays."""
        import torch

        for name, torch_generator in self.torch_generators.items():
            key = f"generator.{name}"
            if key not in tensors:
                raise RlkitError(
                    f"the checkpoint has no {key} state, which this agent draws from; it was written by another config"
                )
            torch_generator.set_state(torch.from_numpy(np.array(tensors[key], dtype=np.uint8)))

    def epsilon_greedy(self, observations: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """ε-greedy actions on `action_values`, every draw from `rng`."""
        return epsilon_greedy(
            lambda: self.action_values(observations),
            len(observations),
            self.num_actions,
            epsilon,
            rng,
            self.random_ties,
        )

    def greedy_actions(self, observations: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """Greedy actions, random ones with probability `epsilon`, every draw from `rng` (an
        evaluation's own). Of actions tied for the largest Q value, with `random_ties` (the
        Q-tables: qlearning, expected-sarsa) one uniformly at random, drawn from `rng`; without
        (DQN) the first, the lowest action number, as argmax gives it, drawing nothing."""
        return self.epsilon_greedy(observations, epsilon, rng)

    def temperature(self, step: int) -> float:
        return self.config.temperature_at(step, self.total_steps)

    def learning_rate(self, step: int) -> float:
        return self.config.learning_rate_at(step, self.total_steps)

    def schedule_values(self, step: int) -> dict[str, float]:
        """The exploration schedule and the learning rate under their metric names."""
        return self.exploration.metrics(step) | {"train/learning_rate": self.learning_rate(step)}


@dataclass(frozen=True)
class AgentSpec:
    """One registered agent: the name presets give as `algo`, its class and config class, the
    family whose env tuning it takes (an env preset's [tuned.<family>] table), and whether it
    needs discrete states (then the env preset's [discretize] table applies)."""

    name: str
    agent_class: type
    config_class: type[AgentConfig]
    family: str
    discrete_states: bool

    @property
    def summary(self) -> str:
        """The first paragraph of the agent class's docstring, on one line."""
        return " ".join((self.agent_class.__doc__ or "").strip().split("\n\n")[0].split())


REGISTRY: dict[str, AgentSpec] = {}


def register(name: str, config: type[AgentConfig], family: str, discrete_states: bool = False):
    """Class decorator: `@register("dqn", DQNConfig, family="dqn")` above an agent class makes
    it trainable as `algo = "dqn"`. Names are unique; registering one twice is an error."""

    def decorate(cls: type) -> type:
        if name in REGISTRY and REGISTRY[name].agent_class is not cls:
            raise RlkitError(
                f"agent {name!r} is registered twice: by {REGISTRY[name].agent_class.__module__} and {cls.__module__}"
            )
        REGISTRY[name] = AgentSpec(name, cls, config, family, discrete_states)
        cls.algo = name  # the name presets give it, for messages
        return cls

    return decorate
