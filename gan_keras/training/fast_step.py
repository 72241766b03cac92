"""The whole notebook iteration as one compiled TensorFlow function.

Same semantics as :class:`~gan_keras.training.notebook_step.NotebookStep`:
fakes from G in inference mode, an Adam update of D on the real batch, another
on the fake batch, then an Adam update of G through D (D in training mode, so
Dropout is active, but only G's weights move). It uses the very optimizer
instances the compiled models own, so both paths share state and either can
continue the other's run.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gan_keras.training.gan import GanModels


class FastStep:
    """Call with (real, noise_d, noise_g) batches; returns the same losses as the notebook step."""

    def __init__(self, models: GanModels, batch_size: int, jit_compile: bool = False):
        self.generator = models.generator
        self.discriminator = models.discriminator
        self.d_optimizer = models.discriminator.optimizer
        self.g_optimizer = models.combined.optimizer
        self.real_labels = tf.ones((batch_size, 1))
        self.fake_labels = tf.zeros((batch_size, 1))
        self._bce = keras.losses.BinaryCrossentropy()
        self._step = tf.function(self._iteration, jit_compile=jit_compile, reduce_retracing=True)

    def _loss_and_accuracy(self, labels, probabilities):
        """Keras's own binary cross-entropy (as the compiled models use) and binary accuracy."""
        loss = self._bce(labels, probabilities)
        accuracy = tf.reduce_mean(tf.cast(tf.cast(probabilities > 0.5, tf.float32) == labels, tf.float32))
        return loss, accuracy

    def _train_discriminator(self, images, labels):
        weights = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            loss, accuracy = self._loss_and_accuracy(labels, self.discriminator(images, training=True))
            scaled = self.d_optimizer.scale_loss(loss)
        self.d_optimizer.apply(tape.gradient(scaled, weights), weights)
        return loss, accuracy

    def _iteration(self, real, noise_d, noise_g):
        fake = self.generator(noise_d, training=False)
        loss_real, acc_real = self._train_discriminator(real, self.real_labels)
        loss_fake, acc_fake = self._train_discriminator(fake, self.fake_labels)
        weights = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            judged = self.discriminator(self.generator(noise_g, training=True), training=True)
            g_loss, _ = self._loss_and_accuracy(self.real_labels, judged)
            scaled = self.g_optimizer.scale_loss(g_loss)
        self.g_optimizer.apply(tape.gradient(scaled, weights), weights)
        return tf.stack([0.5 * (loss_real + loss_fake), 0.5 * (acc_real + acc_fake), g_loss,
                         loss_real, loss_fake])

    def __call__(self, real: np.ndarray, noise_d: np.ndarray, noise_g: np.ndarray) -> dict[str, float]:
        values = self._step(real, noise_d, noise_g).numpy()
        return dict(zip(("d_loss", "d_acc", "g_loss", "d_loss_real", "d_loss_fake"), values.tolist()))
