"""The edges of a run's life: start-up signals and kills, resume from anywhere, repair, locks, names."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import ROOT, run_script

SHORT = ["--batch-size", "8", "--save-interval", "2", "--no-progress"]


def train_process(*args, cwd=ROOT):
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def catches_sigterm(pid):
    """Whether the process has a handler for SIGTERM (Linux's /proc: the SigCgt mask)."""
    with open(f"/proc/{pid}/status") as handle:
        caught = next(int(line.split()[1], 16) for line in handle if line.startswith("SigCgt:"))
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def staging_folders(parent):
    return [name for name in os.listdir(parent) if ".starting" in name]


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["during imports", "while the folder is assembled"])
def test_sigterm_during_start_up_stops_cleanly_with_a_resumable_folder(tmp_path, small_mnist, moment):
    run_dir = tmp_path / "run"
    process = train_process("--epochs", "4", "--data", small_mnist, "--out", str(run_dir), *SHORT)
    if moment == "during imports":  # the first moment the command can catch it: Python's start-up is done
        deadline = time.time() + 60
        while not catches_sigterm(process.pid) and time.time() < deadline:
            time.sleep(0.001)
    else:
        deadline = time.time() + 120
        while not staging_folders(tmp_path) and time.time() < deadline:
            time.sleep(0.01)
        assert staging_folders(tmp_path), "the run folder was not assembled beside its final name"
        assert not run_dir.exists()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "stopped by SIGTERM at iteration 0" in stdout
    assert (run_dir / "checkpoints" / "ckpt_0000000.npz").exists() and not staging_folders(tmp_path)
    resumed = run_script("train.py", "--resume", str(run_dir), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert (run_dir / "grid_0000004.png").exists()


@pytest.mark.slow
def test_sigkill_during_start_up_leaves_no_dead_folder(tmp_path, small_mnist):
    run_dir = tmp_path / "run"
    process = train_process("--epochs", "4", "--data", small_mnist, "--out", str(run_dir), *SHORT)
    deadline = time.time() + 120
    while not staging_folders(tmp_path) and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    process.kill()
    process.wait()
    if (run_dir / "checkpoints").exists():  # the kill came after the rename: a complete folder
        assert run_script("train.py", "--resume", str(run_dir), "--no-progress").returncode == 0
        return
    assert not run_dir.exists() or not os.listdir(run_dir)
    again = run_script("train.py", "--epochs", "4", "--data", small_mnist, "--out", str(run_dir), *SHORT)
    assert again.returncode == 0, again.stderr
    assert not staging_folders(tmp_path)  # the dead start-up's leftovers are cleared


@pytest.mark.slow
def test_resume_from_another_folder_with_a_relative_data_path(tmp_path, small_mnist):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(small_mnist, work / "digits.npz")
    process = train_process("--epochs", "2", "--data", "digits.npz", "--out", "run", *SHORT, cwd=work)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    config = json.loads((work / "run" / "config.json").read_text())
    assert config["arguments"]["data"] == str(work / "digits.npz")
    assert config["data_fingerprint"]["train_images"] == 500 and len(config["data_fingerprint"]["sha256"]) == 64
    resumed = run_script("train.py", "--resume", str(work / "run"), "--epochs", "4", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.slow
def test_changed_data_is_refused_and_a_moved_copy_accepted(tmp_path, small_mnist):
    data, run_dir = tmp_path / "digits.npz", tmp_path / "run"
    shutil.copy(small_mnist, data)
    assert run_script("train.py", "--epochs", "2", "--data", str(data), "--out", str(run_dir), *SHORT).returncode == 0
    moved = tmp_path / "moved.npz"
    shutil.move(data, moved)
    with np.load(moved) as archive:
        arrays = dict(archive)
    np.savez(data, **{**arrays, "x_train": arrays["x_train"][:400], "y_train": arrays["y_train"][:400]})
    changed = run_script("train.py", "--resume", str(run_dir), "--epochs", "4", "--no-progress")
    assert changed.returncode == 1
    assert changed.stderr.strip() == (f"train.py: error: {data} is not the data this run was trained on: "
                                      f"500 training images then, 400 now")
    arrays["x_train"] = arrays["x_train"].copy()
    arrays["x_train"][0, 0, 0] ^= 1  # one pixel
    np.savez(data, **arrays)
    pixel = run_script("train.py", "--resume", str(run_dir), "--epochs", "4", "--no-progress")
    assert pixel.returncode == 1 and "same image counts but other pixels or labels" in pixel.stderr
    resumed = run_script("train.py", "--resume", str(run_dir), "--epochs", "4", "--data", str(moved),
                         "--no-progress")
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.slow
def test_resume_of_a_finished_run_repairs_what_a_late_kill_lost(tmp_path, small_mnist):
    from gan_keras.training.checkpoints import model_variables

    run_dir = tmp_path / "run"
    assert run_script("train.py", "--epochs", "4", "--data", small_mnist, "--out", str(run_dir), *SHORT).returncode == 0
    for name in ("losses.png", "generator.keras", "grid_0000004.png"):
        (run_dir / name).unlink()
    repaired = run_script("train.py", "--resume", str(run_dir), "--no-progress")
    assert repaired.returncode == 0, repaired.stderr
    assert "rewrote what was missing: grid_0000004.png, generator.keras, losses.png" in repaired.stdout
    assert "resuming" not in repaired.stdout
    with np.load(run_dir / "checkpoints" / "ckpt_0000004.npz") as checkpoint:
        for name, variable in model_variables(keras.saving.load_model(run_dir / "generator.keras")).items():
            np.testing.assert_array_equal(variable.numpy(), checkpoint[f"generator_average/{name}"])
    complete = run_script("train.py", "--resume", str(run_dir), "--no-progress")
    assert complete.returncode == 0, complete.stderr
    assert "is complete (4 iterations); nothing to do" in complete.stdout and "rewrote" not in complete.stdout
    shorter = run_script("train.py", "--resume", str(run_dir), "--epochs", "3", "--no-progress")
    assert shorter.returncode == 2 and "already has 4 iterations, more than --epochs 3" in shorter.stderr


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path, trained_run):
    from gan_keras.run_dir import RunLock

    with RunLock(trained_run):
        second = run_script("train.py", "--resume", trained_run, "--epochs", "8", "--no-progress")
    assert second.returncode == 2
    assert second.stderr.strip() == (f"train.py: error: {trained_run} is being written by another process "
                                     f"(PID {os.getpid()}); wait for it to finish or stop it first")


def test_evaluate_names_a_corrupt_config(tmp_path, trained_run):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    (run_dir / "config.json").write_text('{"arguments": {"epochs": 6,')
    result = subprocess.run([sys.executable, "-m", "gan_keras.evaluate", str(run_dir)], capture_output=True,
                            text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"python -m gan_keras.evaluate: error: {run_dir / 'config.json'} "
                                            f"is not valid JSON (line 1")


@pytest.mark.slow
def test_an_unwritable_output_is_named_not_its_temporary_file(tmp_path, trained_run):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    out = blocker / "samples.png"
    result = run_script("sample.py", os.path.join(trained_run, "generator.keras"), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.strip() == f"sample.py: error: cannot write {out}: Not a directory; earlier files are untouched"


def test_a_full_disk_during_start_up_names_the_file_and_leaves_no_folder(tmp_path, small_mnist, monkeypatch):
    import errno

    from gan_keras.defaults import TrainConfig
    from gan_keras.errors import GanKerasError
    from gan_keras.files import atomic_path
    from gan_keras.training import loop, outputs

    def disk_full(pixels, path):
        with atomic_path(path) as partial:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), partial)

    monkeypatch.setattr(outputs, "save_png", disk_full)
    run_dir = tmp_path / "run"
    config = TrainConfig(epochs=4, batch_size=8, seed=1, data=small_mnist, out=str(run_dir))
    with pytest.raises(GanKerasError) as raised:
        loop.train(config, show_progress=False)
    assert str(raised.value).startswith(f"cannot write {run_dir / 'grid_0000000.png'}: No space left on device")
    assert not run_dir.exists() and not staging_folders(tmp_path)


def test_a_signal_before_the_run_took_over_is_its_stop_request():
    from gan_keras.training.stop import StopRequest, hold_early_signals

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        hold_early_signals()
        os.kill(os.getpid(), signal.SIGTERM)  # remembered, not fatal
        time.sleep(0.01)
        with StopRequest() as stop:
            assert stop.requested and stop.signal_name == "SIGTERM"
        with StopRequest() as stop:  # taken once
            assert not stop.requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
