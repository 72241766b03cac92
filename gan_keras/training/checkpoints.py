"""Checkpoints for exact resume: every variable of the run plus the random generators' state.

A checkpoint is one ``.npz`` (no pickled objects). Every variable is stored under
a name that says what it is, ``GROUP/LAYER/VARIABLE`` (``generator/up_14x14_bn/moving_mean``,
``g_optimizer/generator_project_kernel_momentum``, ``generator_average/updates``), never
by position, so two variables of the same shape can never be swapped; a checkpoint
whose names or shapes differ from the models built for the run is refused. The
groups: both models (weights, BatchNorm statistics, Dropout seed states), both
optimizers, G's average and its update count when the run keeps one. Beside them:
the fixed noise and a JSON record of the iteration, the NumPy generator's state and
the losses not yet written to the CSV. The file is written to a temporary name and
moved into place, so a crash never leaves a half-written checkpoint under a real name.

This module is the one definition of what a checkpoint holds; the loop, the
evaluator's ``--checkpoints`` and the tests all read it through here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile

import numpy as np

from gan_keras.errors import DataError
from gan_keras.files import atomic_path, regular_file

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PATTERN = re.compile(r"^ckpt_(\d+)\.npz$")
FORMAT = 2  # 1: variables by position (before averaged generators); 2: by name


class CheckpointMismatch(DataError):
    """A readable checkpoint that belongs to other models: never restored, never skipped silently."""


def model_variables(model) -> dict:
    """``{"LAYER/VARIABLE": variable}`` for every variable of a Keras model, named by layer."""
    named = {}
    for layer in model.layers:
        for variable in layer.variables:
            key = f"{layer.name}/{variable.name}"
            if key in named:
                raise ValueError(f"two variables of {model.name} are both called {key}")
            named[key] = variable
    if len(named) != len(model.variables):
        raise ValueError(f"{model.name}: {len(model.variables) - len(named)} variables belong to no layer")
    return named


def optimizer_variables(optimizer) -> dict:
    """``{name: variable}`` of an optimizer's state (its names derive from the model's layer names)."""
    named = {}
    for variable in optimizer.variables:
        key, copy = variable.name, 1
        while key in named:  # a wrapped optimizer (fp16 loss scaling) repeats its inner one's names
            copy += 1
            key = f"{variable.name}~{copy}"
        named[key] = variable
    return named


def variable_groups(models) -> dict[str, dict]:
    """Every variable whose value a resumed run needs, by group and name."""
    groups = {
        "generator": model_variables(models.generator),
        "discriminator": model_variables(models.discriminator),
        "d_optimizer": optimizer_variables(models.discriminator.optimizer),
        "g_optimizer": optimizer_variables(models.combined.optimizer),
    }
    if models.average is not None:
        groups["generator_average"] = {**model_variables(models.average.average),
                                       "updates": models.average.updates}
    return groups


def variable_values(models) -> dict[str, np.ndarray]:
    """``{"GROUP/NAME": value}`` of every variable a checkpoint stores (this process's copy)."""
    return {f"{group}/{name}": np.asarray(variable.numpy())
            for group, variables in variable_groups(models).items() for name, variable in variables.items()}


def weights_digest(values: dict[str, np.ndarray]) -> str:
    """A SHA-256 over every stored variable's name and bytes: equal digests, equal weights.

    Workers print it at the end of a multi-worker run; it is computed the same way from
    a checkpoint file (:func:`read_checkpoint`), so the two can be compared.
    """
    digest = hashlib.sha256()
    for key in sorted(key for key in values if "/" in key):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(values[key]).tobytes())
    return digest.hexdigest()


def checkpoint_path(run_dir: str, iteration: int) -> str:
    return os.path.join(run_dir, CHECKPOINT_DIR, f"ckpt_{iteration:07d}.npz")


def save_checkpoint(run_dir: str, models, iteration: int, fixed_noise: np.ndarray,
                    rng: np.random.Generator, pending_losses: list[dict[str, float]], keep: int) -> str:
    """Write the checkpoint for ``iteration`` atomically and keep only the newest ``keep``."""
    arrays = variable_values(models)
    record = {"format": FORMAT, "iteration": iteration, "rng_state": rng.bit_generator.state,
              "pending_losses": pending_losses}
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


def restore_latest(run_dir: str, models, rng: np.random.Generator) -> dict:
    """Load the newest readable checkpoint into ``models`` and ``rng``; returns its record.

    A checkpoint that cannot be read (a disk error, a file cut short by hand) is
    skipped with a warning in favour of the one before it; one that reads but does
    not match the models is refused (:class:`CheckpointMismatch`).
    """
    problems = []
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            values, record = read_checkpoint(path)
        except CheckpointMismatch:
            raise
        except Exception as error:  # noqa: BLE001 - any unreadable file: try the previous one
            problems.append(f"{os.path.basename(path)}: {error}")
            continue
        for problem in problems:
            print(f"warning: skipped unreadable checkpoint {problem}")
        assign_groups(values, variable_groups(models), path)
        rng.bit_generator.state = record["rng_state"]
        record["fixed_noise"] = values["fixed_noise"]
        return record
    detail = f" (unreadable: {'; '.join(problems)})" if problems else ""
    raise DataError(f"{run_dir} has no usable checkpoint to resume from{detail}")


def read_checkpoint(path: str) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays by key, record) of one checkpoint file; refuses the old positional format."""
    regular_file(path, "checkpoint")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a checkpoint: not an .npz archive (damaged, cut short, or another file)")
    with np.load(path, allow_pickle=False) as archive:
        record = json.loads(str(archive["record"]))
        values = {key: archive[key] for key in archive.files}
    if record.get("format") != FORMAT:
        raise CheckpointMismatch(
            f"{path} was written by an older gan_keras (variables stored by position, format "
            f"{record.get('format', 1)}); it cannot be resumed by this version")
    return values, record


def assign_groups(values: dict[str, np.ndarray], groups: dict[str, dict], path: str, complete: bool = True) -> None:
    """Check every name and shape first, then assign: a mismatch changes nothing. ``complete``: ``groups`` are all
    of the run's, and a group the checkpoint holds beyond them (G's average, where the settings say --ema 0) is
    refused; else only ``groups`` are read."""
    stored_groups = {key.split("/", 1)[0] for key in values if "/" in key}
    if complete and stored_groups - set(groups):
        raise CheckpointMismatch(f"{path} holds {', '.join(sorted(stored_groups - set(groups)))}, which the models "
                                 f"built from its settings lack")
    wanted = {f"{group}/{name}": variable for group, variables in groups.items()
              for name, variable in variables.items()}
    stored = {key for key in values if "/" in key and key.split("/", 1)[0] in groups}
    missing, extra = sorted(set(wanted) - stored), sorted(stored - set(wanted))
    wrong = [f"{key} {values[key].shape} vs {tuple(variable.shape)}" for key, variable in wanted.items()
             if key in values and tuple(values[key].shape) != tuple(variable.shape)]
    if missing or extra or wrong:
        details = [f"missing {', '.join(missing[:3])}" if missing else "",
                   f"not in this run's models {', '.join(extra[:3])}" if extra else "",
                   f"shape {', '.join(wrong[:3])}" if wrong else ""]
        raise CheckpointMismatch(f"{path} does not match this run's models: "
                                 + "; ".join(d for d in details if d))
    for key, variable in wanted.items():
        variable.assign(values[key])

