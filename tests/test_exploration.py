"""ε-greedy: one implementation (rlkit.agents.exploration.epsilon_greedy) for every agent."""

import hashlib

import numpy as np
import pytest

import rlkit
from rlkit.agents.exploration import epsilon_greedy, epsilon_greedy_probabilities


def _draw(q_values: np.ndarray, epsilon: float, draws: int, seed: int = 0) -> np.ndarray:
    rows = np.repeat(q_values, draws, axis=0)
    return epsilon_greedy(lambda: rows, len(rows), q_values.shape[1], epsilon, np.random.default_rng(seed))


@pytest.mark.parametrize("epsilon", [0.0, 0.3, 1.0])
def test_action_frequencies_follow_the_epsilon_greedy_policy(epsilon):
    q_values = np.array([[1.0, 3.0, 3.0, 0.5]])  # a tie for the maximum: 1 − ε shared by actions 1 and 2
    draws = 40_000
    frequencies = np.bincount(_draw(q_values, epsilon, draws), minlength=4) / draws
    expected = epsilon_greedy_probabilities(q_values, epsilon)[0]
    # four standard errors of a binomial frequency, at least 0.002
    tolerance = np.maximum(4 * np.sqrt(expected * (1 - expected) / draws), 0.002)
    np.testing.assert_array_less(np.abs(frequencies - expected), tolerance)


def test_the_values_are_not_computed_while_every_row_explores():
    def values():
        raise AssertionError("q_values() called although every row explores")

    actions = epsilon_greedy(values, 5, 3, 1.0, np.random.default_rng(0))
    assert actions.shape == (5,) and set(actions) <= {0, 1, 2}


def _assert_draws_were_only_explore_and_random_actions(rng, seed: int, rows: int, actions: int) -> None:
    """`rng` (seeded `seed`) drew exactly `rows` uniforms and `rows` random actions: its stream
    continues as a twin's that drew only those."""
    twin = np.random.default_rng(seed)
    twin.random(rows)
    twin.integers(actions, size=rows)
    assert rng.random() == twin.random()


def test_without_ties_greedy_rows_take_the_argmax_and_draw_no_tie_noise():
    q_values = np.array([[0.0, 2.0, 1.0], [5.0, -1.0, 4.0]])
    rng = np.random.default_rng(3)
    actions = epsilon_greedy(lambda: q_values, 2, 3, 0.0, rng)
    assert actions.tolist() == [1, 0]
    _assert_draws_were_only_explore_and_random_actions(rng, 3, rows=2, actions=3)


def test_without_random_ties_a_tie_goes_to_the_first_maximum_and_draws_nothing_more():
    q_values = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    rng = np.random.default_rng(5)
    actions = epsilon_greedy(lambda: q_values, 2, 3, 0.0, rng, random_ties=False)
    assert actions.tolist() == [1, 0]
    _assert_draws_were_only_explore_and_random_actions(rng, 5, rows=2, actions=3)


def test_tables_break_ties_at_random_and_networks_take_the_first_maximum():
    """A Q-table starts as one big tie, so it breaks ties at random; a network's values tie
    only by accident (MountainCar's DQN meets a few dozen exact float32 ties in 30k steps), and
    it takes the first maximum as torch.argmax does, so its seeded runs stay what they were."""
    from rlkit.agents.dqn import DQNAgent
    from rlkit.agents.expected_sarsa import ExpectedSarsaAgent
    from rlkit.agents.qlearning import QLearningAgent

    assert QLearningAgent.random_ties and ExpectedSarsaAgent.random_ties
    assert not DQNAgent.random_ties


def _action_digest(agent: str, env: str, steps: int, overrides: dict, tmp_path) -> tuple[str, list[float]]:
    class Record(rlkit.Callback):
        def __init__(self):
            self.actions = []

        def on_step(self, run, transition):
            self.actions.append(np.asarray(transition.actions, dtype=np.int64).copy())

    record = Record()
    result = rlkit.train(
        agent=agent, env=env, steps=steps, seed=101, overrides=overrides, run_dir=tmp_path, callbacks=[record]
    )
    digest = hashlib.sha256(np.concatenate(record.actions).tobytes()).hexdigest()[:16]
    return digest, result.evaluation["returns"]


def test_dqn_takes_the_same_seeded_actions_as_before_epsilon_greedy_was_shared(tmp_path):
    """Recorded with DQN's own ε-greedy before the agents shared one: 500 random steps, then
    2,500 ε-greedy ones while learning, then the greedy evaluation."""
    overrides = {
        "learning_starts": 500,
        "device": "cpu",
        "train.eval_interval": 1000,
        "train.eval_episodes": 3,
        "train.final_eval_episodes": 5,
    }
    digest, returns = _action_digest("dqn", "cartpole", 3000, overrides, tmp_path)
    assert digest == "557c1faf029adb74"
    assert returns == [37.0, 38.0, 38.0, 43.0, 49.0]


def test_qlearning_seeded_actions_are_pinned(tmp_path):
    """Q-learning's draws changed order when it took the shared ε-greedy (its ties used to be
    broken before the explore draws); this pins the new order."""
    overrides = {"train.eval_interval": 2000, "train.eval_episodes": 3, "train.final_eval_episodes": 5}
    digest, returns = _action_digest("qlearning", "taxi", 5000, overrides, tmp_path)
    assert digest == "a19c66608d3ad250"
    assert returns == [-200.0, -785.0, -200.0, -200.0, -200.0]


@pytest.mark.parametrize("random_ties", [True, False])
def test_one_row_takes_the_same_actions_and_draws_as_arrays_of_one(random_ties):
    """One env's ε-greedy uses numpy's scalar draws (several times cheaper); they must be the
    draws, and the actions, that the array path makes for one row."""
    from rlkit.agents.exploration import _epsilon_greedy_one, _epsilon_greedy_rows

    values_rng = np.random.default_rng(7)
    one, rows = np.random.default_rng(3), np.random.default_rng(3)
    ties_seen = 0
    for _ in range(3000):
        q_values = values_rng.integers(0, 3, size=(1, 5)).astype(float)  # ties are frequent
        ties_seen += int((q_values == q_values.max()).sum() > 1)
        epsilon = float(values_rng.choice([0.0, 0.2, 1.0]))
        a = _epsilon_greedy_one(lambda q=q_values: q, 5, epsilon, one, random_ties)
        b = _epsilon_greedy_rows(lambda q=q_values: q, 1, 5, epsilon, rows, random_ties)
        assert a.tolist() == b.tolist()
    assert ties_seen > 1000
    assert one.bit_generator.state == rows.bit_generator.state
