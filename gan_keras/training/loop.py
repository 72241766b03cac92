"""The run loop: draws batches, calls a training step, logs, writes grids, models and checkpoints.

A run can stop at any moment and continue exactly: SIGINT and SIGTERM finish the
current iteration and checkpoint; after a SIGKILL, ``resume`` continues from the
last checkpoint and rewinds the CSV and grids to it.
"""

from __future__ import annotations

import csv
import math
import os
import re
import secrets
import signal
import time

import numpy as np

from gan_keras.data import Dataset, load_dataset, scale_images
from gan_keras.defaults import CLASS_GRID_COLS, CLASSES, GRID_COLS, GRID_ROWS, TrainConfig, validate
from gan_keras.errors import GanKerasError, UsageError
from gan_keras.files import atomic_path
from gan_keras.images import GRID_PATTERN, grid_name, save_png, tile, to_uint8
from gan_keras.plots import plot_losses
from gan_keras.run_dir import (DISCRIMINATOR_FILE, FIXED_NOISE_FILE, GENERATOR_FILE, LOSSES_CSV,
                               LOSSES_PLOT, new_run_dir, read_config, write_config)
from gan_keras.sampling import one_hot

LOSS_COLUMNS = ("d_loss", "d_acc", "g_loss", "d_loss_real", "d_loss_fake")
SCORE_COLUMNS = ("frechet_distance", "inception_score", "rarest_class_share")
LOG_COLUMNS = ("iteration",) + LOSS_COLUMNS + SCORE_COLUMNS
EVAL_NOISE_SEED = 1234  # evaluation draws its own noise, so scoring never changes training
PARTIAL_FILE = re.compile(r"^\..*\.partial\d+\.\w+$")


class TrainingDiverged(GanKerasError):
    """A loss became NaN or infinite."""


def train(config: TrainConfig, show_progress: bool = True) -> str:
    """Start a new run as ``config`` says; returns the run folder."""
    validate(config)
    dataset = load_dataset(config.dataset, config.data)
    print(f"data: {dataset.describe()}", flush=True)
    run_dir = new_run_dir(config.out)
    if config.seed is None:
        config.seed = secrets.randbelow(2**31)
    config.out = run_dir
    write_config(run_dir, config, dataset.describe())
    print(f"run folder: {run_dir}", flush=True)
    return _run(run_dir, config, dataset, show_progress, resuming=False)


def resume(run_dir: str, epochs: int | None = None, show_progress: bool = True) -> str:
    """Continue the run in ``run_dir`` from its last checkpoint up to ``epochs`` iterations in all."""
    config = read_config(run_dir)
    if epochs is not None:
        config.epochs = epochs
    validate(config)
    dataset = load_dataset(config.dataset, config.data)
    print(f"data: {dataset.describe()}", flush=True)
    return _run(run_dir, config, dataset, show_progress, resuming=True)


def _run(run_dir: str, config: TrainConfig, dataset: Dataset, show_progress: bool, resuming: bool) -> str:
    import keras
    import tensorflow as tf

    from gan_keras.training import tensorboard_log
    from gan_keras.training.checkpoints import restore_latest, save_checkpoint
    from gan_keras.training.gan import build_gan, with_classes

    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    images = scale_images(dataset.x_train)
    classes = CLASSES if config.conditional else None
    models = build_gan(config.latent_dim, config.lr, config.beta1, mixed_precision=config.mixed_precision,
                       model=config.model, classes=classes)
    step = make_step(config.loop, models, config.batch_size)
    rows, cols = grid_shape(config.conditional)
    fixed_classes = one_hot(np.arange(rows * cols) // cols, classes) if classes else None
    checkpoint_interval = config.checkpoint_interval or config.save_interval
    evaluator = None
    if config.eval_interval:
        from gan_keras.evaluation.evaluator import Evaluator

        evaluator = Evaluator(dataset)

    if resuming:
        _remove_partial_files(run_dir)
        record = restore_latest(run_dir, models, rng)
        start, fixed_noise, pending = record["iteration"], record["fixed_noise"], record["pending_losses"]
        if start >= config.epochs:
            raise UsageError(f"{run_dir} already has {start:,} iterations; pass a larger --epochs to go on")
        _rewind_outputs(run_dir, start)
        tensorboard_log.rewind(run_dir, start)
        print(f"resuming {run_dir} at iteration {start:,} of {config.epochs:,}", flush=True)
    else:
        start, pending = 0, []
        fixed_noise = rng.normal(size=(rows * cols, config.latent_dim)).astype(np.float32)
        np.save(os.path.join(run_dir, FIXED_NOISE_FILE), fixed_noise)

    board = None if config.no_tensorboard else tensorboard_log.TensorBoardLog(run_dir)
    real_grid = tile(to_uint8(images[real_grid_indices(dataset.y_train, rows, cols, config.conditional)]),
                     rows, cols)

    def save_grid_at(iteration: int) -> None:
        samples = models.generator.predict_on_batch(with_classes(fixed_noise, fixed_classes))
        grid = tile(to_uint8(samples), rows, cols)
        save_png(grid, os.path.join(run_dir, grid_name(iteration)))
        if board:
            board.grids(iteration, grid, real_grid)

    def save_models() -> None:
        for model, name in ((models.generator, GENERATOR_FILE), (models.discriminator, DISCRIMINATOR_FILE)):
            with atomic_path(os.path.join(run_dir, name)) as partial:
                model.save(partial)

    def checkpoint(iteration: int) -> None:
        if board:
            board.flush()  # the logs on disk then reach at least this checkpoint
        save_checkpoint(run_dir, models, iteration, fixed_noise, rng, log.pending, config.keep_checkpoints)

    log = LossLog(os.path.join(run_dir, LOSSES_CSV), pending)
    if not resuming:
        with _writing(run_dir):
            save_grid_at(0)
            save_models()
            checkpoint(0)
    stop = StopRequest()
    bar = progress_bar(config.epochs, start, show_progress)
    started, iteration = time.perf_counter(), start
    try:
        for iteration in range(start + 1, config.epochs + 1):
            chosen = rng.integers(0, len(images), config.batch_size)
            noise_d = rng.normal(size=(config.batch_size, config.latent_dim)).astype(np.float32)
            noise_g = rng.normal(size=(config.batch_size, config.latent_dim)).astype(np.float32)
            if classes:  # the real images' own classes; random ones for the fakes
                fake_classes = rng.integers(0, classes, (2, config.batch_size))
                losses = step(images[chosen], noise_d, noise_g, one_hot(dataset.y_train[chosen], classes),
                              one_hot(fake_classes[0], classes), one_hot(fake_classes[1], classes))
            else:
                losses = step(images[chosen], noise_d, noise_g)
            if not all(math.isfinite(value) for value in losses.values()):
                raise TrainingDiverged(
                    f"a loss became NaN or infinite at iteration {iteration:,} ({_format(losses)}); "
                    f"the last good checkpoint is kept in {os.path.join(run_dir, 'checkpoints')}")
            log.add(losses)
            last = iteration == config.epochs
            evaluating = evaluator is not None and (iteration % config.eval_interval == 0 or last)
            if evaluating:
                scores = evaluator.score_generator(models.generator, config.eval_samples, EVAL_NOISE_SEED)
                log.scores = {"frechet_distance": scores.frechet_distance,
                              "inception_score": scores.inception_score,
                              "rarest_class_share": scores.rarest_class_share}
            with _writing(run_dir):
                if iteration % config.log_interval == 0 or last or evaluating:
                    row = log.flush(iteration)
                    bar.set_postfix_str(_format(row, ("d_loss", "d_acc", "g_loss")) + log.score_text,
                                        refresh=False)
                    if board:
                        board.scalars(iteration, row)
                bar.update(1)
                on_interval = iteration % config.save_interval == 0 or last
                if on_interval:
                    save_grid_at(iteration)
                if on_interval or stop.requested:
                    save_models()
                if iteration % checkpoint_interval == 0 or last or stop.requested:
                    checkpoint(iteration)
            if stop.requested:
                break
    finally:
        bar.close()
        log.close()
        stop.release()
        if board:
            board.close()
    elapsed = time.perf_counter() - started
    done = iteration - start
    if stop.requested and iteration < config.epochs:
        print(f"stopped by {stop.signal_name} at iteration {iteration:,}; checkpoint and generator saved. "
              f"Continue with: python train.py --resume {run_dir}", flush=True)
        return run_dir
    with _writing(run_dir):
        plot_losses(os.path.join(run_dir, LOSSES_CSV), os.path.join(run_dir, LOSSES_PLOT))
    print(f"trained {done:,} iterations in {elapsed:.1f} s ({done / max(elapsed, 1e-9):.1f} it/s); "
          f"results in {run_dir}", flush=True)
    return run_dir


def grid_shape(conditional: bool) -> tuple[int, int]:
    """(rows, cols) of a run's grids: 5x5 as in the notebook, or one row per class."""
    return (CLASSES, CLASS_GRID_COLS) if conditional else (GRID_ROWS, GRID_COLS)


def real_grid_indices(labels: np.ndarray, rows: int, cols: int, by_class: bool) -> np.ndarray:
    """Training images for the real grid: a fixed random choice, or ``cols`` of each class per row."""
    rng = np.random.default_rng(0)
    if not by_class:
        return rng.choice(len(labels), rows * cols)
    return np.concatenate([rng.choice(np.flatnonzero(labels == row), cols) if np.any(labels == row)
                           else rng.choice(len(labels), cols) for row in range(rows)])


def make_step(loop: str, models, batch_size: int):
    """The training step for ``--loop``: both have the same semantics and share optimizer state."""
    if loop == "notebook":
        from gan_keras.training.notebook_step import NotebookStep

        return NotebookStep(models, batch_size)
    from gan_keras.training.fast_step import FastStep

    return FastStep(models, batch_size)


def _format(values: dict[str, float], names=None) -> str:
    return ", ".join(f"{name}={values[name]:.3f}" for name in (names or values))


class _writing:
    """Turns a failed write (disk full, permissions) into one clear error."""

    def __init__(self, run_dir: str):
        self.run_dir = run_dir

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, OSError):
            where = error.filename or self.run_dir
            raise GanKerasError(f"cannot write {where}: {error.strerror or error}; "
                                f"earlier results and checkpoints are untouched") from None
        return False


class StopRequest:
    """Records SIGINT/SIGTERM so the loop can finish its iteration, checkpoint and leave."""

    def __init__(self):
        self.requested, self.signal_name = False, ""
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum, frame):
        self.requested, self.signal_name = True, signal.Signals(signum).name

    def release(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class LossLog:
    """Averages the step's losses over each log interval and appends them to a CSV file."""

    def __init__(self, path: str, pending: list[dict[str, float]] | None = None):
        self.handle = open(path, "a", newline="")
        self.writer = csv.writer(self.handle)
        if self.handle.tell() == 0:
            self.writer.writerow(LOG_COLUMNS)
        self.pending: list[dict[str, float]] = list(pending or [])
        self.scores: dict[str, float] = {}
        self.score_text = ""

    def add(self, losses: dict[str, float]) -> None:
        self.pending.append(losses)

    def flush(self, iteration: int) -> dict[str, float]:
        """Write one row: mean losses since the last row, and scores if some were just computed.

        Returns the row's values (losses, and the scores when present).
        """
        means = {name: float(np.mean([row[name] for row in self.pending])) for name in LOSS_COLUMNS}
        scores = [f"{self.scores[name]:.6f}" if name in self.scores else "" for name in SCORE_COLUMNS]
        self.writer.writerow([iteration] + [f"{means[name]:.6f}" for name in LOSS_COLUMNS] + scores)
        self.handle.flush()
        if self.scores:
            self.score_text = f", FD={self.scores['frechet_distance']:.2f}"
        row = {**means, **self.scores}
        self.pending.clear()
        self.scores = {}
        return row

    def close(self) -> None:
        self.handle.close()


def _remove_partial_files(run_dir: str) -> None:
    """Temporary files a killed run left behind; the real files were never touched."""
    for folder in (run_dir, os.path.join(run_dir, "checkpoints")):
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if PARTIAL_FILE.match(name):
                    os.remove(os.path.join(folder, name))


def _rewind_outputs(run_dir: str, iteration: int) -> None:
    """Drop CSV rows and grids written after ``iteration``, so the resumed run has no duplicates."""
    csv_path = os.path.join(run_dir, LOSSES_CSV)
    if os.path.exists(csv_path):
        with open(csv_path, newline="") as handle:
            rows = list(csv.reader(handle))
        kept = rows[:1] + [row for row in rows[1:] if row and _is_int(row[0]) and int(row[0]) <= iteration]
        with atomic_path(csv_path) as partial:
            with open(partial, "w", newline="") as handle:
                csv.writer(handle).writerows(kept)
    for name in os.listdir(run_dir):
        match = GRID_PATTERN.match(name)
        if match and int(match.group(1)) > iteration:
            os.remove(os.path.join(run_dir, name))


def _is_int(text: str) -> bool:
    return text.isdigit()


def progress_bar(total: int, initial: int, enabled: bool):
    """A tqdm bar with ETA; the current losses go in its postfix."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="it", dynamic_ncols=True,
                mininterval=0.5, desc="training")
