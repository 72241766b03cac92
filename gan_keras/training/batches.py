"""Where every training iteration's inputs come from: one ``tf.data`` pipeline for every loop and strategy.

Iteration ``t``'s global batch is a pure function of (seed, t): ``batch_size`` training
images drawn uniformly with replacement (as the notebook's ``randint`` does; for Stacked
MNIST three digits per image, stacked as its channels), the
noise for D's fake batch and for G's update, and, for a conditional run, random
classes for both fake batches. Stateless random ops make it so, which gives:

* exact resume for free: a resumed run restarts the pipeline at ``start + 1``;
* the same maths under every strategy: the global batch never depends on how many
  replicas share it, each replica takes its own contiguous slice of it;
* sharding without waste: each input pipeline (one per worker) draws only the
  indices and noise (a few kB), and gathers and scales only its own replicas' images;
* no host round trip: the fast step draws its replica's slice inside its compiled
  function (:class:`InGraphBatches`), several iterations per call, with the very ops
  the pipeline below runs, so both give the same batches bit for bit.

Images stay uint8 until they are gathered. Small image arrays are held as tensors in host memory; large
ones, and prepared data's memory-mapped files, stay where they are, and a batch's rows are read from them
on the host (:class:`ImageRows`): the same bytes either way.

The pipeline is handed to ``strategy.distribute_datasets_from_function``, so no
auto-sharding policy applies: the sharding above is explicit, by input pipeline id.
Auto-sharding by FILE needs one file per worker (MNIST is one array in memory) and by
DATA would make every worker build the whole global batch and drop most of it.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from gan_keras.data import scale_images

STREAMS = {"chosen": 0, "noise_d": 1, "noise_g": 2, "fake_classes": 3}
# Every pixel value's scaled float, looked up rather than computed, so that no graph
# optimizer can turn the division into another rounding (the same numbers everywhere).
SCALED_PIXELS = scale_images(np.arange(256, dtype=np.uint8)).reshape(256)
IN_GRAPH_BYTES = 256 * 2**20  # image arrays up to this size are held as a tensor; larger ones are read by rows


class ImageRows:
    """The training images' rows by index, inside a compiled function: gathered from a tensor held in host memory
    (up to IN_GRAPH_BYTES), or else on the host (``tf.numpy_function``): a memory-mapped file's rows are read
    from the file (:class:`FileRows`), so that a long run's memory never grows with the pages it has touched."""

    def __init__(self, images: np.ndarray, stack: int = 1):
        self.shape, self.held, self.rows, self.stack = tuple(images.shape[1:]), None, None, stack
        if images.nbytes <= IN_GRAPH_BYTES:
            with tf.device("/cpu:0"):
                self.held = tf.constant(np.asarray(images))
        elif isinstance(images, np.memmap) and images.filename:
            self.rows = FileRows(images)
        else:
            self.rows = lambda chosen: images[chosen]

    def __call__(self, indices) -> tf.Tensor:
        """The images of ``indices`` (n,), or, stacked, of ``indices`` (n, stack): each image's ``stack`` rows as
        its channels (Stacked MNIST: three digits as R, G and B)."""
        flat = tf.reshape(indices, [-1])
        if self.held is not None:
            rows = tf.gather(self.held, flat)
        else:
            rows = tf.numpy_function(lambda chosen: np.asarray(self.rows(np.asarray(chosen))), [flat], tf.uint8)
            rows = tf.ensure_shape(rows, [None, *self.shape])
        if self.stack == 1:
            return rows
        height, width = self.shape[:2]
        stacked = tf.reshape(tf.cast(rows, tf.int32), [-1, self.stack, height, width])  # oneDNN transposes no uint8
        return tf.cast(tf.transpose(stacked, [0, 2, 3, 1]), tf.uint8)

    def labels(self, labels, indices):
        """The classes of ``indices``' images: a stacked image's digits read as one number (Stacked MNIST's 1,000
        modes: 100 x R's + 10 x G's + B's)."""
        picked = tf.gather(labels, indices)
        if self.stack == 1:
            return picked
        return tf.reduce_sum(picked * tf.constant([10**k for k in reversed(range(self.stack))], tf.int64), axis=-1)


class FileRows:
    """Rows of a memory-mapped uint8 .npy read with ``os.pread``: pages read this way are the file system's cache,
    never this process's resident memory, which a memory map's pages (and its read-ahead) would become."""

    def __init__(self, images: np.memmap):
        self.shape, self.offset = tuple(images.shape[1:]), images.offset
        self.row_bytes = int(np.prod(self.shape)) * images.dtype.itemsize
        self.descriptor = os.open(images.filename, os.O_RDONLY)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self.descriptor, 0, 0, os.POSIX_FADV_RANDOM)

    def __call__(self, chosen: np.ndarray) -> np.ndarray:
        rows = np.empty((len(chosen), *self.shape), np.uint8)
        for place, index in enumerate(chosen):
            data = os.pread(self.descriptor, self.row_bytes, self.offset + int(index) * self.row_bytes)
            rows[place] = np.frombuffer(data, np.uint8).reshape(self.shape)
        return rows

    def __del__(self):
        try:
            os.close(self.descriptor)
        except (OSError, AttributeError):
            pass


def _key(seed: int, stream: str, iteration):
    return tf.stack([tf.constant(seed * len(STREAMS) + STREAMS[stream], tf.int64), tf.cast(iteration, tf.int64)])


def global_batch(seed: int, iteration, count: int, batch_size: int, latent_dim: int,
                 classes: int | None, stack: int = 1) -> dict:
    """Iteration ``iteration``'s draws for the whole global batch (indices, not yet images): one training image
    per real image, or ``stack`` of them, to be stacked as its channels."""
    shape = [batch_size] if stack == 1 else [batch_size, stack]
    draws = {
        "chosen": tf.random.stateless_uniform(shape, _key(seed, "chosen", iteration), 0, count, tf.int64),
        "noise_d": tf.random.stateless_normal([batch_size, latent_dim], _key(seed, "noise_d", iteration)),
        "noise_g": tf.random.stateless_normal([batch_size, latent_dim], _key(seed, "noise_g", iteration)),
    }
    if classes:
        draws["fake_classes"] = tf.random.stateless_uniform([2, batch_size], _key(seed, "fake_classes", iteration),
                                                            0, classes, tf.int64)
    return draws


def replica_batches(draws: dict, images: ImageRows, labels, first: int, local: int, per_replica: int,
                    classes: int | None) -> dict:
    """The slices of the global batch for replicas ``first`` .. ``first + local - 1``, stacked."""
    def mine(values, axis=0):
        begin = first * per_replica
        picked = tf.gather(values, tf.range(begin, begin + local * per_replica), axis=axis)
        return picked

    chosen = mine(draws["chosen"])
    real = tf.gather(SCALED_PIXELS, tf.cast(images(chosen), tf.int32))
    batch = {"real": real, "noise_d": mine(draws["noise_d"]), "noise_g": mine(draws["noise_g"])}
    if classes:
        fake = mine(draws["fake_classes"], axis=1)
        batch["classes_real"] = tf.one_hot(images.labels(labels, chosen), classes)
        batch["classes_d"] = tf.one_hot(fake[0], classes)
        batch["classes_g"] = tf.one_hot(fake[1], classes)
    return {name: tf.reshape(value, [local, per_replica, *value.shape[1:]]) for name, value in batch.items()}


class InGraphBatches:
    """The run's batches as a function of the iteration, for use inside a compiled step.

    The training images (uint8, read through :class:`ImageRows`) and labels (a tensor in host memory):
    a call gathers and scales one replica's slice of iteration ``t``'s global batch.
    """

    def __init__(self, x_train: np.ndarray, y_train: np.ndarray, seed: int, batch_size: int, latent_dim: int,
                 classes: int | None, replicas: int = 1, stack: int = 1):
        self.images, self.stack = ImageRows(x_train, stack), stack
        with tf.device("/cpu:0"):
            self.labels = tf.constant(np.asarray(y_train, np.int64))
        self.seed, self.count, self.batch_size, self.latent_dim = seed, len(x_train), batch_size, latent_dim
        self.classes, self.per_replica = classes, batch_size // replicas

    def replica_slice(self, iteration, replica) -> dict:
        """Replica ``replica``'s slice of iteration ``iteration``'s global batch (tensors)."""
        draws = global_batch(self.seed, iteration, self.count, self.batch_size, self.latent_dim, self.classes,
                             self.stack)
        batch = replica_batches(draws, self.images, self.labels, replica, 1, self.per_replica, self.classes)
        return {name: value[0] for name, value in batch.items()}


def batch_stream(strategy, x_train: np.ndarray, y_train: np.ndarray, seed: int, start: int, stop: int,
                 batch_size: int, latent_dim: int, classes: int | None, stack: int = 1):
    """An iterator over iterations ``start + 1`` .. ``stop``: each element one global batch, distributed.

    Under the default strategy an element is a dict of tensors; under a distributed
    one, of per-replica values that ``strategy.run`` hands out.
    """
    replicas = strategy.num_replicas_in_sync
    per_replica = batch_size // replicas

    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local
        images, labels = ImageRows(x_train, stack), tf.constant(np.asarray(y_train, np.int64))

        def batches(iteration):
            draws = global_batch(seed, iteration, len(x_train), batch_size, latent_dim, classes, stack)
            return replica_batches(draws, images, labels, first, local, per_replica, classes)

        options = tf.data.Options()
        options.deterministic = True
        dataset = tf.data.Dataset.range(start + 1, stop + 1).map(batches).unbatch().prefetch(2 * local)
        return dataset.with_options(options)

    return iter(strategy.distribute_datasets_from_function(pipeline))
