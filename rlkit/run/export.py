"""`rlkit export`: a trained policy in a file that runs without rlkit.

A DQN-family network exports as ONNX or TorchScript: one input, `observation` (a batch, in the
env's own dtype: uint8 frames and grids as they come, vector observations as float32), one
output, `q_values` (batch × actions; a distributional head's mean). What the agent did to an
observation before its network (the running observation normaliser) is folded into the file,
and a noisy network exports its mean weights, as evaluation uses them; the greedy action is the
argmax of the output. A Q-table exports as `.npz`: the table, and how an observation becomes
its row (the discretizer's bin edges, for a binned env). Beside each file, `<file>.json` says
what it takes and gives.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.errors import RlkitError
from rlkit.lazy import lazy_import

torch = lazy_import("torch", globals())

FORMATS = {"onnx": ".onnx", "torchscript": ".pt", "npz": ".npz"}
NETWORK_FORMATS = ("onnx", "torchscript")


def _q_values_module(agent: Any) -> Any:
    """The agent's network as a module from raw observations to Q values."""
    from torch import nn

    class QValues(nn.Module):
        def __init__(self, network: nn.Module, normalizer: nn.Module | None):
            super().__init__()
            self.network, self.normalizer = network, normalizer

        def forward(self, observation: torch.Tensor) -> torch.Tensor:
            if self.normalizer is not None:
                observation = self.normalizer(observation)
            return self.network.q_values(observation)

    agent.online_noise.on(False)  # a noisy network's mean weights, as evaluation uses them
    return QValues(agent.q_network, agent.normalizer).cpu().eval()


def _example(env_info: dict[str, Any], batch: int = 2) -> Any:
    """A batch of observations of the env's shape and dtype."""
    shape = (batch, *env_info["observation_shape"])
    if env_info.get("num_states") is not None:
        return torch.zeros(shape, dtype=torch.int64)
    return torch.zeros(shape, dtype=getattr(torch, env_info["observation_dtype"]))


def _discretizer_edges(config: Any) -> list[np.ndarray] | None:
    """The bin edges of a binned env, as its Discretizer computes them; None without bins."""
    if not config.env.bins:
        return None
    from rlkit.envs import Discretizer, make_env

    env = make_env(config.env, training=False)
    try:
        wrapper = env
        while not isinstance(wrapper, Discretizer):
            wrapper = wrapper.env
        return [np.asarray(edges, dtype=np.float64) for edges in wrapper.edges]
    finally:
        env.close()


def default_out(run_dir: Path, format: str, best: bool) -> Path:
    return run_dir / f"policy{'-best' if best else ''}{FORMATS[format]}"


def export(path: str | Path, format: str = "onnx", out: str | Path | None = None, best: bool = False) -> Path:
    """Write the policy of a run folder (its latest checkpoint, or its best with best=True) or of
    a checkpoint folder to `out` (default: `policy.onnx`, `policy.pt` or `policy.npz` in the run
    folder), with `<out>.json` beside it; returns `out`. `format`: onnx or torchscript for the
    DQN family, npz for a Q-table. An existing file is never replaced."""
    from rlkit.run import checkpoint
    from rlkit.run.evaluation import load_agent

    if format not in FORMATS:
        raise RlkitError(f"unknown export format {format!r}; valid: {', '.join(FORMATS)}")
    folder = checkpoint.find(Path(path), best=best)
    agent, config, env_info, meta = load_agent(folder)
    is_table = hasattr(agent, "q_table")
    if is_table and format != "npz":
        raise RlkitError(f"{config.agent_name} keeps a Q-table, not a network; export it with --format npz")
    if not is_table and format == "npz":
        raise RlkitError(f"{config.agent_name} is a network; export it with --format onnx or --format torchscript")
    run_dir = folder.parent.parent if folder.parent.name == "checkpoints" else folder
    out = Path(out) if out is not None else default_out(run_dir, format, best)
    card = out.with_name(out.name + ".json")
    for target in (out, card):
        if target.exists():
            raise RlkitError(f"{target} exists; give another --out (an export never replaces a file)")
    if not out.parent.is_dir():
        raise RlkitError(f"{out.parent}: no such folder for --out")
    description = {
        "format": format,
        "agent": config.agent_name,
        "algo": config.algo,
        "env_id": config.env.id,
        "checkpoint": str(folder),
        "step": meta.get("step"),
        "num_actions": env_info["num_actions"],
        "action_names": env_info.get("action_names"),
    }
    if is_table:
        arrays = {"q_table": np.asarray(agent.q_table)}
        edges = _discretizer_edges(config)
        if edges is None:
            encoding = "the observation is the state: q_table[observation] holds its action values"
        else:
            arrays |= {f"edges_{i}": e for i, e in enumerate(edges)} | {"bins": np.asarray(config.env.bins)}
            encoding = (
                "each dimension d of the observation goes to bin searchsorted(edges_d, x_d, side='right'); "
                "the state is numpy.ravel_multi_index(the bins, bins) (row-major)"
            )
        np.savez(out, **arrays)
        description |= {"arrays": sorted(arrays), "state": encoding, "greedy_action": "argmax of q_table[state]"}
    else:
        description |= _export_network(agent, env_info, format, out)
    card.write_text(json.dumps(description, indent=2) + "\n")
    return out


def _export_network(agent: Any, env_info: dict[str, Any], format: str, out: Path) -> dict[str, Any]:
    module, example = _q_values_module(agent), _example(env_info)
    dtype = "int64" if env_info.get("num_states") is not None else env_info["observation_dtype"]
    quiet = logging.getLogger("torch.onnx")  # its exporter logs what it skips (torchvision's ops)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _write_network(module, example, format, out)
    finally:
        quiet.setLevel(level)
    return {
        "input": {"name": "observation", "dtype": dtype, "shape": ["batch", *env_info["observation_shape"]]},
        "output": {"name": "q_values", "dtype": "float32", "shape": ["batch", env_info["num_actions"]]},
        "preprocessing": (
            "none: give observations as the env gives them"
            + (" (frames and grids as uint8; the network scales them)" if env_info["kind"] in ("pixel", "grid") else "")
            + ("; the observation normaliser is folded in" if agent.normalizer is not None else "")
        ),
        "greedy_action": "argmax of q_values",
    }


def _write_network(module: Any, example: Any, format: str, out: Path) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if format == "torchscript":
            torch.jit.trace(module, example).save(str(out))
        else:
            try:
                import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
            except ImportError:
                raise RlkitError("ONNX export needs the export extra: pip install 'rlkit[export]'") from None
            batch = torch.export.Dim("batch")
            torch.onnx.export(
                module,
                (example,),
                str(out),
                input_names=["observation"],
                output_names=["q_values"],
                dynamic_shapes=({0: batch},),
                dynamo=True,
                verbose=False,
            )
