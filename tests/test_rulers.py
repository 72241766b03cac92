"""Rulers for colour images: Stacked MNIST (its batches, its modes, its per-channel FD), InceptionV3's FD and
KID with weights from a file, and a classifier trained here at any size and channel count."""

import json
import os

import numpy as np
import pytest

from conftest import run_script, shipped_mnist_entry
from gan_keras.data import load_dataset
from gan_keras.scoring import metrics


@pytest.fixture
def stacked(small_mnist):
    return load_dataset("stacked_mnist", small_mnist)


def test_stacked_mnist_is_three_digits_as_r_g_b_drawn_per_iteration(stacked):
    import tensorflow as tf

    from gan_keras.training.batches import InGraphBatches

    assert stacked.image_shape == (28, 28, 3) and stacked.classes == 1000 and "Stacked MNIST" in stacked.describe()
    batches = InGraphBatches(stacked.x_train, stacked.y_train, 5, 8, 4, stacked.classes, stack=stacked.stack)
    first = {name: value.numpy() for name, value in batches.replica_slice(tf.constant(1, tf.int64), 0).items()}
    again = {name: value.numpy() for name, value in batches.replica_slice(tf.constant(1, tf.int64), 0).items()}
    other = batches.replica_slice(tf.constant(2, tf.int64), 0)["real"].numpy()
    assert first["real"].shape == (8, 28, 28, 3) and np.array_equal(first["real"], again["real"])
    assert not np.array_equal(first["real"], other)  # another iteration, other digits
    digits = np.round((first["real"] + 1) * 127.5).astype(np.uint8)
    chosen = [[int(np.flatnonzero((stacked.x_train[:, :, :, 0] == digits[i, :, :, c]).all(axis=(1, 2)))[0])
               for c in range(3)] for i in range(8)]  # each channel is a training digit
    modes = [100 * stacked.y_train[a] + 10 * stacked.y_train[b] + stacked.y_train[c] for a, b, c in chosen]
    assert list(np.argmax(first["classes_real"], axis=1)) == modes


def test_mode_figures_by_hand():
    digits = np.array([[1, 2, 3], [1, 2, 3], [0, 0, 7], [9, 9, 9]])
    figures = metrics.mode_statistics(digits)
    assert figures["modes_covered"] == 3 and figures["commonest_mode"] == 123
    assert figures["commonest_mode_samples"] == 2 and figures["rarest_mode_samples"] == 0
    shares = np.array([0.5, 0.25, 0.25])
    assert figures["kl_from_uniform"] == pytest.approx(float(np.sum(shares * np.log(shares * 1000))))
    red = np.array([0.25, 0.5, 0, 0, 0, 0, 0, 0, 0, 0.25])  # R's digits: 1, 1, 0, 9
    assert figures["channel_digit_kl"][0] == pytest.approx(float(np.sum(red[red > 0] * np.log(red[red > 0] * 10))))
    independent = np.stack(np.meshgrid(range(10), range(10), range(10), indexing="ij"), -1).reshape(-1, 3)
    skewed = np.concatenate([independent, independent[independent[:, 0] == 9]])  # R draws 9 twice as often
    figures = metrics.mode_statistics(skewed)
    assert figures["channel_digit_kl"][1:] == [pytest.approx(0.0), pytest.approx(0.0)]
    assert figures["kl_from_uniform"] == pytest.approx(figures["channel_digit_kl"][0])  # independent: the sum
    collapsed = metrics.mode_statistics(np.zeros((50, 3), int))
    assert collapsed["modes_covered"] == 1 and collapsed["kl_from_uniform"] == pytest.approx(np.log(1000))


def test_kid_against_a_hand_computation_on_tiny_features():
    a = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    b = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 2.0]])

    def kernel(x, y):
        return (x @ y / 2 + 1) ** 3

    m = 3
    within_a = sum(kernel(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    within_b = sum(kernel(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    across = sum(kernel(a[i], b[j]) for i in range(m) for j in range(m)) / (m * m)
    kid, spread = metrics.kernel_inception_distance(a, b, subsets=5, subset_size=10)
    assert kid == pytest.approx(within_a + within_b - 2 * across) and spread == pytest.approx(0.0, abs=1e-12)
    # a set against itself: unbiased, so not 0 but the within-set mean less the mean over all pairs
    same, _ = metrics.kernel_inception_distance(a, a, subsets=3)
    across_itself = sum(kernel(a[i], a[j]) for i in range(m) for j in range(m)) / (m * m)
    assert same == pytest.approx(2 * within_a - 2 * across_itself) and same < 0


def test_the_stacked_ruler_counts_modes_and_each_channel_s_fd(stacked, small_mnist, monkeypatch):
    from gan_keras.data import scale_images
    from gan_keras.scoring import classifier
    from gan_keras.scoring.rulers import ruler_for

    monkeypatch.setattr(classifier, "SHIPPED", (shipped_mnist_entry(small_mnist),))
    ruler = ruler_for(stacked)
    assert ruler.version == "stacked-mnist-cnn-v3" and ruler.samples == 26_000
    rng = np.random.default_rng(0)
    real = scale_images(stacked.images(rng.choice(len(stacked.x_train), (400, 3))))
    scores = ruler.score(real)
    figures = scores.extra
    assert 250 <= figures["modes_covered"] <= 400 and len(figures["channel_frechet_distances"]) == 3
    assert scores.frechet_distance == pytest.approx(np.mean(figures["channel_frechet_distances"]))
    collapsed = ruler.score(np.repeat(real[:1], 400, axis=0))
    assert collapsed.extra["modes_covered"] == 1 and collapsed.frechet_distance > 10 * scores.frechet_distance
    assert "modes 1 of 1,000" in collapsed.line() and "KL 6.908" in collapsed.line()


def test_stacked_calibration_stacks_independent_digits(stacked, small_mnist, monkeypatch):
    from gan_keras.scoring import classifier
    from gan_keras.scoring.evaluator import calibration_sets
    from gan_keras.scoring.rulers import ruler_for

    monkeypatch.setattr(classifier, "SHIPPED", (shipped_mnist_entry(small_mnist),))
    ruler = ruler_for(stacked)
    sets = calibration_sets(stacked, 400)
    assert all(images.shape == (400, 28, 28, 3) for images in sets.values())
    real, noise, collapse = (ruler.score(images) for images in sets.values())
    assert real.extra["modes_covered"] > 250  # three independent digits, not one digit in three channels
    assert collapse.extra["modes_covered"] == 1 and noise.frechet_distance > real.frechet_distance


def test_no_weights_offline_is_one_line_saying_how_to_get_them(tmp_path, monkeypatch):
    from gan_keras.scoring import inception

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(inception.InceptionError, match="--inception-weights FILE") as raised:
        inception.find_weights(None, download=False)
    assert str(tmp_path / "models") in str(raised.value) and "\n" not in str(raised.value)


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory) -> str:
    """InceptionV3's weights from a random initialisation (no weights can be downloaded here)."""
    import keras

    path = str(tmp_path_factory.mktemp("inception") / "random_inception.weights.h5")
    keras.utils.set_random_seed(0)
    keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg").save_weights(path)
    return path


@pytest.mark.slow
def test_inception_scores_any_images_from_a_weights_file(tmp_path, random_inception_weights):
    from gan_keras.data import load_local, scale_images
    from gan_keras.scoring.classifier import file_sha256
    from gan_keras.scoring.rulers import ruler_for

    folder = tmp_path / "colour"
    folder.mkdir()
    rng = np.random.default_rng(1)
    from PIL import Image

    for index in range(24):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    dataset = load_local(str(folder))
    ruler = ruler_for(dataset, inception_weights=random_inception_weights)
    assert ruler.version == f"inception-v3-keras-{file_sha256(random_inception_weights)[:8]}"
    assert ruler.real_features.shape == (24, 2048)
    same = ruler.score(scale_images(dataset.x_train))
    noise = ruler.score(rng.uniform(-1, 1, (24, 32, 32, 3)).astype(np.float32))
    assert same.frechet_distance == pytest.approx(0.0, abs=1e-3) and noise.frechet_distance > same.frechet_distance
    assert noise.extra["kernel_inception_distance"] > same.extra["kernel_inception_distance"]
    assert "KID" in noise.line()


@pytest.mark.slow
def test_evaluate_inception_on_a_run_and_a_classifier_trained_at_32x32_rgb(tmp_path, random_inception_weights):
    from PIL import Image, ImageDraw

    folder, rng = tmp_path / "shapes", np.random.default_rng(2)
    for kind in ("circles", "squares"):
        (folder / kind).mkdir(parents=True)
        for index in range(40):
            image = Image.new("RGB", (32, 32), tuple(int(v) for v in rng.integers(0, 256, 3)))
            (ImageDraw.Draw(image).ellipse if kind == "circles" else ImageDraw.Draw(image).rectangle)(
                [6, 6, 24, 24], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
            image.save(folder / kind / f"{index}.png")
    run_dir = tmp_path / "run"
    assert run_script("train.py", "--data", str(folder), "--conditional", "--epochs", "2", "--batch-size", "8",
                      "--out", str(run_dir), "--no-progress", "--no-tensorboard").returncode == 0
    scores = tmp_path / "inception.json"
    result = run_script("evaluate.py", str(run_dir), "--inception-weights", random_inception_weights, "--samples",
                        "100", "--json", str(scores))
    assert result.returncode == 0, result.stderr
    assert "KID" in result.stdout and "inception-v3-keras-" in result.stdout
    (ruler, scored), = json.loads(scores.read_text()).items()
    assert ruler.startswith("inception-v3-keras-") and "kernel_inception_distance" in next(iter(scored.values()))["extra"]
    trained = run_script("evaluate.py", str(run_dir), "--train-classifier", "--samples", "100")
    assert trained.returncode == 0, trained.stderr
    assert "local-cnn-v3-" in trained.stdout and "conditional accuracy" in trained.stdout
    assert os.path.exists(run_dir / "generator.keras")


@pytest.mark.slow
def test_a_run_scores_with_inception_where_weights_are_installed(tmp_path, random_inception_weights):
    import subprocess
    import sys

    from PIL import Image

    from conftest import ROOT

    folder, rng = tmp_path / "colour", np.random.default_rng(3)
    folder.mkdir()
    for index in range(16):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    run_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--data", str(folder), "--epochs", "2",
                             "--batch-size", "8", "--eval-interval", "2", "--eval-samples", "100", "--sample-from",
                             "average", "--out", str(run_dir), "--no-progress", "--no-tensorboard"],
                            capture_output=True, text=True, timeout=900, cwd=ROOT,
                            env={**os.environ, "GAN_KERAS_INCEPTION_WEIGHTS": random_inception_weights})
    assert result.returncode == 0, result.stderr
    ruler = json.loads((run_dir / "config.json").read_text())["evaluator"]
    assert ruler.startswith("inception-v3-keras-") and json.loads((run_dir / "best.json").read_text())["evaluator"] == ruler


@pytest.mark.slow
def test_without_a_ruler_a_run_keeps_the_average_and_says_so(tmp_path):
    from PIL import Image

    folder, rng = tmp_path / "colour", np.random.default_rng(4)
    folder.mkdir()
    for index in range(16):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    result = run_script("train.py", "--data", str(folder), "--epochs", "2", "--batch-size", "8", "--out",
                        str(tmp_path / "run"), "--no-progress", "--no-tensorboard")
    assert result.returncode == 0, result.stderr
    assert "no ruler knows this data" in result.stdout and "generator.keras is the averaged generator" in result.stdout
    assert not (tmp_path / "run" / "sampled.json").exists()
