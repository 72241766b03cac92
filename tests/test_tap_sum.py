"""The tap-sum form of a stride-1 Conv2DTranspose to a few channels: the same numbers and variables."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.models.tap_sum import TapSumConv2DTranspose
from gan_keras.models.training_forms import eligible_forms
from gan_keras.training.gan import build_gan


def outputs_and_gradients(layer, inputs):
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs)
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * tf.sin(tf.cast(outputs, tf.float32)))
    return [outputs, *tape.gradient(loss, [inputs, layer.kernel, layer.bias])]


@pytest.mark.parametrize("filters, channels, kernel, activation", [(1, 64, 3, "tanh"), (3, 5, 5, None),
                                                                   (2, 4, (1, 3), None)])
def test_forward_and_gradients_equal_conv2d_transpose(filters, channels, kernel, activation):
    rng = np.random.default_rng(filters)
    settings = {"kernel_size": kernel, "strides": 1, "padding": "same", "activation": activation}
    standard, tap_sum = keras.layers.Conv2DTranspose(filters, **settings), TapSumConv2DTranspose(filters, **settings)
    for layer in (standard, tap_sum):
        layer.build((None, 7, 9, channels))
    weights = [rng.normal(size=w.shape).astype("float32") for w in standard.weights]
    for layer in (standard, tap_sum):
        layer.set_weights(weights)
    inputs = tf.constant(rng.normal(size=(3, 7, 9, channels)), tf.float32)
    expected, got = (outputs_and_gradients(layer, inputs) for layer in (standard, tap_sum))
    assert got[0].shape == (3, 7, 9, filters)
    for name, want, have in zip(("output", "input gradient", "kernel gradient", "bias gradient"), expected, got):
        scale = max(1.0, float(np.abs(want).max()))  # float32 sums in another order
        np.testing.assert_allclose(have.numpy(), want.numpy(), rtol=0, atol=2e-5 * scale, err_msg=name)


def test_bf16_forward_close_to_conv2d_transpose():
    settings = {"kernel_size": 3, "strides": 1, "padding": "same", "dtype": "mixed_bfloat16"}
    standard, tap_sum = keras.layers.Conv2DTranspose(1, **settings), TapSumConv2DTranspose(1, **settings)
    for layer in (standard, tap_sum):
        layer.build((None, 6, 6, 16))
    tap_sum.set_weights(standard.get_weights())
    inputs = np.random.default_rng(2).normal(size=(2, 6, 6, 16)).astype("float32")
    a, b = (np.asarray(tf.cast(layer(inputs), tf.float32)) for layer in (standard, tap_sum))
    assert np.abs(a - b).max() <= 0.02 * np.abs(a).max()


@pytest.mark.parametrize("settings", [{"filters": 1, "strides": 2}, {"filters": 5}, {"filters": 1, "padding": "valid"},
                                      {"filters": 1, "kernel_size": 4}, {"filters": 1, "dilation_rate": 2}])
def test_only_odd_stride_1_same_layers_to_few_channels_qualify(settings):
    layer = keras.layers.Conv2DTranspose(**{"kernel_size": 3, "padding": "same", **settings})
    assert "tap_sum" not in eligible_forms(layer)
    with pytest.raises(ValueError, match="tap-sum form"):
        TapSumConv2DTranspose(**{"kernel_size": 3, "padding": "same", **settings})


def test_gan_trains_to_image_in_tap_sum_form_by_default():
    assert type(build_gan(16).generator.get_layer("to_image")) is TapSumConv2DTranspose
    assert type(build_gan(16, training_forms=()).generator.get_layer("to_image")) is keras.layers.Conv2DTranspose


@pytest.mark.parametrize("gpus, onednn, tap_sum", [(0, True, True), (0, False, False)])
def test_tap_sum_only_where_onednn_runs_the_cpu_convolutions(gpus, onednn, tap_sum):
    """Eigen's one-channel transposed convolution beats the tap sum (docs/speed.md)."""
    from gan_keras.machine_choices import choose_training_forms

    forms = choose_training_forms(gpus, onednn)
    assert ("tap_sum" in forms) == tap_sum
    assert {"fused_norm", "fast_dropout"} <= set(forms)


def test_a_gpu_trains_with_keras_layers_until_measured():
    from gan_keras.machine_choices import choose_training_forms

    assert choose_training_forms(1, True) == ()


def test_train_py_builds_the_forms_chosen_for_the_machine(monkeypatch):
    """The run's forms are machine_choices.choose_training_forms's (here: told oneDNN is off), except under
    multiworker, where every worker takes the same fixed forms."""
    from gan_keras import machine_choices
    from gan_keras.defaults import TrainConfig

    monkeypatch.setattr(machine_choices, "choose_training_forms", lambda gpus, onednn=None, precision="none": (
        "fused_norm", "fast_dropout"))
    config = TrainConfig(mixed_precision="none")
    machine_choices.settle_for_this_machine(config)
    assert config.training_forms == "fused_norm,fast_dropout"
    config = TrainConfig(strategy="multiworker")
    machine_choices.settle_for_this_machine(config)
    assert "tap_sum" in config.training_forms.split(",")  # every worker alike
