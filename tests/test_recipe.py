"""The training recipe's knobs: each changes what it says, on both loops, and the notebook's recipe is unchanged."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras.defaults import RECIPES, TrainConfig
from gan_keras.settings import with_family_and_recipe
from gan_keras.training.fast_step import FastStep
from gan_keras.training.gan import build_gan
from gan_keras.training.notebook_step import NotebookStep
from gan_keras.training.objective import Objective, logit, r1_penalty

BATCH = 8


def batches(count=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32"),
             rng.normal(size=(BATCH, 100)).astype("float32"),
             rng.normal(size=(BATCH, 100)).astype("float32")) for _ in range(count)]


def kernels(model):
    return [variable.numpy() for variable in model.trainable_variables if len(variable.shape) > 1]


def test_normal_init_draws_kernels_and_batchnorm_scales_at_0_02():
    keras.utils.set_random_seed(1)
    normal = build_gan(init="normal", seed=1)
    for kernel in kernels(normal.generator) + kernels(normal.discriminator):
        assert abs(kernel.mean()) < 0.003 and 0.018 < kernel.std() < 0.022
    gammas = np.concatenate([layer.gamma.numpy() for layer in normal.generator.layers
                             if isinstance(layer, keras.layers.BatchNormalization)])
    assert abs(gammas.mean() - 1) < 0.003 and 0.015 < gammas.std() < 0.025
    keras.utils.set_random_seed(1)
    glorot = build_gan(init="glorot", seed=1)
    first = kernels(glorot.generator)[0]  # Glorot uniform over 100 x 6,272: std sqrt(2 / 6,372) = 0.0177
    assert abs(first.std() - np.sqrt(2 / (100 + 6272))) < 0.001
    assert not any(0.018 < kernel.std() < 0.022 for kernel in kernels(glorot.discriminator))


def test_d_dropout_zero_leaves_the_layers_out_and_d_norm_adds_its_layers():
    def kinds(model):
        return {type(layer).__name__ for layer in model.discriminator.layers}

    assert "Dropout" in kinds(build_gan(dropout=0.3, training_forms=()))
    assert "Dropout" not in kinds(build_gan(dropout=0.0))
    assert "BatchNormalization" in kinds(build_gan(d_norm="batch", training_forms=()))
    spectral = build_gan(d_norm="spectral")
    assert sum(isinstance(layer, keras.layers.SpectralNormalization) for layer in spectral.discriminator.layers) == 3
    assert "SpectralNormalization" not in {type(layer).__name__ for layer in spectral.generator.layers}


def test_d_and_g_take_their_own_learning_rates():
    models = build_gan(d_lr=8e-4, g_lr=4e-4)
    assert float(models.discriminator.optimizer.learning_rate) == pytest.approx(8e-4)
    assert float(models.combined.optimizer.learning_rate) == pytest.approx(4e-4)


def test_losses_on_a_known_batch():
    p = tf.constant([[0.9], [0.6], [0.2], [0.05]])
    real = tf.constant([True, True, False, False])
    smoothed = Objective("bce", label_smoothing=0.1)
    targets = np.array([0.9, 0.9, 0.0, 0.0])
    values = p.numpy().ravel()
    expected_bce = -np.mean(targets * np.log(values) + (1 - targets) * np.log(1 - values))
    assert float(smoothed.d_loss(p, 2)) == pytest.approx(expected_bce, rel=1e-5)
    hinge = Objective("hinge")
    logits = np.log(values / (1 - values))
    expected_hinge = np.mean(np.maximum(0, 1 - np.where(real, logits, -logits)))
    assert float(hinge.d_loss(p, 2)) == pytest.approx(expected_hinge, rel=1e-5)
    assert float(hinge.g_loss(p)) == pytest.approx(-np.mean(logits), rel=1e-5)
    assert float(Objective().g_loss(p)) == pytest.approx(-np.mean(np.log(values)), rel=1e-5)
    np.testing.assert_allclose(logit(p).numpy().ravel(), logits, rtol=1e-5)


def test_r1_is_half_gamma_times_the_squared_gradient_norm_of_the_logit():
    """A logistic D: logit(D(x)) = w.x + b, so its gradient at every x is w and R1 = gamma / 2 * |w|^2."""
    keras.utils.set_random_seed(2)
    discriminator = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(1, activation="sigmoid")])
    images = tf.constant(np.random.default_rng(0).uniform(-0.2, 0.2, (5, 2, 2, 1)), tf.float32)
    penalty, _ = r1_penalty(discriminator, images, None, gamma=3.0)
    w = discriminator.layers[-1].kernel.numpy()
    assert float(penalty) == pytest.approx(1.5 * float(np.sum(w ** 2)), rel=1e-4)
    half, _ = r1_penalty(discriminator, images, None, gamma=3.0, real_count=2)  # only the first two are real
    assert float(half) == pytest.approx(float(penalty), rel=1e-4)


@pytest.mark.parametrize("objective", [Objective("hinge", r1_gamma=1.0), Objective("bce", 0.1, 2.0)],
                         ids=["hinge-r1", "smoothing-r1"])
def test_both_loops_train_alike_under_another_objective(objective):
    def fresh():
        keras.utils.set_random_seed(3)
        return build_gan(dropout=0.0, objective=objective)

    notebook_models, fast_models = fresh(), fresh()
    notebook, fast = NotebookStep(notebook_models, BATCH), FastStep(fast_models, BATCH)
    for inputs in batches():
        expected, got = notebook(*inputs), fast(*inputs)
        for name in expected:
            assert got[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-5), name
    for a, b in zip(notebook_models.discriminator.weights + notebook_models.generator.weights,
                    fast_models.discriminator.weights + fast_models.generator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def reference_notebook_iteration(models, real, noise_d, noise_g):
    """The notebook's iteration written with Keras's binary cross-entropy and nothing of gan_keras's objective:
    what the fast step computed before recipes existed."""
    bce = keras.losses.BinaryCrossentropy()
    ones, zeros = tf.ones((BATCH, 1)), tf.zeros((BATCH, 1))
    generator, discriminator = models.generator, models.discriminator
    fake = generator(noise_d, training=False)
    for images, targets in ((real, ones), (fake, zeros)):
        with tf.GradientTape() as tape:
            loss = bce(targets, discriminator(images, training=True))
        discriminator.optimizer.apply(tape.gradient(loss, discriminator.trainable_variables),
                                      discriminator.trainable_variables)
    with tf.GradientTape() as tape:
        loss = bce(ones, discriminator(generator(noise_g, training=True), training=True))
    models.combined.optimizer.apply(tape.gradient(loss, generator.trainable_variables), generator.trainable_variables)


def test_the_notebook_recipe_trains_bit_for_bit_as_the_plain_notebook_iteration():
    config = with_family_and_recipe(TrainConfig(recipe="notebook"))
    objective = Objective(config.loss, config.label_smoothing, config.r1_gamma)
    assert objective == Objective() and config.init == "glorot" and config.d_lr == config.g_lr == config.lr

    def fresh():
        keras.utils.set_random_seed(4)
        return build_gan(dropout=0.0, objective=objective, init=config.init, training_forms=(), fused_adam=False)

    stepped, reference = fresh(), fresh()
    step = FastStep(stepped, BATCH)
    compiled_reference = tf.function(lambda *inputs: reference_notebook_iteration(reference, *inputs))
    for inputs in batches(4):
        step(*inputs)
        compiled_reference(*inputs)
    for a, b in zip(stepped.generator.weights + stepped.discriminator.weights,
                    reference.generator.weights + reference.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_every_recipe_sets_only_known_knobs():
    for name, recipe in RECIPES.items():
        config = with_family_and_recipe(TrainConfig(recipe=name))
        assert config.d_lr > 0 and config.g_lr > 0, name
        assert recipe.summary


def test_the_ttur_recipe_sets_two_time_scales_and_no_dropout():
    config = with_family_and_recipe(TrainConfig(recipe="ttur"))
    assert (config.d_lr, config.g_lr, config.d_dropout) == (8e-4, 4e-4, 0.0)
    assert (config.init, config.d_norm, config.loss, config.label_smoothing, config.r1_gamma) == (
        "glorot", "none", "bce", 0.0, 0.0)
    one_knob = with_family_and_recipe(TrainConfig(recipe="ttur", d_dropout=0.3))  # a knob given wins over the recipe
    assert (one_knob.d_dropout, one_knob.d_lr) == (0.3, 8e-4)


def test_a_measured_recipe_is_for_the_dcgan_only():
    from gan_keras.settings import validate
    from gan_keras.errors import UsageError

    with pytest.raises(UsageError, match="--recipe ttur was measured for the DCGAN"):
        validate(TrainConfig(recipe="ttur", model="mlp-bn"))


def test_a_recipe_generator_saves_as_standard_layers_that_sample_what_it_trained(tmp_path):
    """Trained with the recipe (and the training forms), saved as train.py saves it, loaded in a process
    without gan_keras and without custom objects: the same images."""
    import subprocess
    import sys

    from gan_keras.machine_choices import settle_for_this_machine
    from gan_keras.training.gan import build_run_models
    from gan_keras.training.outputs import RunOutputs

    config = settle_for_this_machine(with_family_and_recipe(TrainConfig(recipe="ttur", mixed_precision="none", seed=5, image_size=28, channels=1)))
    keras.utils.set_random_seed(5)
    models = build_run_models(config, None)
    step = FastStep(models, BATCH)
    for inputs in batches(2):
        step(*inputs)
    outputs = RunOutputs(str(tmp_path), models, 5, 5, None, np.zeros((10, 10), np.uint8), "raw")
    outputs.save_models()
    noise = np.random.default_rng(1).normal(size=(4, 100)).astype("float32")
    np.save(tmp_path / "noise.npy", noise)
    expected = models.generator(noise, training=False).numpy()
    probe = ("import json, sys, numpy as np, keras\n"
             "g = keras.saving.load_model(sys.argv[1])\n"
             "images = g(np.load(sys.argv[2]), training=False)\n"
             "print(json.dumps({'images': np.asarray(images).tolist(), 'gan_keras': 'gan_keras' in sys.modules,\n"
             "                  'layers': sorted({type(l).__module__.split('.')[0] for l in g.layers})}))")
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "generator.keras"), str(tmp_path / "noise.npy")],
                            capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["gan_keras"] is False and report["layers"] == ["keras"]
    np.testing.assert_allclose(np.array(report["images"]), expected, atol=1e-4)


@pytest.mark.slow
def test_a_ttur_run_resumes_bit_for_bit(tmp_path, small_mnist):
    from conftest import run_script
    from gan_keras.training.checkpoints import list_checkpoints, read_checkpoint, weights_digest

    common = ["--recipe", "ttur", "--batch-size", "8", "--save-interval", "3", "--data", small_mnist, "--seed", "2",
              "--deterministic", "--no-progress", "--no-tensorboard", "--mixed-precision", "none"]
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert run_script("train.py", "--epochs", "6", "--out", str(straight), *common).returncode == 0
    assert run_script("train.py", "--epochs", "3", "--out", str(stopped), *common).returncode == 0
    resumed = run_script("train.py", "--resume", str(stopped), "--epochs", "6", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr

    def final(run_dir):
        iteration, path = list_checkpoints(str(run_dir))[-1]
        return iteration, weights_digest(read_checkpoint(path)[0])

    assert final(straight) == final(stopped) and final(straight)[0] == 6


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--loop", "notebook", "--conditional"],
                                   ["--strategy", "mirrored", "--devices", "CPU:0,CPU:1", "--conditional"],
                                   ["--mixed-precision", "bf16", "--loop", "notebook"]],
                         ids=["notebook-loop-conditional", "mirrored-conditional", "bf16-notebook-loop"])
def test_the_ttur_recipe_trains_on_every_loop_and_strategy(tmp_path, small_mnist, extra):
    from conftest import run_script

    run_dir = tmp_path / "run"
    result = run_script("train.py", "--recipe", "ttur", "--epochs", "4", "--batch-size", "8", "--save-interval", "2",
                        "--data", small_mnist, "--out", str(run_dir), "--seed", "3", "--no-progress", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    arguments = json.load(open(run_dir / "config.json"))["arguments"]
    assert (arguments["recipe"], arguments["d_lr"], arguments["g_lr"], arguments["d_dropout"]) == ("ttur", 8e-4, 4e-4,
                                                                                                   0.0)
    assert (run_dir / "generator.keras").exists() and (run_dir / "grid_0000004.png").exists()
