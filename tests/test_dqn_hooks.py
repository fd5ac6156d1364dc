"""DQN's construction hooks and typed loss: a distributional variant (quantile regression,
Dabney et al. 2018) is a subclass that overrides its head and its loss and nothing else, and
trains through the registry like any agent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import rlkit
from rlkit.agents import registry
from rlkit.agents.base import REGISTRY, register
from rlkit.agents.dqn import DQNAgent, DQNConfig, LossResult
from rlkit.config import build_config
from rlkit.envs import describe

QUANTILES = 8


class QuantileHead(nn.Module):
    """features → QUANTILES quantiles of the return per action; Q is their mean."""

    def __init__(self, features: int, actions: int):
        super().__init__()
        self.actions = actions
        self.linear = nn.Linear(features, actions * QUANTILES)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features).view(-1, self.actions, QUANTILES)

    def q_values(self, output: torch.Tensor) -> torch.Tensor:
        return output.mean(dim=-1)


class QRDQN(DQNAgent):
    """Quantile-regression DQN, as a test of the hooks."""

    def make_head(self, features: int) -> nn.Module:
        return QuantileHead(features, self.num_actions)

    def td_loss(self, batch) -> LossResult:
        rows = torch.arange(len(batch.actions), device=batch.actions.device)
        quantiles = self.q_network(batch.observations)[rows, batch.actions]  # (B, N)
        with torch.no_grad():
            following = self.target_network(batch.next_observations)  # (B, A, N)
            best = following.mean(dim=-1).argmax(dim=1)
            continues = batch.discounts * (1.0 - batch.terminated.float())
            targets = batch.rewards[:, None] + continues[:, None] * following[rows, best]
        errors = targets[:, None, :] - quantiles[:, :, None]  # (B, N quantiles, N targets)
        taus = (torch.arange(QUANTILES, dtype=quantiles.dtype, device=quantiles.device) + 0.5) / QUANTILES
        huber = F.smooth_l1_loss(
            quantiles[:, :, None].expand_as(errors), targets[:, None, :].expand_as(errors), reduction="none"
        )
        losses = ((taus[None, :, None] - (errors.detach() < 0).float()).abs() * huber).mean(dim=2).sum(dim=1)
        q_values = quantiles.mean(dim=1)
        return LossResult((batch.weights * losses).mean(), q_values, (targets.mean(dim=1) - q_values).detach())


@pytest.fixture
def qr_dqn():
    register("qr-dqn-test", DQNConfig, family="dqn")(QRDQN)
    yield "qr-dqn-test"
    del REGISTRY["qr-dqn-test"]


def test_a_distributional_subclass_acts_on_the_mean_of_its_quantiles(qr_dqn):
    config = build_config("dqn", "cartpole", values={"env.num_envs": 1})
    agent = registry()[qr_dqn].agent_class(config.agent, describe(config.env), 1_000, 0)
    observations = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    raw = agent.q_network(torch.as_tensor(observations))
    assert raw.shape == (5, 2, QUANTILES)
    np.testing.assert_allclose(agent.action_values(observations), raw.mean(-1).detach().numpy(), rtol=1e-6)
    greedy = agent.greedy_actions(observations, 0.0, np.random.default_rng(1))
    assert np.array_equal(greedy, raw.mean(-1).argmax(1).numpy())


def test_a_distributional_subclass_trains_through_the_registry(qr_dqn, tmp_path):
    preset = tmp_path / "qr.toml"
    preset.write_text(f'algo = "{qr_dqn}"\n[agent]\nlearning_starts = 100\nbatch_size = 32\n')
    result = rlkit.train(
        agent=str(preset),
        env="cartpole",
        steps=600,
        seed=1,
        run_dir=tmp_path,
        overrides={"train.eval_interval": 0, "train.final_eval_episodes": 2, "env.num_envs": 1},
    )
    assert result.evaluation["step"] == 600 and len(result.evaluation["returns"]) == 2
    weights = result.agent.agent.q_network.head.linear.weight
    assert weights.shape == (2 * QUANTILES, 128)  # the cartpole preset's [tuned.dqn] net_arch
    policy = rlkit.load(result.run_dir)  # a checkpoint of the variant loads back into the variant
    assert isinstance(policy.agent, QRDQN)
    assert torch.equal(policy.agent.q_network.head.linear.weight, weights.detach())


def test_dueling_refuses_a_variant_with_its_own_head(qr_dqn):
    from rlkit.errors import RlkitError

    config = build_config("dqn", "cartpole", values={"env.num_envs": 1, "dueling": True})
    with pytest.raises(RlkitError, match="dueling = true builds its own value and advantage streams.*make_head"):
        registry()[qr_dqn].agent_class(config.agent, describe(config.env), 1_000, 0)
