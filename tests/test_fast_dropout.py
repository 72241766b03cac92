"""The 16-bit dropout form: the rate in every dtype, Keras's scaling and seed stream, and its fallbacks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.models.fast_dropout import FastDropout
from gan_keras.models.training_forms import to_standard, to_training_forms
from gan_keras.training.gan import build_gan

RATE = 0.3


def dropped_fraction(layer, shape) -> float:
    outputs = layer(tf.ones(shape), training=True)
    return float(tf.reduce_mean(tf.cast(outputs == 0, tf.float32)))


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("shape", [(64, 14, 14, 64), (8000, 75)])  # even and odd channel counts
def test_drops_the_rate_in_every_dtype(dtype, shape):
    """0.3 to within 4 standard deviations of a binomial (0.002 to 0.0024 here); under bfloat16 too, where Keras's
    own layer, drawing bfloat16 uniforms, drops 39/128 = 0.305, about 2 tolerances away."""
    fractions = [dropped_fraction(FastDropout(RATE, seed=seed, dtype=dtype), shape) for seed in (1, 2)]
    tolerance = 4 * np.sqrt(RATE * (1 - RATE) / np.prod(shape))
    assert all(abs(fraction - RATE) < tolerance for fraction in fractions), fractions
    assert fractions[0] != fractions[1]  # two seeds, two masks


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_kept_values_and_gradient_are_scaled_as_keras_scales_them(dtype):
    layer = FastDropout(RATE, seed=5, dtype=dtype)
    inputs = tf.constant(np.random.default_rng(0).normal(size=(8, 6, 6, 16)), tf.float32)
    upstream = tf.constant(np.random.default_rng(1).normal(size=inputs.shape), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=True)
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * upstream)
    gradient = tape.gradient(loss, inputs).numpy()
    compute = tf.as_dtype(layer.compute_dtype)
    scale = tf.cast(tf.constant(1 / (1 - RATE), compute), tf.float32).numpy()
    kept = np.asarray(tf.cast(outputs, tf.float32)) != 0
    expected = tf.cast(tf.cast(inputs, compute) * tf.constant(1 / (1 - RATE), compute), tf.float32).numpy()
    np.testing.assert_array_equal(np.asarray(tf.cast(outputs, tf.float32))[kept], expected[kept])
    np.testing.assert_allclose(gradient, np.where(kept, scale * upstream.numpy(), 0.0), rtol=1e-2 if
                               dtype != "float32" else 1e-6)
    assert 0.2 < 1 - kept.mean() < 0.4


@pytest.mark.parametrize("rate", [1e-7, 0.9999999])
def test_rates_near_0_and_1_draw_a_mask(rate):
    fraction = dropped_fraction(FastDropout(rate, seed=3), (50, 100))
    assert fraction == pytest.approx(rate, abs=1e-3)


def test_draws_seeds_as_keras_does():
    """Each training call takes the next seed of the layer's own generator, as Keras's Dropout does, so seed
    states (and checkpoints holding them) advance the same; the same state gives the same mask."""
    fast, standard = FastDropout(RATE, seed=11), keras.layers.Dropout(RATE, seed=11)
    inputs = tf.ones((4, 8))
    masks = [fast(inputs, training=True).numpy() for _ in range(3)]
    for _ in range(3):
        standard(inputs, training=True)
    np.testing.assert_array_equal(fast.seed_generator.state.numpy(), standard.seed_generator.state.numpy())
    assert not np.array_equal(masks[0], masks[1])
    fast.seed_generator.state.assign([fast.seed_generator.state.numpy()[0], 0])
    np.testing.assert_array_equal(fast(inputs, training=True).numpy(), masks[0])


@pytest.mark.parametrize("case", ["inference", "noise_shape", "rate 0"])
def test_falls_back_to_keras_where_the_form_does_not_apply(case):
    """Bit for bit Keras's output (same seed state) wherever the 16-bit mask is not used."""
    rate = 0.0 if case == "rate 0" else RATE
    noise_shape = (None, 1, 1, 4) if case == "noise_shape" else None
    inputs = np.random.default_rng(2).normal(size=(6, 3, 3, 4)).astype("float32")
    outputs = [layer_class(rate, noise_shape=noise_shape, seed=4)(inputs, training=case != "inference").numpy()
               for layer_class in (keras.layers.Dropout, FastDropout)]
    np.testing.assert_array_equal(outputs[1], outputs[0])
    if case == "noise_shape":
        assert (outputs[0] == 0).any()


def test_swapping_keeps_seed_states_and_saves_the_standard_layer():
    keras.utils.set_random_seed(0)
    discriminator = build_gan(16, training_forms=()).discriminator
    assert all(type(layer) is not FastDropout for layer in discriminator.layers)
    fast = to_training_forms(discriminator)
    assert [type(layer) for layer in fast.layers if "dropout" in layer.name] == [FastDropout, FastDropout]
    for source, target in zip(discriminator.variables, fast.variables):
        np.testing.assert_array_equal(target.numpy(), source.numpy())  # weights and seed states alike
    assert any("seed_generator" in v.path for v in fast.variables)
    assert [type(layer) for layer in to_standard(fast).layers] == [type(layer) for layer in discriminator.layers]


def test_gan_trains_d_with_fast_dropout_by_default():
    kinds = {type(layer) for layer in build_gan(16).discriminator.layers if "dropout" in layer.name}
    assert kinds == {FastDropout}
