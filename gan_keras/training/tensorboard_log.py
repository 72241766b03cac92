"""TensorBoard logs of a run: scalars at every CSV row, generated and real grids at every save.

Events are flushed as they are written, so after a crash the logs hold at least
everything up to the last checkpoint; :func:`rewind` then drops what came after it, so
a resumed run continues the curves with no gap and no duplicate.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from tensorboard.compat.proto.event_pb2 import Event  # the event record's protocol buffer, from tensorboard itself

from gan_keras.files import atomic_path

TENSORBOARD_DIR = "tensorboard"


class TensorBoardLog:
    """A tf.summary writer in RUN_DIR/tensorboard (``tensorboard --logdir RUN_DIR``)."""

    def __init__(self, run_dir: str):
        self._tf = tf
        self.writer = tf.summary.create_file_writer(os.path.join(run_dir, TENSORBOARD_DIR))

    def scalars(self, iteration: int, values: dict[str, float]) -> None:
        with self.writer.as_default(step=iteration):
            for name, value in values.items():
                self._tf.summary.scalar(name, value)

    def grids(self, iteration: int, generated: np.ndarray, real: np.ndarray) -> None:
        """uint8 grid images, (H, W) or (H, W, 3), of the fixed-noise samples and of real training images."""
        with self.writer.as_default(step=iteration):
            for name, grid in (("generated (fixed noise)", generated), ("real", real)):
                self._tf.summary.image(name, (grid[..., np.newaxis] if grid.ndim == 2 else grid)[np.newaxis])

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def rewind(run_dir: str, iteration: int) -> None:
    """Rewrite the run's event files without events after ``iteration`` (and without a torn last record)."""
    folder = os.path.join(run_dir, TENSORBOARD_DIR)
    if not os.path.isdir(folder):
        return
    for name in sorted(os.listdir(folder)):
        if not name.startswith("events.out.tfevents"):
            continue
        path = os.path.join(folder, name)
        kept = []
        try:
            for record in tf.data.TFRecordDataset(path):
                event = Event.FromString(record.numpy())
                if not event.HasField("summary") or event.step <= iteration:
                    kept.append(record.numpy())
        except tf.errors.DataLossError:
            pass  # a record cut short by a kill: everything before it is kept
        with atomic_path(path) as partial:
            with tf.io.TFRecordWriter(partial) as writer:
                for record in kept:
                    writer.write(record)


def read_scalars(run_dir: str) -> list[tuple[int, str, float]]:
    """(step, tag, value) of every scalar in the run's event files, in file order."""
    folder = os.path.join(run_dir, TENSORBOARD_DIR)
    found = []
    for name in sorted(os.listdir(folder)):
        for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
            event = Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    found.append((event.step, value.tag, float(tf.make_ndarray(value.tensor))))
    return found
