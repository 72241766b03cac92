"""A run's life: build (or restore) it, train it, finish it.

:func:`train` starts a run and :func:`resume` continues one; both hand a
:class:`TrainingSession` to the same loop, which trains and, after each iteration,
calls the hooks that are due (:mod:`gan_keras.training.hooks`: the log row, scores,
grids, saved models, TensorBoard, checkpoints). A run can stop at any moment and
continue exactly: SIGINT and SIGTERM (from the first moment of start-up,
:mod:`gan_keras.training.stop`) finish what is under way, checkpoint, and leave with
exit 0; after a SIGKILL, ``resume`` continues from the last checkpoint and rewinds the
CSV, grids and TensorBoard logs to it. A new run folder appears complete, with
checkpoint 0, or not at all. TensorFlow is imported only inside :class:`TrainingSession`,
after the signal handlers are in place, so a signal during its slow import stops cleanly too.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import time

import numpy as np

from gan_keras.data import Dataset, fingerprint, load_dataset, scale_images
from gan_keras.defaults import TrainConfig, resolve_intervals, run_classes, validate
from gan_keras.errors import TrainingDiverged, UsageError
from gan_keras.files import atomic_path, writing
from gan_keras.images import tile, to_uint8
from gan_keras.run_dir import (FIXED_NOISE_FILE, LOSSES_CSV, RunLock, choose_run_dir, note_evaluator_change, publish,
                               read_config, recorded_data, remove_partial_files, rewind_outputs, staging_dir,
                               update_config, write_config)
from gan_keras.training.distribute import any_worker, is_chief, peer_failure, remove_worker_folder, worker_folder
from gan_keras.training.stop import StopRequest

MAX_ITERATIONS_PER_CALL = 50  # the fast step's iterations per compiled call, at most (see _call_end)


def train(config: TrainConfig, show_progress: bool = True) -> str:
    """Start a new run as ``config`` says; returns the run folder."""
    with StopRequest() as stop:
        validate(config)
        resolve_intervals(config)
        dataset = load_dataset(config.dataset, config.data)
        print(f"data: {dataset.describe()}", flush=True)
        if config.data is not None:
            config.data = os.path.abspath(config.data)  # so --resume works from any folder
        chief = is_chief(config.strategy)
        run_dir = choose_run_dir(config.out) if chief else worker_folder()
        if config.seed is None:
            config.seed = secrets.randbelow(2**31)
        if chief:
            config.out = run_dir  # a non-chief worker keeps the --out it was given: the chief's
        session = TrainingSession(config, dataset)
        lock = session.create_folder(run_dir)
        print(f"run folder: {run_dir}" if chief else "worker: the chief writes the run folder; this worker's copy "
              "goes to a temporary folder, removed at the end", flush=True)
        try:
            session.train(start=0, pending=[], stop=stop, show_progress=show_progress)
            return run_dir
        finally:
            lock.release()
            if not chief:
                remove_worker_folder(run_dir)


def resume(run_dir: str, epochs: int | None = None, data: str | None = None, show_progress: bool = True,
           machine: dict | None = None) -> str:
    """Continue the run in ``run_dir`` from its last checkpoint up to ``epochs`` iterations in all.

    ``data`` points the run at a moved copy of its data (checked against the recorded
    fingerprint). ``machine`` changes the hardware settings it continues with (``strategy``,
    ``devices``, ``mixed_precision``, ``upsampling``, ``training_forms``). A run that is already
    complete gets its missing final files rewritten.
    """
    with StopRequest() as stop:
        config = read_config(run_dir)
        for name, value in (machine or {}).items():
            setattr(config, name, value)
        chief = is_chief(config.strategy)
        with RunLock(run_dir) if chief else contextlib.nullcontext():
            config.epochs = config.epochs if epochs is None else epochs
            validate(config)
            resolve_intervals(config)
            dataset = recorded_data(run_dir, config, data)
            print(f"data: {dataset.describe()}", flush=True)
            session = TrainingSession(config, dataset, run_dir, resumed=True)
            if chief:
                remove_partial_files(run_dir)
            start, pending = session.restore()
            if start > config.epochs:
                raise UsageError(f"{run_dir} already has {start:,} iterations, more than --epochs {config.epochs:,}; "
                                 f"pass a larger --epochs to go on")
            if start == config.epochs:
                if chief:
                    session.repair_finished(start)
                return run_dir
            if chief:
                session.rewind_to(start)
            else:
                session.write_elsewhere(worker_folder())
            print(f"resuming {run_dir} at iteration {start:,} of {config.epochs:,}", flush=True)
            note_evaluator_change(run_dir, session.evaluator, start)
            try:
                session.train(start, pending, stop, show_progress)
            finally:
                if not chief:
                    remove_worker_folder(session.run_dir)
            return run_dir


class TrainingSession:
    """One run's live state: the models and step, the random state, the writers of its folder, its loop."""

    def __init__(self, config: TrainConfig, dataset: Dataset, run_dir: str | None = None, resumed: bool = False):
        import keras
        import tensorflow as tf

        from gan_keras.machine_choices import settle_for_this_machine
        from gan_keras.training.distribute import agreed_seed, make_strategy
        from gan_keras.training.hooks import ScoringClock

        self.strategy = make_strategy(config.strategy, config.devices, config.cluster_timeout)  # before any op
        replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % replicas:
            raise UsageError(f"--batch-size {config.batch_size} does not split evenly over {replicas} replicas "
                             f"(it is the global batch)")
        settle_for_this_machine(config, resumed)  # after the strategy: its probe runs TensorFlow ops
        config.seed = agreed_seed(self.strategy, config.seed)
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        self.config, self.dataset, self.run_dir = config, dataset, run_dir
        self.rng = np.random.default_rng(config.seed)
        self.classes = run_classes(config)
        self._build(replicas)
        self.first_grid = self.log = self.bar = self._batches = None
        self.clock = ScoringClock()
        self.evaluator = None
        if config.eval_interval:
            from gan_keras.scoring.evaluator import Evaluator

            self.evaluator = Evaluator(dataset, train_classifier=True)  # asked for scores: train one if needed

    def _build(self, replicas: int) -> None:
        """The models, the step for --loop, and the writers of grids and models."""
        from gan_keras.sampling import one_hot
        from gan_keras.training.batches import InGraphBatches
        from gan_keras.training.gan import build_run_models
        from gan_keras.training.outputs import RunOutputs, grid_shape, real_grid_indices
        from gan_keras.training.steps import make_step

        config, dataset = self.config, self.dataset
        self.models = build_run_models(config, self.classes, self.strategy)
        in_graph = None if config.loop == "notebook" else InGraphBatches(
            dataset.x_train, dataset.y_train, config.seed, config.batch_size, config.latent_dim, self.classes, replicas)
        self.step = make_step(config.loop, self.models, config.batch_size, self.strategy, in_graph)
        if replicas > 1 or config.strategy != "default":
            print(f"strategy: {config.strategy}, {replicas} replicas of {config.batch_size // replicas} images "
                  f"each", flush=True)
        rows, cols = grid_shape(self.classes)
        fixed_classes = one_hot(np.arange(rows * cols) // cols, self.classes) if self.classes else None
        real = scale_images(dataset.x_train[real_grid_indices(dataset.y_train, rows, cols, self.classes is not None)])
        self.outputs = RunOutputs(self.run_dir or "", self.models, rows, cols, fixed_classes,
                                  tile(to_uint8(real), rows, cols), config.sample_from)
        self.fixed_noise = self.rng.normal(size=(rows * cols, config.latent_dim)).astype(np.float32)

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
        os.makedirs(staging)
        self._attach(staging)
        lock = RunLock(staging).__enter__()
        try:
            with writing(run_dir, staging):
                write_config(staging, self.config, self.dataset.describe(), fingerprint(self.dataset),
                             self.evaluator.version if self.evaluator else None)
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
        from gan_keras.training.checkpoints import restore_latest

        record = restore_latest(self.run_dir, self.models, self.rng)
        self.fixed_noise = record["fixed_noise"]
        return record["iteration"], record["pending_losses"]

    def rewind_to(self, iteration: int) -> None:
        """Drop what the run wrote after checkpoint ``iteration``, and record the settings it goes on with."""
        from gan_keras.training import tensorboard_log

        with writing(self.run_dir):
            rewind_outputs(self.run_dir, iteration)
            self.outputs.forget_pick()
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
        from gan_keras.training.hooks import EVAL_NOISE_SEED

        with self.clock:
            return score_as_saved(evaluator or self.evaluator, generator, count, EVAL_NOISE_SEED)

    def train(self, start: int, pending: list, stop: StopRequest, show_progress: bool) -> str:
        """Iterations ``start + 1`` to ``config.epochs``, each followed by the hooks due then; then the end."""
        from gan_keras.training.hooks import Moment, run_hooks
        from gan_keras.training.loss_log import LossLog
        from gan_keras.training.progress import progress_bar

        config = self.config
        self.log = LossLog(os.path.join(self.run_dir, LOSSES_CSV), pending)
        self.bar = progress_bar(config.epochs, start, show_progress and not stop.requested)
        hooks = run_hooks(self)
        started, iteration = time.perf_counter(), start
        stopping = self._stopping(0, stop)  # a signal during start-up: leave at once
        try:
            while iteration < config.epochs and not stopping:
                last = self._call_end(iteration, start, hooks)
                for losses in self._train_steps(iteration + 1, last - iteration, start):
                    iteration += 1
                    self._log(iteration, losses)
                    stopping = iteration == last and self._stopping(iteration - start, stop)
                    moment = Moment(iteration, iteration == config.epochs, stopping)
                    with writing(self.run_dir):
                        for hook in (hook for hook in hooks if hook.due(moment)):
                            hook(moment)
        except Exception as error:  # noqa: BLE001 - a peer's end becomes one line; anything else goes on up
            failure = peer_failure(error, self._where()) if config.strategy == "multiworker" else None
            if failure is None:
                raise
            raise failure from None
        finally:
            self.bar.close()
            self.log.close()
            for hook in hooks:
                hook.close()
        return self._finish(start, iteration, time.perf_counter() - started, stop)

    def _log(self, iteration: int, losses: dict[str, float]) -> None:
        """One iteration's losses into the log and the bar; a NaN or infinite one ends the run."""
        from gan_keras.training.progress import format_values

        if not all(math.isfinite(value) for value in losses.values()):
            raise TrainingDiverged(
                f"a loss became NaN or infinite at iteration {iteration:,} ({format_values(losses)}); "
                f"the last good checkpoint is kept in {os.path.join(self.run_dir, 'checkpoints')}")
        self.log.add(losses)
        self.bar.update(1)

    def _call_end(self, iteration: int, start: int, hooks) -> int:
        """The last iteration of the next call to the step: at most MAX_ITERATIONS_PER_CALL ahead, and no
        later than the next iteration a hook is due at or a stop may be taken (every --log-interval)."""
        config = self.config
        ends = [iteration + hook.interval - iteration % hook.interval for hook in hooks if hook.interval]
        ends.append(iteration + config.log_interval - (iteration - start) % config.log_interval)  # see _stopping
        return min(*ends, config.epochs, iteration + MAX_ITERATIONS_PER_CALL)

    def _train_steps(self, first: int, count: int, start: int) -> list[dict[str, float]]:
        """Train iterations ``first`` .. ``first + count - 1``; their losses, in order.

        The fast step draws its batches inside one compiled call; the notebook loop takes
        each from the run's pipeline (see :mod:`gan_keras.training.batches`): the same batches.
        """
        if self.config.loop == "fast":
            return self.step.run(first, count)
        if self._batches is None:
            from gan_keras.training.batches import batch_stream

            config = self.config
            self._batches = batch_stream(self.strategy, self.dataset.x_train, self.dataset.y_train, config.seed,
                                         start, config.epochs, config.batch_size, config.latent_dim, self.classes)
        return [self.step(**next(self._batches)) for _ in range(count)]

    def _stopping(self, done: int, stop: StopRequest) -> bool:
        """Whether to stop once the current iteration is written (after ``done`` iterations this session).

        Under ``multiworker`` every worker must run the same iterations, so the workers
        agree (one all-reduce every --log-interval iterations) and stop together.
        """
        if self.config.strategy != "multiworker":
            return stop.requested
        if done % self.config.log_interval:
            return False
        if any_worker(self.strategy, stop.requested) and not stop.requested:
            stop.request("another worker's signal")
        return stop.requested

    def _where(self) -> str:
        """The run folder, as a worker that does not write it knows it (its --out)."""
        if is_chief(self.config.strategy):
            return self.run_dir
        return self.config.out or "the chief's run folder"

    def _finish(self, start: int, iteration: int, elapsed: float, stop: StopRequest) -> str:
        from gan_keras.training.progress import finished_line

        chief, where = is_chief(self.config.strategy), self._where()
        if stop.requested and iteration < self.config.epochs:
            print(f"stopped by {stop.signal_name} at iteration {iteration:,}; checkpoint and generator saved. "
                  f"Continue with: python train.py --resume {where}"
                  + ("" if chief else " (on every worker, TF_CONFIG as before)"), flush=True)
            return self.run_dir
        self.outputs.plot_losses()
        print(f"{finished_line(iteration - start, elapsed, self.clock.seconds)}; results in {where}", flush=True)
        if self.config.strategy == "multiworker":  # every worker prints it: equal digests, workers in sync
            from gan_keras.training.checkpoints import variable_values, weights_digest

            print(f"weights sha256 {weights_digest(variable_values(self.models))}", flush=True)
        return self.run_dir
