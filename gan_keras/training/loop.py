"""A run's life: build (or restore) it, train it, finish it.

:func:`train` starts a run and :func:`resume` continues one. Both take the same path: the
settings asked for are checked (:mod:`gan_keras.settings`), the data loaded, the strategy made,
the settings resolved once into a frozen ``TrainConfig``, and a :class:`RunState` built from
them. Both hand it to the same loop, which trains and, after each iteration, calls the hooks that
are due (:mod:`gan_keras.training.hooks`: the log row, scores, grids, saved models, TensorBoard,
checkpoints) with a :class:`~gan_keras.training.hooks.LoopContext` the loop owns. A run can
stop at any moment and continue exactly: SIGINT and SIGTERM (from the first moment of start-up,
:mod:`gan_keras.training.stop`) finish what is under way, checkpoint, and leave with exit 0;
after a SIGKILL, ``resume`` continues from the last checkpoint and rewinds the CSV, grids and
TensorBoard logs to it. A new run folder appears complete, with checkpoint 0, or not at all.

Lazy imports: TensorFlow comes with the strategy and the run's state, after the signal handlers
are in place (a signal during its slow import stops cleanly too); :mod:`gan_keras.training.checkpoints`
for a multi-worker run's last line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time

from gan_keras.data import load_dataset
from gan_keras.defaults import TrainConfig
from gan_keras.errors import TrainingDiverged, UsageError
from gan_keras.files import writing
from gan_keras.run_dir import (CONFIG_FILE, LOSSES_CSV, RunLock, choose_run_dir, note_evaluator_change, recorded_data,
                               remove_partial_files, resume_command)
from gan_keras.settings import image_request, recorded_settings, resolve, validate
from gan_keras.training.cluster import is_chief
from gan_keras.training.distribute import (any_worker, make_strategy, peer_failure, remove_worker_folder,
                                           worker_folder)
from gan_keras.training.hooks import LoopContext, Moment, run_hooks
from gan_keras.training.loss_log import LossLog
from gan_keras.training.progress import finished_line, format_values, progress_bar
from gan_keras.training.run_state import RunState
from gan_keras.training.stop import StopRequest

MAX_ITERATIONS_PER_CALL = 50  # the fast step's iterations per compiled call, at most (see _call_end)


def train(asked: TrainConfig, show_progress: bool = True) -> str:
    """Start a new run as ``asked`` says; returns the run folder."""
    with StopRequest() as stop:
        validate(asked)
        chief = is_chief(asked.strategy)
        if chief:
            choose_run_dir(asked.out, create=False)  # a bad --out is refused before anything slow
        dataset = load_dataset(asked.dataset, asked.data, image_request(asked), show_progress)
        print(f"data: {dataset.describe()}", flush=True)
        run_dir = choose_run_dir(asked.out) if chief else worker_folder()
        strategy = make_strategy(asked.strategy, asked.devices, asked.cluster_timeout)
        config = resolve(asked, strategy, run_dir if chief else asked.out, dataset)  # a worker keeps the chief's --out
        state = RunState(config, dataset, strategy)
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
        recorded = recorded_settings(run_dir)
        validate(recorded, where=os.path.join(run_dir, CONFIG_FILE))
        given = {**(machine or {}), **({} if epochs is None else {"epochs": epochs}),
                 **({} if data is None else {"data": os.path.abspath(data)})}
        asked = dataclasses.replace(recorded, **given)
        validate(asked)  # what the command line changed
        chief = is_chief(asked.strategy)
        with RunLock(run_dir) if chief else contextlib.nullcontext():
            dataset = recorded_data(run_dir, asked, image_request(asked), show_progress)
            print(f"data: {dataset.describe()}", flush=True)
            strategy = make_strategy(asked.strategy, asked.devices, asked.cluster_timeout)
            state = RunState(resolve(asked, strategy, asked.out, dataset, resumed=True), dataset, strategy, run_dir)
            return _continue(state, run_dir, chief, stop, show_progress)


def _continue(state: RunState, run_dir: str, chief: bool, stop: StopRequest, show_progress: bool) -> str:
    """The resumed run from its newest checkpoint: repaired if it is complete, else trained on to --epochs."""
    config = state.config
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


def run(state: RunState, start: int, pending: list, stop: StopRequest, show_progress: bool) -> str:
    """Iterations ``start + 1`` to ``config.epochs``, each followed by the hooks due then; then the end."""
    config = state.config
    log = LossLog(os.path.join(state.run_dir, LOSSES_CSV), pending)
    context = LoopContext(state, log, progress_bar(config.epochs, start, show_progress and not stop.requested))
    hooks = run_hooks(context)
    steps = _steps(state, start)
    started, iteration = time.perf_counter(), start
    stopping = _stopping(state, 0, stop)  # a signal during start-up: leave at once
    try:
        while iteration < config.epochs and not stopping:
            last = _call_end(config, iteration, start, hooks)
            for losses in steps(iteration + 1, last - iteration):
                iteration += 1
                _log(context, iteration, losses)
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
        context.bar.close()
        log.close()
        for hook in hooks:
            hook.close()
    return _finish(state, start, iteration, time.perf_counter() - started, stop)


def _log(context: LoopContext, iteration: int, losses: dict[str, float]) -> None:
    """One iteration's losses into the log and the bar; a NaN or infinite one ends the run."""
    if not all(math.isfinite(value) for value in losses.values()):
        raise TrainingDiverged(
            f"a loss became NaN or infinite at iteration {iteration:,} ({format_values(losses)}); "
            f"the last good checkpoint is kept in {os.path.join(context.state.run_dir, 'checkpoints')}")
    context.log.add(losses)
    context.bar.update(1)


def _call_end(config: TrainConfig, iteration: int, start: int, hooks) -> int:
    """The last iteration of the next call to the step: at most MAX_ITERATIONS_PER_CALL ahead, and no
    later than the next iteration a hook is due at or a stop may be taken (every --log-interval)."""
    ends = [iteration + hook.interval - iteration % hook.interval for hook in hooks if hook.interval]
    ends.append(iteration + config.log_interval - (iteration - start) % config.log_interval)  # see _stopping
    return min(*ends, config.epochs, iteration + MAX_ITERATIONS_PER_CALL)


def _steps(state: RunState, start: int):
    """``steps(first, count)``: trains iterations ``first`` .. ``first + count - 1`` and returns their losses.

    The fast step draws its batches inside one compiled call; the notebook loop takes
    each from the run's pipeline from ``start + 1`` on (see :mod:`gan_keras.training.batches`):
    the same batches.
    """
    if state.config.loop == "fast":
        return state.step.run
    batches = state.batch_stream(start)
    return lambda first, count: [state.step(**next(batches)) for _ in range(count)]


def _stopping(state: RunState, done: int, stop: StopRequest) -> bool:
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


def _where(state: RunState) -> str:
    """The run folder, as a worker that does not write it knows it (its --out)."""
    if is_chief(state.config.strategy):
        return state.run_dir
    return state.config.out or "the chief's run folder"


def _finish(state: RunState, start: int, iteration: int, elapsed: float, stop: StopRequest) -> str:
    chief, where = is_chief(state.config.strategy), _where(state)
    if stop.requested and iteration < state.config.epochs:
        print(f"stopped by {stop.signal_name} at iteration {iteration:,}; checkpoint and generator saved. "
              f"Continue with: {resume_command(where)}"
              + ("" if chief else " (on every worker, TF_CONFIG as before)"), flush=True)
        return state.run_dir
    state.outputs.plot_losses()
    print(f"{finished_line(iteration - start, elapsed, state.clock.seconds)}; results in {where}", flush=True)
    if state.config.strategy == "multiworker":  # every worker prints it: equal digests, workers in sync
        from gan_keras.training.checkpoints import variable_values, weights_digest

        print(f"weights sha256 {weights_digest(variable_values(state.models))}", flush=True)
    return state.run_dir
