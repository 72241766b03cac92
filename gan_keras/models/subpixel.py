"""A stride-2 transposed convolution computed as four small regular convolutions (sub-pixel convolution).

A 3x3, stride-2, SAME ``Conv2DTranspose`` writes each output pixel from the
input pixels whose scattered 3x3 patch covers it. Output pixel (2i + a, 2j + b)
depends only on its phase (a, b): an even row takes kernel rows 2 and 0 from
input rows i - 1 and i, an odd row takes kernel row 1 from input row i (the
same for columns). So each of the four phases is a stride-1 VALID convolution
of the (top/left padded) input with a 2x2, 2x1, 1x2 or 1x1 slice of the same
kernel, and a depth-to-space shuffle interleaves the four phase maps. That is
exactly the transposed convolution, with the same 9 taps per output channel
(the same FLOPs), computed by regular convolutions. The 3x3 kernel stays the
single source of truth: the phases are slices of it, taken inside the compiled
step. Where it pays: with Eigen's kernels (TensorFlow without oneDNN), whose
transposed convolution is slow; with oneDNN's, the transposed convolution is
faster (README, "Speed"; ``tools/subpixel_probe.py``).
"""

from __future__ import annotations

import tensorflow as tf

from gan_keras.models.transposed import Stride2Form, conv_transpose

# Kernel taps (rows or columns) of an even and an odd output phase, in input order (i - 1, i).
PHASE_TAPS = {0: [2, 0], 1: [1]}


def subpixel_conv2d_transpose(inputs, kernel):
    """``conv_transpose(inputs, kernel, strides=2, padding="same")`` for a 3x3 Keras kernel (kh, kw, out, in).

    The forward pass is sub-pixel; the gradients are the transposed convolution's own
    (a stride-2 convolution of the upstream gradient, and its filter gradient), which
    are regular convolutions already, and faster than the sub-pixel form's.
    """
    return conv_transpose(inputs, kernel, 2, forward=_phases)


def _phases(inputs, kernel):
    """The four output phases as VALID convolutions of the padded input, interleaved by depth-to-space."""
    weights = tf.transpose(kernel, [0, 1, 3, 2])  # to tf.nn.conv2d's (kh, kw, in, out)
    phases = []
    for a in (0, 1):
        for b in (0, 1):
            taps = tf.gather(tf.gather(weights, PHASE_TAPS[a], axis=0), PHASE_TAPS[b], axis=1)
            padded = tf.pad(inputs, [[0, 0], [1 - a, 0], [1 - b, 0], [0, 0]])
            phases.append(tf.nn.conv2d(padded, taps, strides=1, padding="VALID"))
    return tf.nn.depth_to_space(tf.concat(phases, axis=-1), 2)


class SubpixelConv2DTranspose(Stride2Form):
    """``Conv2DTranspose(kernel_size=3, strides=2, padding="same")`` with the same variables, computed sub-pixel."""

    def convolve(self, inputs, kernel):
        return subpixel_conv2d_transpose(inputs, kernel)
