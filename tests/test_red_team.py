"""What a red team found, each case mended: no input waits on a file that is not regular, labels of the wrong
shape, a destroyed output, unquoted resume commands, --out found late, a hand-edited config.json, an ignored
option said nothing, leftover .partial files, and an output extension sample.py cannot write."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, run_script

QUICK = ["--batch-size", "8", "--save-interval", "2", "--no-progress", "--no-tensorboard"]


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return str(path)


@pytest.mark.parametrize("script, arguments, named", [
    ("train.py", ["--data", "{fifo}", "--out", "{tmp}/run"], "{fifo} is a named pipe (FIFO), not a data file"),
    ("train.py", ["--data", "/dev/zero", "--out", "{tmp}/run"], "/dev/zero is a character device, not a data file"),
    ("sample.py", ["{fifo}", "--out", "{tmp}/s.png"], "{fifo} is a named pipe (FIFO), not a model file"),
    ("evaluate.py", ["{fifo}"], "{fifo} is a named pipe (FIFO), not a model file"),
])
def test_no_input_keeps_a_command_waiting_on_a_file_that_is_not_regular(tmp_path, fifo, script, arguments, named):
    fill = {"fifo": fifo, "tmp": str(tmp_path)}
    result = run_script(script, *[argument.format(**fill) for argument in arguments], timeout=60)
    assert result.returncode == 1 and one_line(result).endswith(named.format(**fill))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("labels, shape", [(np.zeros((500, 1), np.uint8), "(500, 1)"),
                                           (np.eye(10, dtype=np.uint8)[np.zeros(500, int)], "(500, 10)"),
                                           (np.array(3, np.uint8), "()")])
def test_labels_of_another_shape_are_refused_naming_the_file_and_the_array(tmp_path, small_mnist, labels, shape):
    with np.load(small_mnist) as archive:
        arrays = dict(archive)
    data = tmp_path / "labels.npz"
    np.savez(data, **{**arrays, "y_train": labels})
    result = run_script("train.py", "--conditional", "--data", str(data), "--out", str(tmp_path / "run"), *QUICK)
    assert result.returncode == 1
    assert one_line(result).endswith(f"{data}: y_train has shape {shape}; expected (500,), one integer class "
                                     f"label 0-9 per image (not one-hot vectors or a column)")


def test_a_full_disk_never_touches_the_old_output_and_says_so(trained_run, tmp_path, monkeypatch, capsys):
    from gan_keras.cli import run_command, sample_parser
    from gan_keras.commands import sample_command

    out = tmp_path / "existing.npy"
    np.save(out, np.arange(5))
    real_save = np.save

    def short_write(path, array):  # as NumPy reports a write the full disk cut short
        with open(path, "wb") as handle:
            handle.write(b"\x93NUMPY")
        raise OSError(f"{array.nbytes} requested and 8064 written")

    monkeypatch.setattr(np, "save", short_write)
    status = run_command(sample_command, sample_parser(), [os.path.join(trained_run, "generator.keras"), "--out",
                                                           str(out), "--count", "2000", "--force"])
    monkeypatch.setattr(np, "save", real_save)
    message = capsys.readouterr().err.strip()
    assert status == 1 and message.startswith(f"sample.py: error: cannot write {out}: No space left on device")
    np.testing.assert_array_equal(np.load(out), np.arange(5))  # the old file, whole
    assert os.listdir(tmp_path) == ["existing.npy"]  # no temporary file left


def test_sample_refuses_an_output_extension_it_cannot_write(trained_run, tmp_path):
    result = run_script("sample.py", os.path.join(trained_run, "generator.keras"), "--out", str(tmp_path / "x.jpg"))
    assert result.returncode == 2 and "sample.py writes .jpg files in none of its forms" in one_line(result)
    assert not (tmp_path / "x.jpg").exists()


@pytest.mark.parametrize("out, says", [("", "--out is empty"), ("/proc/run", "cannot create run folder /proc/run"),
                                       ("x" * 256, "a folder name is at most 255 bytes")])
def test_a_bad_out_is_refused_before_anything_slow_naming_the_users_path(tmp_path, small_mnist, out, says):
    started = time.monotonic()
    result = run_script("train.py", "--data", small_mnist, "--out", out, *QUICK)
    assert result.returncode == 2 and says in one_line(result) and ".starting" not in result.stderr
    assert time.monotonic() - started < 15  # no data loaded, no TensorFlow started


@pytest.mark.slow
def test_a_long_name_and_a_link_to_an_empty_folder_make_runs(tmp_path, small_mnist):
    long_name = tmp_path / ("r" * 250)
    assert run_script("train.py", "--epochs", "2", "--data", small_mnist, "--out", str(long_name),
                      *QUICK).returncode == 0
    target, link = tmp_path / "target", tmp_path / "link"
    target.mkdir()
    link.symlink_to(target)
    result = run_script("train.py", "--epochs", "2", "--data", small_mnist, "--out", str(link), *QUICK)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and (target / "generator.keras").exists() and (link / "config.json").exists()


@pytest.mark.parametrize("key, value, says", [
    ("loop", "weird", '"loop" must be one of fast, notebook, got \'weird\''),
    ("epochs", "abc", '"epochs" must be a whole number, got \'abc\''),
    ("mixed_precision", "weird", '"mixed_precision" must be one of none, bf16, fp16, auto, got \'weird\''),
    ("batch_size", -3, '"batch_size" in {config} must be between 1 and 65,536, got -3'),
    ("ema", 0, 'holds generator_average, which the models built from its settings lack'),
])
def test_a_hand_edited_config_is_checked_on_resume_naming_the_file_and_the_key(trained_run, tmp_path, key, value,
                                                                                says):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    config = run_dir / "config.json"
    record = json.loads(config.read_text())
    record["arguments"][key] = value
    config.write_text(json.dumps(record))
    result = run_script("train.py", "--resume", str(run_dir), "--epochs", "8", "--no-progress")
    line = one_line(result)
    assert result.returncode in (1, 2) and says.format(config=config) in line and str(config) in line, line


def test_an_option_the_run_ignores_is_said_in_one_line():
    from gan_keras.cli import train_parser
    from gan_keras.settings import asked_from_arguments, given_fields, ignored_options

    args = train_parser().parse_args(["--recipe", "ttur", "--lr", "1e-3"])
    notes = ignored_options(given_fields(args), asked_from_arguments(args))
    assert notes == ["note: --lr is not used: --recipe ttur sets --d-lr 0.0008 and --g-lr 0.0004 (give those to "
                     "change them)"]
    plain = train_parser().parse_args(["--lr", "1e-3"])
    assert ignored_options(given_fields(plain), asked_from_arguments(plain)) == []


def test_a_measurements_file_that_is_a_folder_costs_a_measurement_and_leaves_nothing(tmp_path, monkeypatch):
    from gan_keras import cache

    monkeypatch.setenv("GAN_KERAS_CACHE", str(tmp_path))
    (tmp_path / cache.MEASUREMENTS_FILE).mkdir()
    for _ in range(2):
        remembered = cache.remember("speed", "this machine", lambda: 1.5)
        assert remembered.value == 1.5 and remembered.path is None and "cannot write" in remembered.problem
    assert sorted(os.listdir(tmp_path)) == [cache.MEASUREMENTS_FILE, cache.MEASUREMENTS_FILE + ".lock"]


@pytest.mark.slow
def test_the_printed_resume_command_pastes_into_a_shell(tmp_path, small_mnist):
    run_dir = tmp_path / "sp ace ü" / "run's"
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), "--epochs", "400", "--data",
                                small_mnist, "--out", str(run_dir), *QUICK], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.time() + 120
    while not (run_dir / "losses.csv").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    command = stdout.split("Continue with: ", 1)[1].splitlines()[0]
    words = shlex.split(command)
    assert words == ["python", "train.py", "--resume", str(run_dir)]
    resumed = subprocess.run(["bash", "-c", f"cd {shlex.quote(ROOT)} && {command} --epochs 4"], capture_output=True,
                             text=True, timeout=300, env={**os.environ, "PATH": os.path.dirname(sys.executable)
                                                          + os.pathsep + os.environ["PATH"]})
    assert resumed.returncode in (0, 2), resumed.stderr  # 2: it had gone past 4 already
    assert str(run_dir) in resumed.stdout + resumed.stderr


def test_a_rewind_past_the_best_snapshot_removes_it_with_the_iterations_undone(tmp_path):
    from gan_keras.training.outputs import RunOutputs

    (tmp_path / "best.json").write_text(json.dumps({"iteration": 30, "frechet_distance": 80.0}))
    (tmp_path / "generator_best.keras").write_bytes(b"a snapshot")
    outputs = RunOutputs(str(tmp_path), None, 5, 5, None, np.zeros((2, 2), np.uint8))
    outputs.forget_best_after(30)
    assert (tmp_path / "best.json").exists() and outputs.best["iteration"] == 30
    outputs.forget_best_after(20)
    assert not (tmp_path / "best.json").exists() and not (tmp_path / "generator_best.keras").exists()
    assert outputs.best == {}


def test_a_config_json_value_off_a_list_of_numbers_is_named(tmp_path):
    from gan_keras.errors import DataError
    from gan_keras.settings import asked_from_record

    with pytest.raises(DataError, match='"image_size" must be one of 28, 32, 64, 128, got 48'):
        asked_from_record({"image_size": 48}, str(tmp_path / "config.json"))
