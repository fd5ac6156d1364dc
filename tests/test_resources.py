"""What a run asks Ray for, from its resolved config (rlkit.run.resources); the sweep's plan of
every trial's request, recorded in sweep.json. The requests on a real Ray node that declares
GPUs are in tests/test_tune_ray.py."""

import pytest

from rlkit.config import build_config
from rlkit.errors import RlkitError
from rlkit.run.resources import Resources, default_gpu_share, run_resources
from rlkit.tune.sweep import plan_resources


def _config(*overrides):
    return build_config("dqn", "cartpole", 1000, 0, list(overrides))


def test_a_cpu_run_asks_for_no_gpu_and_trains_on_the_cpu():
    assert run_resources(_config("device=cpu"), cluster_gpus=4, gpu_share=None, concurrent=2) == Resources(
        1, 0.0, "cpu"
    )


def test_auto_follows_the_cluster_not_the_driver():
    assert run_resources(_config("device=auto"), 0, None, 4).device == "cpu"  # no GPU anywhere: the CPU, said
    on_gpus = run_resources(_config("device=auto"), 2, None, 8)
    assert on_gpus == Resources(1, 0.25, "cuda")  # 8 trials at once share the 2 GPUs evenly
    assert run_resources(_config("device=auto"), 2, None, 1).gpus == 1.0  # never more than one GPU by default


def test_a_given_gpu_share_is_taken_and_checked():
    assert run_resources(_config("device=cuda"), 2, 0.5, 8).gpus == 0.5
    assert run_resources(_config("device=cuda:1"), 4, 2, 1) == Resources(1, 2.0, "cuda")  # Ray assigns the GPUs
    with pytest.raises(RlkitError, match=r"--gpus-per-trial 1.5 is not valid; valid: a fraction in \(0, 1\]"):
        run_resources(_config("device=cuda"), 2, 1.5, 1)
    with pytest.raises(RlkitError, match="--gpus-per-trial 4: the Ray cluster has 2 GPUs"):
        run_resources(_config("device=cuda"), 2, 4, 1)


def test_a_cuda_run_on_a_cluster_without_gpus_is_refused():
    with pytest.raises(RlkitError, match="train.device = 'cuda', but no node of the Ray cluster has a GPU"):
        run_resources(_config("device=cuda"), 0, None, 1)


def test_env_workers_get_a_cpu_each():
    assert run_resources(_config("env.vectorization=async", "env.num_envs=4"), 0, None, 1).cpus == 4
    assert run_resources(_config("env.vectorization=sync", "env.num_envs=4"), 0, None, 1).cpus == 1


def test_the_sweep_records_each_trials_request():
    trials = [{"config": _config("device=auto", f"learning_rate={rate}").to_dict()} for rate in (1e-3, 1e-4)]
    sweep = {"request": {"concurrent": 2, "gpus_per_trial": None}, "trials": trials}
    plan_resources(sweep, cluster_gpus=1)
    assert [trial["resources"] for trial in sweep["trials"]] == [{"cpus": 1, "gpus": 0.5, "device": "cuda"}] * 2
    plan_resources(sweep, cluster_gpus=0)  # a resume on a cluster without GPUs: planned again
    assert {trial["resources"]["device"] for trial in sweep["trials"]} == {"cpu"}


def test_the_default_share_keeps_to_what_fits_a_gpus_memory():
    gib = 1 << 30
    assert default_gpu_share(1, 16) == 1 / 16  # memory unknown: shared evenly
    assert default_gpu_share(1, 16, run_bytes=10 * gib, gpu_bytes=80 * gib) == 1 / 8  # 8 fit: Ray queues the rest
    assert default_gpu_share(1, 16, run_bytes=100 * gib, gpu_bytes=80 * gib) == 1.0  # not even one fits: a GPU each
    assert default_gpu_share(4, 2, run_bytes=gib, gpu_bytes=80 * gib) == 1.0  # more GPUs than trials: one each
