"""Dropout whose training mask costs half the random numbers, and keeps its rate under bfloat16.

Keras 3's ``Dropout`` on TensorFlow draws one float uniform per activation, in the
layer's compute dtype, compares it with the rate and selects; its gradient is
another select and multiply. Two costs follow. Speed: the counter-based generator
(Philox) is the dearest op of the whole iteration after the convolutions (README,
"Speed"). Correctness under ``mixed_bfloat16``: a bfloat16 uniform takes only 128
values, so ``Dropout(0.3)`` drops 39/128 = 30.5% of the activations, not 30%.

This form draws 32 random bits per two activations, splits them into two 16-bit
draws, keeps an activation when its draw is at least ``round(rate * 65536)``
(the rate to within 2**-17, in every dtype) and multiplies by the mask, the
gradient by the same mask. The layer draws its seed from its own
``SeedGenerator`` exactly as Keras's does, so seed states, checkpoints and
resume are unchanged; inference, ``noise_shape`` and rates of 0 or 1 keep
Keras's own path, and saved models hold the standard layer
(:func:`gan_keras.models.training_forms.to_standard`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

DRAW_BITS = 16


def dropout_mask(inputs: tf.Tensor, rate: float, seed: tf.Tensor) -> tf.Tensor:
    """``1 / (1 - rate)`` where kept, 0 where dropped: a mask of ``inputs``' shape and dtype (static last axis).

    Each uint32 from the stateless generator is read as two uint16 draws (a
    bitcast, no arithmetic); a draw below ``round(rate * 2**16)`` drops.
    """
    channels = inputs.shape[-1]
    pairs = (channels + 1) // 2
    leading = tf.shape(inputs)[:-1]
    bits = tf.random.stateless_uniform(tf.concat([leading, [pairs]], 0), seed=seed, minval=None, maxval=None,
                                       dtype=tf.uint32)
    draws = tf.reshape(tf.bitcast(bits, tf.uint16), tf.concat([leading, [2 * pairs]], 0))
    if channels % 2:
        draws = draws[..., :channels]
    keep = draws >= min(round(rate * 2**DRAW_BITS), 2**DRAW_BITS - 1)  # a rate within 2**-17 of 1 keeps 2**-16
    return tf.where(keep, tf.constant(1.0 / (1.0 - rate), inputs.dtype), tf.constant(0.0, inputs.dtype))


@keras.saving.register_keras_serializable(package="gan_keras")
class FastDropout(layers.Dropout):
    """``Dropout`` with the same config and seed state; its training mask is drawn 16 bits per activation."""

    def call(self, inputs, training=False):
        if not (training and 0.0 < self.rate < 1.0 and self.noise_shape is None
                and inputs.shape[-1] is not None and inputs.dtype.is_floating):
            return super().call(inputs, training=training)
        seed = self.seed_generator.next()
        if seed.dtype != tf.int32:  # as Keras's TensorFlow backend casts a seed state
            seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        return _masked(inputs, dropout_mask(inputs, self.rate, seed))


@tf.custom_gradient
def _masked(inputs, mask):
    """``inputs * mask``; the gradient is one multiply by the same mask (none flows to the mask)."""
    return inputs * mask, lambda upstream: (upstream * mask, None)
