"""A run's life: build (or restore) it, train it, finish it.

:func:`train` starts a run and :func:`resume` continues one; both hand a
:class:`RunState` to the same loop, which trains and, after each iteration,
calls the hooks that are due (:mod:`gan_keras.training.hooks`: the log row, scores,
grids, saved models, TensorBoard, checkpoints). A run can stop at any moment and
continue exactly: SIGINT and SIGTERM (from the first moment of start-up,
:mod:`gan_keras.training.stop`) finish what is under way, checkpoint, and leave with
exit 0; after a SIGKILL, ``resume`` continues from the last checkpoint and rewinds the
CSV, grids and TensorBoard logs to it. A new run folder appears complete, with
checkpoint 0, or not at all. TensorFlow is imported only inside :class:`RunState`,
after the signal handlers are in place, so a signal during its slow import stops cleanly too.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import time

from gan_keras.data import load_dataset
from gan_keras.defaults import TrainConfig, resolve_intervals, validate
from gan_keras.errors import TrainingDiverged, UsageError
from gan_keras.files import writing
from gan_keras.run_dir import (LOSSES_CSV, RunLock, choose_run_dir, note_evaluator_change, read_config, recorded_data,
                               remove_partial_files)
from gan_keras.training.distribute import any_worker, is_chief, peer_failure, remove_worker_folder, worker_folder
from gan_keras.training.run_state import RunState
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
        state = RunState(config, dataset)
        lock = state.create_folder(run_dir)
        print(f"run folder: {run_dir}" if chief else "worker: the chief writes the run folder; this worker's copy "
              "goes to a temporary folder, removed at the end", flush=True)
        try:
            run(state, 0, [], stop, show_progress)
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
            state = RunState(config, dataset, run_dir, resumed=True)
            if chief:
                remove_partial_files(run_dir)
            start, pending = state.restore()
            if start > config.epochs:
                raise UsageError(f"{run_dir} already has {start:,} iterations, more than --epochs {config.epochs:,}; "
                                 f"pass a larger --epochs to go on")
            if start == config.epochs:
                if chief:
                    state.repair_finished(start)
                return run_dir
            if chief:
                state.rewind_to(start)
            else:
                state.write_elsewhere(worker_folder())
            print(f"resuming {run_dir} at iteration {start:,} of {config.epochs:,}", flush=True)
            note_evaluator_change(run_dir, state.evaluator, start)
            try:
                run(state, start, pending, stop, show_progress)
            finally:
                if not chief:
                    remove_worker_folder(state.run_dir)
            return run_dir


def run(state, start: int, pending: list, stop: StopRequest, show_progress: bool) -> str:
    """Iterations ``start + 1`` to ``config.epochs``, each followed by the hooks due then; then the end."""
    from gan_keras.training.hooks import Moment, run_hooks
    from gan_keras.training.loss_log import LossLog
    from gan_keras.training.progress import progress_bar

    config = state.config
    state.log = LossLog(os.path.join(state.run_dir, LOSSES_CSV), pending)
    state.bar = progress_bar(config.epochs, start, show_progress and not stop.requested)
    hooks = run_hooks(state)
    started, iteration = time.perf_counter(), start
    stopping = _stopping(state, 0, stop)  # a signal during start-up: leave at once
    try:
        while iteration < config.epochs and not stopping:
            last = _call_end(state, iteration, start, hooks)
            for losses in _train_steps(state, iteration + 1, last - iteration, start):
                iteration += 1
                _log(state, iteration, losses)
                stopping = iteration == last and _stopping(state, iteration - start, stop)
                moment = Moment(iteration, iteration == config.epochs, stopping)
                with writing(state.run_dir):
                    for hook in (hook for hook in hooks if hook.due(moment)):
                        hook(moment)
    except Exception as error:  # noqa: BLE001 - a peer's end becomes one line; anything else goes on up
        failure = peer_failure(error, _where(state)) if config.strategy == "multiworker" else None
        if failure is None:
            raise
        raise failure from None
    finally:
        state.bar.close()
        state.log.close()
        for hook in hooks:
            hook.close()
    return _finish(state, start, iteration, time.perf_counter() - started, stop)


def _log(state, iteration: int, losses: dict[str, float]) -> None:
    """One iteration's losses into the log and the bar; a NaN or infinite one ends the run."""
    from gan_keras.training.progress import format_values

    if not all(math.isfinite(value) for value in losses.values()):
        raise TrainingDiverged(
            f"a loss became NaN or infinite at iteration {iteration:,} ({format_values(losses)}); "
            f"the last good checkpoint is kept in {os.path.join(state.run_dir, 'checkpoints')}")
    state.log.add(losses)
    state.bar.update(1)


def _call_end(state, iteration: int, start: int, hooks) -> int:
    """The last iteration of the next call to the step: at most MAX_ITERATIONS_PER_CALL ahead, and no
    later than the next iteration a hook is due at or a stop may be taken (every --log-interval)."""
    config = state.config
    ends = [iteration + hook.interval - iteration % hook.interval for hook in hooks if hook.interval]
    ends.append(iteration + config.log_interval - (iteration - start) % config.log_interval)  # see _stopping
    return min(*ends, config.epochs, iteration + MAX_ITERATIONS_PER_CALL)


def _train_steps(state, first: int, count: int, start: int) -> list[dict[str, float]]:
    """Train iterations ``first`` .. ``first + count - 1``; their losses, in order.

    The fast step draws its batches inside one compiled call; the notebook loop takes
    each from the run's pipeline (see :mod:`gan_keras.training.batches`): the same batches.
    """
    if state.config.loop == "fast":
        return state.step.run(first, count)
    if state.notebook_batches is None:
        state.notebook_batches = state.batch_stream(start)
    return [state.step(**next(state.notebook_batches)) for _ in range(count)]


def _stopping(state, done: int, stop: StopRequest) -> bool:
    """Whether to stop once the current iteration is written (after ``done`` iterations in this process).

    Under ``multiworker`` every worker must run the same iterations, so the workers
    agree (one all-reduce every --log-interval iterations) and stop together.
    """
    if state.config.strategy != "multiworker":
        return stop.requested
    if done % state.config.log_interval:
        return False
    if any_worker(state.strategy, stop.requested) and not stop.requested:
        stop.request("another worker's signal")
    return stop.requested


def _where(state) -> str:
    """The run folder, as a worker that does not write it knows it (its --out)."""
    if is_chief(state.config.strategy):
        return state.run_dir
    return state.config.out or "the chief's run folder"


def _finish(state, start: int, iteration: int, elapsed: float, stop: StopRequest) -> str:
    from gan_keras.training.progress import finished_line

    chief, where = is_chief(state.config.strategy), _where(state)
    if stop.requested and iteration < state.config.epochs:
        print(f"stopped by {stop.signal_name} at iteration {iteration:,}; checkpoint and generator saved. "
              f"Continue with: python train.py --resume {where}"
              + ("" if chief else " (on every worker, TF_CONFIG as before)"), flush=True)
        return state.run_dir
    state.outputs.plot_losses()
    print(f"{finished_line(iteration - start, elapsed, state.clock.seconds)}; results in {where}", flush=True)
    if state.config.strategy == "multiworker":  # every worker prints it: equal digests, workers in sync
        from gan_keras.training.checkpoints import variable_values, weights_digest

        print(f"weights sha256 {weights_digest(variable_values(state.models))}", flush=True)
    return state.run_dir
