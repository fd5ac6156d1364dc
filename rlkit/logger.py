"""TensorBoard scalars under fixed names, hyperparameters, and the console progress bar.

Metric names (stable; dashboards rely on them):
  rollout/episode_return, rollout/episode_length, rollout/episodes
  train/epsilon (or train/temperature), train/learning_rate, train/per_beta, train/loss, train/q_mean, train/grad_norm, train/td_error
  time/sps (environment steps per second), time/elapsed_s
  eval/return_mean, eval/return_std, eval/length_mean
"""

from __future__ import annotations

import io
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams
from tqdm import tqdm


def _hparam_value(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class Logger:
    """Writes scalars to the run folder's event files and keeps the progress bar up to date."""

    def __init__(
        self, run_dir: Path, total_steps: int, start_step: int = 0, progress: bool = True, label: str | None = None
    ):
        """`label` prefixes every console line (a seed of a group: `[seed 3]`)."""
        self.prefix = f"[{label}] " if label else ""
        # A resumed run drops the events written after its checkpoint (those of its step were
        # all logged before the checkpoint was saved), so the curves continue without doubles.
        self.writer = SummaryWriter(str(run_dir), purge_step=start_step + 1 if start_step else None)
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            unit="step",
            dynamic_ncols=True,
            disable=not progress,
            smoothing=0.1,
            desc=label,
        )
        self.recent_returns: deque[float] = deque(maxlen=20)
        self.last_step = start_step
        self.last_time = time.perf_counter()
        self.start_time = self.last_time

    def layout(self) -> None:
        """TensorBoard's Custom Scalars page: return, loss and Q, exploration and speed, with the
        training and evaluation returns on one chart."""
        self.writer.add_custom_scalars(
            {
                "rlkit": {
                    "return (training, evaluation)": ["Multiline", ["rollout/episode_return", "eval/return_mean"]],
                    "loss and Q": ["Multiline", ["train/loss", "train/q_mean", "train/td_error"]],
                    "exploration and learning rate": [
                        "Multiline",
                        ["train/epsilon", "train/temperature", "train/learning_rate"],
                    ],
                    "speed": ["Multiline", ["time/sps"]],
                }
            }
        )

    def scalars(self, values: dict[str, Any], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, float(value), step)

    def images(self, pictures: dict[str, Any], step: int) -> None:
        for name, picture in pictures.items():
            self.writer.add_image(f"eval/{name}", picture, step, dataformats="HWC")

    def video(self, tag: str, frames: Any, step: int, fps: int = 15) -> None:
        """Grayscale frames (T × H × W uint8) as an animated GIF in TensorBoard's images tab.
        (torch's add_video needs moviepy 1.x; Pillow, which TensorBoard already brings, writes GIFs.)"""
        from PIL import Image

        pictures = [Image.fromarray(frame) for frame in np.asarray(frames)]
        buffer = io.BytesIO()
        pictures[0].save(
            buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=int(1000 / fps), loop=0
        )
        height, width = pictures[0].height, pictures[0].width
        image = Summary.Image(height=height, width=width, colorspace=1, encoded_image_string=buffer.getvalue())
        self.writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def episode(self, episode_return: float, length: int, episodes: int, step: int) -> None:
        self.recent_returns.append(episode_return)
        self.scalars(
            {"rollout/episode_return": episode_return, "rollout/episode_length": length, "rollout/episodes": episodes},
            step,
        )

    def progress(self, values: dict[str, Any], step: int) -> None:
        """Log training values with the speed since the last call, and move the bar."""
        now = time.perf_counter()
        sps = (step - self.last_step) / max(now - self.last_time, 1e-9)
        self.scalars({**values, "time/sps": sps, "time/elapsed_s": now - self.start_time}, step)
        postfix = {"sps": f"{sps:,.0f}"}
        if self.recent_returns:
            postfix["return"] = f"{np.mean(self.recent_returns):.2f}"
        if "train/epsilon" in values:
            postfix["eps"] = f"{values['train/epsilon']:.3f}"
        if "train/temperature" in values:
            postfix["temp"] = f"{values['train/temperature']:.3g}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(step - self.last_step)
        self.last_step, self.last_time = step, now

    def hyperparameters(self, config: dict[str, dict[str, Any]], metrics: dict[str, float]) -> None:
        """Record the run's hyperparameters for TensorBoard's HParams tab."""
        flat = {
            f"{section}.{k}": _hparam_value(v)
            for section in ("env", "train", "agent")
            for k, v in config[section].items()
        }
        flat["algo"] = config["algo"]
        experiment, start, end = hparams(flat, metrics)
        for summary in (experiment, start, end):
            self.writer.file_writer.add_summary(summary)

    def message(self, text: str) -> None:
        self.bar.write(self.prefix + text)

    def close(self) -> None:
        self.bar.close()
        self.writer.flush()
        self.writer.close()
