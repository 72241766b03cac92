"""D learns on its own steps and not in the combined step; G learns in the combined step only."""

import numpy as np
import pytest

from gan_keras.training.gan import build_gan

BATCH = 8


def snapshot(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.fixture
def models():
    return build_gan(latent_dim=16)


@pytest.fixture
def batches():
    rng = np.random.default_rng(0)
    return {
        "real": rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32"),
        "noise": rng.normal(size=(BATCH, 16)).astype("float32"),
        "ones": np.ones((BATCH, 1), "float32"),
        "zeros": np.zeros((BATCH, 1), "float32"),
    }


def check_d_step(models, images, labels):
    d_before, g_before = snapshot(models.discriminator), snapshot(models.generator)
    logs = models.discriminator.train_on_batch(images, labels, return_dict=True)
    assert changed(d_before, snapshot(models.discriminator)), "D did not learn on its own step"
    assert not changed(g_before, snapshot(models.generator)), "G moved on a D step"
    return logs


def check_g_step(models, noise, labels):
    d_before, g_before = snapshot(models.discriminator), snapshot(models.generator)
    models.combined.train_on_batch(noise, labels)
    assert not changed(d_before, snapshot(models.discriminator)), "D moved in the combined step"
    assert changed(g_before, snapshot(models.generator)), "G did not learn in the combined step"


def test_discriminator_has_trainable_weights_after_combined_model_is_built(models):
    assert len(models.discriminator.trainable_weights) == 6


def test_alternating_steps_train_the_right_model(models, batches):
    for _ in range(3):
        check_d_step(models, batches["real"], batches["ones"])
        fake = models.generator.predict_on_batch(batches["noise"])
        check_d_step(models, fake, batches["zeros"])
        check_g_step(models, batches["noise"], batches["ones"])


def test_freeze_survives_retracing(models, batches):
    """New dtypes and batch sizes retrace the train functions; the roles stay the same.

    The discriminator's ``trainable`` flag is never touched by this scheme: it is
    True throughout, and the combined step still leaves D alone.
    """
    assert models.discriminator.trainable
    check_g_step(models, batches["noise"], batches["ones"])
    check_d_step(models, batches["real"], batches["ones"])
    check_g_step(models, batches["noise"].astype("float64"), batches["ones"])
    check_d_step(models, batches["real"].astype("float64"), batches["ones"])
    check_g_step(models, batches["noise"][:3], batches["ones"][:3])
    check_d_step(models, batches["real"][:5], batches["zeros"][:5])
    assert models.discriminator.trainable


def test_optimizers_are_separate(models, batches):
    assert models.discriminator.optimizer is not models.combined.optimizer
    check_d_step(models, batches["real"], batches["ones"])
    check_g_step(models, batches["noise"], batches["ones"])
    d_slots = {id(v) for v in models.discriminator.trainable_weights}
    g_slots = {id(v) for v in models.generator.trainable_weights}
    assert models.discriminator.optimizer.iterations.numpy() == 1
    assert models.combined.optimizer.iterations.numpy() == 1
    assert d_slots.isdisjoint(g_slots)


def test_train_on_batch_reports_this_batch(models, batches):
    """Keras 3.15 returns the batch's loss, not a running mean: evaluate agrees."""
    logs = models.discriminator.train_on_batch(batches["real"], batches["ones"], return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert 0.0 <= logs["accuracy"] <= 1.0
    assert np.isfinite(logs["loss"])
