"""The run loop: draws batches, calls a training step, logs, and writes grids and models."""

from __future__ import annotations

import csv
import os
import secrets
import time

import numpy as np

from gan_keras.data import load_dataset, scale_images
from gan_keras.defaults import GRID_COLS, GRID_ROWS, TrainConfig, validate
from gan_keras.files import atomic_path
from gan_keras.images import grid_name, save_grid
from gan_keras.plots import plot_losses
from gan_keras.run_dir import (DISCRIMINATOR_FILE, FIXED_NOISE_FILE, GENERATOR_FILE, LOSSES_CSV,
                               LOSSES_PLOT, new_run_dir, write_config)

LOG_COLUMNS = ("iteration", "d_loss", "d_acc", "g_loss", "d_loss_real", "d_loss_fake")


def train(config: TrainConfig, show_progress: bool = True) -> str:
    """Train a GAN as ``config`` says and return the run folder it wrote."""
    validate(config)
    dataset = load_dataset(config.dataset, config.data)
    print(f"data: {dataset.describe()}", flush=True)
    run_dir = new_run_dir(config.out)
    if config.seed is None:
        config.seed = secrets.randbelow(2**31)
    write_config(run_dir, config, dataset.describe())
    print(f"run folder: {run_dir}", flush=True)

    import keras

    from gan_keras.training.gan import build_gan

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    images = scale_images(dataset.x_train)
    models = build_gan(config.latent_dim, config.lr, config.beta1,
                       mixed_precision=config.mixed_precision)
    step = make_step(config.loop, models, config.batch_size)
    fixed_noise = rng.normal(size=(GRID_ROWS * GRID_COLS, config.latent_dim)).astype(np.float32)
    np.save(os.path.join(run_dir, FIXED_NOISE_FILE), fixed_noise)

    def save_progress(iteration: int) -> None:
        save_grid(models.generator.predict_on_batch(fixed_noise),
                  os.path.join(run_dir, grid_name(iteration)), GRID_ROWS, GRID_COLS)
        for model, name in ((models.generator, GENERATOR_FILE), (models.discriminator, DISCRIMINATOR_FILE)):
            with atomic_path(os.path.join(run_dir, name)) as partial:
                model.save(partial)

    log = LossLog(os.path.join(run_dir, LOSSES_CSV))
    bar = progress_bar(config.epochs, show_progress)
    save_progress(0)
    started = time.perf_counter()
    for iteration in range(1, config.epochs + 1):
        real = images[rng.integers(0, len(images), config.batch_size)]
        noise_d = rng.normal(size=(config.batch_size, config.latent_dim)).astype(np.float32)
        noise_g = rng.normal(size=(config.batch_size, config.latent_dim)).astype(np.float32)
        log.add(step(real, noise_d, noise_g))
        if iteration % config.log_interval == 0 or iteration == config.epochs:
            means = log.flush(iteration)
            bar.set_postfix(d_loss=f"{means['d_loss']:.3f}", d_acc=f"{means['d_acc']:.2f}",
                            g_loss=f"{means['g_loss']:.3f}", refresh=False)
        bar.update(1)
        if iteration % config.save_interval == 0 or iteration == config.epochs:
            save_progress(iteration)
    bar.close()
    elapsed = time.perf_counter() - started
    log.close()
    plot_losses(os.path.join(run_dir, LOSSES_CSV), os.path.join(run_dir, LOSSES_PLOT))
    print(f"trained {config.epochs:,} iterations in {elapsed:.1f} s "
          f"({config.epochs / elapsed:.1f} it/s); results in {run_dir}", flush=True)
    return run_dir


def make_step(loop: str, models, batch_size: int):
    """The training step for ``--loop``: both have the same semantics and share optimizer state."""
    if loop == "notebook":
        from gan_keras.training.notebook_step import NotebookStep

        return NotebookStep(models, batch_size)
    from gan_keras.training.fast_step import FastStep

    return FastStep(models, batch_size)


class LossLog:
    """Averages the step's losses over each log interval and appends them to a CSV file."""

    def __init__(self, path: str):
        self.handle = open(path, "a", newline="")
        self.writer = csv.writer(self.handle)
        if self.handle.tell() == 0:
            self.writer.writerow(LOG_COLUMNS)
        self.pending: list[dict[str, float]] = []

    def add(self, losses: dict[str, float]) -> None:
        self.pending.append(losses)

    def flush(self, iteration: int) -> dict[str, float]:
        means = {name: float(np.mean([row[name] for row in self.pending])) for name in LOG_COLUMNS[1:]}
        self.writer.writerow([iteration] + [f"{means[name]:.6f}" for name in LOG_COLUMNS[1:]])
        self.handle.flush()
        self.pending.clear()
        return means

    def close(self) -> None:
        self.handle.close()


def progress_bar(total: int, enabled: bool):
    """A tqdm bar with ETA; the current losses go in its postfix."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="it", dynamic_ncols=True, mininterval=0.5,
                desc="training")
