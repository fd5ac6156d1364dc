"""What one run asks a Ray cluster for, from its resolved config: a CPU per env worker (async
and ALE vector envs step their envs in processes or threads of their own; sync ones in the
run's one process) and a GPU share when it trains on a GPU (`train.device = cuda`, or `auto`
on a cluster that has GPUs: resolved against the cluster's resources, not the driver's).

Ray (2.60 on) no longer hides the GPUs from a task that requests none, so a run that asks for
no GPU is told to train on the CPU, and one given a share trains on the GPU Ray assigns it
(`CUDA_VISIBLE_DEVICES`, which makes it `cuda`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rlkit.errors import RlkitError


@dataclass(frozen=True)
class Resources:
    """A run's request to Ray, and the device it then trains on."""

    cpus: float
    gpus: float
    device: str  # "cuda" (the GPU Ray assigns) or "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def ray_options(self) -> dict[str, float]:
        """As ray.remote's options take them."""
        return {"num_cpus": self.cpus, "num_gpus": self.gpus}

    def bundle(self) -> dict[str, float]:
        """As a Tune placement group bundle takes them."""
        return {"CPU": self.cpus, **({"GPU": self.gpus} if self.gpus else {})}


def env_cpus(config: Any) -> int:
    """CPUs the run's training envs keep busy: one per env for async and ALE vector envs, else one."""
    if config.env.vectorization in ("async", "ale") and config.env.num_envs > 1:
        return config.env.num_envs
    return 1


def check_gpu_share(share: float) -> float:
    """A GPU share Ray accepts: a fraction in (0, 1], or a whole number of GPUs."""
    if not share > 0 or (share > 1 and share != int(share)):
        raise RlkitError(f"--gpus-per-trial {share:g} is not valid; valid: a fraction in (0, 1] or a whole number")
    return float(share)


def default_gpu_share(cluster_gpus: float, concurrent: int, run_bytes: int = 0, gpu_bytes: int | None = None) -> float:
    """A run's GPU share when none is given: the cluster's GPUs shared evenly by the runs at
    once, at most one each; and, when a GPU's memory is known, never more runs on one GPU than
    fit in it by their own estimate (`run_bytes` each), so that Ray queues the rest."""
    share = min(1.0, cluster_gpus / max(1, concurrent))
    if gpu_bytes and run_bytes:
        fit = max(1, gpu_bytes // run_bytes)
        share = max(share, 1.0 / fit)
    return share


def run_resources(
    config: Any,
    cluster_gpus: float,
    gpu_share: float | None,
    concurrent: int,
    run_bytes: int = 0,
    gpu_bytes: int | None = None,
) -> Resources:
    """The request of a run of `config` on a cluster with `cluster_gpus` GPUs, `concurrent` such
    runs at once: `gpu_share` GPUs each, or by default `default_gpu_share` (with the run's GPU
    memory estimate `run_bytes` and a GPU's memory `gpu_bytes` when known). A CUDA run on a
    cluster without a GPU is refused."""
    device = config.train.device
    cpus = env_cpus(config)
    if device.startswith("cuda") and cluster_gpus <= 0:
        raise RlkitError(
            f"train.device = {device!r}, but no node of the Ray cluster has a GPU; valid: auto or cpu, "
            "or a cluster whose nodes have GPUs"
        )
    if device == "cpu" or (device == "auto" and cluster_gpus <= 0):
        return Resources(cpus, 0.0, "cpu")
    if gpu_share is not None:
        share = check_gpu_share(gpu_share)
    else:
        share = default_gpu_share(cluster_gpus, concurrent, run_bytes, gpu_bytes)
    if share > cluster_gpus:
        raise RlkitError(f"--gpus-per-trial {share:g}: the Ray cluster has {cluster_gpus:g} GPUs")
    return Resources(cpus, share, "cuda")
