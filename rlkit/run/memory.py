"""Will a run fit? The memory its agent allocates (replay, networks, table), estimated before
anything is built, against what the machine has available now: a run too big is refused in one
line before its folder exists, instead of failing (or being killed) later."""

from __future__ import annotations

import os
from pathlib import Path

from rlkit.agents.base import MemoryNeed
from rlkit.errors import RlkitError

GIB = 1 << 30


def available_host_bytes() -> int | None:
    """Memory the host can give new allocations without swapping (MemAvailable), or None when
    the platform does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def available_device_bytes(device: str) -> int | None:
    """Free memory of a CUDA device, or None for the CPU."""
    if not device.startswith("cuda"):
        return None
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return int(free)


def _size(nbytes: float) -> str:
    return f"{nbytes / GIB:.1f} GiB" if nbytes >= GIB / 10 else f"{nbytes / (1 << 20):.1f} MiB"


def check_fits(needs: dict[str, MemoryNeed], device: str, runs_at_once: int = 1) -> None:
    """Refuse a run (or `runs_at_once` runs together: a seed group's workers) whose estimated
    memory exceeds what the host, or the GPU for what lives there, has available."""
    places = [("host", False, available_host_bytes()), (device, True, available_device_bytes(device))]
    for place, on_device, available in places:
        parts = {name: need.nbytes * runs_at_once for name, need in needs.items() if need.on_device == on_device}
        total = sum(parts.values())
        if available is None or total <= available:
            continue
        biggest = max(parts, key=parts.get)
        what = ", ".join(f"{name} {_size(nbytes)}" for name, nbytes in parts.items())
        runs = f" for {runs_at_once} runs at once" if runs_at_once > 1 else ""
        fewer = " or fewer --workers" if runs_at_once > 1 else ""
        hint = {
            "replay": "a smaller agent.buffer_size",
            "networks": "a smaller agent.net_arch",
            "activations": "a smaller agent.net_arch or agent.batch_size",
            "Q-table": "fewer states (env.bins)",
        }.get(biggest, f"a smaller {biggest}")
        raise RlkitError(
            f"this run needs {_size(total)} of {place} memory{runs} ({what}), {_size(available)} available; "
            f"choose {hint}{fewer}"
        )
