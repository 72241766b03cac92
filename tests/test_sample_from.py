"""--sample-from: which generator generator.keras is; `better` picks by the shipped evaluator at the end."""

import json

import numpy as np
import pytest

from conftest import shipped_mnist_entry
from gan_keras.defaults import TrainConfig
from gan_keras.sampling import generate, load_generator
from gan_keras.scoring import classifier
from gan_keras.training import loop


pytestmark = pytest.mark.slow  # every test here trains for real or runs another backend

def small_run(tmp_path, small_mnist, name="run", **changes):
    settings = dict(epochs=6, batch_size=8, save_interval=3, log_interval=1, seed=1, data=small_mnist,
                    out=str(tmp_path / name), no_tensorboard=True)
    settings.update(changes)
    return loop.train(TrainConfig(**settings), show_progress=False)


def images(path):
    return generate(load_generator(path), 16, seed=0)


def test_better_keeps_the_lower_fd_generator_and_both_files(tmp_path, small_mnist, monkeypatch):
    monkeypatch.setattr(classifier, "SHIPPED", (shipped_mnist_entry(small_mnist),))
    run_dir = tmp_path / "run"
    small_run(tmp_path, small_mnist)
    record = json.loads((run_dir / "sampled.json").read_text())
    scores = record["scores"]
    assert record["evaluator"] == "mnist-cnn-v3" and record["iteration"] == 6 and record["samples"] == 10_000
    assert record["sampled"] == min(scores, key=lambda name: scores[name]["frechet_distance"])
    other = "raw" if record["sampled"] == "average" else "average"
    picked = images(run_dir / "generator.keras")
    assert np.array_equal(picked, images(run_dir / f"generator_{record['sampled']}.keras"))
    assert not np.array_equal(picked, images(run_dir / f"generator_{other}.keras"))

    (run_dir / "generator.keras").unlink()  # a kill after the last checkpoint: resume rewrites it, same pick
    (run_dir / "generator_average.keras").unlink()
    loop.resume(str(run_dir), show_progress=False)
    assert np.array_equal(images(run_dir / "generator.keras"), picked)
    assert (run_dir / "generator_average.keras").exists()

    loop.resume(str(run_dir), epochs=9, show_progress=False)  # trains on, then picks again at its new end
    assert json.loads((run_dir / "sampled.json").read_text())["iteration"] == 9


def test_average_raw_and_no_shipped_evaluator(tmp_path, small_mnist):
    run_dir = tmp_path / "better"
    small_run(tmp_path, small_mnist, "better")  # no shipped classifier knows these 500 digits
    assert not (run_dir / "sampled.json").exists() and not (run_dir / "generator_average.keras").exists()
    assert not np.array_equal(images(run_dir / "generator.keras"), images(run_dir / "generator_raw.keras"))

    raw_dir = tmp_path / "raw"
    small_run(tmp_path, small_mnist, "raw", sample_from="raw")
    assert np.array_equal(images(raw_dir / "generator.keras"), images(raw_dir / "generator_raw.keras"))
    assert np.array_equal(images(run_dir / "generator_raw.keras"), images(raw_dir / "generator_raw.keras"))
    assert not (raw_dir / "generator_average.keras").exists()  # only a run that picked saves it apart
