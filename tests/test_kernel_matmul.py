"""The stride-2 transposed convolution with its kernel gradient as matmuls: the standard layer's numbers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.models.kernel_matmul import MatmulKernelGradConv2DTranspose
from gan_keras.models.training_forms import eligible_forms, to_standard
from gan_keras.training.gan import build_gan

SETTINGS = {"kernel_size": 3, "strides": 2, "padding": "same"}


def outputs_and_gradients(layer, inputs: np.ndarray, upstream: np.ndarray) -> list[np.ndarray]:
    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.cast(layer(x), tf.float32) * upstream)
    outputs = tf.cast(layer(x), tf.float32)
    return [outputs, *tape.gradient(loss, [x, layer.kernel, layer.bias])]


def bfloat16_rounded(values) -> np.ndarray:
    return np.asarray(tf.cast(tf.cast(values, tf.bfloat16), tf.float32))


def float32_kernel_gradient(standard, inputs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    """``standard``'s kernel gradient computed in float32 from its weights, inputs and upstream gradient
    rounded to bfloat16: what a bf16 layer's gradient should be to bf16 rounding of the result."""
    reference = keras.layers.Conv2DTranspose(standard.filters, dtype="float32", **SETTINGS)
    reference.build(inputs.shape)
    reference.set_weights([bfloat16_rounded(weights) for weights in standard.get_weights()])
    return outputs_and_gradients(reference, bfloat16_rounded(inputs), bfloat16_rounded(upstream))[2]


@pytest.mark.parametrize("dtype, input_shape, tolerance", [
    ("float32", (4, 7, 7, 16), 2e-6), ("float32", (3, 5, 6, 8), 2e-6), ("mixed_bfloat16", (4, 7, 7, 16), 2e-2)])
def test_outputs_and_every_gradient_equal_conv2d_transpose(dtype, input_shape, tolerance):
    """Output and input gradient are the same ops (bit for bit in float32); the kernel and bias gradients
    agree to float rounding of their scale, on square and oblong maps. In bf16 the kernel gradient is held
    to the float32 one of the same bf16 numbers (to 1% of its scale): TensorFlow's own bf16 kernel
    gradient is emulated, and off by 2% of its scale, on CPUs without AVX-512."""
    rng = np.random.default_rng(0)
    standard = keras.layers.Conv2DTranspose(12, dtype=dtype, **SETTINGS)
    form = MatmulKernelGradConv2DTranspose(12, dtype=dtype, **SETTINGS)
    for layer in (standard, form):
        layer.build(input_shape)
    form.set_weights(standard.get_weights())
    inputs = rng.normal(size=input_shape).astype("float32")
    upstream = rng.normal(size=(input_shape[0], 2 * input_shape[1], 2 * input_shape[2], 12)).astype("float32")
    want = outputs_and_gradients(standard, inputs, upstream)
    if dtype == "mixed_bfloat16":
        want[2], tolerance_of = float32_kernel_gradient(standard, inputs, upstream), {"kernel gradient": 1e-2}
    else:
        tolerance_of = {}
    got = outputs_and_gradients(form, inputs, upstream)
    for name, a, b in zip(["output", "input gradient", "kernel gradient", "bias gradient"], want, got):
        a, b = np.asarray(tf.cast(a, tf.float32)), np.asarray(tf.cast(b, tf.float32))
        assert a.shape == b.shape, name
        if dtype == "float32" and name in ("output", "input gradient"):
            np.testing.assert_array_equal(b, a, err_msg=name)
        else:
            assert np.abs(a - b).max() <= tolerance_of.get(name, tolerance) * np.abs(a).max(), name


@pytest.mark.parametrize("settings", [{"strides": 1}, {"kernel_size": 4}, {"padding": "valid"},
                                      {"dilation_rate": 2, "strides": 1}, {"output_padding": 1}])
def test_only_3x3_stride_2_same_layers_qualify(settings):
    arguments = {**SETTINGS, **settings}
    assert "matmul_kernel_grad" not in eligible_forms(keras.layers.Conv2DTranspose(4, **arguments))
    with pytest.raises(ValueError, match="matmul kernel gradient"):
        MatmulKernelGradConv2DTranspose(4, **arguments)


AVX512 = ["avx2", "avx512f", "avx512_bf16"]


@pytest.mark.parametrize("gpus, onednn, precision, flags, chosen", [
    (0, True, "bf16", AVX512, True), (0, True, "none", AVX512, False), (0, True, "none", ["avx2"], True),
    (0, False, "bf16", AVX512, False), (0, False, "none", ["avx2"], False), (1, True, "bf16", AVX512, False)])
def test_chosen_for_bf16_or_avx2_where_onednn_runs_the_cpu_convolutions(gpus, onednn, precision, flags, chosen):
    """oneDNN's bf16 and AVX2 kernel-gradient kernels are the slow ones; its AVX-512 float32 one beats the
    matmuls (README)."""
    from gan_keras.machine_choices import choose_training_forms

    assert ("matmul_kernel_grad" in choose_training_forms(gpus, onednn, precision, flags)) == chosen


def test_g_trains_in_the_form_and_saves_standard_layers():
    """Where asked for, G's two stride-2 layers take the form, sub-pixel taking precedence; saved: the standard layer."""
    forms = ("fused_norm", "matmul_kernel_grad")
    generator = build_gan(16, mixed_precision="bf16", training_forms=forms).generator
    assert type(generator.get_layer("up_14x14")) is MatmulKernelGradConv2DTranspose
    assert type(generator.get_layer("up_28x28")) is MatmulKernelGradConv2DTranspose
    assert type(to_standard(generator).get_layer("up_14x14")) is keras.layers.Conv2DTranspose
    subpixel = build_gan(16, training_forms=forms, upsampling="subpixel").generator
    assert type(subpixel.get_layer("up_14x14")).__name__ == "SubpixelConv2DTranspose"
