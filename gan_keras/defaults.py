"""Training settings and their defaults: the one place each default is written.

The scripts build their argument parsers from :class:`TrainConfig`, and the
training engine reads the same object, so a default never appears twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelDefaults:
    """A model family's own training settings, as its seed document uses them.

    ``d_update`` is how the discriminator learns each iteration: ``separate`` is
    the notebook's (one Adam step on a real batch, then one on a fake batch made
    by G in inference mode); ``joint`` is the PyTorch documents' (fakes from G in
    training mode, one Adam step on ``d_loss_scale * (loss_real + loss_fake)``).
    The generator always takes its step on fresh noise.
    """

    latent_dim: int
    batch_size: int
    lr: float
    beta1: float
    d_update: str
    d_loss_scale: float
    d_dropout: float
    source: str


MODEL_DEFAULTS = {
    "dcgan": ModelDefaults(100, 32, 2e-4, 0.5, "separate", 1.0, 0.3, "keras_dcgan_notebook.ipynb"),
    "mlp": ModelDefaults(100, 64, 2e-4, 0.9, "joint", 1.0, 0.0, "pytorch_simple_gan.md"),
    "mlp-bn": ModelDefaults(100, 64, 2e-4, 0.5, "joint", 0.5, 0.0, "pytorch_mlp_gan_and_cgan.md"),
    "fc": ModelDefaults(64, 32, 3e-4, 0.9, "joint", 0.5, 0.0, "pytorch_fc_gan_tensorboard.md"),
}


@dataclass(frozen=True)
class Recipe:
    """How a family's two networks are trained; each knob is also a train.py option, and None leaves
    the model's own setting (MODEL_DEFAULTS). ``notebook`` is the seed notebook's training."""

    init: str = "glorot"
    d_dropout: float | None = None
    d_norm: str = "none"
    d_lr: float | None = None
    g_lr: float | None = None
    label_smoothing: float = 0.0
    loss: str = "bce"
    r1_gamma: float = 0.0
    summary: str = "the seed notebook's training"


RECIPES = {
    "notebook": Recipe(),
    # docs/quality.md, "A measured recipe": the best combination of the levers measured at 3,000 iterations
    "ttur": Recipe(d_dropout=0.0, d_lr=8e-4, g_lr=4e-4,
                   summary="two time-scale Adam, D at 8e-4 and G at 4e-4, and no Dropout in D"),
}
RECIPES_SUMMARY = RECIPES["ttur"].summary
RECIPE_KNOBS = tuple(f.name for f in dataclasses.fields(Recipe) if f.name != "summary")
PER_MODEL = " (default: the model's own, see --model)"
PER_RECIPE = " (default: the --recipe's)"
PER_RECIPE_OR_LR = " (default: the --recipe's, else --lr)"
CHECKPOINT_EVERY = 1000  # iterations between checkpoints when no interval is given
GRIDS_PER_RUN = 25  # about this many grids when --save-interval is not given


@dataclass
class TrainConfig:
    """Everything a training run needs to know. Field metadata holds the ``--help`` text."""

    epochs: int = dataclasses.field(
        default=3000,
        metadata={"help": "training ITERATIONS, one batch each (the notebook's meaning of "
                          "'epochs'; not passes over the data)"})
    model: str = dataclasses.field(
        default="dcgan",
        metadata={"help": "dcgan: the notebook's; mlp: 100-128-784 MLPs; mlp-bn: MLPs with BatchNorm "
                          "(G 256-512-1024, D 512-256); fc: one hidden layer each, z of 64. Each brings its "
                          "own batch size, latent size, learning rate and beta_1: " + ", ".join(
                              f"{name} {d.batch_size}/{d.latent_dim}/{d.lr:g}/{d.beta1:g}"
                              for name, d in MODEL_DEFAULTS.items()),
                  "choices": tuple(MODEL_DEFAULTS)})
    recipe: str = dataclasses.field(
        default="notebook",
        metadata={"help": "how the networks train: notebook (the seed notebook: Glorot weights, Dropout 0.3 in D, "
                          "one Adam rate, binary cross-entropy with hard labels) or ttur (" + RECIPES_SUMMARY + "; "
                          "docs/quality.md). The options --init ... --r1-gamma change one knob of it",
                  "choices": tuple(RECIPES)})
    init: str | None = dataclasses.field(
        default=None,
        metadata={"help": "weight initialisation: glorot (Keras's default, the notebook's) or normal "
                          "(N(0, 0.02), BatchNorm scales N(1, 0.02): the DCGAN paper's)" + PER_RECIPE,
                  "choices": ("glorot", "normal")})
    d_dropout: float | None = dataclasses.field(
        default=None, metadata={"help": "the DCGAN discriminator's Dropout rate; 0 leaves the layers out"
                                        + PER_RECIPE})
    d_norm: str | None = dataclasses.field(
        default=None,
        metadata={"help": "normalisation in the DCGAN's discriminator: none (the notebook's), batch (BatchNorm "
                          "after its second convolution) or spectral (Keras's SpectralNormalization on every "
                          "weight layer)" + PER_RECIPE, "choices": ("none", "batch", "spectral")})
    d_lr: float | None = dataclasses.field(
        default=None, metadata={"help": "D's Adam learning rate (two time-scale: unlike G's)" + PER_RECIPE_OR_LR})
    g_lr: float | None = dataclasses.field(
        default=None, metadata={"help": "G's Adam learning rate" + PER_RECIPE_OR_LR})
    label_smoothing: float | None = dataclasses.field(
        default=None, metadata={"help": "one-sided label smoothing: D's target for real images is 1 - S"
                                        + PER_RECIPE})
    loss: str | None = dataclasses.field(
        default=None, metadata={"help": "bce (binary cross-entropy, the notebook's) or hinge" + PER_RECIPE,
                                "choices": ("bce", "hinge")})
    r1_gamma: float | None = dataclasses.field(
        default=None, metadata={"help": "weight of the R1 penalty on D's gradient at real images (0: none)"
                                        + PER_RECIPE})
    conditional: bool = dataclasses.field(
        default=False,
        metadata={"help": "condition G and D on the class label (a label embedding joined to the noise "
                          "and to D's input); grids get one row per class"})
    batch_size: int | None = dataclasses.field(default=None, metadata={"help": "images per batch" + PER_MODEL})
    save_interval: int | None = dataclasses.field(
        default=None,
        metadata={"help": "write a 5x5 grid and the models every N iterations (iteration 0 and the "
                          "last one too); default: a round number that gives about 25 grids, "
                          "enough frames for make_gif.py"})
    latent_dim: int | None = dataclasses.field(
        default=None, metadata={"help": "length of the noise vector" + PER_MODEL})
    lr: float | None = dataclasses.field(
        default=None, metadata={"help": "Adam learning rate, both models" + PER_MODEL})
    beta1: float | None = dataclasses.field(
        default=None, metadata={"help": "Adam beta_1, both models" + PER_MODEL})
    seed: int | None = dataclasses.field(
        default=None, metadata={"help": "random seed; the same seed gives the same losses on the CPU"})
    log_interval: int = dataclasses.field(
        default=10,
        metadata={"help": "write the mean losses of every N iterations to losses.csv "
                          "and refresh the progress bar"})
    dataset: str = dataclasses.field(
        default="mnist", metadata={"help": "mnist or fashion_mnist", "choices": ("mnist", "fashion_mnist")})
    data: str | None = dataclasses.field(
        default=None,
        metadata={"help": "local data: a Keras-layout .npz (x_train, y_train, x_test, y_test) "
                          "or a folder with the four IDX .gz files"})
    loop: str = dataclasses.field(
        default="fast",
        metadata={"help": "fast: one compiled TensorFlow step per iteration; notebook: the "
                          "notebook's predict + three train_on_batch calls (the reference)",
                  "choices": ("fast", "notebook")})
    ema: float = dataclasses.field(
        default=0.999,
        metadata={"help": "decay of the exponential moving average of G's weights that grids, "
                          "generator.keras and scores come from (the raw G is saved too); warm-up "
                          "min(DECAY, (1+t)/(10+t)); 0 turns it off"})
    sample_from: str = dataclasses.field(
        default="better",
        metadata={"help": "which generator generator.keras and the grids are, with --ema: average, raw, or "
                          "better: the average until the last iteration, then whichever of the two has the "
                          "lower FD on 10,000 samples by the shipped evaluator (the average when no shipped "
                          "evaluator knows the data, and under multiworker)",
                  "choices": ("better", "average", "raw")})
    strategy: str = dataclasses.field(
        default="default",
        metadata={"help": "default: one device; mirrored: tf.distribute.MirroredStrategy over every GPU "
                          "(or --devices); multiworker: MultiWorkerMirroredStrategy over the cluster in "
                          "TF_CONFIG. --batch-size is the global batch, split over the replicas",
                  "choices": ("default", "mirrored", "multiworker")})
    cluster_timeout: float = dataclasses.field(
        default=300,
        metadata={"help": "--strategy multiworker: seconds to wait for every worker of TF_CONFIG at start-up, "
                          "and for any one all-reduce, before the run ends with a line naming the missing "
                          "workers"})
    devices: str | None = dataclasses.field(
        default=None,
        metadata={"help": "the devices of --strategy mirrored, e.g. GPU:0,GPU:1, or CPU:0,CPU:1 to split "
                          "the CPU into logical devices"})
    mixed_precision: str = dataclasses.field(
        default="auto",
        metadata={"help": "none (float32); bf16 for CPUs with AMX/AVX512-BF16 (elsewhere it is emulated, "
                          "slowly, and warns); fp16 for GPUs (with loss scaling); auto: bf16 on a CPU-only "
                          "machine whose CPU has native bf16, else none (config.json records the choice)",
                  "choices": ("none", "bf16", "fp16", "auto")})
    upsampling: str = dataclasses.field(
        default="auto",
        metadata={"help": "how G's stride-2 transposed convolutions compute while training: transposed "
                          "(Keras's Conv2DTranspose); subpixel (regular convolutions of the same kernel and a "
                          "depth-to-space shuffle: the same numbers to float rounding); auto: subpixel where "
                          "TensorFlow runs without oneDNN (TF_ENABLE_ONEDNN_OPTS=0), whose transposed convolution "
                          "is slow, else transposed (config.json records the choice). Saved generators hold "
                          "standard layers either way",
                  "choices": ("transposed", "subpixel", "auto")})
    training_forms: str = dataclasses.field(
        default="auto",
        metadata={"help": "the layers' training forms (the same numbers as Keras's layers, faster here; saved "
                          "models hold Keras's own either way): auto (those measured to pay on this machine; "
                          "none on a GPU), standard (Keras's own layers only) or names, e.g. "
                          "fused_norm,fast_dropout (config.json records the choice)"})
    eval_interval: int | None = dataclasses.field(
        default=None,
        metadata={"help": "score --eval-samples generated images every N iterations (Frechet "
                          "distance, Inception Score, rarest class) into losses.csv and the bar"})
    eval_samples: int = dataclasses.field(default=2000, metadata={"help": "images per score during training"})
    checkpoint_interval: int | None = dataclasses.field(
        default=None,
        metadata={"help": "write a checkpoint every N iterations (default: the --save-interval when "
                          f"given, else the multiple of the automatic one nearest {CHECKPOINT_EVERY:,})"})
    keep_checkpoints: int = dataclasses.field(default=2, metadata={"help": "checkpoints to keep"})
    no_tensorboard: bool = dataclasses.field(
        default=False, metadata={"help": "do not write TensorBoard logs to RUN_DIR/tensorboard"})
    deterministic: bool = dataclasses.field(
        default=False,
        metadata={"help": "make TensorFlow ops deterministic (slower; for bit-exact resume checks)"})
    out: str | None = dataclasses.field(
        default=None,
        metadata={"help": "run folder (default: a new timestamped folder under runs/); "
                          "an existing non-empty folder is refused"})


GRID_ROWS = 5
GRID_COLS = 5
CLASSES = 10  # MNIST and Fashion-MNIST; a conditional run's grids have one row per class
CLASS_GRID_COLS = 10
RUNS_ROOT = "runs"
GIF_FRAME_SECONDS = 0.5
WALK_POINTS = 4
WALK_STEPS = 12
WALK_FRAME_SECONDS = 0.08


def run_classes(config: TrainConfig) -> int | None:
    """The classes a run's models are conditioned on (None: an unconditional run)."""
    return CLASSES if config.conditional else None


def config_from_namespace(namespace: object) -> TrainConfig:
    """Build a TrainConfig from parsed arguments: the fields given, defaults for the rest."""
    return with_model_defaults(TrainConfig(**given_fields(namespace)))


def with_model_defaults(config: TrainConfig) -> TrainConfig:
    """Fill the settings left unset (None) from the recipe (RECIPES), then the model's row of MODEL_DEFAULTS;
    D's and G's learning rates from --lr last."""
    from gan_keras.errors import UsageError

    if config.model not in MODEL_DEFAULTS:
        raise UsageError(f"--model must be one of {', '.join(MODEL_DEFAULTS)}, got {config.model!r}")
    if config.recipe not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}, got {config.recipe!r}")
    recipe = RECIPES[config.recipe]
    for name in RECIPE_KNOBS:
        if getattr(config, name) is None:
            setattr(config, name, getattr(recipe, name))
    for name in ("latent_dim", "batch_size", "lr", "beta1", "d_dropout"):
        setattr(config, name, model_setting(config.model, name, getattr(config, name)))
    config.d_lr = config.lr if config.d_lr is None else config.d_lr
    config.g_lr = config.lr if config.g_lr is None else config.g_lr
    return config


def model_setting(model: str, name: str, value):
    """``value`` when given, else the model's own setting ``name`` from MODEL_DEFAULTS."""
    return getattr(MODEL_DEFAULTS[model], name) if value is None else value


def auto_save_interval(epochs: int) -> int:
    """A round interval (1, 2, 2.5 or 5 times a power of ten) giving about GRIDS_PER_RUN grids."""
    candidates = sorted({int(m * 10**power) for power in range(9) for m in (1, 2, 2.5, 5)
                         if float(m * 10**power).is_integer()})
    return min(candidates, key=lambda c: (abs(epochs / c - GRIDS_PER_RUN), c))


def resolve_intervals(config: TrainConfig) -> TrainConfig:
    """Fill the save and checkpoint intervals left unset, so config.json records what ran."""
    if config.checkpoint_interval is None:
        if config.save_interval is not None:
            config.checkpoint_interval = config.save_interval
    if config.save_interval is None:
        config.save_interval = auto_save_interval(config.epochs)
    if config.checkpoint_interval is None:
        config.checkpoint_interval = config.save_interval * max(1, round(CHECKPOINT_EVERY / config.save_interval))
    return config


def given_fields(namespace: object) -> dict:
    """The TrainConfig fields set on the command line (parsers leave the others None)."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(namespace).items() if k in names and v is not None}


LIMITS = {
    "epochs": (1, 100_000_000),
    "batch_size": (1, 65_536),
    "latent_dim": (1, 10_000),
    "log_interval": (1, 100_000_000),
    "keep_checkpoints": (1, 1000),
    "eval_samples": (100, 1_000_000),
}


def validate(config: TrainConfig) -> None:
    """Refuse zero, negative and absurd settings with one clear message (exit code 2)."""
    from gan_keras.errors import UsageError

    with_model_defaults(config)
    for name, (low, high) in LIMITS.items():
        value = getattr(config, name)
        if not low <= value <= high:
            raise UsageError(f"--{name.replace('_', '-')} must be between {low:,} and {high:,}, got {value}")
    if config.save_interval is not None and not 1 <= config.save_interval <= 100_000_000:
        raise UsageError(f"--save-interval must be between 1 and 100,000,000, got {config.save_interval}")
    if not 1 <= config.cluster_timeout <= 86_400:
        raise UsageError(f"--cluster-timeout must be between 1 and 86,400 seconds, got {config.cluster_timeout}")
    if not (config.ema == 0 or 0.5 <= config.ema < 1):
        raise UsageError(f"--ema must be 0 (off) or a decay in [0.5, 1), got {config.ema}")
    if config.checkpoint_interval is not None and not 1 <= config.checkpoint_interval <= 100_000_000:
        raise UsageError(f"--checkpoint-interval must be a positive number, got {config.checkpoint_interval}")
    if config.eval_interval is not None and not 1 <= config.eval_interval <= 100_000_000:
        raise UsageError(f"--eval-interval must be a positive number, got {config.eval_interval}")
    for name in ("lr", "d_lr", "g_lr"):
        if not 0 < getattr(config, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1, got {getattr(config, name)}")
    validate_recipe_knobs(config)
    if not 0 <= config.beta1 < 1:
        raise UsageError(f"--beta1 must be in [0, 1), got {config.beta1}")
    if config.training_forms != "auto":
        from gan_keras.machine_choices import parse_forms

        parse_forms(config.training_forms)
    from gan_keras.training.distribute import check_strategy_settings

    check_strategy_settings(config.strategy, config.devices)
    if config.seed is not None and not 0 <= config.seed < 2**32:
        raise UsageError(f"--seed must be between 0 and 2**32 - 1, got {config.seed}")


def validate_recipe_knobs(config: TrainConfig) -> None:
    """Refuse recipe knobs out of range, or given to a family they do not apply to."""
    from gan_keras.errors import UsageError

    if not 0 <= config.d_dropout < 1:
        raise UsageError(f"--d-dropout must be in [0, 1), got {config.d_dropout}")
    if not 0 <= config.label_smoothing < 0.5:
        raise UsageError(f"--label-smoothing must be in [0, 0.5), got {config.label_smoothing}")
    if not 0 <= config.r1_gamma <= 1000:
        raise UsageError(f"--r1-gamma must be between 0 and 1,000, got {config.r1_gamma}")
    if config.recipe != "notebook" and config.model != "dcgan":
        raise UsageError(f"--recipe {config.recipe} was measured for the DCGAN; --model {config.model} trains with "
                         f"its own settings (--recipe notebook), or give the knobs one by one")
    if config.model != "dcgan" and (config.d_dropout or config.d_norm != "none"):
        raise UsageError(f"--d-dropout and --d-norm change the DCGAN's discriminator; --model {config.model} "
                         f"has no Dropout or normalisation there")
