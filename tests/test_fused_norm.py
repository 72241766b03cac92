"""The fused BatchNorm trains exactly as Keras's (outputs, gradients, moving averages) and falls back where it must."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.models.fused_norm import FusedBatchNormalization
from gan_keras.training.gan import build_gan

SHAPE = (16, 6, 6, 8)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 2e-6), ("mixed_bfloat16", 8e-3)])
@pytest.mark.parametrize("trainable", [True, False])
def test_fused_inference_pass_equals_keras(dtype, tolerance, trainable):
    """With the moving averages (inference, or a frozen layer in training): Keras's output to float rounding
    (bf16: one bfloat16 step of the largest output), and nothing moves."""
    rng = np.random.default_rng(3)
    inputs = rng.normal(2.0, 3.0, SHAPE).astype("float32")
    values = [value + rng.normal(0, 0.1, SHAPE[-1]).astype("float32") for value in (2.0, 9.0, 1.5, -0.5)]
    outputs = []
    for layer_class in (keras.layers.BatchNormalization, FusedBatchNormalization):
        layer = layer_class(dtype=dtype)
        layer.build(SHAPE)
        for variable, value in zip([layer.moving_mean, layer.moving_variance, layer.gamma, layer.beta], values):
            variable.assign(value)
        layer.trainable = trainable
        result = layer(tf.cast(inputs, layer.compute_dtype), training=not trainable)
        assert result.dtype == layer.compute_dtype
        outputs.append(tf.cast(result, "float32").numpy())
        np.testing.assert_allclose(layer.moving_variance.numpy(), 9.0, atol=0.5)  # not updated from this batch
    scale = float(np.abs(outputs[0]).max())
    np.testing.assert_allclose(outputs[1], outputs[0], atol=tolerance * scale)
    assert np.abs(outputs[0]).max() > 1.0  # normalized with the moving averages, not this batch's moments


@pytest.mark.parametrize("case", ["two-dimensional", "synchronized", "mask"])
def test_falls_back_to_keras_where_the_kernel_does_not_apply(case):
    """Same results as Keras's layer, bit for bit, wherever the fused kernel is not used."""
    rng = np.random.default_rng(2)
    shape = (8, 5) if case == "two-dimensional" else (8, 3, 3, 4)
    inputs = rng.normal(size=shape).astype("float32")
    kwargs = {"synchronized": True} if case == "synchronized" else {}
    outputs = []
    for layer_class in (keras.layers.BatchNormalization, FusedBatchNormalization):
        layer = layer_class(**kwargs)
        layer.build(shape)
        layer.moving_variance.assign(np.full(shape[-1], 2.0, "float32"))
        mask = np.ones(shape[:-1], bool) if case == "mask" else None
        outputs.append(layer(inputs, training=case != "inference", mask=mask).numpy())
    np.testing.assert_array_equal(outputs[1], outputs[0])


def test_gan_trains_g_with_fused_norm_by_default_and_keras_norm_on_request():
    fused = build_gan(16)
    assert {type(layer) for layer in fused.generator.layers if "_bn" in layer.name} == {FusedBatchNormalization}
    plain = build_gan(16, training_forms=())
    assert {type(layer) for layer in plain.generator.layers if "_bn" in layer.name} == {
        keras.layers.BatchNormalization}
