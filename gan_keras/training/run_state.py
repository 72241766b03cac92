"""One run's live state: its models and step, its random state, and the writers of its folder.

:class:`RunState` builds a run from its resolved, frozen ``TrainConfig`` (or restores it from a
checkpoint), assembles a new run folder atomically, and writes what the hooks ask for
(checkpoints, scores). The loop that trains it is :mod:`gan_keras.training.loop`.

Lazy imports: Keras, TensorFlow and the training modules that import them, inside the methods,
so that importing this module (and the loop) costs nothing before the signal handlers are set.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from gan_keras.data import Dataset, fingerprint, scale_images
from gan_keras.defaults import TrainConfig
from gan_keras.errors import UsageError
from gan_keras.files import atomic_path, writing
from gan_keras.images import tile, to_uint8
from gan_keras.run_dir import (CONFIG_FILE, FIXED_NOISE_FILE, RunLock, publish, rewind_outputs, staging_dir,
                               update_config, write_config)
from gan_keras.training.progress import ScoringClock

EVAL_NOISE_SEED = 1234  # a run's scorings draw their own noise, so scoring never changes training


class RunState:
    """One run's live state: the models and step, the random state, the writers of its folder."""

    def __init__(self, config: TrainConfig, dataset: Dataset, strategy, run_dir: str | None = None):
        import keras
        import tensorflow as tf

        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        self.config, self.dataset, self.strategy, self.run_dir = config, dataset, strategy, run_dir
        self.rng = np.random.default_rng(config.seed)
        self.classes = dataset.classes if config.conditional else None  # what G and D are conditioned on
        self._build(strategy.num_replicas_in_sync)
        self.first_grid: np.ndarray | None = None  # grid 0 of a new run, for TensorBoard once the folder exists
        self.clock = ScoringClock()
        self.evaluator = None
        if config.eval_interval:
            from gan_keras.scoring.rulers import ruler_for

            self.evaluator = ruler_for(dataset, train_classifier=True, verbose=1, memorization=True)  # may train one
            if self.evaluator is None:
                raise UsageError(f"--eval-interval: no ruler knows {dataset.source} (no shipped classifier for it, no "
                                 f"labels to train one on, no InceptionV3 weights in Keras's cache: see "
                                 f"python -m gan_keras.evaluate --help, --inception)")

    def _build(self, replicas: int) -> None:
        """The models, the step for --loop, and the writers of grids and models."""
        from gan_keras.sampling import one_hot
        from gan_keras.training.batches import InGraphBatches
        from gan_keras.training.gan import build_run_models
        from gan_keras.training.outputs import RunOutputs, grid_shape, real_grid_indices

        config, dataset = self.config, self.dataset
        self.models = build_run_models(config, self.classes, self.strategy)
        in_graph = None if config.loop == "notebook" else InGraphBatches(
            dataset.x_train, dataset.y_train, config.seed, config.batch_size, config.latent_dim, self.classes, replicas,
            dataset.stack)
        self.step = make_step(config.loop, self.models, config.batch_size, self.strategy, in_graph)
        if replicas > 1 or config.strategy != "default":
            print(f"strategy: {config.strategy}, {replicas} replicas of {config.batch_size // replicas} images "
                  f"each", flush=True)
        rows, cols = grid_shape(self.classes)
        fixed_classes = one_hot(np.arange(rows * cols) // cols, self.classes) if self.classes else None
        real = scale_images(dataset.images(real_grid_indices(dataset.y_train, rows, cols, self.classes is not None,
                                                             dataset.stack)))
        self.outputs = RunOutputs(self.run_dir or "", self.models, rows, cols, fixed_classes,
                                  tile(to_uint8(real), rows, cols), config.sample_from)
        self.fixed_noise = self.rng.normal(size=(rows * cols, config.latent_dim)).astype(np.float32)

    def layer_forms(self) -> dict[str, dict[str, str]]:
        """{model: {layer: training form}}: which layers train in which form (the others in Keras's own), as
        config.json records it."""
        from gan_keras.models.training_forms import FORMS
        from gan_keras.models.walk import nested_layers

        names = {form: name for name, form in FORMS.items()}
        return {model.name: {layer.name: names[type(layer)] for layer in nested_layers(model)
                             if type(layer) in names}
                for model in (self.models.generator, self.models.discriminator)}

    def batch_stream(self, start: int):
        """The notebook loop's batches from iteration ``start + 1`` on (:mod:`gan_keras.training.batches`)."""
        from gan_keras.training.batches import batch_stream

        config, dataset = self.config, self.dataset
        return batch_stream(self.strategy, dataset.x_train, dataset.y_train, config.seed, start, config.epochs,
                            config.batch_size, config.latent_dim, self.classes, dataset.stack)

    def _attach(self, run_dir: str) -> None:
        self.run_dir = self.outputs.run_dir = run_dir

    def write_elsewhere(self, folder: str) -> None:
        """A non-chief worker, after restoring from the run: write to ``folder`` from now on."""
        os.makedirs(folder)
        self._attach(folder)

    def create_folder(self, run_dir: str) -> RunLock:
        """Assemble the new run (config, fixed noise, grid 0, models, checkpoint 0) and rename it into place.

        Returns the run's lock, taken before the folder had its name and held until released.
        """
        staging = staging_dir(run_dir)
        try:
            os.makedirs(staging)
        except OSError as error:  # named by the user's --out, never by the hidden staging name
            raise UsageError(f"cannot create run folder {run_dir}: {error.strerror or error}") from None
        self._attach(staging)
        lock = RunLock(staging).__enter__()
        try:
            with writing(run_dir, staging):
                write_config(staging, self.config, self.dataset, fingerprint(self.dataset),
                             self.evaluator.version if self.evaluator else None, self.layer_forms())
                with atomic_path(os.path.join(staging, FIXED_NOISE_FILE)) as partial:
                    np.save(partial, self.fixed_noise)
                self.first_grid = self.outputs.grid(0, self.fixed_noise)  # to TensorBoard once it exists
                self.outputs.save_models()
                self.checkpoint(0, [])
            publish(staging, run_dir)
        except BaseException:
            lock.release()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._attach(run_dir)
        return lock

    def restore(self) -> tuple[int, list]:
        """Load the newest checkpoint; returns (its iteration, the losses it had not logged yet)."""
        from gan_keras.training.checkpoints import CheckpointMismatch, restore_latest

        try:
            record = restore_latest(self.run_dir, self.models, self.rng)
        except CheckpointMismatch as error:  # the models come from config.json: say so, as it may have been edited
            settings = os.path.join(self.run_dir, CONFIG_FILE)
            raise CheckpointMismatch(f"{error} (the settings are {settings}'s)") from None
        self.fixed_noise = record["fixed_noise"]
        return record["iteration"], record["pending_losses"]

    def rewind_to(self, iteration: int) -> None:
        """Drop what the run wrote after checkpoint ``iteration``, and record the settings it goes on with."""
        from gan_keras.training import tensorboard_log

        with writing(self.run_dir):
            rewind_outputs(self.run_dir, iteration)
            self.outputs.forget_pick()
            self.outputs.forget_best_after(iteration)
            tensorboard_log.rewind(self.run_dir, iteration)
            update_config(self.run_dir, self.config)

    def checkpoint(self, iteration: int, pending: list) -> None:
        from gan_keras.training.checkpoints import save_checkpoint

        save_checkpoint(self.run_dir, self.models, iteration, self.fixed_noise, self.rng, pending,
                        self.config.keep_checkpoints)

    def repair_finished(self, iteration: int) -> None:
        """A complete run: rewrite the final files a late kill left missing, or say there is nothing to do.

        Either way the exit is 0: a kill after the last step leaves a run that ``--resume`` accepts.
        """
        from gan_keras.training import tensorboard_log

        missing = self.outputs.missing_final_files(iteration)
        if missing:
            with writing(self.run_dir):
                tensorboard_log.rewind(self.run_dir, iteration)  # drops a record torn by the kill, if any
            self.outputs.rewrite(missing, iteration, self.fixed_noise)
        print(f"{self.run_dir} is complete ({iteration:,} iterations); "
              + (f"rewrote what was missing: {', '.join(missing)}" if missing
                 else "nothing to do: pass a larger --epochs to go on"), flush=True)

    def score(self, generator, count: int, evaluator=None):
        """The scores of ``generator`` as saved (:func:`~gan_keras.scoring.evaluator.score_as_saved`), by the
        run's evaluator unless another is given; the time goes to ``clock``, not to training."""
        from gan_keras.scoring.evaluator import score_as_saved

        with self.clock:
            return score_as_saved(evaluator or self.evaluator, generator, count, EVAL_NOISE_SEED)


def make_step(loop: str, models, batch_size: int, strategy=None, batches=None):
    """``--loop``'s step: the compiled fast step (:mod:`gan_keras.training.fast_step`), which draws its own
    inputs from ``batches`` (``step.run``), or the notebook's ``train_on_batch`` calls
    (:mod:`gan_keras.training.notebook_step`), fed one batch per call. Both have the same semantics and share
    the models' optimizer state, so either can continue a run the other started."""
    if loop == "notebook":
        from gan_keras.training.notebook_step import NotebookStep

        return NotebookStep(models, batch_size, strategy)
    from gan_keras.training.fast_step import FastStep

    return FastStep(models, batch_size, strategy=strategy, batches=batches)
