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

import tensorflow as tf

from gan_keras.models.transposed import TransposedConvolutionForm, conv_transpose, geometry

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


class TapSumConv2DTranspose(TransposedConvolutionForm):
    """A stride-1, SAME ``Conv2DTranspose`` to at most ``MAX_FILTERS`` channels, same variables, computed tap by tap."""

    exact_for = f"odd-sized, stride-1, SAME, channels-last, undilated layers with at most {MAX_FILTERS} filters"

    @staticmethod
    def computes_exactly(layer) -> bool:
        kernel, strides, padding, layout, dilation, output_padding = geometry(layer)
        return (layer.filters <= MAX_FILTERS and all(size % 2 for size in kernel) and strides == (1, 1)
                and (padding, layout, dilation, output_padding) == ("same", "channels_last", (1, 1), None))

    @staticmethod
    def pays_for(layer) -> bool:
        """One output channel only: at 28x28 (64 to 1 channel) the tap sum runs in 1.09 against 1.80 ms; to 3
        channels at 64x64 oneDNN's own layer is the faster (138.4 against 147.6 ms per iteration, docs/speed.md)."""
        return layer.filters == 1

    def convolve(self, inputs, kernel):
        return tap_sum_conv2d_transpose(inputs, kernel)
