"""A run's settings, resolved once: what was asked for becomes what runs, here and nowhere else.

A run is asked for on the command line (:func:`asked_from_arguments`) or, resumed, by its
``config.json`` (:func:`asked_from_record`, which checks every value's type and choices and
names the file and the key). :func:`validate` refuses nonsense before anything slow starts.
:func:`resolve` then fills in, in this order, everything left open: the recipe's knobs, the
model family's own settings, the save and checkpoint intervals, the data's absolute path, the images' size and channels (as the data was prepared), the
run folder, the seed (agreed by every worker) and this machine's choices for every ``auto``
(:mod:`gan_keras.machine_choices`). It returns a new, frozen :class:`TrainConfig`; nothing
changes it after, and ``config.json`` records it as it is.

Lazy imports: :mod:`gan_keras.machine_choices` and :mod:`gan_keras.training.distribute` inside
:func:`validate` and :func:`resolve` (the second imports TensorFlow to settle the machine's
choices), so that ``--help`` and the argument checks answer at once; :mod:`gan_keras.run_dir`
in :func:`recorded_settings`; :mod:`gan_keras.data.pictures` (Pillow) to read ``--background``.
"""

from __future__ import annotations

import dataclasses
import os
import secrets

from gan_keras.data.dataset import LABELS_FILE, Dataset, ImageRequest
from gan_keras.defaults import (CHECKPOINT_EVERY, GRIDS_PER_RUN, MODEL_DEFAULTS, RECIPE_KNOBS, RECIPES, TrainConfig,
                                model_setting)
from gan_keras.errors import DataError, UsageError


LIMITS = {
    "epochs": (1, 100_000_000),
    "batch_size": (1, 65_536),
    "latent_dim": (1, 10_000),
    "log_interval": (1, 100_000_000),
    "keep_checkpoints": (1, 1000),
    "eval_samples": (100, 1_000_000),
    "save_interval": (1, 100_000_000),
    "checkpoint_interval": (1, 100_000_000),
    "eval_interval": (1, 100_000_000),
    "cluster_timeout": (1, 86_400),
    "seed": (0, 2**32 - 1),
}
FIELDS = {field.name: field for field in dataclasses.fields(TrainConfig)}


def given_fields(namespace: object) -> dict:
    """The TrainConfig fields set on the command line (parsers leave the others None)."""
    return {k: v for k, v in vars(namespace).items() if k in FIELDS and v is not None}


def asked_from_arguments(namespace: object) -> TrainConfig:
    """What the command line asks for: the fields given, the defaults of TrainConfig for the rest."""
    return TrainConfig(**given_fields(namespace))


def asked_from_record(arguments: object, path: str) -> TrainConfig:
    """The settings a run's config.json records, each checked for its type and choices as the command line's
    would be: a hand-edited file is refused in one line naming ``path`` and the key."""
    if not isinstance(arguments, dict):
        raise DataError(f'{path}: "arguments" must be an object of settings')
    values = {}
    for key, value in arguments.items():
        if key not in FIELDS:
            print(f'note: {path} holds "{key}", not a setting of this version of gan_keras; it is ignored',
                  flush=True)
            continue
        values[key] = _checked_value(FIELDS[key], value, path)
    return TrainConfig(**values)


def recorded_settings(run_dir: str) -> TrainConfig:
    """The settings a run was started with (and resumed with since), from its config.json, checked
    (:func:`asked_from_record`)."""
    from gan_keras.run_dir import CONFIG_FILE, resumable_record

    return asked_from_record(resumable_record(run_dir)["arguments"], os.path.join(run_dir, CONFIG_FILE))


def _checked_value(field: dataclasses.Field, value, path: str):
    """``value`` as ``field``'s type (an int where a float is asked is taken), or a DataError naming the key."""
    kinds = [kind.strip() for kind in str(field.type).split("|")]
    choices = field.metadata.get("choices")
    if value is None and "None" in kinds:
        return None
    accepted = {"bool": lambda v: isinstance(v, bool), "str": lambda v: isinstance(v, str),
                "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
                "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not any(accepted[kind](value) for kind in kinds if kind in accepted):
        wanted = " or ".join({"bool": "true or false", "str": "a string", "int": "a whole number",
                              "float": "a number", "None": "null"}[kind] for kind in kinds)
        raise DataError(f'{path}: "{field.name}" must be {wanted}, got {value!r}')
    if choices and value not in choices:
        raise DataError(f'{path}: "{field.name}" must be one of {", ".join(map(str, choices))}, got {value!r}')
    return float(value) if kinds[0] == "float" else value


def ignored_options(given: dict, config: TrainConfig) -> list[str]:
    """One line for each option given on the command line that the run will not use (and why)."""
    config = with_family_and_recipe(config)
    notes = []
    if "lr" in given and "d_lr" in given and "g_lr" in given:
        notes.append("--lr is not used: --d-lr and --g-lr give both models their rates")
    elif "lr" in given and RECIPES[config.recipe].d_lr is not None and "d_lr" not in given and "g_lr" not in given:
        notes.append(f"--lr is not used: --recipe {config.recipe} sets --d-lr {config.d_lr:g} and --g-lr "
                     f"{config.g_lr:g} (give those to change them)")
    if "eval_samples" in given and config.eval_interval is None:
        notes.append("--eval-samples is not used without --eval-interval")
    if "sample_from" in given and config.ema == 0:
        notes.append("--sample-from is not used with --ema 0: there is only the trained generator")
    if "cluster_timeout" in given and config.strategy != "multiworker":
        notes.append("--cluster-timeout is not used without --strategy multiworker")
    return [f"note: {note}" for note in notes]


def with_family_and_recipe(config: TrainConfig) -> TrainConfig:
    """``config`` with the settings left None filled from its recipe (RECIPES), then from its model's row of
    MODEL_DEFAULTS; D's and G's learning rates from --lr last."""
    if config.model not in MODEL_DEFAULTS:
        raise UsageError(f"--model must be one of {', '.join(MODEL_DEFAULTS)}, got {config.model!r}")
    if config.recipe not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {config.recipe!r}")
    recipe = RECIPES[config.recipe]
    filled = {name: getattr(recipe, name) for name in RECIPE_KNOBS if getattr(config, name) is None}
    config = dataclasses.replace(config, **filled)
    family = {name: model_setting(config.model, name, getattr(config, name))
              for name in ("latent_dim", "batch_size", "lr", "beta1", "d_dropout")}
    config = dataclasses.replace(config, **family)
    return dataclasses.replace(config, d_lr=config.lr if config.d_lr is None else config.d_lr,
                               g_lr=config.lr if config.g_lr is None else config.g_lr)


def auto_save_interval(epochs: int) -> int:
    """A round interval (1, 2, 2.5 or 5 times a power of ten) giving about GRIDS_PER_RUN grids."""
    candidates = sorted({int(m * 10**power) for power in range(9) for m in (1, 2, 2.5, 5)
                         if float(m * 10**power).is_integer()})
    return min(candidates, key=lambda c: (abs(epochs / c - GRIDS_PER_RUN), c))


def resolve_intervals(config: TrainConfig) -> TrainConfig:
    """``config`` with the save and checkpoint intervals left unset filled in, so config.json records what ran:
    checkpoints at the --save-interval when one is given, else at the multiple of the automatic one nearest
    CHECKPOINT_EVERY."""
    save = config.save_interval or auto_save_interval(config.epochs)
    checkpoint = config.checkpoint_interval or config.save_interval or save * max(1, round(CHECKPOINT_EVERY / save))
    return dataclasses.replace(config, save_interval=save, checkpoint_interval=checkpoint)


def option(name: str, where: str | None = None) -> str:
    """How a message names a setting: ``--batch-size`` on the command line, ``"batch_size" in FILE`` from a file."""
    return f"--{name.replace('_', '-')}" if where is None else f'"{name}" in {where}'


def image_request(config: TrainConfig) -> ImageRequest:
    """The shape ``config`` asks its images in (None: the data's own, see gan_keras.data)."""
    return ImageRequest(config.image_size, config.channels, config.resize, config.background)


def validate(asked: TrainConfig, where: str | None = None) -> None:
    """Refuse zero, negative and absurd settings with one clear message (exit code 2) before anything slow
    starts; ``where`` names the file they were read from (a resumed run's config.json), if any."""
    config = with_family_and_recipe(asked)
    for name, (low, high) in LIMITS.items():
        value = getattr(config, name)
        if value is not None and not low <= value <= high:
            raise UsageError(f"{option(name, where)} must be between {low:,} and {high:,}, got {value}")
    if not (config.ema == 0 or 0.5 <= config.ema < 1):
        raise UsageError(f"{option('ema', where)} must be 0 (off) or a decay in [0.5, 1), got {config.ema}")
    for name in ("lr", "d_lr", "g_lr"):
        if not 0 < getattr(config, name) < 1:
            raise UsageError(f"{option(name, where)} must be between 0 and 1, got {getattr(config, name)}")
    if not 0 <= config.beta1 < 1:
        raise UsageError(f"{option('beta1', where)} must be in [0, 1), got {config.beta1}")
    _validate_recipe_knobs(config, where)
    from gan_keras.data.pictures import background_rgb

    background_rgb(config.background)
    if config.training_forms != "auto":
        from gan_keras.machine_choices import parse_forms

        parse_forms(config.training_forms)
    from gan_keras.training.distribute import check_strategy_settings

    check_strategy_settings(config.strategy, config.devices)


def _validate_recipe_knobs(config: TrainConfig, where: str | None) -> None:
    """Refuse recipe knobs out of range, or given to a family they do not apply to."""
    if not 0 <= config.d_dropout < 1:
        raise UsageError(f"{option('d_dropout', where)} must be in [0, 1), got {config.d_dropout}")
    if not 0 <= config.label_smoothing < 0.5:
        raise UsageError(f"{option('label_smoothing', where)} must be in [0, 0.5), got {config.label_smoothing}")
    if not 0 <= config.r1_gamma <= 1000:
        raise UsageError(f"{option('r1_gamma', where)} must be between 0 and 1,000, got {config.r1_gamma}")
    if config.recipe != "notebook" and config.model != "dcgan":
        raise UsageError(f"--recipe {config.recipe} was measured for the DCGAN; --model {config.model} trains with "
                         f"its own settings (--recipe notebook), or give the knobs one by one")
    if config.model != "dcgan" and (config.d_dropout or config.d_norm != "none"):
        raise UsageError(f"--d-dropout and --d-norm change the DCGAN's discriminator; --model {config.model} "
                         f"has no Dropout or normalisation there")


def resolve(asked: TrainConfig, strategy, out: str | None, dataset: Dataset, resumed: bool = False) -> TrainConfig:
    """The run's complete settings, frozen: ``asked`` with the recipe's and the family's settings, the
    intervals, the data's absolute path, the images' size and channels as ``dataset`` holds them, ``out`` (the
    run folder; a non-chief worker keeps the chief's), the seed every worker agrees on and this machine's
    choices for every ``auto``. Refused here: data with fewer images than one batch, and a conditional run on
    data with fewer than two classes.

    Call it once ``strategy`` has set TensorFlow's devices up: settling bf16 measures it, and TensorFlow
    splits the CPU into logical devices only before its first op."""
    from gan_keras.machine_choices import settle_for_this_machine
    from gan_keras.training.distribute import agreed_seed

    config = resolve_intervals(with_family_and_recipe(asked))
    _check_data_for(config, dataset)
    size, _, channels = dataset.image_shape
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise UsageError(f"--batch-size {config.batch_size} does not split evenly over {replicas} replicas "
                         f"(it is the global batch)")
    seed = agreed_seed(strategy, secrets.randbelow(2**31) if config.seed is None else config.seed)
    data = None if config.data is None else os.path.abspath(config.data)  # so --resume works from any folder
    config = dataclasses.replace(config, seed=seed, data=data, out=out, image_size=size, channels=channels)
    return settle_for_this_machine(config, resumed)


def _check_data_for(config: TrainConfig, dataset: Dataset) -> None:
    """Refuse data the run cannot train on, naming where it came from."""
    if len(dataset.x_train) < config.batch_size:
        raise DataError(f"{dataset.source} holds {len(dataset.x_train):,} images, fewer than one batch of "
                        f"{config.batch_size}: add images or give a smaller --batch-size")
    if config.conditional and dataset.classes < 2:
        raise DataError(f"{dataset.source} has no classes for --conditional: put each class's pictures in a "
                        f"subfolder of its own (or give a {LABELS_FILE} of labels)")
