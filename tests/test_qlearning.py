import numpy as np
import pytest

from rlkit.agents.exploration import epsilon_greedy
from rlkit.agents.qlearning import QLearningAgent, QLearningConfig, tabular_update
from rlkit.errors import RlkitError
from rlkit.replay.transition import Transition


def q_learning_update(q, state, action, reward, next_state, terminated, alpha, gamma):
    """Q-learning's update: the tabular update with max_a' Q(s', a') as the next state's value."""
    return tabular_update(q, state, action, reward, q[next_state].max(), terminated, alpha, gamma)


INFO = {"kind": "discrete", "observation_shape": [], "observation_dtype": "int64", "num_states": 2, "num_actions": 2}


def test_update_on_a_two_state_mdp_gives_exact_numbers():
    # states 0, 1; actions 0, 1. Q starts at zero; α = 0.5, γ = 0.9
    q = np.zeros((2, 2))
    q[1] = [2.0, 4.0]
    # 0 --a1, r=1--> 1 (ongoing): target 1 + 0.9 * 4 = 4.6, Q = 0 + 0.5 * 4.6
    assert q_learning_update(q, 0, 1, 1.0, 1, False, 0.5, 0.9) == pytest.approx(4.6)
    assert q[0, 1] == pytest.approx(2.3)
    # 1 --a0, r=-1--> terminal: target -1, Q = 2 + 0.5 * (-1 - 2) = 0.5
    q_learning_update(q, 1, 0, -1.0, 0, True, 0.5, 0.9)
    assert q[1, 0] == pytest.approx(0.5)
    # the same step truncated instead of terminated bootstraps: target -1 + 0.9 * max(Q[0]) = -1 + 0.9 * 2.3
    q_learning_update(q, 1, 0, -1.0, 0, False, 0.5, 0.9)
    assert q[1, 0] == pytest.approx(0.5 + 0.5 * (-1 + 0.9 * 2.3 - 0.5))
    assert q[0, 0] == 0.0 and q[1, 1] == 4.0  # nothing else moved


def test_agent_observe_applies_the_update_per_env_in_order():
    agent = QLearningAgent(QLearningConfig(learning_rate=0.5, gamma=0.9), INFO, total_steps=100, seed=0)
    batch = Transition(
        np.array([0, 0]),
        np.array([1, 1]),
        np.array([1.0, 1.0]),
        np.array([1, 1]),
        np.array([True, True]),
        np.array([False, False]),
    )
    agent.observe(batch, step=2)
    assert agent.q_table[0, 1] == pytest.approx(0.75)  # 0 → 0.5 → 0.75


def test_epsilon_and_alpha_schedules():
    config = QLearningConfig(
        exploration_initial_eps=1.0,
        exploration_final_eps=0.1,
        exploration_fraction=0.5,
        learning_rate=0.4,
        lr_schedule="linear",
        learning_rate_final=0.0,
    )
    agent = QLearningAgent(config, INFO, total_steps=1000, seed=0)
    assert (
        agent.epsilon(0) == 1.0
        and agent.epsilon(250) == pytest.approx(0.55)
        and agent.epsilon(900) == pytest.approx(0.1)
    )
    assert (
        agent.learning_rate(0) == 0.4
        and agent.learning_rate(500) == pytest.approx(0.2)
        and agent.learning_rate(1000) == 0.0
    )


def test_greedy_breaks_ties_at_random_but_follows_the_best():
    rng = np.random.default_rng(0)

    def greedy(q_values):
        return epsilon_greedy(lambda: q_values, len(q_values), q_values.shape[1], 0.0, rng)

    picks = greedy(np.zeros((1000, 3)))
    assert set(np.unique(picks)) == {0, 1, 2}
    assert (greedy(np.array([[0.0, 1.0, 0.5]] * 10)) == 1).all()


def test_epsilon_one_acts_uniformly():
    agent = QLearningAgent(QLearningConfig(exploration_initial_eps=1.0, exploration_final_eps=1.0), INFO, 100, seed=0)
    agent.q_table[:] = [[5.0, 0.0], [5.0, 0.0]]
    actions = np.concatenate([agent.act(np.zeros(100, dtype=int), 0) for _ in range(20)])
    assert 0.45 < actions.mean() < 0.55


def test_refuses_pixel_and_vector_observations():
    with pytest.raises(RlkitError, match="use the dqn-atari agent"):
        QLearningAgent(QLearningConfig(), {**INFO, "kind": "pixel"}, 100, 0)
    with pytest.raises(RlkitError, match="set env.bins"):
        QLearningAgent(QLearningConfig(), {**INFO, "kind": "vector"}, 100, 0)


def test_state_round_trip():
    agent = QLearningAgent(QLearningConfig(), INFO, 100, seed=0)
    agent.q_table[:] = [[1.0, 2.0], [3.0, 4.0]]
    tensors, meta = agent.state()
    other = QLearningAgent(QLearningConfig(), INFO, 100, seed=5)
    other.load_state(tensors, meta)
    np.testing.assert_array_equal(other.q_table, agent.q_table)
    assert other.rng.random() == agent.rng.random()
