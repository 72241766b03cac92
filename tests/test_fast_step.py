"""The compiled fast step and the notebook's train_on_batch path give the same training."""

import keras
import numpy as np
import pytest

from gan_keras.training.fast_step import FastStep
from gan_keras.training.gan import build_gan
from gan_keras.training.notebook_step import NotebookStep

BATCH, LATENT, ITERATIONS = 16, 100, 4


def fresh_models():
    keras.utils.set_random_seed(11)
    return build_gan(latent_dim=LATENT, dropout=0.0)


@pytest.fixture(scope="module")
def inputs(small_mnist):
    from gan_keras.data import load_local, scale_images

    images = scale_images(load_local(small_mnist).x_train)
    rng = np.random.default_rng(4)
    return [(images[rng.integers(0, len(images), BATCH)],
             rng.normal(size=(BATCH, LATENT)).astype("float32"),
             rng.normal(size=(BATCH, LATENT)).astype("float32")) for _ in range(ITERATIONS)]


def test_fast_step_matches_notebook_path(inputs):
    reference, fast = fresh_models(), fresh_models()
    for a, b in zip(reference.generator.weights, fast.generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    notebook_step, fast_step = NotebookStep(reference, BATCH), FastStep(fast, BATCH)
    for real, noise_d, noise_g in inputs:
        expected, got = notebook_step(real, noise_d, noise_g), fast_step(real, noise_d, noise_g)
        for name in expected:
            assert got[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-5), name
    for model_a, model_b in ((reference.generator, fast.generator),
                             (reference.discriminator, fast.discriminator)):
        for a, b in zip(model_a.weights, model_b.weights):  # includes BatchNorm moving statistics
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    assert fast.discriminator.optimizer.iterations.numpy() == 2 * ITERATIONS
    assert fast.combined.optimizer.iterations.numpy() == ITERATIONS


def test_fast_step_moves_weights_it_should(inputs):
    models = fresh_models()
    step = FastStep(models, BATCH)
    d_before = [w.numpy().copy() for w in models.discriminator.trainable_weights]
    g_before = [w.numpy().copy() for w in models.generator.trainable_weights]
    step(*inputs[0])
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(d_before, models.discriminator.trainable_weights))
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(g_before, models.generator.trainable_weights))


def family_inputs(latent, conditional, seed=5):
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(3):
        one_hot = (lambda: np.eye(10, dtype="float32")[rng.integers(0, 10, BATCH)]) if conditional else (
            lambda: None)
        batches.append((rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32"),
                        rng.normal(size=(BATCH, latent)).astype("float32"),
                        rng.normal(size=(BATCH, latent)).astype("float32"), one_hot(), one_hot(), one_hot()))
    return batches


@pytest.mark.parametrize("family,conditional", [("mlp", False), ("mlp-bn", False), ("fc", False),
                                                ("mlp-bn", True), ("dcgan", True)])
def test_both_paths_agree_for_every_family(family, conditional):
    """Joint D updates (the MLP families) and conditional models, on both training paths."""
    classes = 10 if conditional else None

    def fresh():
        keras.utils.set_random_seed(3)
        return build_gan(model=family, classes=classes, dropout=0.0)

    reference, fast = fresh(), fresh()
    notebook_step, fast_step = NotebookStep(reference, BATCH), FastStep(fast, BATCH)
    from gan_keras.sampling import latent_dim

    latent = latent_dim(reference.generator)
    for batch in family_inputs(latent, conditional):
        expected, got = notebook_step(*batch), fast_step(*batch)
        for name in expected:
            assert got[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-5), name
    for model_a, model_b in ((reference.generator, fast.generator),
                             (reference.discriminator, fast.discriminator)):
        for a, b in zip(model_a.weights, model_b.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    d_steps = 1 if reference.d_update == "joint" else 2
    assert fast.discriminator.optimizer.iterations.numpy() == d_steps * 3


def test_joint_update_minimises_the_scaled_sum():
    """mlp-bn's D step follows 0.5 * (loss_real + loss_fake): one Adam step, as in its seed."""
    keras.utils.set_random_seed(3)
    models = build_gan(model="mlp-bn")
    assert models.d_update == "joint" and models.d_loss_scale == 0.5
    real, noise_d, noise_g, *_ = family_inputs(100, False)[0]
    d_before = [w.numpy().copy() for w in models.discriminator.trainable_weights]
    g_before = [w.numpy().copy() for w in models.generator.trainable_weights]
    losses = FastStep(models, BATCH)(real, noise_d, noise_g)
    assert losses["d_loss"] == pytest.approx(0.5 * (losses["d_loss_real"] + losses["d_loss_fake"]))
    assert models.discriminator.optimizer.iterations.numpy() == 1
    assert models.combined.optimizer.iterations.numpy() == 1
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(d_before, models.discriminator.trainable_weights))
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(g_before, models.generator.trainable_weights))


@pytest.mark.parametrize("conditional", [False, True])
def test_in_graph_batches_train_exactly_as_the_pipeline(small_mnist, conditional):
    """step.run(first, count) draws in the graph the batches batch_stream yields: same losses, same weights."""
    import tensorflow as tf

    from gan_keras.data import load_local
    from gan_keras.training.batches import InGraphBatches, batch_stream

    data = load_local(small_mnist)
    classes = 10 if conditional else None
    first, count = 6, 5  # as a resumed run's first call: iterations 6..10

    def trained(use_run):
        keras.utils.set_random_seed(3)
        models = build_gan(latent_dim=LATENT, classes=classes, ema=0.9)  # dropout on: D draws its masks too
        batches = InGraphBatches(data.x_train, data.y_train, 21, BATCH, LATENT, classes)
        step = FastStep(models, BATCH, batches=batches)
        if use_run:
            losses = step.run(first, 2) + step.run(first + 2, count - 2)  # two calls, as the loop makes them
        else:
            stream = batch_stream(tf.distribute.get_strategy(), data.x_train, data.y_train, 21, first - 1,
                                  first - 1 + count, BATCH, LATENT, classes)
            losses = [step(**next(stream)) for _ in range(count)]
        return losses, [w.numpy() for w in models.generator.weights + models.discriminator.weights
                        + models.average.average.weights]

    run_losses, run_weights = trained(True)
    fed_losses, fed_weights = trained(False)
    assert len(run_losses) == count
    assert run_losses == fed_losses
    for a, b in zip(run_weights, fed_weights):
        np.testing.assert_array_equal(a, b)


def test_images_read_from_a_file_row_by_row_are_the_images_held_in_memory(tmp_path, monkeypatch):
    """Large data stays on disk and its batches' rows are read from the file: the same bytes as a gather."""
    import tensorflow as tf

    from gan_keras.training import batches

    images = np.random.default_rng(0).integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(batches, "IN_GRAPH_BYTES", 1000)  # as if it were large
    from_file, held = batches.ImageRows(mapped), batches.ImageRows(images[:5])
    assert from_file.held is None and isinstance(from_file.rows, batches.FileRows) and held.held is not None
    chosen = tf.constant([7, 0, 49, 7, 3], tf.int64)
    np.testing.assert_array_equal(tf.function(from_file)(chosen).numpy(), images[[7, 0, 49, 7, 3]])
