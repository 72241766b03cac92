"""One iteration with Keras's own ``predict`` and ``train_on_batch`` calls, as the notebook does it."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gan_keras.training.gan import DiscriminatorTrainer, GanModels, with_classes


class NotebookStep:
    """D's update(s), then G through the combined model on fresh noise.

    ``separate`` D update (the notebook): fakes from G in inference mode (the
    notebook's ``generator.predict``), then D ``train_on_batch`` on the real batch
    and again on the fake batch. ``joint`` D update (the PyTorch documents): fakes
    from G in training mode, then one ``train_on_batch`` on real and fake images
    together, weighted so that the loss is ``d_loss_scale * (loss_real + loss_fake)``.
    Conditional models get the real images' classes, and random classes for fakes.
    G's average, when the run keeps one, is updated last, as in the fast step.

    Under a ``tf.distribute`` strategy the inputs are per-replica slices of the
    global batch; Keras's ``train_on_batch`` runs its step through ``strategy.run``
    and all-reduces the gradients itself. The fakes come from a compiled G call per
    replica (``predict_on_batch`` would gather them into one global batch).
    """

    def __init__(self, models: GanModels, batch_size: int, strategy=None):
        self.models = models
        self.strategy = strategy or tf.distribute.get_strategy()
        batch_size //= self.strategy.num_replicas_in_sync  # one replica's share of the global batch
        self._generate = {training: tf.function(lambda inputs, training=training: self.strategy.run(
            lambda x: models.generator(x, training=training), args=(inputs,))) for training in (False, True)}
        self.ones = np.ones((batch_size, 1), dtype=np.float32)
        self.zeros = np.zeros((batch_size, 1), dtype=np.float32)
        self.both_targets = np.concatenate([self.ones, self.zeros])
        self.both_weights = np.full(2 * batch_size, 2.0 * models.d_loss_scale, dtype=np.float32)
        self.d_real, self.d_fake, self.d_joint = self._discriminator_trainers(batch_size)
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            for model in {models.discriminator, models.combined, self.d_real, self.d_fake, self.d_joint}:
                model.train_step, model.test_step = _as_vectors(model.train_step), _as_vectors(model.test_step)
        if self.strategy.num_replicas_in_sync > 1:
            self._build_compiled_state(batch_size)

    def __call__(self, real: np.ndarray, noise_d: np.ndarray, noise_g: np.ndarray,
                 classes_real: np.ndarray | None = None, classes_d: np.ndarray | None = None,
                 classes_g: np.ndarray | None = None) -> dict[str, float]:
        if self.models.d_update == "joint":
            on_real, on_fake = self._joint_discriminator_step(real, noise_d, classes_real, classes_d)
        else:
            fake = self._generate[False](with_classes(noise_d, classes_d))
            on_real = self.d_real.train_on_batch(with_classes(real, classes_real), self.ones, return_dict=True)
            on_fake = self.d_fake.train_on_batch(with_classes(fake, classes_d), self.zeros, return_dict=True)
        on_noise = self.models.combined.train_on_batch(with_classes(noise_g, classes_g), self.ones,
                                                       return_dict=True)
        if self.models.average is not None:
            self.models.average.update_now()
        loss_real, loss_fake = _number(on_real["loss"]), _number(on_fake["loss"])
        return {
            "d_loss": 0.5 * (loss_real + loss_fake),
            "d_acc": 0.5 * (_number(on_real["accuracy"]) + _number(on_fake["accuracy"])),
            "g_loss": _number(on_noise["loss"]),
            "d_loss_real": loss_real,
            "d_loss_fake": loss_fake,
        }

    def _joint_discriminator_step(self, real, noise_d, classes_real, classes_d):
        """One D update on real and fake together; returns D's loss and accuracy on each half before it."""
        fake = self._generate[True](with_classes(noise_d, classes_d))
        real_in, fake_in = with_classes(real, classes_real), with_classes(fake, classes_d)
        # The joint families' discriminators have no Dropout or BatchNorm, so these
        # inference-mode figures are the ones the update below starts from.
        on_real = self.d_real.test_on_batch(real_in, self.ones, return_dict=True)
        on_fake = self.d_fake.test_on_batch(fake_in, self.zeros, return_dict=True)
        both = self._concatenate(real, fake)
        classes = None if classes_real is None else self._concatenate(classes_real, classes_d)
        self.d_joint.train_on_batch(with_classes(both, classes), self.both_targets, sample_weight=self.both_weights)
        return on_real, on_fake

    def _discriminator_trainers(self, batch_size: int) -> tuple:
        """What D's ``train_on_batch`` runs on: real, fake and joint batches. Under the notebook's objective D
        itself, compiled with binary cross-entropy (the targets say real or fake); under another, a
        :class:`~gan_keras.training.gan.DiscriminatorTrainer` for each, sharing D and its optimizer."""
        discriminator = self.models.discriminator
        if not self.models.objective.needs_custom_d_step and not self.models.objective.label_smoothing:
            return discriminator, discriminator, discriminator
        trainers = []
        with self.strategy.scope():
            for real_count, name in ((batch_size, "d_real"), (0, "d_fake"), (batch_size, "d_joint")):
                trainer = DiscriminatorTrainer(discriminator, self.models.objective, real_count, name=name)
                trainer.compile(optimizer=discriminator.optimizer)
                trainers.append(trainer)
        return tuple(trainers)

    def _build_compiled_state(self, batch_size: int) -> None:
        """Let Keras build D's compiled loss and metrics, and the combined model, from plain tensors.

        Under a strategy, Keras builds them from the first batch it is given, and it cannot
        read shapes from per-replica values. ``test_on_batch`` changes no weight.
        """
        models = self.models
        classes = models.generator.inputs[1].shape[-1] if len(models.generator.inputs) > 1 else None
        class_input = None if classes is None else np.zeros((batch_size, classes), np.float32)
        noise = np.zeros((batch_size, models.generator.inputs[0].shape[-1]), np.float32)
        images = np.zeros((batch_size, *models.discriminator.inputs[0].shape[1:]), np.float32)
        for trainer in {models.discriminator, self.d_real, self.d_fake, self.d_joint}:
            trainer.test_on_batch(with_classes(images, class_input), self.ones)
        models.combined.test_on_batch(with_classes(noise, class_input), self.ones)

    def _concatenate(self, first, second):
        """Each replica's two slices joined (a plain concatenation on one device)."""
        return self.strategy.run(lambda a, b: tf.concat([a, b], axis=0), args=(first, second))


def _number(value) -> float:
    """A log value as a float (a one-element vector under multiworker, see :func:`_as_vectors`)."""
    return float(np.mean(value))


def _as_vectors(step):
    """``step`` with every log value shaped (1,), not ().

    Keras's ``train_on_batch`` reduces the per-replica logs under MultiWorkerMirroredStrategy
    with ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars (Keras 3.15);
    with one axis the mean over workers is what it should be.
    """
    def vector_step(data):
        return {name: tf.reshape(value, [1]) for name, value in step(data).items()}
    return vector_step
