"""Checkpoints, exact resume, signals, SIGKILL at random moments, NaN, and a full disk."""

import csv
import errno
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import ROOT, run_script
from gan_keras.defaults import TrainConfig
from gan_keras.errors import GanKerasError
from gan_keras.training import loop

COMMON = ["--batch-size", "16", "--log-interval", "3", "--save-interval", "3", "--seed", "5",
          "--deterministic", "--no-progress"]


def weights(path):
    return [w.numpy() for w in keras.saving.load_model(path).weights]


def csv_iterations(run_dir):
    with open(os.path.join(run_dir, "losses.csv")) as handle:
        return [int(row["iteration"]) for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_stopped_and_resumed_equals_one_go(tmp_path, small_mnist):
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    assert run_script("train.py", "--epochs", "12", "--data", small_mnist, "--out", str(whole),
                      *COMMON).returncode == 0
    assert run_script("train.py", "--epochs", "6", "--data", small_mnist, "--out", str(halves),
                      *COMMON).returncode == 0
    resumed = run_script("train.py", "--resume", str(halves), "--epochs", "12", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "iteration 6 " in resumed.stdout
    for name in ("generator.keras", "generator_raw.keras", "discriminator.keras"):
        for a, b in zip(weights(whole / name), weights(halves / name), strict=True):
            np.testing.assert_array_equal(a, b)
    raw, averaged = weights(whole / "generator_raw.keras"), weights(whole / "generator.keras")
    assert any(not np.array_equal(a, b) for a, b in zip(raw, averaged))  # the average is its own model
    assert (whole / "losses.csv").read_text() == (halves / "losses.csv").read_text()
    grids = sorted(p for p in os.listdir(whole) if p.startswith("grid_"))
    assert grids == sorted(p for p in os.listdir(halves) if p.startswith("grid_"))
    assert (whole / grids[-1]).read_bytes() == (halves / grids[-1]).read_bytes()
    assert sorted(os.listdir(whole / "checkpoints")) == ["ckpt_0000009.npz", "ckpt_0000012.npz"]
    from gan_keras.training.tensorboard_log import read_scalars

    assert read_scalars(str(halves)) == read_scalars(str(whole))  # TensorBoard continues, no duplicates
    assert [step for step, tag, _ in read_scalars(str(halves)) if tag == "g_loss"] == [3, 6, 9, 12]


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits_cleanly(tmp_path, small_mnist):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "train.py"), "--epochs", "100000", "--data", small_mnist,
         "--out", str(run_dir), "--batch-size", "8", "--save-interval", "100000", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.time() + 120
    while not (run_dir / "checkpoints" / "ckpt_0000000.npz").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "stopped by SIGTERM" in stdout and f"--resume {run_dir}" in stdout
    stopped_at = max(int(name[5:12]) for name in os.listdir(run_dir / "checkpoints"))
    assert stopped_at > 0
    from gan_keras.training.checkpoints import model_variables

    with np.load(run_dir / "checkpoints" / f"ckpt_{stopped_at:07d}.npz") as checkpoint:
        stored = {key: checkpoint[key] for key in checkpoint.files}
    for file_name, group in (("generator.keras", "generator_average"), ("generator_raw.keras", "generator")):
        saved = model_variables(keras.saving.load_model(run_dir / file_name))
        assert len(saved) == len([k for k in stored if k.startswith(group + "/") and k != group + "/updates"])
        for name, variable in saved.items():
            np.testing.assert_array_equal(variable.numpy(), stored[f"{group}/{name}"])
    assert int(stored["generator_average/updates"]) == stopped_at
    assert sorted(n for n in os.listdir(run_dir) if n.startswith("grid_")) == ["grid_0000000.png"]
    resumed = run_script("train.py", "--resume", str(run_dir), "--epochs", str(stopped_at + 2), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_at_most_one_interval(tmp_path, small_mnist):
    from killtest import check_run, run_kill_test

    run_dir, epochs, interval = str(tmp_path / "run"), 60, 5
    rounds, final = run_kill_test(run_dir, small_mnist, kills=3, epochs=epochs, interval=interval)
    assert rounds, "no kill landed before the run finished"
    assert final.returncode == 0, final.stderr
    assert all(0 <= kill.lost <= interval for kill in rounds), rounds
    assert check_run(run_dir, epochs, interval) == []


def small_config(tmp_path, small_mnist, **changes):
    settings = dict(epochs=8, batch_size=8, save_interval=2, log_interval=1, seed=1, data=small_mnist,
                    out=str(tmp_path / "run"))
    settings.update(changes)
    return TrainConfig(**settings)


def test_nan_loss_stops_with_iteration_and_keeps_last_checkpoint(tmp_path, small_mnist, monkeypatch):
    from gan_keras.training import run_state as steps

    real_make_step = steps.make_step

    def poisoned(*args):
        step = real_make_step(*args)
        real_run = step.run

        def run(first, count):  # iteration 5's G loss turns NaN
            rows = real_run(first, count)
            return [{**row, "g_loss": float("nan")} if first + i == 5 else row for i, row in enumerate(rows)]
        step.run = run
        return step

    monkeypatch.setattr(steps, "make_step", poisoned)
    with pytest.raises(GanKerasError, match="NaN or infinite at iteration 5 "):
        loop.train(small_config(tmp_path, small_mnist), show_progress=False)
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["ckpt_0000002.npz", "ckpt_0000004.npz"]


def test_full_disk_is_one_clear_error_and_keeps_earlier_results(tmp_path, small_mnist, monkeypatch):
    from gan_keras.files import atomic_path
    from gan_keras.training import outputs

    real_save_png, calls = outputs.save_png, []

    def disk_fills(pixels, path):
        calls.append(path)
        if len(calls) == 3:
            with atomic_path(path) as partial:  # the disk fills while the temporary file is written
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), partial)
        real_save_png(pixels, path)

    monkeypatch.setattr(outputs, "save_png", disk_fills)
    run_dir = tmp_path / "run"
    with pytest.raises(GanKerasError, match="No space left on device") as raised:
        loop.train(small_config(tmp_path, small_mnist), show_progress=False)
    assert f"cannot write {run_dir / 'grid_0000004.png'}:" in str(raised.value)  # the file, not a temp name
    assert (run_dir / "grid_0000000.png").exists() and (run_dir / "grid_0000002.png").exists()
    assert not (run_dir / "grid_0000004.png").exists()
    assert not [n for n in os.listdir(run_dir) if "partial" in n]


def test_resume_errors(tmp_path, small_mnist, trained_run):
    not_a_run = tmp_path / "plain"
    not_a_run.mkdir()
    for args, message in (
        (["--resume", str(not_a_run)], "not a run folder"),
        (["--resume", str(tmp_path / "absent")], "no such folder"),
        (["--resume", trained_run, "--lr", "0.1"], "only --epochs"),
        (["--resume", trained_run, "--epochs", "5"], "already has 6 iterations, more than --epochs 5"),
    ):
        result = run_script("train.py", *args, "--no-progress")
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unwritable_output_folder(tmp_path, small_mnist):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    result = run_script("train.py", "--epochs", "2", "--data", small_mnist, "--out", str(blocker / "run"))
    assert result.returncode == 2 and "cannot create run folder" in result.stderr
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.slow
def test_a_kill_right_after_the_final_checkpoint_is_repaired_by_resume(tmp_path, small_mnist):
    """(A kill during start-up: tests/test_run_life.py.)"""
    from killtest import late_kill

    late = late_kill(str(tmp_path / "late"), small_mnist)
    assert late.ok, late
