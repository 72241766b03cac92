"""Checkpoints for exact resume: every variable of the run plus the random generators' state.

A checkpoint is one ``.npz`` (no pickled objects) holding, in order, the values of
the generator's and discriminator's variables (weights, BatchNorm statistics and
Dropout seed-generator states), both optimizers' variables, the fixed noise, and a
JSON record of the iteration, the NumPy generator's state and the losses not yet
written to the CSV. It is written to a temporary name and moved into place, so a
crash never leaves a half-written checkpoint under a real name.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from gan_keras.errors import DataError
from gan_keras.files import atomic_path
from gan_keras.training.gan import GanModels

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PATTERN = re.compile(r"^ckpt_(\d+)\.npz$")


def variable_groups(models: GanModels) -> dict[str, list]:
    """Every variable whose value a resumed run needs, grouped and in a stable order."""
    return {
        "generator": models.generator.variables,
        "discriminator": models.discriminator.variables,
        "d_optimizer": models.discriminator.optimizer.variables,
        "g_optimizer": models.combined.optimizer.variables,
    }


def checkpoint_path(run_dir: str, iteration: int) -> str:
    return os.path.join(run_dir, CHECKPOINT_DIR, f"ckpt_{iteration:07d}.npz")


def save_checkpoint(run_dir: str, models: GanModels, iteration: int, fixed_noise: np.ndarray,
                    rng: np.random.Generator, pending_losses: list[dict[str, float]], keep: int) -> str:
    """Write the checkpoint for ``iteration`` atomically and keep only the newest ``keep``."""
    arrays = {f"{group}/{index}": np.asarray(variable.numpy())
              for group, variables in variable_groups(models).items()
              for index, variable in enumerate(variables)}
    record = {"iteration": iteration, "rng_state": rng.bit_generator.state, "pending_losses": pending_losses}
    arrays["fixed_noise"] = fixed_noise
    arrays["record"] = np.array(json.dumps(record))
    path = checkpoint_path(run_dir, iteration)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_path(path) as partial:
        with open(partial, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
    for _, old in list_checkpoints(run_dir)[:-keep]:
        os.remove(old)
    return path


def list_checkpoints(run_dir: str) -> list[tuple[int, str]]:
    """(iteration, path) of the run's complete checkpoints, oldest first."""
    folder = os.path.join(run_dir, CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return []
    found = [(int(m.group(1)), os.path.join(folder, name))
             for name in os.listdir(folder) if (m := CHECKPOINT_PATTERN.match(name))]
    return sorted(found)


def restore_latest(run_dir: str, models: GanModels, rng: np.random.Generator) -> dict:
    """Load the newest readable checkpoint into ``models`` and ``rng``; returns its record.

    A checkpoint that cannot be read (a disk error, a file cut short by hand) is
    skipped with a warning in favour of the one before it.
    """
    problems = []
    for iteration, path in reversed(list_checkpoints(run_dir)):
        try:
            record = _restore(path, models, rng)
        except Exception as error:  # noqa: BLE001 - any unreadable file: try the previous one
            problems.append(f"{os.path.basename(path)}: {error}")
            continue
        for problem in problems:
            print(f"warning: skipped unreadable checkpoint {problem}")
        return record
    detail = f" (unreadable: {'; '.join(problems)})" if problems else ""
    raise DataError(f"{run_dir} has no usable checkpoint to resume from{detail}")


def _restore(path: str, models: GanModels, rng: np.random.Generator) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        record = json.loads(str(archive["record"]))
        values = {key: archive[key] for key in archive.files}
    groups = variable_groups(models)
    for group, variables in groups.items():
        for index, variable in enumerate(variables):
            value = values.get(f"{group}/{index}")
            if value is None or tuple(value.shape) != tuple(variable.shape):
                raise DataError(f"{group} variable {index} does not match this model")
    for group, variables in groups.items():
        for index, variable in enumerate(variables):
            variable.assign(values[f"{group}/{index}"])
    rng.bit_generator.state = record["rng_state"]
    record["fixed_noise"] = values["fixed_noise"]
    return record
