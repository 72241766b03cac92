"""Inference on every Keras backend: TensorFlow-made generators sampled and scored under JAX.

Training needs TensorFlow (tf.function, tf.data, tf.distribute); everything that only runs a
saved generator (sample.py, the evaluator) runs on any Keras 3 backend. One JAX process runs
sample.py (grid, conditional --digit, --interpolate), make_gif.py, the evaluator, the shipped
evaluator's weights and raw sampling, then reports whether TensorFlow was ever imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run_script

pytestmark = pytest.mark.slow  # every test here trains for real or runs another backend

JAX_SCRIPT = r"""
import json, runpy, sys
import numpy as np
import keras
from gan_keras import sampling

plain_path, conditional_path, data, out = sys.argv[1:5]

def cli(script, *args):
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        assert not stop.code, (script, args, stop.code)

cli("sample.py", plain_path, "--seed", "3", "--out", out + "/grid.png")
cli("sample.py", conditional_path, "--digit", "3", "--count", "16", "--seed", "3", "--out", out + "/threes.npy")
cli("sample.py", plain_path, "--interpolate", "--points", "2", "--steps", "3", "--out", out + "/walk.gif")
import os, shutil
os.makedirs(out + "/run")
for index in range(3):
    shutil.copy(out + "/grid.png", out + f"/run/grid_{index:07d}.png")
cli("make_gif.py", out + "/run")
sys.argv = ["evaluate", plain_path, "--samples", "200", "--data", data, "--json", out + "/scores.json"]
from gan_keras.evaluate import main
main()
plain = sampling.generate(sampling.load_generator(plain_path), 64, 3)
conditional = sampling.generate(sampling.load_generator(conditional_path), 20, 3, np.arange(20) % 10)
from gan_keras.data import load_local, scale_images
from gan_keras.scoring import classifier
shipped = classifier.load_shipped(next(entry for entry in classifier.SHIPPED if entry.dataset == "mnist"))
judged = np.asarray(shipped.predict(scale_images(load_local(data).x_test), verbose=0))
np.savez(out + "/floats.npz", plain=plain, conditional=conditional, judged=judged)
print(json.dumps({"backend": keras.backend.backend(), "tensorflow_imported": "tensorflow" in sys.modules}))
"""


@pytest.fixture(scope="module")
def generators(tmp_path_factory) -> tuple[str, str]:
    """An unconditional and a conditional DCGAN generator, built and saved by TensorFlow."""
    import keras

    from gan_keras.models import build_pair

    folder = tmp_path_factory.mktemp("generators")
    paths = []
    for name, classes in (("plain", None), ("conditional", 10)):
        keras.utils.set_random_seed(11)
        generator, _ = build_pair("dcgan", 100, classes, None)
        path = str(folder / f"{name}.keras")
        generator.save(path)
        paths.append(path)
    return paths[0], paths[1]


def test_sample_and_evaluate_under_jax_match_tensorflow(generators, small_mnist, tmp_path, monkeypatch):
    pytest.importorskip("jax")  # pinned in requirements-common.txt, so CI always runs this
    from gan_keras import sampling
    from gan_keras.data import load_local
    from gan_keras.scoring.evaluator import Evaluator

    plain_path, conditional_path = generators
    cache = tmp_path / "cache"
    monkeypatch.setenv("GAN_KERAS_CACHE", str(cache))
    Evaluator(load_local(small_mnist), verbose=0, classifier_epochs=2, train_classifier=True)  # cached for JAX
    env = {**os.environ, "KERAS_BACKEND": "jax", "GAN_KERAS_CACHE": str(cache)}
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT, plain_path, conditional_path, small_mnist,
                             str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"backend": "jax", "tensorflow_imported": False}
    assert "(cached)" in result.stdout  # the TensorFlow-trained classifier, loaded by JAX

    floats = np.load(tmp_path / "floats.npz")
    plain = sampling.generate(sampling.load_generator(plain_path), 64, 3)
    conditional = sampling.generate(sampling.load_generator(conditional_path), 20, 3, np.arange(20) % 10)
    assert np.max(np.abs(floats["plain"] - plain)) < 1e-4
    assert np.max(np.abs(floats["conditional"] - conditional)) < 1e-4
    from gan_keras.data import scale_images
    from gan_keras.scoring import classifier  # the shipped evaluator's weights read the same under JAX

    dataset = load_local(small_mnist)
    shipped = classifier.load_shipped(next(entry for entry in classifier.SHIPPED if entry.dataset == "mnist"))
    judged = np.asarray(shipped.predict(scale_images(dataset.x_test), verbose=0))
    assert np.max(np.abs(floats["judged"] - judged)) < 1e-4
    assert np.mean(np.argmax(floats["judged"], axis=1) == dataset.y_test) >= 0.97
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert (tmp_path / "walk.gif").stat().st_size > 0 and (tmp_path / "run" / "progress.gif").stat().st_size > 0
    threes = np.load(tmp_path / "threes.npy")
    assert threes.shape == (16, 28, 28) and threes.dtype == np.uint8

    tensorflow_scores = tmp_path / "tf_scores.json"
    result = subprocess.run([sys.executable, "-m", "gan_keras.evaluate", plain_path, "--samples", "200", "--data",
                             small_mnist, "--json", str(tensorflow_scores)], capture_output=True, text=True,
                            timeout=600, cwd=ROOT, env={**os.environ, "GAN_KERAS_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr[-2000:]
    on_jax = only_scores(tmp_path / "scores.json")
    on_tensorflow = only_scores(tensorflow_scores)
    assert on_jax["frechet_distance"] == pytest.approx(on_tensorflow["frechet_distance"], rel=1e-3)
    assert on_jax["inception_score"] == pytest.approx(on_tensorflow["inception_score"], rel=1e-3)


def only_scores(path) -> dict:
    """The one generator's scores in an evaluate --json file: {ruler: {generator: scores}}."""
    (by_generator,) = json.loads(path.read_text()).values()
    (scores,) = by_generator.values()
    return scores


def test_training_on_another_backend_is_one_clear_line(small_mnist, tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--epochs", "2", "--data", small_mnist,
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "training needs the TensorFlow backend" in result.stderr and "KERAS_BACKEND=jax" in result.stderr
    assert not (tmp_path / "run").exists()
    assert run_script("train.py", "--help").returncode == 0  # --help still answers at once
