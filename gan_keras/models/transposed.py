"""What the training forms of ``Conv2DTranspose`` share: the transposed convolution's own gradients, and
Keras's bias and activation after the convolution.

Each form computes the forward pass another way (sub-pixel, tap sum) or the kernel gradient
another way (matmuls); everything else is the standard layer's, defined once here.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def conv_transpose(inputs, kernel, strides: int, forward=None, kernel_gradient=None):
    """``keras.ops.conv_transpose(inputs, kernel, strides, padding="same")`` for a Keras kernel (kh, kw, out, in),
    computed by ``forward(x, kernel)`` when given, with the transposed convolution's own gradients: the
    input's is a regular convolution of the upstream gradient, the kernel's TensorFlow's filter gradient,
    or ``kernel_gradient(x, upstream)`` when given (and the shapes are static)."""

    @tf.custom_gradient
    def convolve(x, k):
        def gradients(upstream):
            input_gradient = tf.nn.conv2d(upstream, k, strides=strides, padding="SAME")
            if kernel_gradient is not None and None not in x.shape[1:] and None not in upstream.shape[1:]:
                return input_gradient, kernel_gradient(x, upstream)
            return input_gradient, tf.raw_ops.Conv2DBackpropFilter(
                input=upstream, filter_sizes=tf.shape(k), out_backprop=x, strides=[1, strides, strides, 1],
                padding="SAME")

        if forward is None:
            return keras.ops.conv_transpose(x, k, strides=strides, padding="same"), gradients
        return forward(x, k), gradients

    return convolve(tf.convert_to_tensor(inputs), tf.convert_to_tensor(kernel))


def add_bias_and_activate(layer, outputs):
    """``layer``'s bias added as Keras's ``Conv2DTranspose`` adds it (reshaped to (1, 1, 1, filters), so its
    gradient sums alike: bfloat16 sums round by shape), then its activation."""
    if layer.use_bias:
        outputs = keras.ops.add(outputs, keras.ops.reshape(layer.bias, (1, 1, 1, layer.filters)))
    return layer.activation(outputs) if layer.activation is not None else outputs
