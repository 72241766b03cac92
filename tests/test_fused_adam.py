"""Adam through TensorFlow's fused kernel: Keras's Adam to the last bit of 1 - beta_2, Keras's class and state."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.training.checkpoints import optimizer_variables
from gan_keras.training.fused_adam import fused_adam
from gan_keras.training.gan import build_gan


def trained(optimizer, steps: int = 5):
    """Variables after ``steps`` updates of ``optimizer`` from fixed weights and gradients, and its state."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32")) for shape in [(3, 3, 8, 4), (4,), (7,)]]
    optimizer.build(variables)
    apply = tf.function(lambda gradients: optimizer.apply(gradients, variables))
    for _ in range(steps):
        apply([tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables])
    return [v.numpy() for v in variables], [v.numpy() for v in optimizer.variables]


def test_fused_updates_are_keras_adams_to_float_rounding():
    fused_weights, fused_state = trained(fused_adam(2e-4, 0.5))
    keras_weights, keras_state = trained(keras.optimizers.Adam(2e-4, 0.5))
    for fused, plain in zip(fused_weights + fused_state, keras_weights + keras_state, strict=True):
        np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-7)
    moved = trained(fused_adam(2e-4, 0.5), steps=0)[0]
    assert all(np.abs(a - b).max() > 1e-4 for a, b in zip(fused_weights, moved))  # it did update


def test_the_step_runs_tensorflows_fused_kernel():
    optimizer = fused_adam(2e-4, 0.5)
    variable = keras.Variable(np.ones(5, "float32"))
    optimizer.build([variable])
    graph = tf.function(lambda g: optimizer.apply([g], [variable])).get_concrete_function(
        tf.TensorSpec((5,), tf.float32)).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "ResourceApplyAdam" in kinds


def test_it_stays_kerass_adam_for_saving_and_checkpoints():
    """Saved models name Keras's own class; the state (names, shapes) is Adam's, so checkpoints are unchanged."""
    optimizer = fused_adam(2e-4, 0.5)
    assert type(optimizer) is keras.optimizers.Adam
    assert keras.optimizers.serialize(optimizer)["class_name"] == "Adam"
    fused_models, plain_models = build_gan(16), build_gan(16, fused_adam=False)
    for fused, plain in [(fused_models.discriminator.optimizer, plain_models.discriminator.optimizer),
                         (fused_models.combined.optimizer, plain_models.combined.optimizer)]:
        fused_state, plain_state = optimizer_variables(fused), optimizer_variables(plain)
        assert {k: v.shape for k, v in fused_state.items()} == {k: v.shape for k, v in plain_state.items()}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_fused_adam_trains_under_mixed_precision(precision):
    """Variables stay float32 under bf16; under fp16 the loss-scale wrapper calls the fused inner Adam."""
    from gan_keras.training.fast_step import FastStep

    models = build_gan(16, mixed_precision=precision)
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    before = [w.numpy().copy() for w in models.generator.trainable_weights]
    losses = FastStep(models, 8)(real, rng.normal(size=(8, 16)).astype("float32"),
                                 rng.normal(size=(8, 16)).astype("float32"))
    assert all(np.isfinite(value) for value in losses.values())
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, models.generator.trainable_weights))
