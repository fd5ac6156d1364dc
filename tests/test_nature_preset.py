"""The dqn-nature preset runs DQN as DeepMind's released code did (run_gpu, NeuralQLearner.lua;
Dopamine's dqn_nature.gin agrees): periods in agent steps, ε decaying after learning starts."""

import pytest

from rlkit.agents.dqn import DQNConfig
from rlkit.config import build_config


def _released_epsilon(num_steps: int) -> float:
    """NeuralQLearner.lua's eGreedy with run_gpu's ep=1, ep_end=0.1, ep_endt=1e6, learn_start=5e4."""
    ep_start, ep_end, ep_endt, learn_start = 1.0, 0.1, 1_000_000, 50_000
    return ep_end + max(0.0, (ep_start - ep_end) * (ep_endt - max(0, num_steps - learn_start)) / ep_endt)


def test_nature_preset_counts_its_periods_in_agent_steps():
    config = build_config("dqn-nature", "pong")
    agent = config.agent
    assert config.env.frame_skip == 4  # one rlkit step = one agent step = 4 frames
    assert (agent.target_update_interval, agent.tau) == (10_000, 1.0)  # target_q=10000 agent steps, a hard copy
    assert (agent.learning_starts, agent.train_freq, agent.gradient_steps) == (50_000, 4, 1)
    assert (agent.buffer_size, agent.batch_size, agent.gamma) == (1_000_000, 32, 0.99)
    assert (agent.optimizer, agent.learning_rate, agent.rmsprop_alpha, agent.rmsprop_centered) == (
        "rmsprop",
        2.5e-4,
        0.95,
        True,
    )
    assert (agent.max_grad_norm, agent.net_arch, agent.encoder) == (0.0, [], "nature_cnn")
    assert (config.train.eval_epsilon, config.train.final_eval_episodes) == (0.05, 30)


def test_nature_epsilon_decays_over_1m_steps_after_learning_starts_as_the_released_code():
    config = build_config("dqn-nature", "pong")
    steps = [0, 49_999, 50_000, 50_001, 300_000, 550_000, 1_049_999, 1_050_000, 1_050_001, 5_000_000]
    ours = [config.agent.epsilon_at(step, config.train.total_steps) for step in steps]
    assert ours == pytest.approx([_released_epsilon(step) for step in steps], abs=1e-12)
    assert ours[steps.index(550_000)] == pytest.approx(0.55)


def test_exploration_start_delays_the_epsilon_and_temperature_decay():
    config = DQNConfig(
        exploration_start=100,
        exploration_fraction=0.5,
        exploration_initial_eps=1.0,
        exploration_final_eps=0.0,
        exploration_initial_temperature=2.0,
        exploration_final_temperature=1.0,
    )
    assert [config.epsilon_at(step, 400) for step in (0, 100, 200, 300, 900)] == pytest.approx([1, 1, 0.5, 0, 0])
    assert [config.temperature_at(step, 400) for step in (0, 100, 200, 300)] == pytest.approx([2, 2, 1.5, 1])
    assert DQNConfig().exploration_start == 0
