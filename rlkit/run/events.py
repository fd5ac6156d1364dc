"""TensorBoard event files, written in the training loop's own thread, without torch.

torch.utils.tensorboard.SummaryWriter imports torch (one to three seconds), which a Q-table run
never needs, and it hands every event to a writer thread: an env whose episodes end every few
steps then pays two thread switches per episode, several times the cost of writing the event.
This module writes TensorBoard's records (tensorboard.summary.writer.record_writer) to a
buffered file itself, flushed every few seconds and at close, and does the few things rlkit
asked of that layer: events at a step, a purge step for a resumed run, the Custom Scalars
layout, and PNG images.
"""

from __future__ import annotations

import io
import itertools
import os
import socket
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event, SessionLog, SourceMetadata
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

_FILES = itertools.count()  # tells apart two event files of one process opened in the same second


class EventWriter:
    """One event file in `run_dir`. `purge_step`: a resumed run's first step, before which the
    events of an earlier writer stay and from which TensorBoard drops them (the run restarts
    there from its checkpoint). Events reach the disk every `flush_secs` seconds and at close."""

    def __init__(self, run_dir: Path, purge_step: int | None = None, flush_secs: float = 10.0):
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_FILES)}"
        self.file = open(run_dir / name, "wb")  # noqa: SIM115 (closed by close())
        self.records = RecordWriter(self.file)
        self.flush_secs = flush_secs
        self.flushed = time.monotonic()
        self.add_event(
            Event(wall_time=time.time(), file_version="brain.Event:2", source_metadata=SourceMetadata(writer="rlkit"))
        )
        if purge_step is not None:  # what TensorBoard reads as "the events from here on are replaced"
            self.add_event(Event(step=purge_step, file_version="brain.Event:2"))
            self.add_event(Event(step=purge_step, session_log=SessionLog(status=SessionLog.START)))
        self.flush()

    def add_event(self, event: Event) -> None:
        self.records.write(event.SerializeToString())
        if time.monotonic() - self.flushed > self.flush_secs:
            self.flush()

    def add_summary(self, summary: Summary, step: int | None = None) -> None:
        event = Event(summary=summary, wall_time=time.time())
        if step is not None:
            event.step = int(step)
        self.add_event(event)

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
        self.file.flush()
        self.flushed = time.monotonic()

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()
