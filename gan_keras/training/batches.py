"""Where every training iteration's inputs come from: one ``tf.data`` pipeline for every loop and strategy.

Iteration ``t``'s global batch is a pure function of (seed, t): ``batch_size`` training
images drawn uniformly with replacement (as the notebook's ``randint`` does), the
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

The pipeline is handed to ``strategy.distribute_datasets_from_function``, so no
auto-sharding policy applies: the sharding above is explicit, by input pipeline id.
Auto-sharding by FILE needs one file per worker (MNIST is one array in memory) and by
DATA would make every worker build the whole global batch and drop most of it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gan_keras.data import scale_images

STREAMS = {"chosen": 0, "noise_d": 1, "noise_g": 2, "fake_classes": 3}
# Every pixel value's scaled float, looked up rather than computed, so that no graph
# optimizer can turn the division into another rounding (the same numbers everywhere).
SCALED_PIXELS = scale_images(np.arange(256, dtype=np.uint8)).reshape(256)


def _key(seed: int, stream: str, iteration):
    return tf.stack([tf.constant(seed * len(STREAMS) + STREAMS[stream], tf.int64), tf.cast(iteration, tf.int64)])


def global_batch(seed: int, iteration, count: int, batch_size: int, latent_dim: int,
                 classes: int | None) -> dict:
    """Iteration ``iteration``'s draws for the whole global batch (indices, not yet images)."""
    draws = {
        "chosen": tf.random.stateless_uniform([batch_size], _key(seed, "chosen", iteration), 0, count, tf.int64),
        "noise_d": tf.random.stateless_normal([batch_size, latent_dim], _key(seed, "noise_d", iteration)),
        "noise_g": tf.random.stateless_normal([batch_size, latent_dim], _key(seed, "noise_g", iteration)),
    }
    if classes:
        draws["fake_classes"] = tf.random.stateless_uniform([2, batch_size], _key(seed, "fake_classes", iteration),
                                                            0, classes, tf.int64)
    return draws


def replica_batches(draws: dict, images, labels, first: int, local: int, per_replica: int,
                    classes: int | None) -> dict:
    """The slices of the global batch for replicas ``first`` .. ``first + local - 1``, stacked."""
    def mine(values, axis=0):
        begin = first * per_replica
        picked = tf.gather(values, tf.range(begin, begin + local * per_replica), axis=axis)
        return picked

    chosen = mine(draws["chosen"])
    real = tf.gather(SCALED_PIXELS, tf.cast(tf.gather(images, chosen), tf.int32))
    batch = {"real": real[..., tf.newaxis], "noise_d": mine(draws["noise_d"]), "noise_g": mine(draws["noise_g"])}
    if classes:
        fake = mine(draws["fake_classes"], axis=1)
        batch["classes_real"] = tf.one_hot(tf.gather(labels, chosen), classes)
        batch["classes_d"] = tf.one_hot(fake[0], classes)
        batch["classes_g"] = tf.one_hot(fake[1], classes)
    return {name: tf.reshape(value, [local, per_replica, *value.shape[1:]]) for name, value in batch.items()}


class InGraphBatches:
    """The run's batches as a function of the iteration, for use inside a compiled step.

    The training images (uint8) and labels are held as tensors in host memory; a call
    gathers and scales one replica's slice of iteration ``t``'s global batch.
    """

    def __init__(self, x_train: np.ndarray, y_train: np.ndarray, seed: int, batch_size: int, latent_dim: int,
                 classes: int | None, replicas: int = 1):
        with tf.device("/cpu:0"):
            self.images, self.labels = tf.constant(x_train), tf.constant(y_train.astype(np.int64))
        self.seed, self.count, self.batch_size, self.latent_dim = seed, len(x_train), batch_size, latent_dim
        self.classes, self.per_replica = classes, batch_size // replicas

    def replica_slice(self, iteration, replica) -> dict:
        """Replica ``replica``'s slice of iteration ``iteration``'s global batch (tensors)."""
        draws = global_batch(self.seed, iteration, self.count, self.batch_size, self.latent_dim, self.classes)
        batch = replica_batches(draws, self.images, self.labels, replica, 1, self.per_replica, self.classes)
        return {name: value[0] for name, value in batch.items()}


def batch_stream(strategy, x_train: np.ndarray, y_train: np.ndarray, seed: int, start: int, stop: int,
                 batch_size: int, latent_dim: int, classes: int | None):
    """An iterator over iterations ``start + 1`` .. ``stop``: each element one global batch, distributed.

    Under the default strategy an element is a dict of tensors; under a distributed
    one, of per-replica values that ``strategy.run`` hands out.
    """
    replicas = strategy.num_replicas_in_sync
    per_replica = batch_size // replicas

    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local
        images, labels = tf.constant(x_train), tf.constant(y_train.astype(np.int64))

        def batches(iteration):
            draws = global_batch(seed, iteration, len(x_train), batch_size, latent_dim, classes)
            return replica_batches(draws, images, labels, first, local, per_replica, classes)

        options = tf.data.Options()
        options.deterministic = True
        dataset = tf.data.Dataset.range(start + 1, stop + 1).map(batches).unbatch().prefetch(2 * local)
        return dataset.with_options(options)

    return iter(strategy.distribute_datasets_from_function(pipeline))
