"""What every training form of ``Conv2DTranspose`` does after its own convolution: Keras's bias and activation."""

from __future__ import annotations

import keras


def add_bias_and_activate(layer, outputs):
    """``layer``'s bias added as Keras's ``Conv2DTranspose`` adds it (reshaped to (1, 1, 1, filters), so its
    gradient sums alike: bfloat16 sums round by shape), then its activation."""
    if layer.use_bias:
        outputs = keras.ops.add(outputs, keras.ops.reshape(layer.bias, (1, 1, 1, layer.filters)))
    return layer.activation(outputs) if layer.activation is not None else outputs
