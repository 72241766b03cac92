"""Run folders: created complete or not at all, locked while a process writes them, settings recorded.

A new run is assembled in a hidden staging folder beside its final name (config,
fixed noise, first grid, models, checkpoint 0) and renamed into place in one
step, so a kill or a full disk during start-up leaves no half-made run folder
under the user's name. While a process trains or repairs a run it holds an OS
lock on ``RUN/.lock``; the OS drops it when the process dies, even by SIGKILL.

Lazy imports: fcntl, where the platform has it; :mod:`gan_keras.data` and :mod:`gan_keras.images`
where a resumed run's data and grids are checked; Keras and TensorFlow for the versions config.json records.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import json
import os
import platform
import csv
import re
import shlex
import shutil
import sys
import tempfile
import time

from gan_keras.defaults import RUNS_ROOT, TrainConfig
from gan_keras.errors import DataError, UsageError
from gan_keras.files import atomic_path, process_alive, regular_file

CONFIG_FILE = "config.json"
LOSSES_CSV = "losses.csv"
LOSSES_PLOT = "losses.png"
GENERATOR_FILE = "generator.keras"  # the generator to sample from (see --sample-from)
RAW_GENERATOR_FILE = "generator_raw.keras"  # the trained generator itself (runs with --ema)
AVERAGE_GENERATOR_FILE = "generator_average.keras"  # G's average, once a finished run has picked (--ema)
SAMPLED_RECORD_FILE = "sampled.json"  # which generator generator.keras is, and the scores that chose it
BEST_GENERATOR_FILE = "generator_best.keras"  # lowest FD so far (runs with --eval-interval)
BEST_RECORD_FILE = "best.json"
DISCRIMINATOR_FILE = "discriminator.keras"
FIXED_NOISE_FILE = "fixed_noise.npy"
LOCK_FILE = ".lock"
STAGING_MARK = ".starting"


def choose_run_dir(out: str | None, create: bool = True) -> str:
    """The folder a new run will get: ``out`` if it is absent or empty, else a timestamped one under runs/.

    Every problem with ``out`` is one line naming it, found before anything slow starts; with ``create``
    False nothing is made on disk (a probe folder is made and removed at once where the run will be)."""
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = os.path.join(RUNS_ROOT, stamp)
        suffix = 1
        while os.path.exists(out):
            suffix += 1
            out = os.path.join(RUNS_ROOT, f"{stamp}-{suffix}")
    _check_out(out)
    parent = os.path.dirname(os.path.realpath(out))
    if not create:
        _probe_writable(out, parent)
        return out
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create run folder {out}: {error.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot create run folder {out}: {parent} is not writable")
    _remove_dead_staging(parent)
    return out


NAME_MAX = 255  # bytes in one file name, on the file systems Linux uses


def _check_out(out: str) -> None:
    """Refuse an ``out`` no run can get: empty, a file, a folder with something in it, or too long a name."""
    if not out.strip():
        raise UsageError("--out is empty: give the name of the run folder to create")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"{out} is a file, not a folder; --out names the run folder to create")
    if os.path.isdir(out) and os.listdir(out):
        raise UsageError(f"{out} already exists and is not empty; choose another --out "
                         f"(earlier runs are never overwritten)")
    name = os.path.basename(os.path.realpath(out))
    if len(os.fsencode(name)) > NAME_MAX:
        raise UsageError(f"--out {out[:60]}...: a folder name is at most {NAME_MAX} bytes, this one has "
                         f"{len(os.fsencode(name))}")


def _probe_writable(out: str, parent: str) -> None:
    """Make and remove a folder where the run will be (in its nearest existing ancestor): refused in one line
    naming ``out`` if that cannot be done (no such place, not a folder, not writable, /proc)."""
    ancestor = parent
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(f"cannot create run folder {out}: {ancestor} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".gan_keras_probe", dir=ancestor))
    except OSError as error:
        raise UsageError(f"cannot create run folder {out}: {error.strerror or error}") from None


def resume_command(run_dir: str) -> str:
    """The command that continues the run in ``run_dir``, quoted for a POSIX shell."""
    return shlex.join(["python", "train.py", "--resume", run_dir])


def staging_dir(run_dir: str) -> str:
    """The hidden folder a new run is assembled in, beside ``run_dir`` (beside the folder a link names), its name
    cut short where ``run_dir``'s is long."""
    parent, name = os.path.split(os.path.realpath(run_dir))
    short = os.fsencode(name)[:NAME_MAX - 40].decode(errors="ignore")
    return os.path.join(parent, f".{short}{STAGING_MARK}{os.getpid()}")


def publish(staging: str, run_dir: str) -> None:
    """Move the assembled run into place in one rename (an empty folder there, or the one a link names, is
    replaced)."""
    try:
        os.rename(staging, os.path.realpath(run_dir))
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise UsageError(f"{run_dir} was filled by something else during start-up; "
                             f"nothing of it was touched") from None
        raise


def _remove_dead_staging(parent: str) -> None:
    """Staging folders left by killed start-ups (their process is gone)."""
    for name in os.listdir(parent):
        if name.startswith(".") and STAGING_MARK in name:
            pid = name.rsplit(STAGING_MARK, 1)[1]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


PARTIAL_FILE = re.compile(r"^\..*\.partial\d+\.\w+$")  # atomic_path's temporary names


def remove_partial_files(run_dir: str) -> None:
    """Temporary files a killed run left behind; the real files were never touched."""
    for folder in (run_dir, os.path.join(run_dir, "checkpoints")):
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if PARTIAL_FILE.match(name):
                    os.remove(os.path.join(folder, name))


def rewind_outputs(run_dir: str, iteration: int) -> None:
    """Drop CSV rows and grids written after ``iteration``, so the resumed run has no duplicates."""
    from gan_keras.images import GRID_PATTERN

    csv_path = os.path.join(run_dir, LOSSES_CSV)
    if os.path.exists(csv_path):
        with open(csv_path, newline="") as handle:
            rows = list(csv.reader(handle))
        kept = rows[:1] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) <= iteration]
        with atomic_path(csv_path) as partial:
            with open(partial, "w", newline="") as handle:
                csv.writer(handle).writerows(kept)
    for name in os.listdir(run_dir):
        match = GRID_PATTERN.match(name)
        if match and int(match.group(1)) > iteration:
            os.remove(os.path.join(run_dir, name))


LOCK_WAIT_SECONDS = 3  # a killed writer's lock is gone once the OS has ended its process: wait that long for it


def _lock_within(handle, seconds: float) -> None:
    """An exclusive lock on ``handle``, waiting up to ``seconds`` for a holder to release it (BlockingIOError after)."""
    import fcntl

    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class RunLock:
    """An exclusive OS lock on RUN/.lock for as long as this process writes the run."""

    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.handle = None

    def __enter__(self) -> RunLock:
        try:
            import fcntl  # noqa: F401 - only to know whether this platform has the lock
        except ImportError:  # not POSIX: no lock, as before
            return self
        self.handle = open(self.path, "a+")
        try:
            _lock_within(self.handle, LOCK_WAIT_SECONDS)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "unknown"
            self.handle.close()
            self.handle = None
            run_dir = os.path.dirname(self.path)
            raise UsageError(f"{run_dir} is being written by another process (PID {holder}); "
                             f"wait for it to finish or stop it first") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the lock
            self.handle = None


def versions() -> dict[str, str]:
    """Python, TensorFlow, Keras and NumPy versions, and the devices TensorFlow sees."""
    import keras
    import numpy
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "devices": ", ".join(d.name for d in tf.config.list_logical_devices()),
    }


def read_run_record(run_dir: str) -> dict:
    """A run's config.json as a dict, or one clear error naming the file."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.lexists(path):
        regular_file(path, "run's config")
    try:
        with open(path) as handle:
            record = json.load(handle)
    except FileNotFoundError:
        raise UsageError(f"{run_dir} is not a run folder: it has no {CONFIG_FILE}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a run's config: it is not text") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path} is not valid JSON (line {error.lineno}: {error.msg}); "
                        f"the run's settings cannot be read") from None
    if not isinstance(record, dict) or not isinstance(record.get("arguments"), dict):
        raise DataError(f"{path} is not a run's config: it has no \"arguments\" object")
    return record


def resumable_record(run_dir: str) -> dict:
    """The config.json of a run that can be resumed (refused in one line where ``run_dir`` is none)."""
    if not os.path.isdir(run_dir):
        what = "it is not a folder" if os.path.lexists(run_dir) else "no such folder"
        raise UsageError(f"cannot resume {run_dir}: {what}")
    if not os.path.isdir(os.path.join(run_dir, "checkpoints")):
        raise UsageError(f"cannot resume {run_dir}: not a run folder (no {CONFIG_FILE} and checkpoints/)")
    return read_run_record(run_dir)


def write_config(run_dir: str, config: TrainConfig, dataset, data_fingerprint: dict, evaluator: str | None = None,
                 layer_forms: dict | None = None) -> None:
    """config.json: the arguments, the data (its classes and the files it could not read), library versions,
    the evaluator that scores this run, and which layers train in which training form."""
    record = {"arguments": dataclasses.asdict(config), "data": dataset.describe(),
              "data_fingerprint": data_fingerprint, "data_classes": list(dataset.class_names or ()) or None,
              "data_skipped": [list(entry) for entry in dataset.skipped], "evaluator": evaluator,
              "training_forms_by_layer": layer_forms or {}, "versions": versions(),
              "started": datetime.datetime.now().isoformat(timespec="seconds")}
    with atomic_path(os.path.join(run_dir, CONFIG_FILE)) as partial:
        with open(partial, "w") as handle:
            json.dump(record, handle, indent=2)


def update_config(run_dir: str, config: TrainConfig) -> None:
    """Record ``config`` as the run's arguments from now on (a resume's new --epochs, another machine's
    settings), keeping the rest of config.json as it was."""
    record = read_run_record(run_dir)
    record["arguments"] = dataclasses.asdict(config)
    with atomic_path(os.path.join(run_dir, CONFIG_FILE)) as partial:
        with open(partial, "w") as handle:
            json.dump(record, handle, indent=2)


def recorded_data(run_dir: str, config: TrainConfig, request, progress: bool = True):
    """The run's data, from ``config.data`` (its recorded absolute path, or a moved copy's), at the shape
    ``request`` (gan_keras.settings.image_request) asks, refused if it changed since."""
    from gan_keras.data import fingerprint, fingerprint_difference, load_dataset

    record = read_run_record(run_dir)
    if config.data is not None and not os.path.exists(config.data):
        raise DataError(f"data file not found: {config.data} (the data this run was trained on); "
                        f"pass --data with its new place")
    dataset = load_dataset(config.dataset, config.data, request, progress)
    recorded = record.get("data_fingerprint")
    difference = fingerprint_difference(recorded, fingerprint(dataset)) if recorded else None
    if difference:
        where = config.data or dataset.source
        raise DataError(f"{where} is not the data this run was trained on: {difference}")
    return dataset


def note_evaluator_change(run_dir: str, evaluator, start: int) -> None:
    """Say so when a resumed run's scores change ruler (an upgrade shipped another evaluator)."""
    recorded = read_run_record(run_dir).get("evaluator")
    if evaluator is not None and recorded and recorded != evaluator.version:
        print(f"note: this run was scored with the evaluator {recorded}; from iteration {start:,} on, losses.csv "
              f"holds scores of {evaluator.version}: compare FDs only within one evaluator", flush=True)
