"""What D and G minimise: the loss, one-sided label smoothing and D's R1 penalty, in one place.

Both training loops take their losses from here, so ``--loss``, ``--label-smoothing``
and ``--r1-gamma`` mean the same thing on ``--loop fast`` and ``--loop notebook``.

* ``bce`` (the notebook's): binary cross-entropy of D's probability, Keras's own
  function. D's real targets are ``1 - label_smoothing`` (one-sided smoothing,
  Salimans et al. 2016: fakes stay at 0); G's target is 1.
* ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): D minimises
  ``mean(relu(1 - logit(real))) + mean(relu(1 + logit(fake)))``, G ``-mean(logit(fake))``.
* R1 (Mescheder et al. 2018): ``r1_gamma / 2 * E ||grad_x logit(D(x))||^2`` on real images,
  added to D's loss on its real batch.

Every discriminator ends in a float32 sigmoid (the notebook's); the logit is recovered
from it as ``log(p) - log(1 - p)`` with ``p`` clipped as Keras's cross-entropy clips it, so
D keeps the notebook's layers and its saved file is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

LOSSES = ("bce", "hinge")


@dataclass(frozen=True)
class Objective:
    """The losses of one run: ``loss`` (``bce`` or ``hinge``), D's real target smoothing, R1's weight."""

    loss: str = "bce"
    label_smoothing: float = 0.0
    r1_gamma: float = 0.0

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")

    @property
    def real_target(self) -> float:
        """D's target for real images under ``bce``."""
        return 1.0 - self.label_smoothing

    @property
    def needs_custom_d_step(self) -> bool:
        """Whether D's update needs more than Keras's compiled binary cross-entropy (hinge, R1)."""
        return self.loss != "bce" or self.r1_gamma > 0

    def d_loss(self, probabilities, real_count, sample_weight=None):
        """D's loss on a batch of its probabilities whose first ``real_count`` rows are real images, the rest
        fakes (a whole real batch, a whole fake one with 0, or both joined), weighted per row if given."""
        is_real = tf.range(tf.shape(probabilities)[0]) < real_count
        if self.loss == "hinge":
            logits = tf.reshape(logit(probabilities), [-1])
            return _mean(tf.nn.relu(1.0 - tf.where(is_real, logits, -logits)), sample_weight)
        targets = tf.where(is_real, self.real_target, 0.0)[:, tf.newaxis]
        return _BCE(targets, probabilities, sample_weight=sample_weight)

    def g_loss(self, probabilities):
        """G's loss from D's probabilities on its images."""
        if self.loss == "hinge":
            return -_mean(logit(probabilities))
        return _BCE(tf.ones_like(probabilities), probabilities)


def accuracy(probabilities, real_count):
    """The share of a batch D judges right (probability above 0.5 for the first ``real_count``, real, rows)."""
    is_real = tf.range(tf.shape(probabilities)[0]) < real_count
    return tf.reduce_mean(tf.cast(tf.equal(tf.reshape(probabilities, [-1]) > 0.5, is_real), tf.float32))


_BCE = keras.losses.BinaryCrossentropy()  # Keras's own, as a model compiled with "binary_crossentropy" computes it


class _BatchMean(keras.losses.Loss):
    """Per-example values reduced as Keras reduces a loss: the batch mean, and under ``tf.distribute`` this
    replica's share of it (slice mean / replicas), as for the cross-entropy, so gradients sum right."""

    def call(self, y_true, y_pred):
        return y_pred


_MEAN = _BatchMean(name="batch_mean")


def _mean(values, sample_weight=None):
    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    return _MEAN(tf.zeros_like(values), values, sample_weight=sample_weight)


def logit(probabilities):
    """D's logit from its sigmoid output, clipped as Keras's cross-entropy clips probabilities."""
    epsilon = keras.config.epsilon()
    p = tf.clip_by_value(tf.cast(probabilities, tf.float32), epsilon, 1.0 - epsilon)
    return tf.math.log(p) - tf.math.log1p(-p)


def r1_penalty(discriminator, images, classes, gamma: float, real_count=None):
    """``gamma / 2`` times the mean over the real images of ``||d logit(D(x)) / dx||^2`` (Mescheder et al.
    2018), and D's probabilities on ``images`` from the same (training-mode) pass. ``real_count``: only the
    first so many of ``images`` are real (default: all)."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        probabilities = discriminator(images if classes is None else [images, classes], training=True)
        real_logits = logit(probabilities if real_count is None else probabilities[:real_count])
        summed_logits = tf.reduce_sum(real_logits)
    gradients = tf.cast(tape.gradient(summed_logits, images), tf.float32)
    if real_count is not None:
        gradients = gradients[:real_count]
    squared_norms = tf.reduce_sum(tf.square(gradients), axis=tf.range(1, tf.rank(gradients)))
    return 0.5 * gamma * _mean(squared_norms), probabilities
