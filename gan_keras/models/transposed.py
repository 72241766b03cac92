"""What the training forms of ``Conv2DTranspose`` share: one base class, the transposed convolution's own
gradients, and Keras's bias and activation after the convolution.

Each form computes the forward pass another way (sub-pixel, tap sum) or the kernel gradient
another way (matmuls); everything else is the standard layer's, defined once here: a form is a
:class:`TransposedConvolutionForm` that says which layers it computes exactly
(``computes_exactly``) and how it convolves (``convolve``).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

# kernel_size, strides, padding, data_format, dilation_rate, output_padding of G's upsampling layers
STRIDE_2_GEOMETRY = ((3, 3), (2, 2), "same", "channels_last", (1, 1), None)


def geometry(layer) -> tuple:
    """``layer``'s kernel, strides, padding, layout, dilation and output padding, as STRIDE_2_GEOMETRY lists them."""
    output_padding = None if layer.output_padding is None else tuple(layer.output_padding)
    return (tuple(layer.kernel_size), tuple(layer.strides), layer.padding, layer.data_format,
            tuple(layer.dilation_rate), output_padding)


class TransposedConvolutionForm(layers.Conv2DTranspose):
    """A ``Conv2DTranspose`` with the same config and variables that convolves another way while training.

    A subclass says which layers it computes exactly (``computes_exactly``, in words ``exact_for``) and
    how (``convolve(inputs, kernel)``); the bias and activation are the standard layer's. Subclasses are
    registered with Keras by their name, and saved models hold the standard layer
    (:func:`gan_keras.models.training_forms.to_standard`).
    """

    exact_for = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        keras.saving.register_keras_serializable(package="gan_keras")(cls)

    def __init__(self, filters: int, **kwargs):
        super().__init__(filters, **kwargs)
        if not self.computes_exactly(self):
            raise ValueError(f"{type(self).__name__} is for {self.exact_for} layers only")

    @staticmethod
    def computes_exactly(layer) -> bool:
        """Whether this form computes ``layer`` (a ``Conv2DTranspose``) exactly."""
        raise NotImplementedError

    @staticmethod
    def pays_for(layer) -> bool:
        """Whether this form is measured faster than Keras's layer for ``layer`` (else a model keeps Keras's)."""
        return True

    def convolve(self, inputs, kernel):
        raise NotImplementedError

    def call(self, inputs):
        return add_bias_and_activate(self, self.convolve(inputs, self.kernel))


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


class Stride2Form(TransposedConvolutionForm):
    """A form of G's upsampling layers: 3x3, stride 2, SAME (STRIDE_2_GEOMETRY)."""

    exact_for = "3x3, stride-2, SAME, channels-last, undilated"

    @staticmethod
    def computes_exactly(layer) -> bool:
        return geometry(layer) == STRIDE_2_GEOMETRY


def add_bias_and_activate(layer, outputs):
    """``layer``'s bias added as Keras's ``Conv2DTranspose`` adds it (reshaped to (1, 1, 1, filters), so its
    gradient sums alike: bfloat16 sums round by shape), then its activation."""
    if layer.use_bias:
        outputs = keras.ops.add(outputs, keras.ops.reshape(layer.bias, (1, 1, 1, layer.filters)))
    return layer.activation(outputs) if layer.activation is not None else outputs
