"""Compiled discriminator plus a combined model that trains only the generator.

The notebook freezes the discriminator with ``discriminator.trainable = False``
before compiling the combined model. Under Keras 3 that flag is read when a
train function is first traced, so the notebook's discriminator never learns,
and toggling the flag later is silently ignored or half-applied depending on
retracing. Here nothing depends on the flag or on trace timing:

* the discriminator is compiled on its own and its ``trainable`` flag stays True;
* :class:`GeneratorTrainer` (noise -> G -> D) overrides ``train_step`` and takes
  gradients with respect to the generator's variables only, so the combined
  ``train_on_batch`` can never move the discriminator's weights.

Each model gets its own Adam instance: a Keras optimizer binds to the variables
it first sees.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import keras
import tensorflow as tf

from gan_keras.defaults import MODEL_DEFAULTS, model_setting
from gan_keras.machine_choices import parse_forms
from gan_keras.models import IMAGE_SHAPE, build_pair
from gan_keras.models.initialization import initialize
from gan_keras.models.walk import nested_layers
from gan_keras.models.training_forms import DEFAULT_FORMS, to_training_forms
from gan_keras.training.ema import GeneratorAverage
from gan_keras.training.fused_adam import fused_adam
from gan_keras.training.objective import Objective, accuracy, r1_penalty


def with_classes(inputs, classes):
    """A model's input: the array alone, or [array, one-hot classes] for a conditional model."""
    return inputs if classes is None else [inputs, classes]


class GeneratorTrainer(keras.Model):
    """The combined model: scores generated images with D, updates G alone."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, objective: Objective = Objective(),
                 **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.objective = objective

    def call(self, inputs, training=False):
        """noise -> G -> D; a conditional pair gets [noise, class] and D sees the same class."""
        images = self.generator(inputs, training=training)
        if isinstance(inputs, (list, tuple)):
            return self.discriminator([images, inputs[1]], training=training)
        return self.discriminator(images, training=training)

    def train_step(self, data):
        noise, _, _ = keras.utils.unpack_x_y_sample_weight(data)  # the target is always "real"
        with tf.GradientTape() as tape:
            # D runs in training mode (its Dropout active), as in the notebook's combined model.
            # Under tf.distribute, Keras's loss is this replica's share (slice mean / replicas).
            loss = self.objective.g_loss(self(noise, training=True))
            scaled_loss = self.optimizer.scale_loss(loss)  # loss scaling under fp16; else unchanged
        generator_weights = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(scaled_loss, generator_weights), generator_weights)
        return {"loss": _slice_mean(loss)}

    def test_step(self, data):
        """G's loss against D without an update (both in inference mode)."""
        noise, _, _ = keras.utils.unpack_x_y_sample_weight(data)  # the target is always "real"
        return {"loss": _slice_mean(self.objective.g_loss(self(noise, training=False)))}


class DiscriminatorTrainer(keras.Model):
    """D's ``train_on_batch`` under a recipe's objective (hinge, label smoothing, R1), which Keras's compiled
    binary cross-entropy cannot express. It updates D's own variables with D's own optimizer; the first
    ``real_count`` images of each batch are real (all, none, or a joint batch's first half), and R1, when the
    objective has it, penalises D's gradient at them. The notebook's objective keeps D's compiled
    ``train_on_batch`` itself (:class:`~gan_keras.training.notebook_step.NotebookStep`)."""

    def __init__(self, discriminator: keras.Model, objective: Objective, real_count: int, **kwargs):
        super().__init__(**kwargs)
        self.discriminator, self.objective, self.real_count = discriminator, objective, real_count

    def call(self, inputs, training=False):
        return self.discriminator(inputs, training=training)

    def train_step(self, data):
        inputs, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        images, classes = (inputs, None) if not isinstance(inputs, (list, tuple)) else inputs
        weights = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            if self.real_count and self.objective.r1_gamma > 0:
                penalty, probabilities = r1_penalty(self.discriminator, images, classes, self.objective.r1_gamma,
                                                    self.real_count)
            else:
                penalty, probabilities = 0.0, self(inputs, training=True)
            loss = self.objective.d_loss(probabilities, self.real_count, sample_weight)
            scaled_loss = self.optimizer.scale_loss(loss + penalty)
        self.optimizer.apply(tape.gradient(scaled_loss, weights), weights)
        return self._logs(loss, probabilities)

    def test_step(self, data):
        inputs, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        probabilities = self(inputs, training=False)
        return self._logs(self.objective.d_loss(probabilities, self.real_count, sample_weight), probabilities)

    def _logs(self, loss, probabilities):
        return {"loss": _slice_mean(loss), "accuracy": accuracy(probabilities, self.real_count)}


def _slice_mean(loss):
    """A replica's Keras loss (its share: slice mean / replicas) back to its slice's mean; Keras averages those."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss * replicas if replicas > 1 else loss


@dataclass
class GanModels:
    """The three models a notebook-style iteration uses, how the family updates D, and G's average."""

    generator: keras.Model
    discriminator: keras.Model
    combined: GeneratorTrainer
    d_update: str = "separate"
    d_loss_scale: float = 1.0
    average: GeneratorAverage | None = None
    objective: Objective = Objective()

    @property
    def sampled(self) -> keras.Model:
        """The generator grids, scores and generator.keras come from: the average when there is one."""
        return self.average.average if self.average is not None else self.generator


def make_adam(lr: float, beta1: float, fused: bool = True) -> keras.optimizers.Adam:
    """The notebook's optimizer, Adam(2e-4, 0.5) by default, updating through TensorFlow's fused kernel
    (:mod:`gan_keras.training.fused_adam`) unless ``fused`` is False. One instance per model."""
    return fused_adam(lr, beta1) if fused else keras.optimizers.Adam(learning_rate=lr, beta_1=beta1)


PRECISION_POLICIES = {"none": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def build_gan(latent_dim: int | None = None, lr: float | None = None, beta1: float | None = None,
              dropout: float | None = None, mixed_precision: str = "none", model: str = "dcgan",
              classes: int | None = None, ema: float = 0.0, strategy=None,
              upsampling: str = "transposed", training_forms: tuple[str, ...] = DEFAULT_FORMS,
              fused_adam: bool = True, d_lr: float | None = None, g_lr: float | None = None,
              init: str = "glorot", d_norm: str = "none", objective: Objective = Objective(),
              seed: int | None = None, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> GanModels:
    """Build and compile G, D and the combined model, each with its own optimizer.

    Settings left None come from the model's row of MODEL_DEFAULTS. ``classes``
    makes a conditional pair. ``mixed_precision`` sets Keras's dtype policy while
    the models are built (and restores the previous one after); under fp16,
    ``compile`` wraps each Adam in a LossScaleOptimizer. ``ema`` > 0 adds an
    averaged copy of G with that decay (see :mod:`gan_keras.training.ema`).
    Both models train with the layers' ``training_forms`` (faster forms with the
    same variables: :mod:`gan_keras.models.training_forms`; () for Keras's own
    layers); ``upsampling="subpixel"`` adds G's sub-pixel convolutions. Saved files
    hold standard layers either way. ``fused_adam``: each Adam updates through
    TensorFlow's fused kernel (:mod:`gan_keras.training.fused_adam`; False: Keras's ops).
    ``d_lr`` and ``g_lr`` give D and G their own learning rates (default ``lr``);
    ``init`` re-draws the weights (:mod:`gan_keras.models.initialization`, from ``seed``);
    ``d_norm`` normalises the DCGAN's D; ``objective`` is what both steps minimise; ``image_shape`` is
    (size, size, channels), the notebook's (28, 28, 1) by default.
    Everything is built in ``strategy``'s scope (a ``tf.distribute`` strategy;
    default: one device); with several replicas, BatchNorm is synchronized.
    """
    own = MODEL_DEFAULTS[model]
    strategy = strategy or tf.distribute.get_strategy()
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[mixed_precision])
    try:
        with strategy.scope():
            generator, discriminator = build_pair(model, model_setting(model, "latent_dim", latent_dim), classes,
                                                  dropout, d_norm, image_shape)
            initialize(generator, init, seed)
            initialize(discriminator, init, None if seed is None else seed + 1)
            subpixel = ("subpixel",) if upsampling == "subpixel" else ()
            generator = to_training_forms(generator, (*training_forms, *subpixel))
            discriminator = to_training_forms(discriminator, training_forms)
            lr = model_setting(model, "lr", lr)
            d_lr, g_lr = (lr if d_lr is None else d_lr), (lr if g_lr is None else g_lr)
            combined = _compile(generator, discriminator, d_lr, g_lr, model_setting(model, "beta1", beta1),
                                fused_adam, objective)
            average = GeneratorAverage(generator, ema) if ema else None
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    if strategy.num_replicas_in_sync > 1:
        synchronize_batch_norm(generator, discriminator)
    return GanModels(generator, discriminator, combined, own.d_update, own.d_loss_scale, average, objective)


def build_run_models(config, classes: int | None, strategy=None) -> GanModels:
    """The models of a run as its resolved ``TrainConfig`` describes them (train.py, resume, evaluate)."""
    return build_gan(config.latent_dim, config.lr, config.beta1, mixed_precision=config.mixed_precision,
                     image_shape=(config.image_size, config.image_size, config.channels),
                     model=config.model, classes=classes, ema=config.ema, strategy=strategy,
                     upsampling=config.upsampling, training_forms=parse_forms(config.training_forms),
                     dropout=config.d_dropout, d_lr=config.d_lr, g_lr=config.g_lr, init=config.init,
                     d_norm=config.d_norm, seed=config.seed,
                     objective=Objective(config.loss, config.label_smoothing, config.r1_gamma))


def batch_norm_layers(*models: keras.Model) -> list:
    return [layer for model in models for layer in nested_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization)]


def synchronize_batch_norm(*models: keras.Model) -> None:
    """Batch statistics over the global batch, all-reduced across replicas, not each replica's slice.

    With 2 replicas at the notebook's batch of 32, per-replica BatchNorm would normalize
    by 16-image statistics and change what one iteration computes; synchronized, one
    iteration is the same update at any replica count (tests/test_distribute.py; its cost
    is in README, 'Scaling out'). The flag is read when a step is traced; saved models
    leave it out (:func:`portable_batch_norm`), as only TensorFlow knows it.
    """
    for layer in batch_norm_layers(*models):
        layer.synchronized = True


@contextlib.contextmanager
def portable_batch_norm(model: keras.Model):
    """While saving: BatchNorm layers without ``synchronized``, so the file loads on any Keras backend."""
    synchronized = [layer for layer in batch_norm_layers(model) if layer.synchronized]
    for layer in synchronized:
        layer.synchronized = False
    try:
        yield model
    finally:
        for layer in synchronized:
            layer.synchronized = True


def _compile(generator: keras.Model, discriminator: keras.Model, d_lr: float, g_lr: float, beta1: float,
             fused: bool, objective: Objective) -> GeneratorTrainer:
    discriminator.compile(loss="binary_crossentropy", optimizer=make_adam(d_lr, beta1, fused),
                          metrics=["accuracy"])
    combined = GeneratorTrainer(generator, discriminator, objective, name="combined")
    combined.compile(optimizer=make_adam(g_lr, beta1, fused))
    # Built now, on the variables each one updates, so a checkpoint can be restored into them.
    discriminator.optimizer.build(discriminator.trainable_variables)
    combined.optimizer.build(generator.trainable_variables)
    return combined
