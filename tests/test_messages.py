"""A crash always says why, a broken cache costs nothing, and every message names what is really wrong."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT

CRASHER = textwrap.dedent("""
    import argparse, ctypes, os, sys
    sys.path.insert(0, {root!r})
    from gan_keras.cli import run_command

    def main(args):
        sys.stderr.write("last words before the crash\\n")
        sys.stderr.flush()
        os.write(2, b"I1203 21:40:00.000000 123 port.cc:153] oneDNN custom operations are on.\\n")
        if args.how == "abort":
            os.write(2, b"F1203 21:40:00.000000 123 some_kernel.cc:42] Check failed: dims == 4 (3 vs. 4)\\n")
            os.abort()
        if args.how == "segfault":
            ctypes.string_at(0)
        if args.how == "oom-kill":  # as the out-of-memory killer ends a process
            os.kill(os.getpid(), 9)
        print("a line on stdout", flush=True)
        os._exit(3)

    parser = argparse.ArgumentParser(prog="crasher")
    parser.add_argument("how")
    parser.add_argument("--debug", action="store_true")
    sys.exit(run_command(main, parser))
""")


@pytest.fixture(scope="module")
def crasher(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash") / "crasher.py"
    path.write_text(CRASHER.format(root=ROOT))
    return str(path)


@pytest.mark.parametrize("how, status, last_words", [
    ("abort", -6, ["F1203 21:40:00.000000 123 some_kernel.cc:42] Check failed: dims == 4 (3 vs. 4)",
                   "Fatal Python error: Aborted", "crasher: Aborted (SIGABRT)"]),
    ("segfault", -11, ["Fatal Python error: Segmentation fault", "crasher: Segmentation fault (SIGSEGV)"]),
    ("oom-kill", 137, ["crasher: Killed (SIGKILL - the out-of-memory killer, or kill -9)"]),
    ("exit", 3, []),
])
def test_a_crash_shows_its_last_lines_through_the_console_filter(crasher, how, status, last_words):
    result = subprocess.run([sys.executable, crasher, how], capture_output=True, text=True, timeout=60)
    assert result.returncode == status
    assert "last words before the crash" in result.stderr
    assert all(line in result.stderr for line in last_words), result.stderr
    assert "oneDNN custom operations" not in result.stderr  # a known harmless line is still dropped
    assert "Traceback" not in result.stderr
    if how == "exit":
        assert result.stdout == "a line on stdout\n"


def test_the_filter_drops_only_known_lines_and_passes_a_progress_bar_at_once():
    from gan_keras.console import relay

    lines = [b"I0000 00:00:1796360730.742248    3016 port.cc:153] oneDNN custom operations are on.",
             b"W0000 00:00:1796360730.742248    3016 some.cc:1] a warning TensorFlow repeats",
             b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
             b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow "
             b"with the appropriate compiler flags.",
             b"E0000 00:00:1796361001.908114    4929 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT: x",
             b"E0000 00:00:1796365154.875274   14889 ring_alg.cc:291] Aborting RingReduce with UNAVAILABLE: Socket",
             b"Additional GRPC error information from remote target /job:worker/replica:0/task:1 while calling /x:",
             b":UNKNOWN:Error received from peer  {grpc_message:\"Socket closed\", grpc_status:14}",
             b"/job:worker/replica:0/task:1",
             b"The tasks have crashed. Check the task logs for an earlier error, or scheduler events (e.g. preemption)",
             b"E0000 00:00:1796361001.908114    4929 other.cc:1] an error nobody knows",
             b"F0000 00:00:1796361001.908114    4929 kernel.cc:42] Check failed: a fatal line",
             b"Traceback (most recent call last):",
             b"train.py: error: the run's own line"]
    source_read, source_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    target_read, target_write = os.pipe()
    os.write(source_write, b"\n".join(lines) + b"\ntraining:  5%|5| 1/20\rtraining: 10%|1| 2/20")
    os.close(source_write)
    os.close(stdout_write)
    relay({source_read: target_write, stdout_read: target_write}, filtered=source_read)
    os.close(target_write)
    shown = os.read(target_read, 1 << 20)
    assert shown.split(b"\n") == [lines[10], lines[11], lines[12], lines[13],
                                   b"training:  5%|5| 1/20\rtraining: 10%|1| 2/20"]


def test_an_unwritable_cache_costs_a_measurement_and_says_why(tmp_path, monkeypatch):
    from gan_keras import cache

    blocker = tmp_path / "cachefile"
    blocker.write_text("x")
    for folder in (blocker, "/proc/gan_keras_cache"):  # a file; a folder even root cannot create
        monkeypatch.setenv("GAN_KERAS_CACHE", str(folder))
        remembered = cache.remember("a ratio", "this machine", lambda: 1.7)
        assert remembered.value == 1.7 and remembered.path is None
        assert "GAN_KERAS_CACHE" in remembered.describe() and str(folder) in remembered.describe()
    assert "is a file, not a folder" in remembered.describe() or "cannot write" in remembered.describe()


def test_a_garbage_measurements_file_is_measured_again(tmp_path, monkeypatch):
    from gan_keras import cache

    monkeypatch.setenv("GAN_KERAS_CACHE", str(tmp_path))
    (tmp_path / cache.MEASUREMENTS_FILE).write_text("{not json")
    first = cache.remember("a ratio", "this machine", lambda: 1.7)
    assert first.value == 1.7 and first.fresh
    again = cache.remember("a ratio", "this machine", lambda: 9.9)
    assert again.value == 1.7 and not again.fresh


def test_a_classifier_trained_for_an_unwritable_cache_is_kept_in_memory(tmp_path, monkeypatch, capsys, small_mnist):
    from gan_keras.data import load_local
    from gan_keras.scoring.classifier import load_classifier

    blocker = tmp_path / "cachefile"
    blocker.write_text("x")
    monkeypatch.setenv("GAN_KERAS_CACHE", str(blocker))
    dataset = load_local(small_mnist)
    loaded = load_classifier(dataset.x_train, dataset.y_train, train_if_missing=True, epochs=1, verbose=0)
    assert loaded.origin == "trained now" and loaded.model is not None
    warning = capsys.readouterr().err
    assert "was not cached" in warning and "GAN_KERAS_CACHE" in warning and "is a file, not a folder" in warning


@pytest.mark.parametrize("arguments", [["--out", "/proc/progress.gif"], ["--out", "/proc/progress.mp4"]])
def test_make_gif_into_an_unwritable_place_is_one_line(trained_run, arguments):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "make_gif.py"), trained_run, *arguments],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Exception ignored" not in result.stderr and "/proc/progress" in result.stderr


def test_a_latent_walk_into_an_unwritable_place_is_one_line(trained_run):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "sample.py"),
                             os.path.join(trained_run, "generator.keras"), "--interpolate", "--out", "/proc/walk.gif",
                             "--points", "2", "--steps", "2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_random_bytes_checkpoint_is_called_what_it_is(tmp_path):
    from gan_keras.errors import DataError
    from gan_keras.training.checkpoints import read_checkpoint

    path = tmp_path / "ckpt_0000010.npz"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataError, match="not a checkpoint: not an .npz archive") as caught:
        read_checkpoint(str(path))
    assert "pickle" not in str(caught.value)


def test_out_naming_a_file_is_called_a_file(tmp_path):
    from gan_keras.errors import UsageError
    from gan_keras.run_dir import choose_run_dir

    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        choose_run_dir(str(empty))


def test_the_kill_test_removes_its_folder_unless_kept(tmp_path, monkeypatch, capsys):
    import tempfile

    import killtest

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = []

    def report(args, folder):
        made.append(folder)
        open(os.path.join(folder, "big.bin"), "wb").close()
        return 0

    monkeypatch.setattr(killtest, "kill_and_report", report)
    assert killtest.main([]) == 0 and not os.path.exists(made[-1])
    assert killtest.main(["--keep"]) == 0 and os.path.exists(made[-1])
    assert f"the runs are kept in {made[-1]}" in capsys.readouterr().out


@pytest.mark.slow
def test_resume_with_a_new_total_records_it_for_the_next_resume(tmp_path, small_mnist):
    from conftest import run_script

    run_dir = tmp_path / "run"
    common = ["--no-progress"]
    result = run_script("train.py", "--epochs", "4", "--batch-size", "8", "--save-interval", "2", "--data",
                        small_mnist, "--out", str(run_dir), "--seed", "1", "--no-tensorboard", *common)
    assert result.returncode == 0, result.stderr
    result = run_script("train.py", "--resume", str(run_dir), "--epochs", "6", *common)
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "config.json").read_text())["arguments"]["epochs"] == 6
    result = run_script("train.py", "--resume", str(run_dir), *common)
    assert result.returncode == 0 and "is complete (6 iterations); nothing to do" in result.stdout, result.stdout
