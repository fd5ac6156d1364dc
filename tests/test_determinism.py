"""train.deterministic: torch's deterministic kernels for a run (a process-wide switch, which
each test here puts back), and a seeded run on the CPU bit-identical with and without it."""

import os

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from rlkit.config import build_config
from rlkit.determinism import CUBLAS_WORKSPACE
from rlkit.run import checkpoint
from rlkit.run.trainer import Run, new_run_dir

SETTINGS = ["learning_starts=50", "batch_size=16", "net_arch=[16]", "eval_interval=0", "final_eval_episodes=2"]


@pytest.fixture(autouse=True)
def torch_switches(monkeypatch):
    """torch's deterministic switches and CUBLAS_WORKSPACE_CONFIG as they were, after the test."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    cudnn = torch.backends.cudnn
    saved = torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.deterministic
    yield
    torch.use_deterministic_algorithms(saved[0])
    cudnn.benchmark, cudnn.deterministic = saved[1:]


def _config(deterministic: bool):
    return build_config("dqn", "cartpole", 600, 5, [*SETTINGS, f"train.deterministic={str(deterministic).lower()}"])


def _final_weights(tmp_path, deterministic: bool) -> dict[str, np.ndarray]:
    config = _config(deterministic)
    run_dir = new_run_dir(config, tmp_path)
    Run(config, progress=False).train(run_dir)
    return load_file(str(checkpoint.find(run_dir) / "tensors.safetensors"))


def test_deterministic_switches_torch_to_deterministic_kernels():
    Run(_config(True), progress=False)
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE


def test_without_it_nothing_is_switched():
    torch.use_deterministic_algorithms(False)
    Run(_config(False), progress=False)
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_seeded_cpu_run_is_identical_with_and_without_it(tmp_path):
    plain = _final_weights(tmp_path / "plain", False)
    strict = _final_weights(tmp_path / "strict", True)
    again = _final_weights(tmp_path / "again", True)
    assert plain.keys() == strict.keys() == again.keys()
    for name in plain:
        np.testing.assert_array_equal(strict[name], again[name], err_msg=name)
        np.testing.assert_array_equal(plain[name], strict[name], err_msg=name)
