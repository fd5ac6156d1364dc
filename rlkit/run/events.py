"""TensorBoard event files written with TensorBoard's own writer, without torch.

torch.utils.tensorboard.SummaryWriter is a thin layer over TensorBoard's EventFileWriter, but
importing it imports torch (one to three seconds), which a Q-table run never needs. This module
does the few things rlkit asked of that layer: events at a step, a purge step for a resumed run,
the Custom Scalars layout, and PNG images.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


class EventWriter:
    """One event file in `run_dir`. `purge_step`: a resumed run's first step, before which the
    events of an earlier writer stay and from which TensorBoard drops them (the run restarts
    there from its checkpoint). `max_queue`: events the writer's thread may hold before
    `add_summary` waits on it."""

    def __init__(self, run_dir: Path, purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120):
        self.writer = EventFileWriter(str(run_dir), max_queue, flush_secs)
        if purge_step is not None:  # what TensorBoard reads as "the events from here on are replaced"
            self.writer.add_event(Event(step=purge_step, file_version="brain.Event:2"))
            self.writer.add_event(Event(step=purge_step, session_log=SessionLog(status=SessionLog.START)))

    def add_summary(self, summary: Summary, step: int | None = None) -> None:
        event = Event(summary=summary, wall_time=time.time())
        if step is not None:
            event.step = int(step)
        self.writer.add_event(event)

    def custom_scalars(self, layout: dict[str, dict[str, list[str]]]) -> None:
        """The Custom Scalars page: {category: {chart title: [tags]}}, one multiline chart each."""
        categories = [
            layout_pb2.Category(
                title=category,
                chart=[
                    layout_pb2.Chart(title=title, multiline=layout_pb2.MultilineChartContent(tag=tags))
                    for title, tags in charts.items()
                ],
            )
            for category, charts in layout.items()
        ]
        tensor = TensorProto(
            dtype="DT_STRING",
            string_val=[layout_pb2.Layout(category=categories).SerializeToString()],
            tensor_shape=TensorShapeProto(),
        )
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="custom_scalars"))
        self.add_summary(
            Summary(value=[Summary.Value(tag="custom_scalars__config__", tensor=tensor, metadata=metadata)])
        )

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        """An H × W × 3 (or × 1) uint8 picture as a PNG in the Images tab."""
        from PIL import Image

        picture = np.asarray(picture)
        if picture.dtype != np.uint8 or picture.ndim != 3:
            raise ValueError(f"image {tag}: an H × W × C uint8 array is expected, got {picture.dtype} {picture.shape}")
        buffer = io.BytesIO()
        Image.fromarray(picture.squeeze(-1) if picture.shape[-1] == 1 else picture).save(buffer, format="PNG")
        height, width, channels = picture.shape
        encoded = Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=buffer.getvalue())
        self.add_summary(Summary(value=[Summary.Value(tag=tag, image=encoded)]), step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
