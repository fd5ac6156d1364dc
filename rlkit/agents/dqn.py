"""DQN (Mnih et al. 2015): a Q network, experience replay and a target network, with the
family's improvements as switches that compose into Rainbow (Hessel et al. 2018): Double DQN,
the dueling head, n-step returns, prioritized replay, distributional heads (C51, QR-DQN) and
noisy nets; and the choice of optimizer, exploration, initialisation and observation
normalisation.

Each part is one place: the layer factory (plain or noisy layers) in rlkit.agents.networks,
the head and its loss in rlkit.agents.heads, exploration in rlkit.agents.exploration, replay
in rlkit.replay. This module puts them together."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rlkit.agents.base import AgentConfig, BaseAgent, MemoryNeed, register
from rlkit.agents.exploration import Exploration, Greedy
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
networks = lazy_import("rlkit.agents.networks", globals())
heads = lazy_import("rlkit.agents.heads", globals())
normalization = lazy_import("rlkit.agents.normalization", globals())


def __getattr__(name: str) -> Any:
    """td_target and LossResult live in rlkit.agents.heads (with torch); importable from here."""
    if name in ("td_target", "LossResult"):
        return getattr(heads, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    dueling_hidden: bool = option(
        True,
        "dueling: each stream has its own copy of the last hidden layer (Wang et al. 2016); false: the "
        "streams are single linear layers on the shared last hidden layer (Revisiting Rainbow's dueling "
        "head; fewer weights, a cheaper update)",
    )
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
    head: Literal["q", "c51", "qr"] = option(
        "q",
        "what the network gives per action: q (one Q value, DQN), c51 (a categorical distribution of the "
        "return over `atoms` values on [v_min, v_max], Bellemare et al. 2017) or qr (`quantiles` quantiles of "
        "the return, Dabney et al. 2018); acting takes the distribution's mean",
    )
    atoms: int = option(51, "c51: atoms of the return distribution", min=2)
    v_min: float = option(-10.0, "c51: the lowest return of the support (env presets set their own)")
    v_max: float = option(10.0, "c51: the highest return of the support (env presets set their own)")
    quantiles: int = option(50, "qr: quantiles of the return (Dabney et al. used 200 on Atari)", min=2)
    noisy: bool = option(
        False,
        "noisy nets (Fortunato et al. 2018): factorised Gaussian noise on every fully connected layer "
        "explores instead of ε-greedy (ε is 0; random actions still fill the first learning_starts steps)",
    )
    noisy_sigma0: float = option(
        0.5, "noisy nets: σ0 of the noise (σ starts at σ0/√fan_in)", min=0.0, exclusive_min=True
    )
    layer_norm: bool = option(
        False,
        "LayerNorm after every hidden fully connected layer, before its ReLU (the MLP's layers, the CNN's "
        "fully connected layer, the dueling streams' hidden layers), as Ball et al. 2023 and Gallici et al. "
        "2024 use it against the divergence of off-policy TD learning",
    )
    compile: bool = option(False, "compile the TD loss with torch.compile (eager if compilation is unavailable)")
    replay_on_device: bool = option(True, "keep the replay buffer on the learner's device (the GPU when there is one)")

    def resolve(self, set_keys: dict[str, str]) -> None:
        """The support must be an interval; with noisy nets ε-greedy is off (ε 0), so an ε key
        or softmax exploration asked for with them is refused."""
        if self.head == "c51" and not self.v_min < self.v_max:
            raise RlkitError(
                f"agent.v_min = {self.v_min:g} is not below agent.v_max = {self.v_max:g}: the c51 support is "
                "empty; valid: v_min < v_max (the lowest and highest return the env can give)"
            )
        if not self.noisy:
            return
        given = [origin for key, origin in set_keys.items() if key in EPSILON_KEYS]
        if given:
            raise RlkitError(
                f"{given[0]}: agent.noisy = true explores with noise, so ε-greedy is off and its keys do nothing; "
                "valid: drop the ε key, or set noisy=false to explore ε-greedily"
            )
        if self.exploration != "epsilon":
            raise RlkitError(
                f"agent.exploration = {self.exploration!r} with agent.noisy = true: noisy nets replace the "
                "exploration strategy; valid: exploration = 'epsilon' (ε is then 0), or noisy = false"
            )
        self.exploration_initial_eps = self.exploration_final_eps = 0.0


# the keys of ε-greedy and softmax exploration, which noisy nets switch off
EPSILON_KEYS = frozenset(
    {
        "exploration",
        "exploration_fraction",
        "exploration_start",
        "exploration_initial_eps",
        "exploration_final_eps",
        "exploration_initial_temperature",
        "exploration_final_temperature",
    }
)


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
        self.head: heads.Head = self.q_network.readout  # what the outputs mean, and the loss
        self.online_noise = networks.Noise(self.q_network)
        self.target_noise = networks.Noise(self.target_network)
        if self.online_noise:  # drawn from a stream of its own, saved in checkpoints
            noise = torch.Generator(device=self.device).manual_seed(torch_seed(seed, Stream.NOISE))
            self.noise = self.own_generator("noise", noise)
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
    # A variant overrides these (and, rarely, td_loss): a new kind of output is a head
    # (rlkit.agents.heads.Head: its shape, its Q values, its loss) returned by make_head.

    def layers(self) -> networks.Layers:
        """The factory of the fully connected layers: noisy ones under agent.noisy, each hidden
        one followed by LayerNorm under agent.layer_norm."""
        c = self.config
        return networks.Layers(noisy=c.noisy, sigma0=c.noisy_sigma0, layer_norm=c.layer_norm)

    def make_encoder(self) -> tuple[nn.Module, int]:
        """The torso, observations → features, and its width: the encoder agent.encoder picks
        for the observation kind, with the net_arch hidden layers."""
        info, c = self.env_info, self.config
        encoder, hidden_sizes = networks.encoder_hidden_sizes(c.encoder, info["kind"], c.net_arch)
        return networks.torso(
            info["kind"], encoder, info["observation_shape"], hidden_sizes, info.get("num_states"), self.layers()
        )

    def make_head(self) -> heads.Head:
        """What the network gives per action and how it learns, as agent.head names it."""
        c = self.config
        if c.head == "c51":
            return heads.CategoricalHead(c.atoms, c.v_min, c.v_max)
        if c.head == "qr":
            return heads.QuantileHead(c.quantiles)
        return heads.QHead()

    def build_networks(self) -> nn.Module:
        """The online network, initialised by agent.init (the target network is its copy):
        make_encoder, then an output layer shaped for make_head's head; under agent.dueling the
        dueling network, which splits the last hidden layer into value and advantage streams of
        that head's shape."""
        info, c = self.env_info, self.config
        head = self.make_head()
        if c.dueling:
            if type(self).make_encoder is not DQNAgent.make_encoder:
                raise RlkitError(
                    f"agent.dueling = true splits the encoder's last hidden layer into its two streams, which "
                    f"{type(self).__name__}'s make_encoder would not shape; valid: dueling = false for this agent"
                )
            return networks.build_q_network(
                info["kind"],
                info["observation_shape"],
                self.num_actions,
                c.net_arch,
                c.encoder,
                info.get("num_states"),
                dueling=True,
                dueling_hidden=c.dueling_hidden,
                init=c.init,
                readout=head,
                layers=self.layers(),
            )
        encoder, features = self.make_encoder()
        network = networks.QNetwork(encoder, self.layers().linear(features, self.num_actions * head.outputs), head)
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

    def make_exploration(self) -> Exploration:
        """Greedy on the noisy network's values under agent.noisy, else as every agent explores."""
        return Greedy() if self.config.noisy else super().make_exploration()

    def _normalized(self, observations: torch.Tensor) -> torch.Tensor:
        return observations if self.normalizer is None else self.normalizer(observations)

    def q_values(self, observations: np.ndarray) -> torch.Tensor:
        """The online network's Q values (a distribution's mean) for a batch of raw
        observations; a noisy network's mean weights."""
        self.online_noise.on(False)
        with torch.inference_mode():
            return self.q_network.q_values(self._normalized(torch.as_tensor(observations, device=self.device)))

    def action_values(self, observations: np.ndarray) -> np.ndarray:
        return self.q_values(observations).cpu().numpy()

    def exploring_values(self, observations: np.ndarray) -> np.ndarray:
        """Q values to explore on: with noisy nets, the network's under fresh noise."""
        if not self.online_noise:
            return self.action_values(observations)
        self.online_noise.on(True)
        self.online_noise.resample(self.noise)
        with torch.inference_mode():
            observations = self._normalized(torch.as_tensor(observations, device=self.device))
            return self.q_network.q_values(observations).cpu().numpy()

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

    def td_loss(self, batch: Batch) -> heads.LossResult:
        """The head's loss on a preprocessed batch (observations normalised): the online
        network's output at s, the target network's at s', and the next action from the
        target's Q values or, under Double Q, the online network's (their means for a
        distributional head)."""
        head = self.head
        output = self.q_network(batch.observations)
        with torch.no_grad():
            next_output = self.target_network(batch.next_observations)
            next_online = None
            if self.config.double_q:  # Q_online(s') outside the graph: a pass over s and s' together
                # would make the backward pass run over both halves (30% more time per update on a CPU)
                next_online = head.q_values(self.q_network(batch.next_observations))
            next_action = heads.next_actions(head.q_values(next_output), next_online)
        return head.loss(output, next_output, next_action, batch)

    def _loss_and_gradients(self, batch: Batch) -> heads.LossResult:
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
        """One gradient step on the head's loss, the batch's observations normalised first (under
        agent.normalize_observations) and the noise drawn anew (under agent.noisy); new
        priorities from the per-transition errors under prioritized replay. Metrics stay tensors
        (no device sync)."""
        c = self.config
        batch = Batch(*(t.to(self.device, non_blocking=True) for t in batch))
        if self.normalizer is not None:
            batch = batch._replace(
                observations=self.normalizer(batch.observations),
                next_observations=self.normalizer(batch.next_observations),
            )
        if self.online_noise:  # fresh noise for the online and the target network
            self.online_noise.on(True)
            self.online_noise.resample(self.noise)
            self.target_noise.resample(self.noise)
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
        tensors: dict[str, Any] = dict(self.generator_states())
        tensors |= {f"q_network.{k}": v for k, v in self.q_network.state_dict().items()}
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
        arrays = {k: v if isinstance(v, np.ndarray) else v.detach().cpu().numpy().copy() for k, v in tensors.items()}
        return arrays, meta  # copies: nothing shared

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
        self.load_generator_states(tensors)
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
