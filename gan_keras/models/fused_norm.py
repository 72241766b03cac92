"""BatchNormalization whose training pass is one fused kernel instead of Keras 3's op-by-op moments.

Keras 3 normalizes a training batch with a dozen separate ops (mean, squared
difference, mean, rsqrt, multiply, add, and their gradients), each a pass over
the activations; TensorFlow's ``FusedBatchNormV3`` (oneDNN's kernel on a CPU,
cuDNN's on a GPU) computes the batch moments and the normalization in one
kernel and its gradient in another. Same variables, same formula, same moving
averages (to float rounding): about half the time of G's BatchNorm (README,
"Speed"). Inference (the fake batch G makes for D's update, with the moving
averages) runs the same kernel in its inference mode: one pass instead of
Keras's cast, multiply, add and cast back under mixed precision. Masks, renorm
and synchronized (multi-replica) BatchNorm keep Keras's own path, and saved
generators hold the standard layer
(:func:`gan_keras.models.training_forms.to_standard`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="gan_keras")
class FusedBatchNormalization(layers.BatchNormalization):
    """``BatchNormalization`` with the same variables; runs 4-D channels-last batches through the fused kernel."""

    def call(self, inputs, training=None, mask=None):
        if not (mask is None and self._fusable(inputs)):
            return super().call(inputs, training=training, mask=mask)
        if not (training and self.trainable):  # Keras normalizes with the moving averages here
            outputs, _, _ = _fused_batch_norm(inputs, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                                              self.epsilon, is_training=False)
            return tf.cast(outputs, self.compute_dtype)
        outputs, mean, unbiased_variance = _fused_batch_norm(inputs, self.gamma, self.beta, None, None, self.epsilon,
                                                             is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), "float32")
        variance = unbiased_variance * (count - 1.0) / count  # Keras averages the biased batch variance
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs) -> bool:
        """Whether the fused kernel computes exactly what Keras's training pass would for these inputs."""
        return (len(inputs.shape) == 4 and self.axis in (-1, 3) and self.center and self.scale
                and not self.renorm and not self.synchronized
                and inputs.dtype in (tf.float32, tf.bfloat16, tf.float16))


def _fused_batch_norm(inputs, scale, offset, mean, variance, epsilon: float, is_training: bool):
    """TensorFlow's ``FusedBatchNormV3`` on NHWC ``inputs``: (output, batch or given mean, batch variance
    (unbiased) or given variance). ``mean`` and ``variance`` are None in training (the batch's are used)."""
    empty = tf.constant([], tf.float32)
    outputs = tf.raw_ops.FusedBatchNormV3(
        x=inputs, scale=tf.convert_to_tensor(scale), offset=tf.convert_to_tensor(offset),
        mean=empty if mean is None else tf.convert_to_tensor(mean),
        variance=empty if variance is None else tf.convert_to_tensor(variance),
        epsilon=epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=is_training)
    return outputs.y, outputs.batch_mean, outputs.batch_variance
