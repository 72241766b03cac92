"""What a run writes into its folder: grids, saved models, the best snapshot, checkpoints.

Every file goes to a temporary name first and is renamed into place. The
generator people sample from (``generator.keras``, the grids) is G's average when
the run keeps one (``--sample-from average``, and ``better`` until its last
iteration), the trained G with ``raw``, or the one a finished ``better`` run picked
(recorded in ``sampled.json``). The trained G is saved beside an average as
``generator_raw.keras``; once a run has picked, the average is also saved as
``generator_average.keras``.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from gan_keras.defaults import CLASS_GRID_COLS, CLASS_GRID_ROWS, GRID_COLS, GRID_ROWS
from gan_keras.files import atomic_path, writing
from gan_keras.images import grid_name, save_png, tile, to_uint8
from gan_keras.plots import plot_losses
from gan_keras.models.training_forms import to_standard
from gan_keras.run_dir import (AVERAGE_GENERATOR_FILE, BEST_GENERATOR_FILE, BEST_RECORD_FILE, DISCRIMINATOR_FILE,
                               GENERATOR_FILE, LOSSES_CSV, LOSSES_PLOT, RAW_GENERATOR_FILE, SAMPLED_RECORD_FILE)
from gan_keras.sampling import run_generator
from gan_keras.training.gan import GanModels, portable_batch_norm


class RunOutputs:
    """Writes one run's files."""

    def __init__(self, run_dir: str, models: GanModels, rows: int, cols: int,
                 fixed_classes: np.ndarray | None, real_grid: np.ndarray, sample_from: str = "average"):
        self.run_dir, self.models = run_dir, models
        self.rows, self.cols = rows, cols
        self.fixed_classes, self.real_grid = fixed_classes, real_grid
        self.sample_from = sample_from
        self.best = read_record(run_dir, BEST_RECORD_FILE)
        self.picked = read_record(run_dir, SAMPLED_RECORD_FILE).get("sampled")  # "average" or "raw"

    def sampled(self):
        """The generator that generator.keras and the grids come from."""
        if self.models.average is None:
            return self.models.generator
        raw = self.picked == "raw" if self.picked else self.sample_from == "raw"
        return self.models.generator if raw else self.models.sampled

    def record_pick(self, iteration: int, evaluator: str, samples: int, scores: dict[str, dict]) -> str:
        """Write sampled.json: the generator with the lower FD becomes generator.keras from now on."""
        picked = min(scores, key=lambda name: scores[name]["frechet_distance"])
        self._write_record(SAMPLED_RECORD_FILE, {"sampled": picked, "iteration": iteration, "evaluator": evaluator,
                                                 "samples": samples, "scores": scores})
        self.picked = picked
        return picked

    def forget_pick(self) -> None:
        """A run resumed short of its end trains on: its pick (and the average's own file) no longer hold."""
        for name in (SAMPLED_RECORD_FILE, AVERAGE_GENERATOR_FILE):
            if os.path.exists(self.path(name)):
                os.remove(self.path(name))
        self.picked = None

    def forget_best_after(self, iteration: int) -> None:
        """A run rewound to ``iteration``: a best snapshot scored after it belongs to iterations now undone, and
        goes (losses.csv's rows after it are gone too); the next scoring keeps a new one."""
        if self.best.get("iteration", -1) > iteration:
            for name in (BEST_RECORD_FILE, BEST_GENERATOR_FILE):
                if os.path.exists(self.path(name)):
                    os.remove(self.path(name))
            self.best = {}

    def path(self, name: str) -> str:
        return os.path.join(self.run_dir, name)

    def grid(self, iteration: int, fixed_noise: np.ndarray) -> np.ndarray:
        """Write the fixed-noise grid of the sampled generator; returns it."""
        samples = run_generator(self.sampled(), fixed_noise, self.fixed_classes)
        grid = tile(to_uint8(samples), self.rows, self.cols)
        save_png(grid, self.path(grid_name(iteration)))
        return grid

    def model_files(self) -> dict[str, object]:
        """{file name: model} of the models a run saves."""
        files = {GENERATOR_FILE: self.sampled(), DISCRIMINATOR_FILE: self.models.discriminator}
        if self.models.average is not None:
            files[RAW_GENERATOR_FILE] = self.models.generator
            if self.picked:
                files[AVERAGE_GENERATOR_FILE] = self.models.sampled
        return files

    def save_models(self, only: list[str] | None = None) -> None:
        for name, model in self.model_files().items():
            if only is None or name in only:
                self._save_model(name, model)

    def _save_model(self, name: str, model) -> None:
        """Save ``model`` atomically, made of standard Keras layers (loadable on any backend)."""
        with atomic_path(self.path(name)) as partial, portable_batch_norm(model):
            to_standard(model).save(partial)

    def _write_record(self, name: str, record: dict) -> None:
        with atomic_path(self.path(name)) as partial:
            with open(partial, "w") as handle:
                json.dump(record, handle, indent=2)

    def keep_if_best(self, iteration: int, scores) -> bool:
        """Save the sampled generator as generator_best.keras when its FD is the lowest so far.

        Only FDs of the same evaluator version compare: a best scored by another ruler is replaced.
        """
        same_ruler = self.best.get("evaluator") == scores.evaluator
        if same_ruler and not scores.frechet_distance < self.best.get("frechet_distance", math.inf):
            return False
        self._save_model(BEST_GENERATOR_FILE, self.models.sampled)
        record = {"iteration": iteration, "frechet_distance": scores.frechet_distance,
                  "inception_score": scores.inception_score, "evaluator": scores.evaluator,
                  "file": BEST_GENERATOR_FILE}
        self._write_record(BEST_RECORD_FILE, record)
        self.best = record
        return True


    def plot_losses(self) -> None:
        """losses.png from losses.csv."""
        with writing(self.run_dir):
            plot_losses(self.path(LOSSES_CSV), self.path(LOSSES_PLOT))

    def missing_final_files(self, iteration: int) -> list[str]:
        """The files a run finished at ``iteration`` should hold but does not (a kill after its last step)."""
        return [name for name in [grid_name(iteration), *self.model_files(), LOSSES_PLOT]
                if not os.path.exists(self.path(name))]

    def rewrite(self, missing: list[str], iteration: int, fixed_noise: np.ndarray) -> None:
        """Write again the final files named in ``missing`` (:meth:`missing_final_files`)."""
        with writing(self.run_dir):
            if grid_name(iteration) in missing:
                self.grid(iteration, fixed_noise)
            self.save_models(only=missing)
        if LOSSES_PLOT in missing:
            self.plot_losses()


def grid_shape(classes: int | None) -> tuple[int, int]:
    """(rows, cols) of a run's grids: 5x5 as in the notebook, or one row per class (the first CLASS_GRID_ROWS)."""
    return (min(classes, CLASS_GRID_ROWS), CLASS_GRID_COLS) if classes else (GRID_ROWS, GRID_COLS)


def real_grid_indices(labels: np.ndarray, rows: int, cols: int, by_class: bool, stack: int = 1) -> np.ndarray:
    """Training images for the real grid: a fixed random choice, or ``cols`` of each class per row; stacked
    (Stacked MNIST), ``stack`` random training images for each."""
    rng = np.random.default_rng(0)
    if stack > 1:
        return rng.choice(len(labels), (rows * cols, stack))
    if not by_class:
        return rng.choice(len(labels), rows * cols)
    return np.concatenate([rng.choice(np.flatnonzero(labels == row), cols) if np.any(labels == row)
                           else rng.choice(len(labels), cols) for row in range(rows)])


def read_best(run_dir: str) -> dict:
    """The run's best.json ({} when there is none or it is unreadable)."""
    return read_record(run_dir, BEST_RECORD_FILE)


def read_record(run_dir: str, name: str) -> dict:
    """A JSON record of the run ({} when there is none or it is unreadable)."""
    try:
        with open(os.path.join(run_dir, name)) as handle:
            record = json.load(handle)
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}
