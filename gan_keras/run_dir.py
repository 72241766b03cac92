"""Run folders: created fresh (never reused silently), with the settings and versions recorded."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import sys

from gan_keras.defaults import RUNS_ROOT, TrainConfig
from gan_keras.errors import UsageError
from gan_keras.files import atomic_path

CONFIG_FILE = "config.json"
LOSSES_CSV = "losses.csv"
LOSSES_PLOT = "losses.png"
GENERATOR_FILE = "generator.keras"
DISCRIMINATOR_FILE = "discriminator.keras"
FIXED_NOISE_FILE = "fixed_noise.npy"


def new_run_dir(out: str | None) -> str:
    """Create the run folder: ``out`` if it is new or empty, else a timestamped one under runs/."""
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = os.path.join(RUNS_ROOT, stamp)
        suffix = 1
        while os.path.exists(out):
            suffix += 1
            out = os.path.join(RUNS_ROOT, f"{stamp}-{suffix}")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise UsageError(f"{out} already exists and is not empty; choose another --out "
                         f"(earlier runs are never overwritten)")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create run folder {out}: {error.strerror}") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"run folder {out} is not writable")
    return out


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


def read_config(run_dir: str) -> TrainConfig:
    """The settings a run was started with, from its config.json."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isdir(run_dir):
        raise UsageError(f"cannot resume {run_dir}: no such folder")
    if not os.path.isfile(path) or not os.path.isdir(os.path.join(run_dir, "checkpoints")):
        raise UsageError(f"cannot resume {run_dir}: not a run folder (no {CONFIG_FILE} and checkpoints/)")
    try:
        with open(path) as handle:
            arguments = json.load(handle)["arguments"]
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in arguments.items() if k in names})
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot resume {run_dir}: {CONFIG_FILE} is unreadable ({error})") from None


def write_config(run_dir: str, config: TrainConfig, data_description: str) -> None:
    record = {"arguments": dataclasses.asdict(config), "data": data_description,
              "versions": versions(), "started": datetime.datetime.now().isoformat(timespec="seconds")}
    with atomic_path(os.path.join(run_dir, CONFIG_FILE)) as partial:
        with open(partial, "w") as handle:
            json.dump(record, handle, indent=2)
