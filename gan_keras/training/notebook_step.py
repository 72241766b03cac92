"""One iteration exactly as the notebook does it: predict, then three ``train_on_batch`` calls."""

from __future__ import annotations

import numpy as np

from gan_keras.training.gan import GanModels


class NotebookStep:
    """D on a real batch, D on a fake batch, then G through the combined model on fresh noise.

    The fake batch comes from the generator in inference mode (the notebook's
    ``generator.predict``), so its BatchNorm uses moving statistics there.
    """

    def __init__(self, models: GanModels, batch_size: int):
        self.models = models
        self.real_labels = np.ones((batch_size, 1), dtype=np.float32)
        self.fake_labels = np.zeros((batch_size, 1), dtype=np.float32)

    def __call__(self, real: np.ndarray, noise_d: np.ndarray, noise_g: np.ndarray) -> dict[str, float]:
        fake = self.models.generator.predict_on_batch(noise_d)
        on_real = self.models.discriminator.train_on_batch(real, self.real_labels, return_dict=True)
        on_fake = self.models.discriminator.train_on_batch(fake, self.fake_labels, return_dict=True)
        on_noise = self.models.combined.train_on_batch(noise_g, self.real_labels, return_dict=True)
        return {
            "d_loss": 0.5 * (on_real["loss"] + on_fake["loss"]),
            "d_acc": 0.5 * (on_real["accuracy"] + on_fake["accuracy"]),
            "g_loss": float(on_noise["loss"]),
            "d_loss_real": float(on_real["loss"]),
            "d_loss_fake": float(on_fake["loss"]),
        }
