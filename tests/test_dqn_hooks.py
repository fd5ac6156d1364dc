"""DQN's construction hooks: a new variant is a head (rlkit.agents.heads.Head: its shape, its Q
values, its loss) returned by make_head, and nothing else. Here the variant is DQN with the
squared TD error as its loss (as CleanRL's dqn.py trains) instead of the Huber loss: it composes
with the dueling streams, Double Q and observation normalisation, and trains, checkpoints and
loads through the registry like any agent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rlkit
from rlkit.agents import registry
from rlkit.agents.base import REGISTRY, register
from rlkit.agents.dqn import DQNAgent, DQNConfig
from rlkit.agents.heads import LossResult, QHead, continuation
from rlkit.agents.networks import DuelingQNetwork
from rlkit.config import build_config
from rlkit.envs import describe


class SquaredErrorHead(QHead):
    """One Q value per action, learned by the squared TD error; records the observations of the
    batches its agent's loss saw."""

    def loss(self, output, next_output, next_action, batch) -> LossResult:
        next_values = next_output.gather(1, next_action.unsqueeze(1)).squeeze(1)
        targets = batch.rewards + continuation(batch) * next_values
        q_values = output.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        errors = targets - q_values
        return LossResult((batch.weights * errors.square()).mean(), q_values.detach(), errors.detach())


class SquaredErrorDQN(DQNAgent):
    """DQN trained on the squared TD error: a head, nothing more."""

    def make_head(self) -> SquaredErrorHead:
        return SquaredErrorHead()


@pytest.fixture
def variant():
    register("squared-error-dqn-test", DQNConfig, family="dqn")(SquaredErrorDQN)
    yield "squared-error-dqn-test"
    del REGISTRY["squared-error-dqn-test"]


def _agent(variant, **values):
    config = build_config("dqn", "cartpole", values={"env.num_envs": 1, **values})
    return registry()[variant].agent_class(config.agent, describe(config.env), 1_000, 0)


@pytest.mark.parametrize("dueling", [False, True])
def test_a_variant_head_is_what_the_loss_and_acting_use(variant, dueling):
    agent = _agent(variant, dueling=dueling, double_q=True)
    assert isinstance(agent.head, SquaredErrorHead) and agent.q_network.readout is agent.head
    assert isinstance(agent.q_network, DuelingQNetwork) is dueling  # dueling wraps whatever head it is given
    observations = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = agent.q_network(torch.as_tensor(observations)).numpy()
    np.testing.assert_allclose(agent.action_values(observations), expected, rtol=1e-6)

    agent.replay.add(
        observations[:1], np.array([1]), np.array([1.0]), observations[1:2], np.array([False]), np.array([False])
    )
    batch = agent.replay.sample(1, 1.0)
    loss, _, errors = agent.td_loss(batch)
    torch.testing.assert_close(loss, (batch.weights * errors.square()).mean())  # the variant's loss, not Huber's


def test_the_loss_receives_observations_already_normalised(variant, monkeypatch):
    agent = _agent(variant, normalize_observations=True, learning_starts=0, batch_size=4)
    rng = np.random.default_rng(1)
    for _ in range(8):
        obs, next_obs = rng.normal(3.0, 2.0, size=(1, 4)).astype(np.float32), rng.normal(size=(1, 4)).astype(np.float32)
        agent.replay.add(obs, np.array([0]), np.array([1.0]), next_obs, np.array([False]), np.array([False]))
        agent.normalizer.update(obs)
    seen = []
    original = agent.td_loss
    monkeypatch.setattr(agent, "td_loss", lambda batch: seen.append(batch) or original(batch))
    batch = agent.replay.sample(4, 1.0)
    agent.update(batch)
    (given,) = seen
    torch.testing.assert_close(given.observations, agent.normalizer(batch.observations))
    torch.testing.assert_close(given.next_observations, agent.normalizer(batch.next_observations))
    assert not torch.allclose(given.observations, batch.observations)


def test_a_variant_trains_checkpoints_and_loads_through_the_registry(variant, tmp_path):
    preset = tmp_path / "squared.toml"
    preset.write_text(f'algo = "{variant}"\n[agent]\nlearning_starts = 100\nbatch_size = 32\ndueling = true\n')
    result = rlkit.train(
        agent=str(preset),
        env="cartpole",
        steps=600,
        seed=1,
        run_dir=tmp_path,
        overrides={"train.eval_interval": 0, "train.final_eval_episodes": 2, "env.num_envs": 1},
    )
    assert result.evaluation["step"] == 600 and len(result.evaluation["returns"]) == 2
    policy = rlkit.load(result.run_dir)  # a checkpoint of the variant loads back into the variant
    assert isinstance(policy.agent, SquaredErrorDQN) and isinstance(policy.agent.head, SquaredErrorHead)
    trained = result.agent.agent.q_network.state_dict()
    assert all(torch.equal(value, trained[name]) for name, value in policy.agent.q_network.state_dict().items())
