"""train.py end to end on real digits: what a run folder holds, and the clear-error paths."""

import csv
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT, run_script


def test_run_folder_contents(trained_run):
    names = set(os.listdir(trained_run))
    assert {"grid_0000000.png", "grid_0000003.png", "grid_0000006.png"} <= names
    assert {"generator.keras", "discriminator.keras", "losses.csv", "losses.png", "config.json",
            "fixed_noise.npy"} <= names
    assert not [name for name in names if "partial" in name]
    with Image.open(os.path.join(trained_run, "grid_0000006.png")) as grid:
        assert grid.size == (5 * 84 + 6 * 2, 5 * 84 + 6 * 2)
    with Image.open(os.path.join(trained_run, "losses.png")) as plot:
        assert plot.size[0] > 300


def test_losses_csv(trained_run):
    with open(os.path.join(trained_run, "losses.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["iteration"]) for row in rows] == [2, 4, 6]
    for row in rows:
        assert 0 <= float(row["d_acc"]) <= 1 and float(row["d_loss"]) > 0 and float(row["g_loss"]) > 0


def test_config_records_arguments_and_versions(trained_run):
    with open(os.path.join(trained_run, "config.json")) as handle:
        record = json.load(handle)
    assert record["arguments"]["epochs"] == 6 and record["arguments"]["seed"] == 3
    assert record["versions"]["keras"].startswith("3.")
    assert "500 training" in record["data"]


def test_generator_loads_in_fresh_process_without_custom_objects(trained_run):
    code = ("import keras, numpy as np, sys; m = keras.saving.load_model(sys.argv[1]); "
            "print(m.predict(np.zeros((2, 100)), verbose=0).shape)")
    result = subprocess.run([sys.executable, "-c", code, os.path.join(trained_run, "generator.keras")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(2, 28, 28, 1)" in result.stdout


@pytest.mark.slow
def test_same_seed_same_losses(tmp_path, small_mnist, trained_run):
    again = tmp_path / "again"
    result = run_script("train.py", "--epochs", "6", "--save-interval", "3", "--batch-size", "16",
                        "--log-interval", "2", "--data", small_mnist, "--out", str(again),
                        "--seed", "3", "--no-progress")
    assert result.returncode == 0, result.stderr
    with open(os.path.join(trained_run, "losses.csv")) as first, open(again / "losses.csv") as second:
        assert first.read() == second.read()


def test_existing_run_is_never_overwritten(trained_run, small_mnist):
    before = {name: os.path.getmtime(os.path.join(trained_run, name)) for name in os.listdir(trained_run)}
    result = run_script("train.py", "--epochs", "2", "--data", small_mnist, "--out", trained_run)
    assert result.returncode == 2
    assert "already exists" in result.stderr and "Traceback" not in result.stderr
    after = {name: os.path.getmtime(os.path.join(trained_run, name)) for name in os.listdir(trained_run)}
    assert before == after


def test_help_is_quick_and_says_epochs_are_iterations():
    result = run_script("train.py", "--help")
    assert result.returncode == 0
    assert "ITERATIONS" in result.stdout
    code = ("import sys; sys.argv = ['train.py', '--help']; import runpy\n"
            "try:\n    runpy.run_path('train.py', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert probe.stdout.strip().endswith("False False")


def test_bad_arguments_exit_2_with_one_line(small_mnist, tmp_path):
    for args in (["--epochs", "0"], ["--batch-size", "-4"], ["--lr", "5"], ["--save-interval", "0"],
                 ["--epochs", "10000000000"]):
        result = run_script("train.py", *args, "--data", small_mnist, "--out", str(tmp_path / "x"))
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not (tmp_path / "x").exists()


def test_bad_data_file_is_one_line_exit_1(tmp_path):
    result = run_script("train.py", "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "r"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"train.py: error: data file not found: {tmp_path / 'missing.npz'}"
    assert not (tmp_path / "r").exists()


def test_bad_data_files_through_the_command_line(tmp_path):
    import numpy as np

    cases = {
        "corrupt.npz": b"PK\x03\x04 not really a zip archive",
        "text.npz": b"just some text",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "shape.npz", x_train=np.zeros((4, 32, 32, 2), np.uint8), y_train=np.zeros(4),
             x_test=np.zeros((1, 32, 32, 2), np.uint8), y_test=np.zeros(1))
    np.savez(tmp_path / "dtype.npz", x_train=np.zeros((4, 28, 28), np.float64), y_train=np.zeros(4),
             x_test=np.zeros((1, 28, 28), np.float64), y_test=np.zeros(1))
    np.savez(tmp_path / "empty.npz", x_train=np.zeros((0, 28, 28), np.uint8), y_train=np.zeros(0),
             x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0))
    for name, message in (("corrupt.npz", "a zip archive, but a damaged one"),
                          ("text.npz", "is not an .npz archive or a zip of pictures (it looks like a text file)"),
                          ("shape.npz", "expected (N, H, W) grayscale or (N, H, W, 3) RGB"),
                          ("dtype.npz", "dtype float64"),
                          ("empty.npz", "no images")):
        result = run_script("train.py", "--data", str(tmp_path / name), "--out", str(tmp_path / "run"))
        assert result.returncode == 1, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (name, result.stderr)
        assert not (tmp_path / "run").exists()


def test_the_finished_line_gives_the_training_rate_without_the_scoring():
    from gan_keras.training.progress import finished_line

    assert finished_line(200, 47.2, 24.2) == ("trained 200 iterations in 47.2 s "
                                              "(8.7 it/s; 24.2 s of that scoring generators)")
    assert finished_line(3000, 300.0, 0.0) == "trained 3,000 iterations in 300.0 s (10.0 it/s)"


def test_debug_shows_the_traceback(tmp_path):
    result = run_script("train.py", "--data", str(tmp_path / "missing.npz"), "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "data file not found" in result.stderr


@pytest.mark.slow
def test_eval_interval_scores_both_generators_and_keeps_the_best(tmp_path, small_mnist, monkeypatch):
    import json
    import subprocess as sp
    import sys as _sys

    import keras

    from gan_keras.data import load_local
    from gan_keras.scoring.evaluator import Evaluator

    cache, run_dir = tmp_path / "cache", tmp_path / "run"
    env = {**os.environ, "GAN_KERAS_CACHE": str(cache)}
    result = sp.run([_sys.executable, os.path.join(ROOT, "train.py"), "--epochs", "6", "--batch-size", "8",
                     "--eval-interval", "2", "--eval-samples", "100", "--log-interval", "1", "--ema", "0.9",
                     "--save-interval", "6", "--data", small_mnist, "--out", str(run_dir), "--no-progress"],
                    capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    assert " s of that scoring generators)" in result.stdout.splitlines()[-1]  # the it/s leaves it out
    with open(run_dir / "losses.csv") as handle:
        rows = list(csv.DictReader(handle))
    scored = {int(row["iteration"]): float(row["frechet_distance"]) for row in rows if row["frechet_distance"]}
    raw = {int(row["iteration"]): float(row["raw_frechet_distance"]) for row in rows if row["raw_frechet_distance"]}
    assert sorted(scored) == sorted(raw) == [2, 4, 6] and all(value > 0 for value in scored.values())
    assert scored != raw  # the average and the trained G are scored apart
    assert all(1.0 <= float(row["inception_score"]) <= 10.0 for row in rows if row["inception_score"])
    best = json.loads((run_dir / "best.json").read_text())
    assert best["iteration"] == min(scored, key=scored.get)
    assert best["frechet_distance"] == pytest.approx(min(scored.values()), abs=1e-5)
    recorded = json.loads((run_dir / "config.json").read_text())["evaluator"]
    assert best["evaluator"] == recorded and recorded.startswith("local-cnn-v3-")  # no shipped one for this data
    monkeypatch.setenv("GAN_KERAS_CACHE", str(cache))  # the classifier the run trained and cached
    evaluator = Evaluator(load_local(small_mnist), verbose=0)
    rescored = evaluator.score_generator(keras.saving.load_model(run_dir / "generator_best.keras"), 100, 1234)
    assert rescored.frechet_distance == pytest.approx(best["frechet_distance"], rel=1e-4)
    with Image.open(run_dir / "losses.png") as plot:
        assert plot.size[1] == 900  # three panels: losses, accuracy, Frechet distance
    table = sp.run([_sys.executable, "-m", "gan_keras.evaluate", str(run_dir), "--checkpoints", "--samples", "100"],
                   capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert table.returncode == 0, table.stderr
    lines = [line for line in table.stdout.splitlines() if line.startswith(("checkpoint", "generator"))]
    assert [line.split()[:2] for line in lines if line.startswith("checkpoint")] == [
        ["checkpoint", "0"], ["checkpoint", "0"], ["checkpoint", "6"], ["checkpoint", "6"]]
    assert any(line.startswith("generator_best.keras") for line in lines)
    assert (run_dir / "checkpoint_scores.png").exists()
    plotted = (run_dir / "checkpoint_scores.png").read_bytes()
    again = sp.run([_sys.executable, "-m", "gan_keras.evaluate", str(run_dir), "--checkpoints", "--samples", "100"],
                   capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert again.returncode == 2
    assert again.stderr.strip().endswith("checkpoint_scores.png exists; --force overwrites it")
    assert (run_dir / "checkpoint_scores.png").read_bytes() == plotted


def test_a_training_run_prints_no_tensorflow_log_lines_or_warnings(trained_run):
    import re

    from conftest import train_stderr

    assert not re.search(r"^[IWEF]\d{4} |absl::InitializeLog|Warning", train_stderr(trained_run), re.MULTILINE)


def test_tensorboard_events(trained_run):
    import tensorflow as tf

    from gan_keras.training.tensorboard_log import TENSORBOARD_DIR, Event, read_scalars

    scalars = read_scalars(trained_run)
    assert [step for step, tag, _ in scalars if tag == "d_loss"] == [2, 4, 6]
    assert {tag for _, tag, _ in scalars} == {"d_loss", "d_acc", "g_loss", "d_loss_real", "d_loss_fake"}
    images = []
    folder = os.path.join(trained_run, TENSORBOARD_DIR)
    for name in os.listdir(folder):
        for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
            event = Event.FromString(record.numpy())
            images += [(event.step, value.tag) for value in event.summary.value
                       if value.metadata.plugin_data.plugin_name == "images"]
    assert sorted(images) == sorted((step, tag) for step in (0, 3, 6)
                                    for tag in ("generated (fixed noise)", "real"))


@pytest.mark.slow
def test_no_tensorboard(tmp_path, small_mnist):
    run_dir = tmp_path / "run"
    result = run_script("train.py", "--epochs", "2", "--batch-size", "8", "--data", small_mnist,
                        "--out", str(run_dir), "--no-tensorboard", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not (run_dir / "tensorboard").exists()
