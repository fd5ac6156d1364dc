"""DQN (Mnih et al. 2015): a Q network, experience replay and a target network, with the
family's improvements as switches that compose: Double DQN, the dueling head, n-step returns
and prioritized replay, and the choice of optimizer, exploration, initialisation and
observation normalisation."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from rlkit.agents.base import AgentConfig, BaseAgent, MemoryNeed, register
from rlkit.errors import RlkitError
from rlkit.lazy import lazy_import
from rlkit.options import option
from rlkit.replay import Replay
from rlkit.replay.buffer import Batch, Prioritization, ReplayBuffer
from rlkit.replay.frames import FrameReplay
from rlkit.replay.transition import Transition
from rlkit.schedules import linear
from rlkit.streams import Stream, sequence, torch_seed

# torch and the networks load when an agent first uses them: naming the agent (the registry,
# `rlkit list`, config checks) does not pay for torch's import
torch = lazy_import("torch", globals())
nn = lazy_import("torch.nn", globals())
F = lazy_import("torch.nn.functional", globals())
networks = lazy_import("rlkit.agents.networks", globals())
normalization = lazy_import("rlkit.agents.normalization", globals())


def td_target(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    next_q_target: torch.Tensor,
    discounts: float | torch.Tensor,
    next_q_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """R + γ^m (1 − terminated) Q_target(s', a*), with a* = argmax Q_target(s') or, for Double
    DQN, argmax Q_online(s'). R sums m rewards (m = 1 for one-step returns), so `discounts` is γ
    or the tensor of γ^m. Truncated transitions are not terminated and still bootstrap."""
    chooser = next_q_target if next_q_online is None else next_q_online
    best_actions = chooser.argmax(dim=1, keepdim=True)
    next_values = next_q_target.gather(1, best_actions).squeeze(1)
    return rewards + discounts * (1.0 - terminated.float()) * next_values


class LossResult(NamedTuple):
    """What a DQN loss returns: the scalar to minimise, Q(s, a) of the batch (for the
    train/q_mean metric) and one TD error per transition (detached; prioritized replay's new
    priorities come from their absolute values)."""

    loss: torch.Tensor
    q_values: torch.Tensor
    td_errors: torch.Tensor


def make_optimizer(parameters: Any, config: DQNConfig) -> torch.optim.Optimizer:
    """Adam, RMSprop or SGD with momentum, as `config.optimizer` names it."""
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            parameters,
            lr=config.learning_rate,
            alpha=config.rmsprop_alpha,
            eps=config.rmsprop_eps,
            centered=config.rmsprop_centered,
            foreach=True,
        )
    # SGD and Adam as one fused kernel per step where torch has it (CPU, CUDA): small networks
    # spend most of an update in per-tensor dispatch, which fusing removes
    parameters = list(parameters)
    fused = all(p.device.type in ("cpu", "cuda") for p in parameters)
    options = {"fused": True} if fused else {"foreach": True}
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.learning_rate, momentum=config.sgd_momentum, **options)
    return torch.optim.Adam(parameters, lr=config.learning_rate, eps=config.adam_eps, **options)


def polyak_update(source: list[torch.Tensor], target: list[torch.Tensor], tau: float) -> None:
    """target ← tau · source + (1 − tau) · target for parameter lists; tau = 1 copies. One
    multi-tensor kernel (the one torch's optimizers use), not one call per tensor."""
    with torch.no_grad():
        torch._foreach_lerp_(target, source, tau)


@dataclass
class DQNConfig(AgentConfig):
    """DQN with experience replay and a target network (Mnih et al. 2015)."""

    buffer_size: int = option(100_000, "replay capacity in transitions", min=1)
    learning_starts: int = option(1_000, "environment steps of random actions before learning", min=0)
    batch_size: int = option(32, "transitions per gradient step", min=1)
    train_freq: int = option(4, "environment steps between training rounds", min=1)
    gradient_steps: int = option(1, "gradient steps per training round", min=1)
    target_update_interval: int = option(1_000, "environment steps between target updates", min=1)
    tau: float = option(
        1.0, "target update: 1 copies (hard), < 1 is Polyak averaging", min=0.0, max=1.0, exclusive_min=True
    )
    max_grad_norm: float = option(10.0, "gradient-norm clip; 0: no clipping", min=0.0)
    net_arch: list[int] = option([64, 64], "hidden-layer sizes of the MLP (and after the CNN)", item_min=1)
    encoder: Literal["auto", "mlp", "nature_cnn", "minatar_cnn"] = option(
        "auto", "auto: nature_cnn for pixel observations, minatar_cnn for MinAtar grids, mlp for vectors"
    )
    double_q: bool = option(False, "Double DQN targets (van Hasselt et al. 2016)")
    dueling: bool = option(False, "dueling head: Q = V + A − mean(A) (Wang et al. 2016)")
    n_steps: int = option(1, "n-step returns: bootstrap after n rewards (cut at episode ends)", min=1, max=100)
    prioritized_replay: bool = option(False, "proportional prioritized replay (Schaul et al. 2016)")
    per_alpha: float = option(0.6, "priority exponent: P(i) ∝ (|δ_i| + per_eps)^α; 0 is uniform", min=0.0)
    per_beta: float = option(
        0.4, "importance-weight exponent at step 0, annealed linearly to 1 at the end", min=0.0, max=1.0
    )
    per_eps: float = option(1e-6, "added to |δ| so no transition gets priority 0", min=0.0, exclusive_min=True)
    per_weights: Literal["batch", "buffer"] = option(
        "batch",
        "importance weights divided by the largest of the batch (Dopamine) or of the whole buffer "
        "(Schaul et al. 2016; a min-tree beside the sum-tree)",
    )
    optimizer: Literal["adam", "rmsprop", "sgd"] = option("adam", "adam, rmsprop or sgd (with momentum)")
    adam_eps: float = option(1e-8, "Adam's epsilon", min=0.0, exclusive_min=True)
    rmsprop_alpha: float = option(0.99, "RMSprop's squared-gradient decay", min=0.0, max=1.0)
    rmsprop_eps: float = option(1e-8, "RMSprop's epsilon (added outside the square root)", min=0.0, exclusive_min=True)
    rmsprop_centered: bool = option(False, "RMSprop divides by the gradient's variance instead of its second moment")
    sgd_momentum: float = option(0.9, "SGD's momentum (0: plain SGD)", min=0.0, max=1.0)
    init: Literal["default", "kaiming", "xavier", "orthogonal"] = option(
        "default",
        "weight initialisation: default (PyTorch's), kaiming (He normal), xavier (Glorot uniform) or "
        "orthogonal (gain √2, head gain 1); biases start at 0 except under default",
    )
    normalize_observations: bool = option(
        False, "vector observations: scale by a running mean and std (saved in checkpoints)"
    )
    compile: bool = option(False, "compile the TD loss with torch.compile (eager if compilation is unavailable)")
    replay_on_device: bool = option(True, "keep the replay buffer on the learner's device (the GPU when there is one)")


@register("dqn", DQNConfig, family="dqn")
class DQNAgent(BaseAgent):
    """DQN: a Q network learned from replayed transitions against a target network.

    Acts ε-greedily (or by softmax) in batches, stores every transition, learns every
    `train_freq` env steps."""

    random_ties = False  # a network's Q values tie only by accident (MountainCar's do): the first maximum wins

    def __init__(
        self,
        config: DQNConfig,
        env_info: dict[str, Any],
        total_steps: int,
        seed: int,
        device: str = "cpu",
        num_envs: int = 1,
    ):
        if config.batch_size > config.buffer_size:
            raise RlkitError(
                f"agent.batch_size = {config.batch_size} is larger than agent.buffer_size = {config.buffer_size}: "
                "the replay could never fill a batch; valid: batch_size <= buffer_size"
            )
        super().__init__(config, total_steps, seed)
        self.device = torch.device(device)
        self.num_actions = env_info["num_actions"]
        self.env_info = env_info
        torch.manual_seed(torch_seed(seed))  # initial weights from the run's network stream
        try:
            self.q_network = self.build_networks().to(self.device)
        except (ValueError, RuntimeError) as error:
            raise RlkitError(f"agent.encoder = {config.encoder!r}: {error}") from None
        self.target_network = copy.deepcopy(self.q_network).requires_grad_(False)
        self.online_parameters = list(self.q_network.parameters())
        self.target_parameters = list(self.target_network.parameters())
        self.optimizer = make_optimizer(self.online_parameters, config)
        self.normalizer: normalization.RunningNormalizer | None = None
        if config.normalize_observations:
            if env_info["kind"] != "vector":
                raise RlkitError(
                    f"agent.normalize_observations = true needs vector observations, the env gives "
                    f"{env_info['kind']} ones; valid: false for this env"
                )
            self.normalizer = normalization.RunningNormalizer(env_info["observation_shape"]).to(self.device)
        self.num_envs = num_envs
        self.seed = seed
        self._replay: Replay | None = None  # allocated when first needed
        self._replay_rng_state: dict[str, Any] | None = None
        self._compiled_loss = None
        self._compile_failed = False  # not in the config: a failure here says nothing about a resumed run
        self._first_compiled_step = True
        self.training_rounds = 0  # train_freq periods seen so far
        self.target_updates = 0  # target_update_interval periods seen so far
        self.gradient_steps_done = 0

    @classmethod
    def memory_estimate(
        cls, config: DQNConfig, env_info: dict[str, Any], num_envs: int, device: str
    ) -> dict[str, MemoryNeed]:
        """The replay at full capacity; the networks: online and target weights, gradients and
        the optimizer's moments (two for Adam, one for RMSprop and SGD); and a batch's activations."""
        on_gpu = torch.device(device).type != "cpu"
        prioritized = (
            Prioritization(config.per_alpha, config.per_eps, config.per_weights) if config.prioritized_replay else None
        )
        if env_info["kind"] in ("pixel", "grid"):
            replay = FrameReplay.estimate_nbytes(
                config.buffer_size,
                num_envs,
                env_info["observation_shape"],
                prioritized,
                bit_planes=env_info["kind"] == "grid",
            )
            needs = {"replay": MemoryNeed(replay, on_gpu and config.replay_on_device)}
        else:
            dtype = np.int64 if env_info["kind"] == "discrete" else np.dtype(env_info["observation_dtype"])
            needs = {
                "replay": MemoryNeed(
                    ReplayBuffer.estimate_nbytes(config.buffer_size, env_info["observation_shape"], dtype, prioritized)
                )
            }
        sizes = cls._network_sizes(config, env_info)
        if sizes is not None:
            parameters, activations = sizes
            copies = 5 if config.optimizer == "adam" else 4
            needs["networks"] = MemoryNeed(parameters * 4 * copies, on_gpu)
            # a batch's activations: the online pass kept for backward, their gradients, the target's pass
            needs["activations"] = MemoryNeed(activations * config.batch_size * 4 * 3, on_gpu)
        return needs

    @classmethod
    def _network_sizes(cls, config: DQNConfig, env_info: dict[str, Any]) -> tuple[int, int] | None:
        """The online network's parameter count and the numbers its layers output for one
        observation, from a network built and run on the meta device (no memory); None when it
        cannot be built so (the real build then says why)."""
        probe = cls.__new__(cls)
        probe.config, probe.env_info, probe.num_actions = config, env_info, env_info["num_actions"]
        outputs: list[int] = []
        try:
            with torch.device("meta"):
                network = probe.build_networks()
                for module in network.modules():
                    if not list(module.children()):
                        module.register_forward_hook(lambda _, __, output: outputs.append(output.numel()))
                dtype = torch.int64 if env_info["kind"] == "discrete" else getattr(torch, env_info["observation_dtype"])
                network(torch.zeros((1, *env_info["observation_shape"]), dtype=dtype))
        except Exception:  # a variant's hooks may need what __init__ sets; the estimate leaves the networks out
            return None
        return sum(parameter.numel() for parameter in network.parameters()), sum(outputs)

    # ------------------------------------------------------------------ construction hooks
    # A variant overrides these (and td_loss) and nothing else: a distributional DQN returns
    # its head from make_head, a head with q_values(output) for acting, and its own loss.

    def make_encoder(self) -> tuple[nn.Module, int]:
        """The torso, observations → features, and its width: the encoder agent.encoder picks
        for the observation kind, with the net_arch hidden layers."""
        info, c = self.env_info, self.config
        encoder, hidden_sizes = networks.encoder_hidden_sizes(c.encoder, info["kind"], c.net_arch)
        return networks.torso(info["kind"], encoder, info["observation_shape"], hidden_sizes, info.get("num_states"))

    def make_head(self, features: int) -> nn.Module:
        """features → the network's output: one Q value per action."""
        return nn.Linear(features, self.num_actions)

    def build_networks(self) -> nn.Module:
        """The online network, initialised by agent.init (the target network is its copy):
        make_encoder then make_head, or under agent.dueling the dueling network, which splits
        the last hidden layer into its two streams."""
        info, c = self.env_info, self.config
        if c.dueling:
            overridden = [
                name
                for name in ("make_encoder", "make_head")
                if getattr(type(self), name) is not getattr(DQNAgent, name)
            ]
            if overridden:
                raise RlkitError(
                    f"agent.dueling = true builds its own value and advantage streams, which {type(self).__name__}'s "
                    f"{' and '.join(overridden)} would not shape; valid: dueling = false for this agent"
                )
            return networks.build_q_network(
                info["kind"],
                info["observation_shape"],
                self.num_actions,
                c.net_arch,
                c.encoder,
                info.get("num_states"),
                dueling=True,
                init=c.init,
            )
        encoder, features = self.make_encoder()
        network = networks.QNetwork(encoder, self.make_head(features))
        networks.initialize(network, c.init)
        return network

    @property
    def replay(self) -> Replay:
        """The replay buffer, allocated on first use (evaluation never allocates one). Pixel and
        grid observations go to a FrameReplay that stores each frame once (grids bit-packed)."""
        if self._replay is None:
            info, c = self.env_info, self.config
            replay_device = self.device if c.replay_on_device else torch.device("cpu")
            prioritized = Prioritization(c.per_alpha, c.per_eps, c.per_weights) if c.prioritized_replay else None
            if info["kind"] in ("pixel", "grid"):
                self._replay = FrameReplay(
                    c.buffer_size,
                    self.num_envs,
                    info["observation_shape"],
                    replay_device,
                    sequence(self.seed, Stream.REPLAY),
                    c.n_steps,
                    c.gamma,
                    prioritized,
                    bit_planes=info["kind"] == "grid",
                )
            else:
                dtype = np.int64 if info["kind"] == "discrete" else np.dtype(info["observation_dtype"])
                self._replay = ReplayBuffer(
                    c.buffer_size,
                    info["observation_shape"],
                    dtype,
                    replay_device,
                    sequence(self.seed, Stream.REPLAY),
                    self.num_envs,
                    c.n_steps,
                    c.gamma,
                    prioritized,
                )
            if self._replay_rng_state is not None:
                self._replay.rng.bit_generator.state = self._replay_rng_state
        return self._replay

    # ------------------------------------------------------------------ schedules

    def per_beta(self, step: int) -> float:
        """The importance-weight exponent: per_beta at step 0, annealed linearly to 1 at the end."""
        return linear(self.config.per_beta, 1.0, self.total_steps, step)

    def images(self) -> dict[str, np.ndarray]:
        return {}

    def schedule_values(self, step: int) -> dict[str, float]:
        values = super().schedule_values(step)
        if self.config.prioritized_replay:
            values["train/per_beta"] = self.per_beta(step)
        return values

    # ------------------------------------------------------------------ acting

    def _normalized(self, observations: torch.Tensor) -> torch.Tensor:
        return observations if self.normalizer is None else self.normalizer(observations)

    def q_values(self, observations: np.ndarray) -> torch.Tensor:
        """The online network's Q values for a batch of raw observations."""
        with torch.inference_mode():
            return self.q_network.q_values(self._normalized(torch.as_tensor(observations, device=self.device)))

    def action_values(self, observations: np.ndarray) -> np.ndarray:
        return self.q_values(observations).cpu().numpy()

    def act(self, observations: np.ndarray, step: int) -> np.ndarray:
        if step < self.config.learning_starts:
            return self.epsilon_greedy(observations, 1.0, self.rng)
        return super().act(observations, step)

    def observe(self, batch: Transition, step: int) -> dict[str, Any]:
        """Store the transitions; train and update the target network when their periods end.
        Periods are counted in environment steps, so the replay ratio does not depend on the
        number of envs."""
        c = self.config
        self.replay.add(*batch)
        if self.normalizer is not None:
            self.normalizer.update(batch.observations)
        metrics: dict[str, Any] = {}
        rounds = step // c.train_freq
        # the size check matters after a resume without the replay buffer: refill before learning
        enough = len(self.replay) >= max(c.batch_size, min(c.learning_starts, c.buffer_size))
        if step > c.learning_starts and enough and rounds > self.training_rounds:
            lr = self.learning_rate(step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            beta = self.per_beta(step)
            for _ in range((rounds - self.training_rounds) * c.gradient_steps):
                metrics = self.update(self.replay.sample(c.batch_size, beta))
        self.training_rounds = rounds
        target_periods = step // c.target_update_interval
        if target_periods > self.target_updates:
            # k periods crossed in one vector step (several envs): k Polyak steps of rate τ at once
            periods = target_periods - self.target_updates
            polyak_update(self.online_parameters, self.target_parameters, 1.0 - (1.0 - c.tau) ** periods)
            self.target_updates = target_periods
        return metrics

    def td_loss(self, batch: Batch) -> LossResult:
        """The importance-weighted Huber loss between Q(s, a) and the TD target, with Q(s, a)
        and the TD errors of the batch."""
        c = self.config
        observations = self._normalized(batch.observations)
        next_observations = self._normalized(batch.next_observations)
        with torch.no_grad():
            next_q_target = self.target_network(next_observations)
        all_q_values = self.q_network(observations)
        next_q_online = None
        if c.double_q:  # Q_online(s') outside the graph: a pass over s and s' together would make
            # the backward pass run over both halves (30% more time per update on a CPU)
            with torch.no_grad():
                next_q_online = self.q_network(next_observations)
        targets = td_target(batch.rewards, batch.terminated, next_q_target, batch.discounts, next_q_online)
        q_values = all_q_values.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        losses = F.smooth_l1_loss(q_values, targets, reduction="none")
        return LossResult((batch.weights * losses).mean(), q_values, (targets - q_values).detach())

    def _loss_and_gradients(self, batch: Batch) -> LossResult:
        """td_loss and its gradients; compiled when `compile` is on. The first compiled step
        (forward and backward) is tried, and if compilation fails, it and every later step runs
        eagerly: an error of the loss itself then surfaces from the eager run."""
        if self.config.compile and not self._compile_failed:
            try:
                if self._compiled_loss is None:
                    self._compiled_loss = torch.compile(self.td_loss)
                result = self._compiled_loss(batch)
                self.optimizer.zero_grad(set_to_none=True)
                result.loss.backward()
                return result
            except Exception as error:  # no compiler, unsupported platform: keep training, eagerly
                if not self._first_compiled_step:
                    raise  # the compiled step worked before: this error is not the compiler's
                warnings.warn(
                    f"torch.compile failed ({type(error).__name__}: {error}); the update runs eagerly", stacklevel=2
                )
                self._compile_failed = True
            finally:
                self._first_compiled_step = False
        result = self.td_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        return result

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step on the Huber TD loss; new priorities from the TD errors under
        prioritized replay. Metrics stay tensors (no device sync)."""
        c = self.config
        batch = Batch(*(t.to(self.device, non_blocking=True) for t in batch))
        loss, q_values, td_errors = self._loss_and_gradients(batch)
        max_norm = c.max_grad_norm if c.max_grad_norm > 0 else float("inf")
        grad_norm = nn.utils.clip_grad_norm_(self.online_parameters, max_norm, foreach=True)
        self.optimizer.step()
        self.gradient_steps_done += 1
        if c.prioritized_replay:
            self.replay.update_priorities(batch.indices.cpu().numpy(), td_errors.cpu().numpy())
        return {
            "train/loss": loss.detach(),
            "train/q_mean": q_values.detach().mean(),
            "train/grad_norm": grad_norm.detach(),
        }

    # ------------------------------------------------------------------ state

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        tensors = {f"q_network.{k}": v for k, v in self.q_network.state_dict().items()}
        tensors |= {f"target_network.{k}": v for k, v in self.target_network.state_dict().items()}
        if self.normalizer is not None:
            tensors |= {f"obs_normalizer.{k}": v for k, v in self.normalizer.state_dict().items()}
        optimizer = self.optimizer.state_dict()
        for index, values in optimizer["state"].items():
            tensors |= {f"optimizer.{index}.{name}": value for name, value in values.items()}
        meta = {
            "optimizer_param_groups": optimizer["param_groups"],
            "rng": self.rng.bit_generator.state,
            # a replay not yet allocated (after a resume without one) keeps the state it will start from
            "replay_rng": self._replay.rng.bit_generator.state if self._replay is not None else self._replay_rng_state,
            "training_rounds": self.training_rounds,
            "target_updates": self.target_updates,
            "gradient_steps_done": self.gradient_steps_done,
        }
        return {k: v.detach().cpu().numpy().copy() for k, v in tensors.items()}, meta  # copies: nothing shared

    def load_state(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        for prefix, network in (("q_network.", self.q_network), ("target_network.", self.target_network)):
            expected = network.state_dict()
            saved = {k[len(prefix) :]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith(prefix)}
            for name, value in expected.items():
                if name not in saved or saved[name].shape != value.shape:
                    found = list(saved[name].shape) if name in saved else "nothing"
                    raise RlkitError(
                        f"the checkpoint's {prefix}{name} is {found}, the network for this env needs "
                        f"{list(value.shape)}: observation shape or action count differ"
                    )
            network.load_state_dict(saved)
        if self.normalizer is not None:
            saved = {k[len("obs_normalizer.") :]: v for k, v in tensors.items() if k.startswith("obs_normalizer.")}
            if set(saved) != set(self.normalizer.state_dict()):
                raise RlkitError("the checkpoint has no observation statistics, but agent.normalize_observations is on")
            self.normalizer.load_state_dict({k: torch.from_numpy(v) for k, v in saved.items()})
        optimizer_state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                optimizer_state.setdefault(int(index), {})[name] = torch.tensor(value)
        self.optimizer.load_state_dict({"state": optimizer_state, "param_groups": meta["optimizer_param_groups"]})
        self.rng.bit_generator.state = meta["rng"]
        self._replay_rng_state = meta["replay_rng"]  # applied when the replay buffer is allocated
        if self._replay is not None and self._replay_rng_state is not None:
            self._replay.rng.bit_generator.state = self._replay_rng_state
        self.training_rounds = meta["training_rounds"]
        self.target_updates = meta["target_updates"]
        self.gradient_steps_done = meta["gradient_steps_done"]

    def replay_arrays(self) -> dict[str, np.ndarray] | None:
        return self.replay.state_arrays()

    def load_replay(self, arrays: dict[str, np.ndarray]) -> None:
        try:
            self.replay.load_state_arrays(arrays)
        except (KeyError, ValueError) as error:
            raise RlkitError(f"replay buffer does not fit this agent: {error}") from None
