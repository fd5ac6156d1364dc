import numpy as np
import pytest
import torch

from rlkit.agents.dqn import DQNAgent, DQNConfig, polyak_update, td_target
from rlkit.agents.networks import NatureCNN, build_q_network
from rlkit.replay.buffer import ReplayBuffer
from rlkit.replay.transition import Transition

VECTOR_INFO = {
    "kind": "vector",
    "observation_shape": [3],
    "observation_dtype": "float32",
    "num_states": None,
    "num_actions": 2,
}


def test_td_target_terminated_truncated_and_ongoing():
    rewards = torch.tensor([1.0, 1.0, 1.0])
    terminated = torch.tensor([True, False, False])  # second is a truncation, third ongoing: both bootstrap
    next_q_target = torch.tensor([[5.0, 2.0], [5.0, 2.0], [1.0, 3.0]])
    targets = td_target(rewards, terminated, next_q_target, discounts=0.5)
    torch.testing.assert_close(targets, torch.tensor([1.0, 1.0 + 0.5 * 5.0, 1.0 + 0.5 * 3.0]))


def test_td_target_double_q_evaluates_the_online_argmax_with_the_target_network():
    rewards = torch.tensor([0.0, 2.0])
    terminated = torch.tensor([False, True])
    next_q_target = torch.tensor([[5.0, 2.0], [9.0, 9.0]])
    next_q_online = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # online prefers action 1 in the first row
    targets = td_target(rewards, terminated, next_q_target, 0.9, next_q_online)
    torch.testing.assert_close(targets, torch.tensor([0.9 * 2.0, 2.0]))


def test_polyak_update_hard_and_soft():
    source, target = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = target.weight.detach().clone()
    polyak_update(list(source.parameters()), list(target.parameters()), tau=0.25)
    torch.testing.assert_close(target.weight, 0.25 * source.weight + 0.75 * before)
    polyak_update(list(source.parameters()), list(target.parameters()), tau=1.0)
    torch.testing.assert_close(target.weight, source.weight)


def _transition(value: float, count: int = 1, terminated: bool = False, truncated: bool = False) -> Transition:
    observations = np.full((count, 3), value, dtype=np.float32)
    return Transition(
        observations,
        np.ones(count, dtype=np.int64),
        np.full(count, value, dtype=np.float32),
        observations + 0.5,
        np.full(count, terminated),
        np.full(count, truncated),
    )


def test_target_network_syncs_every_interval_in_env_steps():
    config = DQNConfig(
        learning_starts=0, train_freq=1, batch_size=2, target_update_interval=4, net_arch=[8], learning_rate=0.1
    )
    agent = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=0)
    step = 0
    for _ in range(3):  # 3 steps: the online network moves, the target does not
        step += 1
        agent.observe(_transition(step), step)
    online = agent.q_network.head.weight.detach().clone()
    assert not torch.equal(online, agent.target_network.head.weight)
    agent.observe(_transition(4.0), 4)  # step 4: sync after the update
    torch.testing.assert_close(agent.target_network.head.weight, agent.q_network.head.weight)


def test_polyak_rate_counts_every_period_crossed_by_several_envs():
    config = DQNConfig(learning_starts=10_000, target_update_interval=1, tau=0.5, net_arch=[8])
    agent = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=0, num_envs=4)
    with torch.no_grad():
        agent.q_network.head.weight.fill_(1.0)
        agent.target_network.head.weight.fill_(0.0)
    agent.observe(_transition(1.0, count=4), step=4)  # four periods at once: 1 − 0.5⁴ of the way
    torch.testing.assert_close(agent.target_network.head.weight, torch.full((2, 8), 1 - 0.5**4))


def test_replay_ratio_is_kept_with_several_envs():
    config = DQNConfig(learning_starts=0, train_freq=4, gradient_steps=1, batch_size=2, net_arch=[8])
    agent = DQNAgent(config, VECTOR_INFO, total_steps=1000, seed=0)
    for step in range(8, 401, 8):  # 8 envs: 400 env steps → 100 gradient steps
        agent.observe(_transition(1.0, count=8), step)
    assert agent.gradient_steps_done == 100


def test_replay_wraps_around_and_keeps_terminated_apart_from_truncated():
    buffer = ReplayBuffer(5, [3], np.float32, seed=0)
    for value in range(7):
        buffer.add(*_transition(value, terminated=value == 5, truncated=value == 6))
    assert len(buffer) == 5 and buffer.position == 2
    assert buffer.rewards.tolist() == [5, 6, 2, 3, 4]
    assert buffer.terminated.tolist() == [True, False, False, False, False]
    assert buffer.truncated.tolist() == [False, True, False, False, False]
    batch = buffer.batch(np.array([1, 0]))
    torch.testing.assert_close(batch.rewards, torch.tensor([6.0, 5.0]))
    torch.testing.assert_close(batch.next_observations[:, 0], torch.tensor([6.5, 5.5]))
    assert batch.observations.dtype == torch.float32 and batch.actions.dtype == torch.int64


def test_replay_adds_several_envs_across_the_end():
    buffer = ReplayBuffer(4, [3], np.float32)
    buffer.add(*_transition(1.0, count=3))
    buffer.add(*_transition(2.0, count=3))
    assert buffer.rewards.tolist() == [2, 2, 1, 2] and buffer.position == 2 and len(buffer) == 4


def test_replay_samples_uniformly_from_what_is_stored():
    buffer = ReplayBuffer(100, [3], np.float32, seed=0)
    for value in range(10):
        buffer.add(*_transition(value))
    rewards = np.concatenate([buffer.sample(64).rewards.numpy() for _ in range(200)])
    counts = np.bincount(rewards.astype(int), minlength=10)
    assert set(np.unique(rewards)) == set(range(10))
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()


def test_pixel_replay_stays_uint8():
    buffer = ReplayBuffer(4, [4, 84, 84], np.uint8)
    assert buffer.observations.dtype == np.uint8 and buffer.observations.nbytes == 4 * 4 * 84 * 84


def test_nature_cnn_output_shape_for_4x84x84():
    cnn = NatureCNN([4, 84, 84])
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    assert cnn(frames).shape == (5, 512)
    network = build_q_network("pixel", [4, 84, 84], 6, net_arch=[])
    assert network(frames).shape == (5, 6)
    assert cnn.linear[0].in_features == 3136  # inferred from a dummy forward pass


def test_nature_cnn_scales_frames_inside():
    cnn = NatureCNN([4, 84, 84])
    frames = torch.full((1, 4, 84, 84), 255, dtype=torch.uint8)
    torch.testing.assert_close(cnn(frames), cnn.linear(cnn.convolutions(torch.ones(1, 4, 84, 84))))


def test_loss_falls_tenfold_on_one_repeated_batch():
    config = DQNConfig(learning_rate=1e-3, net_arch=[64, 64], batch_size=32, max_grad_norm=10.0)
    agent = DQNAgent(config, {**VECTOR_INFO, "observation_shape": [4]}, total_steps=1, seed=0)
    rng = np.random.default_rng(0)
    count = 32
    observations = rng.normal(size=(count, 4)).astype(np.float32)
    agent.replay.add(
        observations,
        rng.integers(2, size=count),
        rng.normal(size=count).astype(np.float32),
        rng.normal(size=(count, 4)).astype(np.float32),
        np.ones(count, dtype=bool),
        np.zeros(count, dtype=bool),
    )
    batch = agent.replay.batch(np.arange(count))
    first = float(agent.update(batch)["train/loss"])
    for _ in range(300):
        last = float(agent.update(batch)["train/loss"])
    assert last < first / 10


def test_actions_are_greedy_at_epsilon_zero_and_random_before_learning_starts():
    config = DQNConfig(learning_starts=100, net_arch=[8], exploration_initial_eps=0.0, exploration_final_eps=0.0)
    agent = DQNAgent(config, VECTOR_INFO, total_steps=1000, seed=0)
    observations = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    with torch.no_grad():
        expected = agent.q_network(torch.from_numpy(observations)).argmax(1).numpy()
    np.testing.assert_array_equal(agent.act(observations, step=500), expected)
    np.testing.assert_array_equal(agent.greedy_actions(observations, 0.0, np.random.default_rng(0)), expected)
    random_actions = np.concatenate([agent.act(observations, step=0) for _ in range(10)])
    assert 0.4 < random_actions.mean() < 0.6


def test_state_round_trip_restores_networks_optimizer_and_counters():
    config = DQNConfig(learning_starts=0, train_freq=1, batch_size=2, net_arch=[8])
    agent = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=0)
    for step in range(1, 6):
        agent.observe(_transition(step), step)
    tensors, meta = agent.state()
    other = DQNAgent(config, VECTOR_INFO, total_steps=100, seed=9)
    other.load_state(tensors, meta)
    other.load_replay(agent.replay_arrays())
    for step in range(6, 9):
        batch = _transition(step)
        agent.observe(batch, step)
        other.observe(batch, step)
    for a, b in zip(agent.q_network.parameters(), other.q_network.parameters()):
        assert torch.equal(a, b)
    assert other.gradient_steps_done == agent.gradient_steps_done == 7  # none at step 1: fewer transitions than a batch


@pytest.mark.parametrize(
    ("double_q", "num_envs", "switches"),
    [(False, 1, []), (True, 4, []), (False, 2, ["n_steps=3", "prioritized_replay=true", "dueling=true"])],
)
def test_pong_trains_on_the_cpu_for_a_few_thousand_steps(cli, tmp_path, double_q, num_envs, switches):
    code, _, _ = cli(
        "train",
        *[item for switch in switches for item in ("--set", switch)],
        "--agent",
        "dqn-atari",
        "--env",
        "pong",
        "--steps",
        2000,
        "--set",
        "buffer_size=1000",
        "--set",
        "learning_starts=500",
        "--set",
        "eval_interval=0",
        "--set",
        "final_eval_episodes=1",
        "--set",
        "env.max_frames=1500",
        "--set",
        f"double_q={str(double_q).lower()}",
        "--set",
        f"env.num_envs={num_envs}",
        "--set",
        f"eval_video={str(num_envs > 1).lower()}",
        "--set",
        "log_interval=500",
        "--set",
        "torch_threads=2",
        "--run-dir",
        tmp_path,
        "--no-progress",
    )
    assert code == 0
    run = next(tmp_path.glob("pong/dqn-atari/*"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run)).Reload()
    losses = [e.value for e in events.Scalars("train/loss")]
    assert losses and np.isfinite(losses).all()
    assert ("eval/video" in events.Tags()["images"]) == (num_envs > 1)  # the switch, on in one case
    assert (run / "checkpoints" / "step-000000002000" / "tensors.safetensors").is_file()


def _agent_and_batch(compile_loss: bool, **switches):
    config = DQNConfig(net_arch=[32, 32], batch_size=16, compile=compile_loss, double_q=True, **switches)
    agent = DQNAgent(config, {**VECTOR_INFO, "observation_shape": [4]}, total_steps=1, seed=0)
    rng = np.random.default_rng(0)
    agent.replay.add(
        rng.normal(size=(16, 4)).astype(np.float32),
        rng.integers(2, size=16),
        rng.normal(size=16).astype(np.float32),
        rng.normal(size=(16, 4)).astype(np.float32),
        rng.random(16) < 0.3,
        np.zeros(16, dtype=bool),
    )
    return agent, agent.replay.batch(np.arange(16))


def test_compile_falls_back_to_the_eager_update_with_the_same_loss(monkeypatch):
    eager, batch = _agent_and_batch(compile_loss=False)

    def unavailable(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", unavailable)
    compiled, _ = _agent_and_batch(compile_loss=True)
    with pytest.warns(UserWarning, match="runs eagerly"):
        fallback_loss = compiled.update(batch)["train/loss"]
    assert torch.equal(fallback_loss, eager.update(batch)["train/loss"])
    assert compiled._compile_failed and compiled.config.compile is True


@pytest.mark.slow
@pytest.mark.parametrize(
    "switches",
    [{}, {"head": "c51", "dueling": True}, {"head": "qr", "noisy": True, "prioritized_replay": True}],
    ids=["q", "c51-dueling", "qr-noisy-prioritized"],
)
def test_compiled_update_gives_the_eager_loss(switches):
    eager, batch = _agent_and_batch(False, **switches)
    compiled, _ = _agent_and_batch(True, **switches)
    for _ in range(3):
        a, b = eager.update(batch)["train/loss"], compiled.update(batch)["train/loss"]
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert compiled._compiled_loss is not None
