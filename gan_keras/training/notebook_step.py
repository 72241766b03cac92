"""One iteration with Keras's own ``predict`` and ``train_on_batch`` calls, as the notebook does it."""

from __future__ import annotations

import numpy as np

from gan_keras.training.gan import GanModels, with_classes


class NotebookStep:
    """D's update(s), then G through the combined model on fresh noise.

    ``separate`` D update (the notebook): fakes from G in inference mode (the
    notebook's ``generator.predict``), then D ``train_on_batch`` on the real batch
    and again on the fake batch. ``joint`` D update (the PyTorch documents): fakes
    from G in training mode, then one ``train_on_batch`` on real and fake images
    together, weighted so that the loss is ``d_loss_scale * (loss_real + loss_fake)``.
    Conditional models get the real images' classes, and random classes for fakes.
    G's average, when the run keeps one, is updated last, as in the fast step.
    """

    def __init__(self, models: GanModels, batch_size: int):
        self.models = models
        self.ones = np.ones((batch_size, 1), dtype=np.float32)
        self.zeros = np.zeros((batch_size, 1), dtype=np.float32)
        self.both_targets = np.concatenate([self.ones, self.zeros])
        self.both_weights = np.full(2 * batch_size, 2.0 * models.d_loss_scale, dtype=np.float32)

    def __call__(self, real: np.ndarray, noise_d: np.ndarray, noise_g: np.ndarray,
                 classes_real: np.ndarray | None = None, classes_d: np.ndarray | None = None,
                 classes_g: np.ndarray | None = None) -> dict[str, float]:
        if self.models.d_update == "joint":
            on_real, on_fake = self._joint_discriminator_step(real, noise_d, classes_real, classes_d)
        else:
            fake = self.models.generator.predict_on_batch(with_classes(noise_d, classes_d))
            discriminator = self.models.discriminator
            on_real = discriminator.train_on_batch(with_classes(real, classes_real), self.ones, return_dict=True)
            on_fake = discriminator.train_on_batch(with_classes(fake, classes_d), self.zeros, return_dict=True)
        on_noise = self.models.combined.train_on_batch(with_classes(noise_g, classes_g), self.ones,
                                                       return_dict=True)
        if self.models.average is not None:
            self.models.average.update_now()
        return {
            "d_loss": 0.5 * (on_real["loss"] + on_fake["loss"]),
            "d_acc": 0.5 * (on_real["accuracy"] + on_fake["accuracy"]),
            "g_loss": float(on_noise["loss"]),
            "d_loss_real": float(on_real["loss"]),
            "d_loss_fake": float(on_fake["loss"]),
        }

    def _joint_discriminator_step(self, real, noise_d, classes_real, classes_d):
        """One D update on real and fake together; returns D's loss and accuracy on each half before it."""
        discriminator = self.models.discriminator
        fake = np.asarray(self.models.generator(with_classes(noise_d, classes_d), training=True))
        real_in, fake_in = with_classes(real, classes_real), with_classes(fake, classes_d)
        # The joint families' discriminators have no Dropout or BatchNorm, so these
        # inference-mode figures are the ones the update below starts from.
        on_real = discriminator.test_on_batch(real_in, self.ones, return_dict=True)
        on_fake = discriminator.test_on_batch(fake_in, self.zeros, return_dict=True)
        both = np.concatenate([real, fake])
        classes = None if classes_real is None else np.concatenate([classes_real, classes_d])
        discriminator.train_on_batch(with_classes(both, classes), self.both_targets,
                                     sample_weight=self.both_weights)
        return on_real, on_fake
