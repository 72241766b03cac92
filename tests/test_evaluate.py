"""The evaluator on real digits: cached classifier, calibration order, command line."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, shipped_mnist_entry


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


def run_evaluate(cache, *args):
    env = {**os.environ, "GAN_KERAS_CACHE": cache}
    return subprocess.run([sys.executable, "-m", "gan_keras.evaluate", *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def evaluator(small_mnist):
    """The shipped MNIST classifier, scoring against the small file's real digits."""
    from gan_keras.data import load_local
    from gan_keras.scoring import classifier
    from gan_keras.scoring.evaluator import Evaluator

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classifier, "SHIPPED", (shipped_mnist_entry(small_mnist),))
        return Evaluator(load_local(small_mnist), verbose=0)


def test_calibration_orders_real_noise_and_collapse(evaluator, small_mnist):
    from gan_keras.data import load_local
    from gan_keras.scoring.evaluator import calibration_sets

    dataset = load_local(small_mnist)
    assert evaluator.classifier_accuracy > 0.8
    scores = {name: evaluator.score(images) for name, images in calibration_sets(dataset, 300).items()}
    real, noise, collapse = scores.values()
    assert real.frechet_distance < collapse.frechet_distance and real.frechet_distance < noise.frechet_distance
    assert real.inception_score > 3 * collapse.inception_score
    assert collapse.inception_score == pytest.approx(1.0, abs=0.05)
    assert collapse.rarest_class_share == 0.0 and real.rarest_class_share > 0.02
    assert real.memorization_share == 1.0  # training images are their own nearest neighbours


def class_mean_generator(dataset, order):
    """A conditional 'generator' that ignores its noise and draws the mean training image of class order[k]."""
    import keras

    from gan_keras.data import scale_images

    images = scale_images(dataset.x_train).reshape(len(dataset.x_train), -1)
    means = np.stack([images[dataset.y_train == digit].mean(axis=0) for digit in order])
    noise, label = keras.Input((4,), name="noise"), keras.Input((10,), name="label")
    pixels = keras.layers.Dense(784, use_bias=False, name="class_means")(label)
    model = keras.Model([noise, label], keras.layers.Reshape((28, 28, 1))(pixels))
    model.get_layer("class_means").set_weights([means])
    return model


def test_conditional_accuracy(evaluator, small_mnist):
    from gan_keras.data import load_local

    dataset = load_local(small_mnist)
    right = evaluator.score_generator(class_mean_generator(dataset, range(10)), 200, seed=0)
    shifted = evaluator.score_generator(class_mean_generator(dataset, [(d + 1) % 10 for d in range(10)]), 200)
    assert right.conditional_accuracy >= 0.5 and shifted.conditional_accuracy <= 0.2  # means: blurry digits
    assert "conditional accuracy" in right.line()
    unconditional = evaluator.score(np.zeros((20, 28, 28, 1), "float32"))
    assert unconditional.conditional_accuracy is None and "conditional" not in unconditional.line()


@pytest.mark.slow
def test_command_line_end_to_end_reuses_cached_classifier(cache, small_mnist, trained_run):
    refused = run_evaluate(str(os.path.join(cache, "empty")), trained_run, "--samples", "200", "--data", small_mnist)
    assert refused.returncode == 1 and "no ruler knows" in refused.stderr
    assert "--train-classifier" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    first = run_evaluate(cache, trained_run, "--samples", "200", "--data", small_mnist, "--train-classifier")
    assert first.returncode == 0, first.stderr
    cached = [name for name in os.listdir(cache) if name.startswith("classifier_")]
    assert len(cached) == 1
    stamp = os.path.getmtime(os.path.join(cache, cached[0]))
    second = run_evaluate(cache, os.path.join(trained_run, "generator.keras"), "--samples", "200",
                          "--data", small_mnist, "--json", os.path.join(cache, "scores.json"))
    assert second.returncode == 0, second.stderr
    assert "(cached)" in second.stdout and "training the evaluation classifier" not in second.stdout
    assert os.path.getmtime(os.path.join(cache, cached[0])) == stamp
    for output in (first.stdout, second.stdout):
        assert "FD" in output and "IS" in output and "rarest class" in output
    import json

    with open(os.path.join(cache, "scores.json")) as handle:
        (ruler, scored), = json.load(handle).items()  # the figures under the ruler's name
        record = next(iter(scored.values()))
    assert ruler == record["evaluator"]
    assert record["count"] == 200 and np.isclose(sum(record["class_shares"]), 1.0)
    assert record["evaluator"].startswith("local-cnn-v3-")  # a classifier trained here, named as such


def test_command_line_errors(cache, tmp_path):
    result = run_evaluate(cache, str(tmp_path))
    assert result.returncode == 2 and "no generator.keras" in result.stderr
    result = run_evaluate(cache, str(tmp_path / "missing.keras"))
    assert result.returncode == 1 and "not found" in result.stderr
    earlier = tmp_path / "scores.json"
    earlier.write_text("{}")
    result = run_evaluate(cache, str(tmp_path / "missing.keras"), "--json", str(earlier))
    assert result.returncode == 2 and "--force" in result.stderr and earlier.read_text() == "{}"
