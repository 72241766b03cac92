"""The run loop: draws batches, calls a training step, logs, writes grids, models and checkpoints.

A run can stop at any moment and continue exactly: SIGINT and SIGTERM (from the
first moment of start-up) finish what is under way, checkpoint, and leave with
exit 0; after a SIGKILL, ``resume`` continues from the last checkpoint and rewinds
the CSV, grids and TensorBoard logs to it. A new run folder appears complete, with
checkpoint 0, or not at all. ``resume`` of a finished run rewrites the final files
a late kill left missing. TensorFlow is imported only inside :class:`TrainingSession`,
after the signal handlers are in place, so a signal during its slow import stops cleanly too.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time

import numpy as np

from gan_keras.data import Dataset, fingerprint, fingerprint_difference, load_dataset, scale_images
from gan_keras.defaults import (CLASS_GRID_COLS, CLASSES, GRID_COLS, GRID_ROWS, TrainConfig, resolve_intervals,
                                validate)
from gan_keras.errors import DataError, GanKerasError, UsageError
from gan_keras.files import atomic_path, writing
from gan_keras.images import GRID_PATTERN, grid_name, tile, to_uint8
from gan_keras.plots import plot_losses
from gan_keras.run_dir import (FIXED_NOISE_FILE, LOSSES_CSV, LOSSES_PLOT, RunLock, choose_run_dir, publish,
                               read_config, read_run_record, staging_dir, write_config)
from gan_keras.sampling import one_hot
from gan_keras.training import tensorboard_log
from gan_keras.training.batches import InGraphBatches, batch_stream
from gan_keras.training.checkpoints import restore_latest, save_checkpoint, variable_values, weights_digest
from gan_keras.training.distribute import any_worker, is_chief
from gan_keras.training.loss_log import LossLog

MAX_ITERATIONS_PER_CALL = 50  # the fast step's iterations per compiled call, at most (see _call_end)
EVAL_NOISE_SEED = 1234  # evaluation draws its own noise, so scoring never changes training
WORKER_FOLDER_PREFIX, WORKER_PID_FILE = "gan_keras_worker_", "pid"
PARTIAL_FILE = re.compile(r"^\..*\.partial\d+\.\w+$")


class TrainingDiverged(GanKerasError):
    """A loss became NaN or infinite."""


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
        config.out = run_dir
        session = TrainingSession(config, dataset)
        lock = session.create_folder(run_dir)
        print(f"run folder: {run_dir}" if chief else f"worker folder (removed at the end): {run_dir}", flush=True)
        try:
            session.train(start=0, pending=[], stop=stop, show_progress=show_progress)
            return run_dir
        finally:
            lock.release()
            if not chief:
                shutil.rmtree(os.path.dirname(run_dir), ignore_errors=True)


def resume(run_dir: str, epochs: int | None = None, data: str | None = None, show_progress: bool = True,
           strategy: str | None = None, devices: str | None = None) -> str:
    """Continue the run in ``run_dir`` from its last checkpoint up to ``epochs`` iterations in all.

    ``data`` points the run at a moved copy of its data (checked against the recorded
    fingerprint). ``strategy`` (and ``devices``) continue it under another strategy than
    it was started with. A run that is already complete gets its missing final files rewritten.
    """
    with StopRequest() as stop:
        config = read_config(run_dir)
        if strategy is not None:
            config.strategy, config.devices = strategy, devices
        chief = is_chief(config.strategy)
        with RunLock(run_dir) if chief else contextlib.nullcontext():
            if epochs is not None:
                config.epochs = epochs
            validate(config)
            resolve_intervals(config)
            dataset = recorded_data(run_dir, config, data)
            print(f"data: {dataset.describe()}", flush=True)
            session = TrainingSession(config, dataset, run_dir)
            if chief:
                _remove_partial_files(run_dir)
            start, pending = session.restore()
            if start > config.epochs:
                raise UsageError(f"{run_dir} already has {start:,} iterations, more than --epochs {config.epochs:,}; "
                                 f"pass a larger --epochs to go on")
            if start == config.epochs:
                if chief:
                    session.repair_finished(start)
                return run_dir
            if chief:
                _rewind_outputs(run_dir, start)
                session.outputs.forget_pick()
                tensorboard_log.rewind(run_dir, start)
            else:
                session.write_elsewhere(worker_folder())
            print(f"resuming {run_dir} at iteration {start:,} of {config.epochs:,}", flush=True)
            _note_evaluator_change(run_dir, session.evaluator, start)
            try:
                session.train(start, pending, stop, show_progress)
            finally:
                if not chief:
                    shutil.rmtree(os.path.dirname(session.run_dir), ignore_errors=True)
            return run_dir


def settle_for_this_machine(config: TrainConfig) -> None:
    """Turn every ``auto`` setting that depends on the hardware into this machine's choice.

    Call it once the strategy has set TensorFlow's devices up: measuring bf16's speed runs ops,
    and TensorFlow splits the CPU into logical devices only before its first op."""
    settle_precision(config)
    settle_upsampling(config)


def settle_precision(config: TrainConfig) -> None:
    """Turn --mixed-precision auto into this machine's choice (config.json records it); warn once
    when bf16 will be emulated. Under multiworker, auto is float32: every worker must choose alike."""
    import tensorflow as tf

    from gan_keras.roofline import choose_precision

    if config.mixed_precision == "auto" and config.strategy == "multiworker":
        config.mixed_precision = "none"
    choice = choose_precision(config.mixed_precision, len(tf.config.list_physical_devices("GPU")))
    if choice.warning:
        print(choice.warning, file=sys.stderr, flush=True)
    if config.mixed_precision == "auto":
        print(f"mixed precision: {choice.precision} (auto, on this machine: {choice.reason})", flush=True)
    config.mixed_precision = choice.precision


def training_forms_here(config: TrainConfig) -> tuple[str, ...]:
    """The layers' training forms for this machine and ``config``'s settled --mixed-precision
    (roofline.choose_training_forms); under multiworker, those of a oneDNN CPU in float32, as
    --upsampling's, so that every worker computes alike."""
    import tensorflow as tf

    from gan_keras.models.training_forms import DEFAULT_FORMS
    from gan_keras.roofline import choose_training_forms

    if config.strategy == "multiworker":
        return DEFAULT_FORMS
    return choose_training_forms(len(tf.config.list_physical_devices("GPU")), precision=config.mixed_precision)


def settle_upsampling(config: TrainConfig) -> None:
    """Turn --upsampling auto into this machine's choice (config.json records it); under multiworker,
    auto is transposed, so that every worker computes alike."""
    import tensorflow as tf

    from gan_keras.roofline import choose_upsampling

    if config.upsampling == "auto" and config.strategy == "multiworker":
        config.upsampling = "transposed"
    chosen = choose_upsampling(config.upsampling, len(tf.config.list_physical_devices("GPU")))
    if chosen != config.upsampling:
        print(f"upsampling: {chosen} (auto, on this machine)", flush=True)
    config.upsampling = chosen


def _note_evaluator_change(run_dir: str, evaluator, start: int) -> None:
    """Say so when a resumed run's scores change ruler (an upgrade shipped another evaluator)."""
    recorded = read_run_record(run_dir).get("evaluator")
    if evaluator is not None and recorded and recorded != evaluator.version:
        print(f"note: this run was scored with the evaluator {recorded}; from iteration {start:,} on, losses.csv "
              f"holds scores of {evaluator.version}: compare FDs only within one evaluator", flush=True)


def worker_folder() -> str:
    """Where a non-chief worker writes what the chief writes to the run folder (removed at the end).

    A killed worker cannot remove its own, so each records its process id and the next
    worker started on the machine removes those of dead processes.
    """
    remove_dead_workers_folders()
    folder = tempfile.mkdtemp(prefix=WORKER_FOLDER_PREFIX)
    with open(os.path.join(folder, WORKER_PID_FILE), "w") as handle:
        handle.write(str(os.getpid()))
    return os.path.join(folder, "run")


def remove_dead_workers_folders() -> None:
    """Remove the temporary folders of workers whose process no longer runs (those with no
    readable process id are left alone: one may be a folder a worker is creating now)."""
    parent = tempfile.gettempdir()
    for name in os.listdir(parent):
        folder = os.path.join(parent, name)
        if not name.startswith(WORKER_FOLDER_PREFIX) or not os.path.isdir(folder):
            continue
        try:
            with open(os.path.join(folder, WORKER_PID_FILE)) as handle:
                pid = int(handle.read())
        except (OSError, ValueError):
            continue
        if not _process_runs(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _process_runs(pid: int) -> bool:
    if os.name != "posix":  # elsewhere os.kill(pid, 0) is no probe (on Windows it stops the process)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def recorded_data(run_dir: str, config: TrainConfig, moved_to: str | None) -> Dataset:
    """The run's data, from its recorded absolute path or ``moved_to``, refused if it changed since."""
    record = read_run_record(run_dir)
    if moved_to is not None:
        config.data = os.path.abspath(moved_to)
    if config.data is not None and not os.path.exists(config.data):
        raise DataError(f"data file not found: {config.data} (the data this run was trained on); "
                        f"pass --data with its new place")
    dataset = load_dataset(config.dataset, config.data)
    recorded = record.get("data_fingerprint")
    difference = fingerprint_difference(recorded, fingerprint(dataset)) if recorded else None
    if difference:
        where = config.data or dataset.source
        raise DataError(f"{where} is not the data this run was trained on: {difference}")
    return dataset


class TrainingSession:
    """One run's live state: the models and step, the random state, and the writers of its folder."""

    def __init__(self, config: TrainConfig, dataset: Dataset, run_dir: str | None = None):
        import keras
        import tensorflow as tf

        from gan_keras.training.distribute import agreed_seed, make_strategy
        from gan_keras.training.gan import build_gan
        from gan_keras.training.objective import Objective
        from gan_keras.training.outputs import RunOutputs

        self.strategy = make_strategy(config.strategy, config.devices)  # before TensorFlow runs any op
        replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % replicas:
            raise UsageError(f"--batch-size {config.batch_size} does not split evenly over {replicas} replicas "
                             f"(it is the global batch)")
        settle_for_this_machine(config)  # after the strategy: its probe runs TensorFlow ops
        config.seed = agreed_seed(self.strategy, config.seed)
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        self.config, self.dataset, self.run_dir = config, dataset, run_dir
        self.rng = np.random.default_rng(config.seed)
        self.images = scale_images(dataset.x_train)
        self.classes = CLASSES if config.conditional else None
        self.models = build_gan(config.latent_dim, config.lr, config.beta1, mixed_precision=config.mixed_precision,
                                model=config.model, classes=self.classes, ema=config.ema, strategy=self.strategy,
                                upsampling=config.upsampling, training_forms=training_forms_here(config),
                                dropout=config.d_dropout, d_lr=config.d_lr, g_lr=config.g_lr, init=config.init,
                                d_norm=config.d_norm, seed=config.seed, objective=Objective(
                                    config.loss, config.label_smoothing, config.r1_gamma))
        self.batches = None  # the notebook loop's batch pipeline, once training starts
        in_graph = None if config.loop == "notebook" else InGraphBatches(
            dataset.x_train, dataset.y_train, config.seed, config.batch_size, config.latent_dim, self.classes, replicas)
        self.step = make_step(config.loop, self.models, config.batch_size, self.strategy, in_graph)
        if replicas > 1 or config.strategy != "default":
            print(f"strategy: {config.strategy}, {replicas} replicas of {config.batch_size // replicas} images "
                  f"each", flush=True)
        rows, cols = grid_shape(config.conditional)
        fixed_classes = one_hot(np.arange(rows * cols) // cols, self.classes) if self.classes else None
        real = self.images[real_grid_indices(dataset.y_train, rows, cols, config.conditional)]
        self.outputs = RunOutputs(run_dir or "", self.models, rows, cols, fixed_classes,
                                  tile(to_uint8(real), rows, cols), config.sample_from)
        self.fixed_noise = self.rng.normal(size=(rows * cols, config.latent_dim)).astype(np.float32)
        self.first_grid = None
        self.scoring_seconds = 0.0  # of this session's run time, spent scoring generators (not training)
        self.evaluator = None
        if config.eval_interval:
            from gan_keras.scoring.evaluator import Evaluator

            self.evaluator = Evaluator(dataset, train_classifier=True)  # asked for scores: train one if needed

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
        record = restore_latest(self.run_dir, self.models, self.rng)
        self.fixed_noise = record["fixed_noise"]
        return record["iteration"], record["pending_losses"]

    def checkpoint(self, iteration: int, pending: list) -> None:
        if self.outputs.board:
            self.outputs.board.flush()  # the logs on disk then reach at least this checkpoint
        save_checkpoint(self.run_dir, self.models, iteration, self.fixed_noise, self.rng, pending,
                        self.config.keep_checkpoints)

    def repair_finished(self, iteration: int) -> None:
        """A complete run: rewrite the final files a late kill left missing, or say there is nothing to do.

        Either way the exit is 0: a kill after the last step leaves a run that ``--resume`` accepts.
        """
        missing = [name for name in [grid_name(iteration), *self.outputs.model_files(), LOSSES_PLOT]
                   if not os.path.exists(os.path.join(self.run_dir, name))]
        if not missing:
            print(f"{self.run_dir} is complete ({iteration:,} iterations); nothing to do: "
                  f"pass a larger --epochs to go on", flush=True)
            return
        with writing(self.run_dir):
            tensorboard_log.rewind(self.run_dir, iteration)  # drops a record torn by the kill, if any
            if grid_name(iteration) in missing:
                self.outputs.grid(iteration, self.fixed_noise)
            self.outputs.save_models(only=missing)
            if LOSSES_PLOT in missing:
                plot_losses(os.path.join(self.run_dir, LOSSES_CSV), os.path.join(self.run_dir, LOSSES_PLOT))
        print(f"{self.run_dir} is complete ({iteration:,} iterations); rewrote what was missing: "
              f"{', '.join(missing)}", flush=True)

    def train(self, start: int, pending: list, stop: StopRequest, show_progress: bool) -> str:
        """Iterations ``start + 1`` to ``config.epochs``, then the final files."""
        config = self.config
        if not config.no_tensorboard:
            self.outputs.board = tensorboard_log.TensorBoardLog(self.run_dir)
            if self.first_grid is not None:  # a new run: its grid 0 was drawn before the folder had its name
                self.outputs.board.grids(0, self.first_grid, self.outputs.real_grid)
        log = LossLog(os.path.join(self.run_dir, LOSSES_CSV), pending)
        bar = progress_bar(config.epochs, start, show_progress and not stop.requested)
        started, iteration = time.perf_counter(), start
        if config.loop == "notebook":
            self.batches = batch_stream(self.strategy, self.dataset.x_train, self.dataset.y_train, config.seed,
                                        start, config.epochs, config.batch_size, config.latent_dim, self.classes)
        stopping = self._stopping(0, stop)  # a signal during start-up: leave at once
        try:
            while iteration < config.epochs and not stopping:
                last = self._call_end(iteration, start)
                for losses in self._train_steps(iteration + 1, last - iteration):
                    iteration += 1
                    stopping = self._iteration(iteration, iteration - start, losses, log, bar,
                                               stop if iteration == last else None)
        finally:
            bar.close()
            log.close()
            if self.outputs.board:
                self.outputs.board.close()
        return self._finish(start, iteration, time.perf_counter() - started, stop)

    def _call_end(self, iteration: int, start: int) -> int:
        """The last iteration of the next call to the step: at most MAX_ITERATIONS_PER_CALL ahead, and
        no later than the next iteration that writes, scores or may stop (every --log-interval)."""
        config = self.config
        intervals = [config.log_interval, config.save_interval, config.checkpoint_interval, config.eval_interval]
        ends = [iteration + interval - iteration % interval for interval in intervals if interval]
        ends.append(iteration + config.log_interval - (iteration - start) % config.log_interval)  # see _stopping
        return min(*ends, config.epochs, iteration + MAX_ITERATIONS_PER_CALL)

    def _train_steps(self, first: int, count: int) -> list[dict[str, float]]:
        """Train iterations ``first`` .. ``first + count - 1``; their losses, in order.

        The fast step draws its batches inside one compiled call; the notebook loop takes
        each from the run's pipeline (see :mod:`gan_keras.training.batches`): the same batches.
        """
        if self.config.loop == "fast":
            return self.step.run(first, count)
        return [self.step(**next(self.batches)) for _ in range(count)]

    def _iteration(self, iteration: int, done: int, losses: dict[str, float], log: LossLog, bar,
                   stop: StopRequest | None) -> bool:
        """What iteration ``iteration`` logs, scores and writes; True: stop after it.

        ``stop`` is None inside a call to the step (the models are then already further on),
        where nothing is written and no stop is taken; every write falls on a call's end.
        """
        config = self.config
        stopping = stop is not None and self._stopping(done, stop)
        if not all(math.isfinite(value) for value in losses.values()):
            raise TrainingDiverged(
                f"a loss became NaN or infinite at iteration {iteration:,} ({_format(losses)}); "
                f"the last good checkpoint is kept in {os.path.join(self.run_dir, 'checkpoints')}")
        log.add(losses)
        last = iteration == config.epochs
        evaluating = self.evaluator is not None and (iteration % config.eval_interval == 0 or last)
        with writing(self.run_dir):
            if evaluating:
                log.scores = self._score(iteration)
            if iteration % config.log_interval == 0 or last or evaluating:
                row = log.flush(iteration)
                bar.set_postfix_str(_format(row, ("d_loss", "d_acc", "g_loss")) + log.score_text, refresh=False)
                if self.outputs.board:
                    self.outputs.board.scalars(iteration, row)
            bar.update(1)
            on_interval = iteration % config.save_interval == 0 or last
            if last:
                bar.close()  # the pick prints, and its scoring is not training time
                self._pick_sampled(iteration)
            if on_interval:
                self.outputs.grid(iteration, self.fixed_noise)
            if on_interval or stopping:
                self.outputs.save_models()
            if iteration % config.checkpoint_interval == 0 or last or stopping:
                self.checkpoint(iteration, log.pending)
        return stopping

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
            stop.requested, stop.signal_name = True, "another worker's signal"
        return stop.requested

    def _score(self, iteration: int) -> dict[str, float]:
        """Scores of the sampled generator (and of the raw one beside an average); keeps the best."""
        count = self.config.eval_samples
        scores = self._scored(self.evaluator, self.models.sampled, count)
        values = {"frechet_distance": scores.frechet_distance, "inception_score": scores.inception_score,
                  "rarest_class_share": scores.rarest_class_share}
        if self.models.average is not None:
            raw = self._scored(self.evaluator, self.models.generator, count)
            values.update(raw_frechet_distance=raw.frechet_distance, raw_inception_score=raw.inception_score)
        self.outputs.keep_if_best(iteration, scores)
        return values

    def _scored(self, evaluator, generator, count: int):
        """:func:`score_as_saved`, its time counted in ``scoring_seconds`` (not training time)."""
        started = time.perf_counter()
        try:
            return score_as_saved(evaluator, generator, count)
        finally:
            self.scoring_seconds += time.perf_counter() - started

    def _pick_sampled(self, iteration: int) -> None:
        """--sample-from better: generator.keras becomes whichever of the average and the raw G scores better."""
        if (self.config.sample_from != "better" or self.models.average is None
                or self.config.strategy == "multiworker"):
            return
        evaluator = self.evaluator or shipped_evaluator(self.dataset)
        if evaluator is None:
            print("no shipped evaluator knows this data: generator.keras is the averaged generator", flush=True)
            return
        from gan_keras.scoring.evaluator import DEFAULT_SAMPLES

        print(f"choosing generator.keras: scoring the average and the raw G on {DEFAULT_SAMPLES:,} samples each",
              flush=True)
        scores = {name: self._scored(evaluator, model, DEFAULT_SAMPLES)
                  for name, model in (("average", self.models.sampled), ("raw", self.models.generator))}
        picked = self.outputs.record_pick(iteration, evaluator.version, DEFAULT_SAMPLES, {
            name: {"frechet_distance": value.frechet_distance, "inception_score": value.inception_score}
            for name, value in scores.items()})
        print(f"generator.keras is the {picked} generator (FD of the average {scores['average'].frechet_distance:.2f}, "
              f"of the raw G {scores['raw'].frechet_distance:.2f}; {evaluator.version}, {DEFAULT_SAMPLES:,} samples)",
              flush=True)

    def _finish(self, start: int, iteration: int, elapsed: float, stop: StopRequest) -> str:
        if stop.requested and iteration < self.config.epochs:
            print(f"stopped by {stop.signal_name} at iteration {iteration:,}; checkpoint and generator saved. "
                  f"Continue with: python train.py --resume {self.run_dir}", flush=True)
            return self.run_dir
        with writing(self.run_dir):
            plot_losses(os.path.join(self.run_dir, LOSSES_CSV), os.path.join(self.run_dir, LOSSES_PLOT))
        print(f"{finished_line(iteration - start, elapsed, self.scoring_seconds)}; results in {self.run_dir}",
              flush=True)
        if self.config.strategy == "multiworker":  # every worker prints it: equal digests, workers in sync
            print(f"weights sha256 {weights_digest(variable_values(self.models))}", flush=True)
        return self.run_dir


def finished_line(iterations: int, seconds: float, scoring_seconds: float) -> str:
    """'trained N iterations in X s (R it/s ...)': the rate leaves out the time spent scoring generators."""
    rate = iterations / max(seconds - scoring_seconds, 1e-9)
    scoring = f"; {scoring_seconds:.1f} s of that scoring generators" if scoring_seconds >= 0.05 else ""
    return f"trained {iterations:,} iterations in {seconds:.1f} s ({rate:.1f} it/s{scoring})"


def score_as_saved(evaluator, generator, count: int):
    """The evaluator's scores of ``generator`` computed as its saved file computes (standard layers, float32:
    under bf16 on a CPU that emulates it, about 20x faster than the training model)."""
    from gan_keras.models.training_forms import to_standard

    return evaluator.score_generator(to_standard(generator), count, EVAL_NOISE_SEED)


def shipped_evaluator(dataset: Dataset):
    """An Evaluator when a shipped classifier knows this data (no training, no cache), else None."""
    from gan_keras.scoring.classifier import data_fingerprint, shipped_for
    from gan_keras.scoring.evaluator import Evaluator

    if shipped_for(data_fingerprint(dataset.x_train, dataset.y_train)) is None:
        return None
    return Evaluator(dataset, verbose=0, memorization=False)


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


def make_step(loop: str, models, batch_size: int, strategy=None, batches: InGraphBatches | None = None):
    """The training step for ``--loop``: both have the same semantics and share optimizer state.

    ``batches`` lets the fast step draw its own inputs (``step.run``); the notebook loop is fed.
    """
    if loop == "notebook":
        from gan_keras.training.notebook_step import NotebookStep

        return NotebookStep(models, batch_size, strategy)
    from gan_keras.training.fast_step import FastStep

    return FastStep(models, batch_size, strategy=strategy, batches=batches)


def _format(values: dict[str, float], names=None) -> str:
    return ", ".join(f"{name}={values[name]:.3f}" for name in (names or values))


class StopRequest:
    """Records SIGINT/SIGTERM so the run can finish what is under way, checkpoint and leave."""

    def __init__(self):
        self.requested, self.signal_name = False, ""
        self._previous = {}

    def __enter__(self) -> StopRequest:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        self.requested, self.signal_name = True, signal.Signals(signum).name


def _remove_partial_files(run_dir: str) -> None:
    """Temporary files a killed run left behind; the real files were never touched."""
    for folder in (run_dir, os.path.join(run_dir, "checkpoints")):
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if PARTIAL_FILE.match(name):
                    os.remove(os.path.join(folder, name))


def _rewind_outputs(run_dir: str, iteration: int) -> None:
    """Drop CSV rows and grids written after ``iteration``, so the resumed run has no duplicates."""
    import csv

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


def progress_bar(total: int, initial: int, enabled: bool):
    """A tqdm bar with ETA; the current losses go in its postfix."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="it", dynamic_ncols=True,
                mininterval=0.5, desc="training")
