"""What a run does on a cadence, as hooks: the loop trains, and after each iteration asks every hook.

A hook is due every ``interval`` iterations, at the run's last iteration (``at_last``)
and at an early stop (``at_stop``); the loop calls the due ones in the order
:func:`run_hooks` registers them, with a :class:`Moment` they share (the log row and
grid written at this iteration, for the hooks after). Every hook is built from the
:class:`LoopContext` the loop owns: the run's state, its loss log and its progress bar.
The loop compiles as many iterations per call as it can before the next iteration some
hook is due at, so a new periodic output is one new class here and one line in
:func:`run_hooks`.

Lazy imports: the rulers (:mod:`gan_keras.scoring.rulers`) in the pick, and
:mod:`gan_keras.training.tensorboard_log` when a run writes TensorBoard logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gan_keras.training.loss_log import LossLog
from gan_keras.training.progress import format_values

if TYPE_CHECKING:  # for the annotations only: run_state imports this module
    from gan_keras.training.run_state import RunState


@dataclass(frozen=True)
class LoopContext:
    """What the loop hands its hooks, made once when it starts: the run, its losses.csv and its progress bar."""

    state: RunState
    log: LossLog
    bar: object  # a tqdm bar (gan_keras.training.progress)


@dataclass
class Moment:
    """One iteration, as the hooks see it."""

    iteration: int
    last: bool  # the run's last iteration
    stopping: bool  # a stop was asked for: the run leaves after this iteration
    row: dict | None = None  # the losses.csv row written at this iteration, if any
    grid: np.ndarray | None = None  # the grid drawn at this iteration, if any


class Hook:
    """Something a run does every ``interval`` iterations (None: never on a cadence)."""

    interval: int | None = None
    at_last = True
    at_stop = False

    def due(self, moment: Moment) -> bool:
        return (bool(self.interval) and moment.iteration % self.interval == 0) or (
            self.at_last and moment.last) or (self.at_stop and moment.stopping)

    def __call__(self, moment: Moment) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """The run's training ended (or failed): release what the hook holds."""


class Scoring(Hook):
    """--eval-interval: score the sampled generator (and the raw one beside an average) into the next
    log row, and keep the best snapshot as generator_best.keras."""

    def __init__(self, context: LoopContext, interval: int):
        self.context, self.interval = context, interval

    def __call__(self, moment: Moment) -> None:
        state = self.context.state
        count = state.config.eval_samples
        scores = state.score(state.models.sampled, count)
        values = {"frechet_distance": scores.frechet_distance, "inception_score": scores.inception_score,
                  "rarest_class_share": scores.rarest_class_share}
        if state.models.average is not None:
            raw = state.score(state.models.generator, count)
            values.update(raw_frechet_distance=raw.frechet_distance, raw_inception_score=raw.inception_score)
        self.context.log.scores = values
        state.outputs.keep_if_best(moment.iteration, scores)


class LogRow(Hook):
    """--log-interval: the mean losses (and fresh scores) as a row of losses.csv and in the progress bar."""

    def __init__(self, context: LoopContext, interval: int):
        self.context, self.interval = context, interval

    def due(self, moment: Moment) -> bool:
        return super().due(moment) or bool(self.context.log.scores)

    def __call__(self, moment: Moment) -> None:
        log = self.context.log
        moment.row = log.flush(moment.iteration)
        self.context.bar.set_postfix_str(format_values(moment.row, ("d_loss", "d_acc", "g_loss")) + log.score_text,
                                         refresh=False)


class Pick(Hook):
    """--sample-from better, at the last iteration: generator.keras becomes whichever of the average and the
    raw G scores better (the lower FD) by the data's ruler (:mod:`gan_keras.scoring.rulers`), on 10,000 samples
    each (2,000 with InceptionV3); the average where no ruler knows the data, which the run says."""

    interval = None

    def __init__(self, context: LoopContext):
        self.context = context

    def __call__(self, moment: Moment) -> None:
        from gan_keras.scoring.inception import keras_cache_weights
        from gan_keras.scoring.rulers import pick_samples, ruler_for

        state = self.context.state
        self.context.bar.close()  # the pick prints, and its scoring is not training time
        evaluator = state.evaluator or ruler_for(state.dataset)
        if evaluator is None:
            print(f"no ruler knows this data (no shipped classifier for it, no InceptionV3 weights in "
                  f"{keras_cache_weights()} or $GAN_KERAS_INCEPTION_WEIGHTS): generator.keras is the averaged "
                  f"generator", flush=True)
            return
        samples = pick_samples(evaluator)
        print(f"choosing generator.keras: scoring the average and the raw G on {samples:,} samples each", flush=True)
        models = state.models
        scores = {name: state.score(model, samples, evaluator)
                  for name, model in (("average", models.sampled), ("raw", models.generator))}
        picked = state.outputs.record_pick(moment.iteration, evaluator.version, samples, {
            name: {"frechet_distance": value.frechet_distance, "inception_score": value.inception_score}
            for name, value in scores.items()})
        print(f"generator.keras is the {picked} generator (FD of the average {scores['average'].frechet_distance:.2f}, "
              f"of the raw G {scores['raw'].frechet_distance:.2f}; {evaluator.version}, {samples:,} samples)",
              flush=True)


class Grid(Hook):
    """--save-interval: the fixed-noise grid of the sampled generator."""

    def __init__(self, context: LoopContext, interval: int):
        self.state, self.interval = context.state, interval

    def __call__(self, moment: Moment) -> None:
        moment.grid = self.state.outputs.grid(moment.iteration, self.state.fixed_noise)


class ModelSave(Hook):
    """--save-interval (and an early stop): generator.keras and the other saved models."""

    at_stop = True

    def __init__(self, context: LoopContext, interval: int):
        self.state, self.interval = context.state, interval

    def __call__(self, moment: Moment) -> None:
        self.state.outputs.save_models()


class TensorBoard(Hook):
    """Every log row's values and every grid (beside a grid of real images) to RUN/tensorboard, flushed at
    once, so the logs on disk always reach at least the last checkpoint."""

    interval, at_last = None, False

    def __init__(self, context: LoopContext, writer):
        state = context.state
        self.writer, self.real_grid = writer, state.outputs.real_grid
        if state.first_grid is not None:  # a new run: its grid 0 was drawn before the folder had its name
            writer.grids(0, state.first_grid, self.real_grid)

    def due(self, moment: Moment) -> bool:
        return moment.row is not None or moment.grid is not None

    def __call__(self, moment: Moment) -> None:
        if moment.row is not None:
            self.writer.scalars(moment.iteration, moment.row)
        if moment.grid is not None:
            self.writer.grids(moment.iteration, moment.grid, self.real_grid)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class Checkpoint(Hook):
    """--checkpoint-interval (and an early stop): everything --resume needs."""

    at_stop = True

    def __init__(self, context: LoopContext, interval: int):
        self.context, self.interval = context, interval

    def __call__(self, moment: Moment) -> None:
        self.context.state.checkpoint(moment.iteration, self.context.log.pending)


def run_hooks(context: LoopContext) -> list[Hook]:
    """The hooks of the context's run, in the order they are called at an iteration."""
    state = context.state
    config = state.config
    hooks: list[Hook] = []
    if state.evaluator is not None:
        hooks.append(Scoring(context, config.eval_interval))
    hooks.append(LogRow(context, config.log_interval))
    if config.sample_from == "better" and state.models.average is not None and config.strategy != "multiworker":
        hooks.append(Pick(context))
    hooks += [Grid(context, config.save_interval), ModelSave(context, config.save_interval)]
    if not config.no_tensorboard:
        from gan_keras.training.tensorboard_log import TensorBoardLog

        hooks.append(TensorBoard(context, TensorBoardLog(state.run_dir)))
    hooks.append(Checkpoint(context, config.checkpoint_interval))
    return hooks
