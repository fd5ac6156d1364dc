"""What a DQN-family network outputs per action, and the loss that teaches it.

A head reads the output layer of a Q network: one scalar Q per action (DQN), a categorical
distribution of the return over fixed atoms (C51, Bellemare et al. 2017), or quantiles of the
return (QR-DQN, Dabney et al. 2018). Heads hold no parameters: the network gives each action
`outputs` numbers (a plain output layer, or the dueling streams of that shape), the head shapes
them, turns them into Q values for acting (the mean of a distribution), and computes its loss
from a batch that is already preprocessed (normalised observations, n-step returns and their
discounts). Double Q is a choice of next action that every loss receives from one helper,
`next_actions`, so a new variant is a new head and nothing else.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from rlkit.replay.buffer import Batch


class LossResult(NamedTuple):
    """What a DQN loss returns: the scalar to minimise, Q(s, a) of the batch (for the
    train/q_mean metric) and one error per transition, detached, whose absolute values become
    prioritized replay's new priorities: the TD error for the Q head, the transition's own loss
    for the distributional heads."""

    loss: torch.Tensor
    q_values: torch.Tensor
    td_errors: torch.Tensor


def next_actions(next_target: torch.Tensor, next_online: torch.Tensor | None = None) -> torch.Tensor:
    """The action the target bootstraps from: argmax of the target network's Q values at s', or
    under Double Q (van Hasselt et al. 2016) of the online network's; both given as Q values
    (a distributional head's mean)."""
    chooser = next_target if next_online is None else next_online
    return chooser.argmax(dim=1)


def td_target(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    next_q_target: torch.Tensor,
    discounts: float | torch.Tensor,
    next_q_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """R + γ^m (1 − terminated) Q_target(s', a*), with a* from `next_actions` (the target's
    argmax, or under Double Q the online network's). R sums m rewards (m = 1 for one-step
    returns), so `discounts` is γ or the tensor of γ^m. Truncated transitions still bootstrap."""
    best = next_actions(next_q_target, next_q_online).unsqueeze(1)
    return rewards + discounts * (1.0 - terminated.float()) * next_q_target.gather(1, best).squeeze(1)


def continuation(batch: Batch) -> torch.Tensor:
    """γ^m (1 − terminated) per transition: what multiplies the bootstrapped return. Truncated
    transitions are not terminated and still bootstrap."""
    return batch.discounts * (1.0 - batch.terminated.float())


class Head(nn.Module):
    """How the output layer's numbers read: `outputs` per action, shaped by `shape`, read as Q
    values by `q_values`, and learned by `loss`. Subclasses hold no parameters (buffers only)."""

    outputs: int = 1

    def shape(self, raw: torch.Tensor) -> torch.Tensor:
        """(N, actions × outputs) → (N, actions, outputs)."""
        return raw.view(raw.shape[0], -1, self.outputs)

    def q_values(self, output: torch.Tensor) -> torch.Tensor:
        """(N, actions) expected returns from the shaped output."""
        raise NotImplementedError

    def loss(
        self, output: torch.Tensor, next_output: torch.Tensor, next_action: torch.Tensor, batch: Batch
    ) -> LossResult:
        """The batch's loss from the online output at s (with gradients) and the target
        network's output at s' (without), bootstrapping from `next_action`."""
        raise NotImplementedError


def _taken(output: torch.Tensor, next_output: torch.Tensor, next_action: torch.Tensor, batch: Batch):
    """A distributional head's numbers for the action taken at s, and the target network's for
    the next action at s': (N, outputs) each."""
    rows = torch.arange(len(batch.actions), device=batch.actions.device)
    return output[rows, batch.actions], next_output[rows, next_action]


class QHead(Head):
    """One Q value per action, learned with the Huber loss against
    R + γ^m (1 − terminated) Q_target(s', a*) (Mnih et al. 2015)."""

    def shape(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def q_values(self, output: torch.Tensor) -> torch.Tensor:
        return output

    def loss(
        self, output: torch.Tensor, next_output: torch.Tensor, next_action: torch.Tensor, batch: Batch
    ) -> LossResult:
        next_values = next_output.gather(1, next_action.unsqueeze(1)).squeeze(1)
        targets = batch.rewards + continuation(batch) * next_values
        q_values = output.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        losses = F.smooth_l1_loss(q_values, targets, reduction="none")
        return LossResult((batch.weights * losses).mean(), q_values, (targets - q_values).detach())


def categorical_projection(
    probabilities: torch.Tensor, rewards: torch.Tensor, continues: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """The distributional Bellman target of C51 (Bellemare et al. 2017, Algorithm 1): each atom
    z_j of the next state's distribution (probabilities p_j, shape (N, atoms)) moves to
    r + c z_j (c = γ^m (1 − terminated)), is clipped to [v_min, v_max] and split between its
    two neighbouring atoms in proportion to closeness. Returns (N, atoms) probabilities."""
    atoms = support.shape[0]
    v_min, v_max = support[0], support[-1]
    delta = (v_max - v_min) / (atoms - 1)
    moved = (rewards[:, None] + continues[:, None] * support[None, :]).clamp(v_min, v_max)
    position = ((moved - v_min) / delta).clamp(0, atoms - 1)  # clamped again: rounding may step past the end
    lower, upper = position.floor(), position.ceil()
    # an atom landing exactly on z_l (lower == upper) keeps all its mass there
    to_lower = probabilities * (upper - position + (lower == upper).to(position.dtype))
    to_upper = probabilities * (position - lower)
    projected = torch.zeros_like(probabilities)
    projected.scatter_add_(1, lower.long(), to_lower)
    projected.scatter_add_(1, upper.long(), to_upper)
    return projected


class CategoricalHead(Head):
    """C51 (Bellemare et al. 2017): per action, logits of a categorical distribution of the
    return over `atoms` fixed values evenly spaced on [v_min, v_max]; Q is its mean. Learned by
    the cross-entropy between the distribution of Q(s, a) and the projected distributional
    Bellman target built from the target network's distribution at (s', a*)."""

    def __init__(self, atoms: int, v_min: float, v_max: float):
        super().__init__()
        if atoms < 2:
            raise ValueError(f"a categorical head needs at least 2 atoms, got {atoms}")
        if not v_min < v_max:
            raise ValueError(f"a categorical head needs v_min < v_max, got [{v_min}, {v_max}]")
        self.outputs = atoms
        self.register_buffer("support", torch.linspace(v_min, v_max, atoms), persistent=False)

    def q_values(self, output: torch.Tensor) -> torch.Tensor:
        return (output.softmax(dim=-1) * self.support).sum(dim=-1)

    def loss(
        self, output: torch.Tensor, next_output: torch.Tensor, next_action: torch.Tensor, batch: Batch
    ) -> LossResult:
        logits, next_logits = _taken(output, next_output, next_action, batch)  # (N, atoms) each
        with torch.no_grad():
            next_probabilities = next_logits.softmax(dim=-1)
            targets = categorical_projection(next_probabilities, batch.rewards, continuation(batch), self.support)
        losses = -(targets * logits.log_softmax(dim=-1)).sum(dim=-1)
        q_values = (logits.detach().softmax(dim=-1) * self.support).sum(dim=-1)
        return LossResult((batch.weights * losses).mean(), q_values, losses.detach())


def quantile_huber_loss(quantiles: torch.Tensor, targets: torch.Tensor, kappa: float = 1.0) -> torch.Tensor:
    """QR-DQN's loss per transition (Dabney et al. 2018, eq. 10): for quantiles θ_i (N, n) at
    the midpoints τ̂_i = (2i + 1) / 2n and target samples T_j (N, n'), the sum over i of the
    mean over j of |τ̂_i − 1{u < 0}| L_κ(u) / κ, with u = T_j − θ_i and L_κ the Huber loss."""
    n = quantiles.shape[1]
    taus = (torch.arange(n, dtype=quantiles.dtype, device=quantiles.device) + 0.5) / n
    errors = targets[:, None, :] - quantiles[:, :, None]  # (N, n, n')
    huber = F.huber_loss(errors, torch.zeros_like(errors), reduction="none", delta=kappa)
    weights = (taus[None, :, None] - (errors.detach() < 0).to(quantiles.dtype)).abs()
    return (weights * huber / kappa).mean(dim=2).sum(dim=1)


class QuantileHead(Head):
    """QR-DQN (Dabney et al. 2018): per action, `quantiles` values of the return at the
    quantile midpoints; Q is their mean. Learned by the quantile Huber loss (κ = 1) against
    r + γ^m (1 − terminated) θ_j(s', a*) from the target network."""

    def __init__(self, quantiles: int):
        super().__init__()
        if quantiles < 2:
            raise ValueError(f"a quantile head needs at least 2 quantiles, got {quantiles}")
        self.outputs = quantiles

    def q_values(self, output: torch.Tensor) -> torch.Tensor:
        return output.mean(dim=-1)

    def loss(
        self, output: torch.Tensor, next_output: torch.Tensor, next_action: torch.Tensor, batch: Batch
    ) -> LossResult:
        quantiles, next_quantiles = _taken(output, next_output, next_action, batch)  # (N, n) each
        with torch.no_grad():
            targets = batch.rewards[:, None] + continuation(batch)[:, None] * next_quantiles
        losses = quantile_huber_loss(quantiles, targets)
        return LossResult((batch.weights * losses).mean(), quantiles.detach().mean(dim=1), losses.detach())
