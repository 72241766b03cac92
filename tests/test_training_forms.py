"""Every training form computes what its Keras layer computes: one test, over every form and the shapes the
generators use (28x28 and the 32 to 128 px rule), in float32 and bfloat16.

(``fast_dropout`` draws other random numbers by design: its rate, scaling and seed stream are held to Keras's
in tests/test_fast_dropout.py.)
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.models.training_forms import FORMS, eligible_forms

STRIDE_2 = {"kernel_size": 3, "strides": 2, "padding": "same"}
STRIDE_1 = {"strides": 1, "padding": "same"}
CASES = [  # (form, the Keras layer's settings, input shape)
    *[(form, {**STRIDE_2, "filters": filters, "activation": activation}, shape)
      for form in ("subpixel", "matmul_kernel_grad")
      for filters, activation, shape in [(12, None, (4, 7, 7, 16)), (7, "tanh", (3, 5, 6, 3)),
                                         (32, None, (2, 4, 4, 64)), (8, None, (2, 16, 16, 16))]],
    ("tap_sum", {**STRIDE_1, "filters": 1, "kernel_size": 3, "activation": "tanh"}, (3, 7, 9, 64)),
    ("tap_sum", {**STRIDE_1, "filters": 3, "kernel_size": 3, "activation": "tanh"}, (2, 16, 16, 32)),
    ("tap_sum", {**STRIDE_1, "filters": 3, "kernel_size": 5}, (3, 7, 9, 5)),
    ("tap_sum", {**STRIDE_1, "filters": 2, "kernel_size": (1, 3)}, (3, 7, 9, 4)),
    ("fused_norm", {"momentum": 0.8}, (16, 6, 6, 8)),
    ("fused_norm", {"momentum": 0.8}, (4, 32, 32, 16)),
]
KERAS_LAYER = {"subpixel": keras.layers.Conv2DTranspose, "matmul_kernel_grad": keras.layers.Conv2DTranspose,
               "tap_sum": keras.layers.Conv2DTranspose, "fused_norm": keras.layers.BatchNormalization}


def results(layer, inputs: np.ndarray, upstream: np.ndarray) -> dict[str, np.ndarray]:
    """Two training passes (BatchNorm's moving averages move): the second's output and gradients (input, each
    weight), then every weight that is not trained, as float32."""

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * upstream)
        return [outputs, *tape.gradient(loss, [x, *layer.trainable_weights])]

    step(tf.constant(inputs))
    values = step(tf.constant(inputs))
    found = {"output": values[0], "input gradient": values[1]}
    found.update({f"{weight.name} gradient": value for weight, value in zip(layer.trainable_weights, values[2:])})
    found.update({weight.name: weight.value for weight in layer.non_trainable_weights})
    return {name: np.asarray(tf.cast(value, tf.float32)) for name, value in found.items()}


def bfloat16_rounded(values: np.ndarray) -> np.ndarray:
    return np.asarray(tf.cast(tf.cast(values, tf.bfloat16), tf.float32))


def built(layer_class, settings: dict, dtype: str, input_shape: tuple, weights: list | None):
    layer = layer_class(**settings, dtype=dtype)
    layer.build(input_shape)
    if weights is not None:
        layer.set_weights(weights)
    return layer


BFLOAT16_FORMS = ("subpixel", "matmul_kernel_grad", "fused_norm")  # tap_sum's layer, G's output, runs in float32
DTYPE_CASES = [(dtype, *case) for case in CASES for dtype in ("float32", "mixed_bfloat16")
               if dtype == "float32" or case[0] in BFLOAT16_FORMS]


@pytest.mark.parametrize("dtype, form, settings, input_shape", DTYPE_CASES,
                         ids=[f"{form}-{'x'.join(map(str, shape))}-{dtype}" for dtype, form, _, shape in DTYPE_CASES])
def test_every_training_form_computes_what_its_keras_layer_computes(form, settings, input_shape, dtype):
    """Output, input gradient, every weight's gradient and every moving statistic, against Keras's layer in the
    same dtype: to float rounding of their scale in float32, to 2% of it (bfloat16 keeps 8 bits) in bfloat16.
    There the kernel gradient is held to Keras's float32 one of the same bfloat16 numbers: TensorFlow's own
    bfloat16 kernel gradient is emulated, and off by 2%, on CPUs without AVX-512."""
    rng = np.random.default_rng(len(input_shape) * sum(input_shape))
    reference = built(KERAS_LAYER[form], settings, "float32", input_shape, None)
    weights = [w + rng.normal(0, 0.1, size=w.shape).astype("float32") for w in reference.get_weights()]
    if form == "fused_norm":  # a moving variance that is no longer 1
        weights[-1] = np.abs(weights[-1]) + 0.5
    inputs = rng.normal(0.5, 1.0, size=input_shape).astype("float32")
    upstream = rng.normal(size=reference.compute_output_shape(input_shape)).astype("float32")
    if dtype == "mixed_bfloat16":
        weights, inputs, upstream = ([bfloat16_rounded(w) for w in weights], bfloat16_rounded(inputs),
                                     bfloat16_rounded(upstream))
    want = results(built(KERAS_LAYER[form], settings, dtype, input_shape, weights), inputs, upstream)
    if dtype == "mixed_bfloat16" and "kernel gradient" in want:
        reference.set_weights(weights)
        want["kernel gradient"] = results(reference, inputs, upstream)["kernel gradient"]
    have = results(built(FORMS[form], settings, dtype, input_shape, weights), inputs, upstream)
    assert have.keys() == want.keys() and len(want) >= 4
    tolerance = 1e-4 if dtype == "float32" else 2e-2
    for name in want:
        assert have[name].shape == want[name].shape, name
        scale = max(1.0, float(np.abs(want[name]).max()))
        np.testing.assert_allclose(have[name], want[name], rtol=0, atol=tolerance * scale, err_msg=name)


REFUSED = [  # (form, a Conv2DTranspose it does not compute)
    *[(form, settings) for form in ("subpixel", "matmul_kernel_grad")
      for settings in ({"strides": 1}, {"kernel_size": 4}, {"padding": "valid"}, {"dilation_rate": 2, "strides": 1},
                       {"output_padding": 1})],
    *[("tap_sum", settings) for settings in ({"strides": 2}, {"filters": 5}, {"padding": "valid"},
                                             {"kernel_size": 4}, {"dilation_rate": 2})],
]


@pytest.mark.parametrize("form, changed", REFUSED)
def test_a_form_refuses_the_layers_it_does_not_compute_and_they_keep_keras_s(form, changed):
    base = {**STRIDE_2, "filters": 4} if form != "tap_sum" else {**STRIDE_1, "filters": 1, "kernel_size": 3}
    settings = {**base, **changed}
    assert form not in eligible_forms(keras.layers.Conv2DTranspose(**settings))
    with pytest.raises(ValueError, match="is for .* layers only"):
        FORMS[form](**settings)


@pytest.mark.parametrize("image_shape, to_image", [((28, 28, 1), "TapSumConv2DTranspose"),
                                                   ((64, 64, 3), "Conv2DTranspose")])
def test_a_form_not_measured_faster_at_a_shape_steps_aside_for_keras_s_layer(image_shape, to_image):
    """The tap sum computes three channels exactly, but oneDNN's own layer is the faster there: G's output layer
    keeps Keras's at 64x64x3; every upsampling layer takes its form at every size."""
    from gan_keras.training.gan import build_gan

    generator = build_gan(16, image_shape=image_shape, training_forms=("tap_sum", "fused_norm", "matmul_kernel_grad"))
    layers = {layer.name: type(layer).__name__ for layer in generator.generator.layers}
    assert layers["to_image"] == to_image
    assert all(kind == "MatmulKernelGradConv2DTranspose" for name, kind in layers.items()
               if name.startswith("up_") and not name.endswith(("_bn", "_leaky_relu")))
