import pytest

from rlkit.agents.dqn import DQNConfig
from rlkit.schedules import exponential, linear, scheduled_value


def test_linear_reaches_the_final_value_and_stays():
    assert linear(1.0, 0.1, 100, 0) == 1.0
    assert linear(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear(1.0, 0.1, 100, 100) == pytest.approx(0.1) and linear(1.0, 0.1, 100, 10_000) == pytest.approx(0.1)
    assert linear(1.0, 0.1, 0, 0) == 0.1


def test_exponential_decay_and_its_floor():
    assert exponential(1e-3, 0.5, 1000, 2000) == pytest.approx(2.5e-4)
    assert scheduled_value("exponential", 1e-3, 3e-4, 1000, 2000, 0.5) == pytest.approx(3e-4)  # floor
    assert scheduled_value("constant", 1e-3, 0.0, 1000, 5000) == 1e-3
    with pytest.raises(ValueError, match="valid: constant, linear, exponential"):
        scheduled_value("cosine", 1.0, 0.0, 10, 1)


def test_agent_config_schedules_at_chosen_steps():
    config = DQNConfig(
        exploration_fraction=0.5,
        exploration_initial_eps=1.0,
        exploration_final_eps=0.0,
        learning_rate=1e-3,
        lr_schedule="linear",
        learning_rate_final=0.0,
        lr_decay_steps=0,
    )
    assert config.epsilon_at(250, horizon=1000) == pytest.approx(0.5) and config.epsilon_at(600, horizon=1000) == 0.0
    assert config.learning_rate_at(750, horizon=1000) == pytest.approx(2.5e-4)
