"""Training settings and their defaults: the one place each default is written.

The scripts build their argument parsers from :class:`TrainConfig`, and the
training engine reads the same object, so a default never appears twice. This
module is data only: what a setting becomes for one run is decided in
:mod:`gan_keras.settings`. It imports nothing of the package.
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


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs to know. Field metadata holds the ``--help`` text.

    Frozen: a run's settings are asked for (the command line, a resumed run's config.json), then resolved
    once by :func:`gan_keras.settings.resolve` into a new, complete TrainConfig that nothing changes after.
    A field left None (or ``auto``) is one that resolution fills in."""

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
        default=None,
        metadata={"help": "random seed, recorded in config.json; with --deterministic the same seed gives the same "
                          "losses on one machine (without it, thread timing makes runs differ)"})
    log_interval: int = dataclasses.field(
        default=10,
        metadata={"help": "write the mean losses of every N iterations to losses.csv "
                          "and refresh the progress bar"})
    dataset: str = dataclasses.field(
        default="mnist",
        metadata={"help": "mnist, fashion_mnist, or stacked_mnist (three MNIST digits as R, G and B: 1,000 modes, "
                          "the mode-collapse benchmark; from --data's MNIST or Keras's download)",
                  "choices": ("mnist", "fashion_mnist", "stacked_mnist")})
    data: str | None = dataclasses.field(
        default=None,
        metadata={"help": "your images: a folder (searched recursively; first-level subfolders are the classes) or a "
                          ".zip of pictures (PNG, JPEG, BMP, GIF, WebP, TIFF), an .npz of uint8 (N, H, W) or "
                          "(N, H, W, 3) images (or Keras's MNIST layout), or a folder of the four MNIST IDX files; "
                          "prepared once into the cache folder"})
    image_size: int | None = dataclasses.field(
        default=None,
        metadata={"help": "the images' side in pixels, 28, 32, 64 or 128 (default: the data's own where every image "
                          "is one of these, square, else 64)", "choices": (28, 32, 64, 128)})
    channels: int | None = dataclasses.field(
        default=None,
        metadata={"help": "1 (grayscale) or 3 (RGB) (default: 1 where every image is grayscale, else 3)",
                  "choices": (1, 3)})
    resize: str = dataclasses.field(
        default="center-crop",
        metadata={"help": "how an image of another shape becomes a square of --image-size: center-crop (the largest "
                          "centred square, stylegan2-ada's), stretch, or pad (with --background)",
                  "choices": ("center-crop", "stretch", "pad")})
    background: str = dataclasses.field(
        default="white",
        metadata={"help": "the colour transparent pixels (and --resize pad's borders) are laid on: a name or "
                          "#rrggbb"})
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
                          "machine whose CPU has native bf16 and runs bfloat16 matrix products at least 1.5x "
                          "as fast as float32 (measured once, kept in the cache folder), else none "
                          "(config.json records the choice)",
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
        metadata={"help": "the layers' training forms (the same numbers as Keras's layers, faster on CPUs; "
                          "saved models hold Keras's own either way): auto (a fixed rule from this machine's "
                          "kernels, precision and flags, docs/speed.md; none on a GPU), standard (Keras's own "
                          "layers only) or names, e.g. fused_norm,fast_dropout (config.json records the choice)"})
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
        metadata={"help": "run folder (default: a new timestamped folder under runs/); a folder that "
                          "exists is refused unless it is empty, and never overwritten"})


GRID_ROWS = 5
GRID_COLS = 5
CLASS_GRID_COLS = 10  # a conditional run's grids: one row per class (at most CLASS_GRID_ROWS), 10 samples each
CLASS_GRID_ROWS = 20
RUNS_ROOT = "runs"
GIF_FRAME_SECONDS = 0.5
WALK_POINTS = 4
WALK_STEPS = 12
WALK_FRAME_SECONDS = 0.08


def model_setting(model: str, name: str, value):
    """``value`` when given, else the model's own setting ``name`` from MODEL_DEFAULTS."""
    return getattr(MODEL_DEFAULTS[model], name) if value is None else value
