"""Running normalisation of vector observations, kept with the agent so checkpoints carry it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class RunningNormalizer(nn.Module):
    """(x − mean) / √(var + 1e-8), clipped to ±clip, with the mean and variance of every
    observation seen in training (merged batch by batch: Chan, Golub and LeVeque 1979).
    Statistics are float64 buffers, so they travel in the state dict and checkpoints."""

    def __init__(self, shape: Sequence[int], clip: float = 10.0):
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(tuple(shape), dtype=torch.float64))
        self.register_buffer("var", torch.ones(tuple(shape), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, observations: np.ndarray) -> None:
        """Merge a batch (first dimension: samples) into the running statistics."""
        batch = torch.as_tensor(np.asarray(observations), dtype=torch.float64, device=self.mean.device)
        batch_count = batch.shape[0]
        batch_mean = batch.mean(dim=0)
        batch_var = batch.var(dim=0, unbiased=False)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        squares = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        self.mean += delta * batch_count / total
        self.var.copy_(squares / total)
        self.count.copy_(total)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        scale = torch.sqrt(self.var + 1e-8).float()
        return ((observations.float() - self.mean.float()) / scale).clamp(-self.clip, self.clip)
