"""Bit-identical runs on a GPU: torch's deterministic kernels, under `train.deterministic`.

On the CPU a run is bit-identical from its seed without them. On CUDA some kernels add up in an
order that changes from run to run (the backward pass of `gather`, which the TD loss takes Q(s, a)
with; cuBLAS's split reductions), and cuDNN picks its convolution algorithms by timing them, so
two runs of one seed agree closely but not bit for bit. Deterministic kernels remove both, at
some cost in speed."""

from __future__ import annotations

import os
import warnings

import torch

CUBLAS_WORKSPACE = ":4096:8"  # the cuBLAS workspace setting that makes its reductions deterministic


def use_deterministic_kernels(enabled: bool) -> None:
    """With `enabled`, every later torch kernel of this process deterministic (the switch is
    process-wide; an op without a deterministic kernel raises instead of running). Without, nothing
    changes. CUBLAS_WORKSPACE_CONFIG counts only if set before the process's first CUDA work."""
    if not enabled:
        return
    if torch.cuda.is_initialized() and "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
        warnings.warn(
            f"train.deterministic: CUDA was in use before this run, so cuBLAS may not see "
            f"CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE}; set it in the environment before starting Python",
            stacklevel=2,
        )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
