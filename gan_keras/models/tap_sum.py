"""A stride-1 transposed convolution to a few channels, computed as one matmul and a sum of shifted maps.

G's last layer (``to_image``: 3x3, stride 1, SAME, 64 channels to 1) is a
transposed convolution with a single output channel, a shape that oneDNN's
kernel runs at a few percent of the machine's rate (README, "Speed"). Its
forward pass is exactly this: each input pixel times each kernel tap's weights
(one matmul of all pixels by a (channels, taps x filters) matrix), then each
tap's map shifted by the tap's offset and the shifted maps summed. The same
taps and FLOPs, in ops that run at full speed; the gradients stay the
transposed convolution's own (a regular convolution and its filter gradient),
which are fast already. The kernel stays the single source of truth.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from gan_keras.models.transposed import add_bias_and_activate, conv_transpose

MAX_FILTERS = 4  # images: 1 or 3 channels; with many filters the transposed convolution is efficient


def tap_sum_conv2d_transpose(inputs, kernel):
    """``conv_transpose(inputs, kernel, strides=1, padding="same")`` for an odd-sized Keras kernel (kh, kw, out, in)."""
    return conv_transpose(inputs, kernel, 1, forward=_shifted_sum)


def _shifted_sum(inputs, kernel):
    """Output pixel p is the sum over taps t of (input pixel p - t + center) times tap t's weights."""
    rows, cols, filters, channels = kernel.shape
    height, width = inputs.shape[1], inputs.shape[2]
    tap_weights = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [channels, rows * cols * filters])
    per_tap = tf.matmul(tf.reshape(inputs, [-1, channels]), tap_weights)
    per_tap = tf.reshape(per_tap, tf.concat([tf.shape(inputs)[:3], [rows * cols, filters]], 0))
    top, left = rows // 2, cols // 2
    padded = tf.pad(per_tap, [[0, 0], [top, top], [left, left], [0, 0], [0, 0]])
    return tf.add_n([padded[:, 2 * top - ty:2 * top - ty + height, 2 * left - tx:2 * left - tx + width, ty * cols + tx]
                     for ty in range(rows) for tx in range(cols)])


@keras.saving.register_keras_serializable(package="gan_keras")
class TapSumConv2DTranspose(layers.Conv2DTranspose):
    """A stride-1, SAME ``Conv2DTranspose`` to at most ``MAX_FILTERS`` channels, same variables, computed tap by tap.

    Only for training under TensorFlow: saved generators hold the standard layer
    (:func:`gan_keras.models.training_forms.to_standard`).
    """

    def __init__(self, filters: int, **kwargs):
        super().__init__(filters, **kwargs)
        if not has_tap_sum_geometry(self):
            raise ValueError(f"tap-sum form is for odd-sized, stride-1, SAME, channels-last, undilated layers "
                             f"with at most {MAX_FILTERS} filters only")

    def call(self, inputs):
        return add_bias_and_activate(self, tap_sum_conv2d_transpose(inputs, self.kernel))


def has_tap_sum_geometry(layer) -> bool:
    """Whether ``layer`` is a transposed convolution the tap-sum form computes exactly, and faster."""
    return (layer.filters <= MAX_FILTERS and all(size % 2 for size in layer.kernel_size)
            and tuple(layer.strides) == (1, 1) and layer.padding == "same" and layer.data_format == "channels_last"
            and tuple(layer.dilation_rate) == (1, 1) and layer.output_padding is None)
