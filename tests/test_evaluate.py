"""The evaluator on real digits: cached classifier, calibration order, command line."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


def run_evaluate(cache, *args):
    env = {**os.environ, "GAN_KERAS_CACHE": cache}
    return subprocess.run([sys.executable, "-m", "gan_keras.evaluate", *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=env)


def test_calibration_orders_real_noise_and_collapse(cache, small_mnist, monkeypatch):
    monkeypatch.setenv("GAN_KERAS_CACHE", cache)
    from gan_keras.data import load_local
    from gan_keras.evaluation.evaluator import Evaluator, calibration_sets

    dataset = load_local(small_mnist)
    evaluator = Evaluator(dataset, verbose=0, classifier_epochs=15)  # 500 digits need more passes
    assert evaluator.classifier_accuracy > 0.8
    scores = {name: evaluator.score(images) for name, images in calibration_sets(dataset, 300).items()}
    real, noise, collapse = scores.values()
    assert real.frechet_distance < collapse.frechet_distance and real.frechet_distance < noise.frechet_distance
    assert real.inception_score > 3 * collapse.inception_score
    assert collapse.inception_score == pytest.approx(1.0, abs=0.05)
    assert collapse.rarest_class_share == 0.0 and real.rarest_class_share > 0.02
    assert real.memorization_share == 1.0  # training images are their own nearest neighbours


def test_command_line_end_to_end_reuses_cached_classifier(cache, small_mnist, trained_run):
    first = run_evaluate(cache, trained_run, "--samples", "200", "--data", small_mnist)
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
        record = next(iter(json.load(handle).values()))
    assert record["count"] == 200 and np.isclose(sum(record["class_shares"]), 1.0)


def test_command_line_errors(cache, tmp_path):
    result = run_evaluate(cache, str(tmp_path))
    assert result.returncode == 2 and "no generator.keras" in result.stderr
    result = run_evaluate(cache, str(tmp_path / "missing.keras"))
    assert result.returncode == 1 and "not found" in result.stderr
