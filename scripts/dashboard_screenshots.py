"""Screenshots of TensorBoard's dashboards for the documentation, taken in a headless browser.

    python scripts/dashboard_screenshots.py --out docs/dashboards [--runs DIR] [--browser chromium]

Without --runs it first trains three short runs into a temporary folder, one of each kind the
dashboards must show together: DQN on CartPole (dqn-fast, 20k steps), Q-learning on Taxi
(200k steps) and DQN on MinAtar Breakout (dqn-minatar-fast, 50k steps, with the minatar extra).
Then it serves TensorBoard on a free local port (`rlkit board`'s server) and has a headless
Chromium (or Chrome) load each dashboard and save it as a PNG: custom_scalars.png,
hparams.png, timeseries.png, images.png. The browser is not a Python package: install it from
your system's packages (Debian: apt-get install chromium). Not run by the tests.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = [
    ("dqn-fast", "cartpole", 20_000),
    ("qlearning", "taxi", 200_000),
    ("dqn-minatar-fast", "minatar-breakout", 50_000),
]
PAGES = {"custom_scalars": "custom_scalars", "hparams": "hparams", "timeseries": "timeseries", "images": "images"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_runs(root: Path) -> None:
    for agent, env, steps in RUNS:
        command = ["rlkit", "train", "--agent", agent, "--env", env, "--steps", str(steps), "--seed", "1"]
        command += ["--set", f"eval_interval={steps // 4}", "--run-dir", str(root), "--no-progress"]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)


def screenshot(browser: str, url: str, out: Path, width: int, height: int) -> None:
    command = [
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        "--virtual-time-budget=20000",  # TensorBoard's pages load their data after the page itself
        f"--screenshot={out}",
        url,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    print(f"{out}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--runs", type=Path, help="a runs folder to show (default: train three short runs)")
    parser.add_argument("--browser", default=None, help="Chromium or Chrome executable (default: found on PATH)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()

    browser = args.browser or next(
        (name for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )
    if browser is None:
        print("no Chromium or Chrome on PATH; install one (Debian: apt-get install chromium) or give --browser", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        runs = args.runs
        if runs is None:
            runs = Path(temporary) / "runs"
            train_runs(runs)
        from rlkit.board import start_board

        address = start_board(runs, port=free_port())
        for name, page in PAGES.items():
            screenshot(browser, f"{address.rstrip('/')}/#{page}", args.out / f"{name}.png", args.width, args.height)
    return 0


if __name__ == "__main__":
    sys.exit(main())
