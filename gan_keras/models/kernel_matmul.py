"""A stride-2 transposed convolution whose kernel gradient is computed as matrix products.

The kernel gradient of G's 3x3, stride-2, SAME transposed convolutions pairs each
input pixel (i, j) with the upstream gradient at (2i + kh, 2j + kw) for every tap
(kh, kw): tap by tap, that is the upstream gradient's phase (kh % 2, kw % 2) --
one of the four maps ``space_to_depth`` splits it into -- shifted by
(kh // 2, kw // 2), times the input. So the nine taps are four matrix products:
the input against all four phases (taps with no shift), and the input shifted
by one column, one row, and both, against the phases those taps need. Same FLOPs;
under bfloat16 oneDNN runs them faster than its own kernel-gradient kernel for
``up_14x14`` (3.44 against 2.15 ms at batch 32 on the Zen 4 kind, ``python
tools/weight_grad_probe.py``), and in float32 on an AVX2-only CPU (11.96 against
14.72 ms for ``up_28x28`` on the AVX2 kind); in float32 with AVX-512 slower, so
``train.py`` uses it only in bf16 or without AVX-512
(:func:`gan_keras.roofline.choose_training_forms`). The forward pass and
the input gradient are the standard layer's own ops.
"""

from __future__ import annotations

import tensorflow as tf

from gan_keras.models.transposed import Stride2Form, conv_transpose


def kernel_gradient(inputs, upstream):
    """The kernel gradient (3, 3, out, in) of a 3x3, stride-2, SAME transposed convolution from ``inputs``
    (N, H, W, in) to an output of (N, 2H, 2W, out) whose gradient is ``upstream``."""
    height, width, channels_in = inputs.shape[1], inputs.shape[2], inputs.shape[3]
    channels_out = upstream.shape[3]
    phases = tf.reshape(tf.nn.space_to_depth(upstream, 2), [-1, 2, 2, channels_out])  # rows: (n, i, j)
    padded = tf.pad(inputs, [[0, 0], [1, 0], [1, 0], [0, 0]])

    def shifted(down, right):  # the input moved down / right by one pixel: x[i - down, j - right]
        return tf.reshape(padded[:, 1 - down:1 - down + height, 1 - right:1 - right + width], [-1, channels_in])

    def times(x, y):
        return tf.matmul(x, y, transpose_a=True)

    unshifted = tf.reshape(times(shifted(0, 0), tf.reshape(phases, [-1, 4 * channels_out])),
                           [channels_in, 2, 2, channels_out])  # taps (0..1, 0..1)
    right = tf.reshape(times(shifted(0, 1), tf.reshape(phases[:, :, 0], [-1, 2 * channels_out])),
                       [channels_in, 2, channels_out])  # taps (0..1, 2)
    down = tf.reshape(times(shifted(1, 0), tf.reshape(phases[:, 0], [-1, 2 * channels_out])),
                      [channels_in, 2, channels_out])  # taps (2, 0..1)
    corner = times(shifted(1, 1), phases[:, 0, 0])  # tap (2, 2)
    taps = [[unshifted[:, 0, 0], unshifted[:, 0, 1], right[:, 0]],
            [unshifted[:, 1, 0], unshifted[:, 1, 1], right[:, 1]],
            [down[:, 0], down[:, 1], corner]]
    return tf.transpose(tf.stack([tf.stack(row) for row in taps]), [0, 1, 3, 2])


def conv2d_transpose_matmul_kernel_gradient(inputs, kernel):
    """``keras.ops.conv_transpose(inputs, kernel, strides=2, padding="same")``, the kernel's gradient as matmuls."""
    return conv_transpose(inputs, kernel, 2, kernel_gradient=kernel_gradient)


class MatmulKernelGradConv2DTranspose(Stride2Form):
    """A 3x3, stride-2, SAME ``Conv2DTranspose`` with the same variables whose kernel gradient runs as matmuls."""

    def convolve(self, inputs, kernel):
        return conv2d_transpose_matmul_kernel_gradient(inputs, kernel)
