"""The whole training iteration as one compiled TensorFlow function.

Same semantics as :class:`~gan_keras.training.notebook_step.NotebookStep`, for
both ways a family updates D (``separate``: the notebook's two Adam steps on a
real and a fake batch, fakes from G in inference mode; ``joint``: one step on
both, fakes from G in training mode), then an Adam update of G through D on
fresh noise (D in training mode, so Dropout is active, but only G's weights
move), then the update of G's average when the run keeps one. It uses the very
optimizer instances the compiled models own, so both paths share state and
either can continue the other's run.

Under a ``tf.distribute`` strategy the iteration runs once per replica through
``strategy.run`` on that replica's slice of the global batch. Keras's losses give
each replica its slice's mean divided by the number of replicas, and the
optimizers sum the gradients across replicas (Keras's all-reduce), so the update
is the global batch's mean gradient, as on one device. The losses reported are
the global batch's, and G's average is updated once, in cross-replica context.

Two ways in: ``step(real, noise_d, noise_g, ...)`` trains on batches the caller
hands over (one call, one iteration), and ``step.run(first, count)`` trains
iterations ``first`` .. ``first + count - 1`` in one call, each replica drawing its
own slice of each global batch inside the compiled function
(:class:`~gan_keras.training.batches.InGraphBatches`), as Keras's
``steps_per_execution`` runs several steps per call: no batch and no loss crosses
to Python between those iterations. Both run the same iteration function.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from gan_keras.training.batches import InGraphBatches
from gan_keras.training.gan import GanModels, with_classes
from gan_keras.training.loss_log import LOSS_COLUMNS
from gan_keras.training.objective import accuracy, r1_penalty


class FastStep:
    """Call with (real, noise_d, noise_g[, classes...]) batches; returns the notebook step's losses."""

    def __init__(self, models: GanModels, batch_size: int, strategy=None, batches: InGraphBatches | None = None):
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = float(self.strategy.num_replicas_in_sync)
        batch_size //= self.strategy.num_replicas_in_sync  # from here on: one replica's slice of the global batch
        self.generator = models.generator
        self.discriminator = models.discriminator
        self.d_optimizer = models.discriminator.optimizer
        self.g_optimizer = models.combined.optimizer
        self.average = models.average
        self.objective = models.objective
        self.both_weights = tf.fill((2 * batch_size,), 2.0 * models.d_loss_scale)
        self.batch_size = batch_size
        self._replica_iteration = self._joint_iteration if models.d_update == "joint" else self._separate_iteration
        self._step = tf.function(self._iteration, reduce_retracing=True)
        self.batches = batches
        self._run = tf.function(self._iterations)

    def _iteration(self, real, noise_d, noise_g, classes_real, classes_d, classes_g):
        """Every replica's iteration on its slice, the mean of their losses, then G's average."""
        losses = self.strategy.run(self._replica_iteration,
                                   args=(real, noise_d, noise_g, classes_real, classes_d, classes_g))
        return self._global_losses(losses)

    def _global_losses(self, replica_losses):
        """The mean of the replicas' losses; G's average updated once the replicas' updates are in."""
        losses = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, replica_losses, axis=None)
        if self.average is not None:
            self.average.update()
        return losses

    def _iterations(self, first, count):
        """``count`` iterations from ``first``, inputs drawn in the graph; their losses, one row each."""
        losses = tf.TensorArray(tf.float32, size=count)
        for index in tf.range(count):
            iteration = first + tf.cast(index, tf.int64)
            replica_losses = self.strategy.run(self._replica_drawn_iteration, args=(iteration,))
            losses = losses.write(index, self._global_losses(replica_losses))
        return losses.stack()

    def _replica_drawn_iteration(self, iteration):
        """One replica's iteration on its own slice of ``iteration``'s global batch."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        batch = self.batches.replica_slice(iteration, replica)
        return self._replica_iteration(batch["real"], batch["noise_d"], batch["noise_g"], batch.get("classes_real"),
                                       batch.get("classes_d"), batch.get("classes_g"))

    def _losses(self, loss_real, loss_fake, acc_real, acc_fake, g_loss):
        """The logged losses of the global batch (each replica's Keras loss is its share: slice mean / replicas)."""
        r = self.replicas
        return tf.stack([0.5 * (loss_real + loss_fake) * r, 0.5 * (acc_real + acc_fake), g_loss * r,
                         loss_real * r, loss_fake * r])

    def _train_discriminator(self, images, classes, real: bool):
        """One Adam step of D on a whole real or fake batch; D's loss (with R1 on real images) and accuracy."""
        weights = self.discriminator.trainable_variables
        objective, real_count = self.objective, self.batch_size if real else 0
        with tf.GradientTape() as tape:
            if real and objective.r1_gamma > 0:
                penalty, probabilities = r1_penalty(self.discriminator, images, classes, objective.r1_gamma)
            else:
                penalty, probabilities = 0.0, self.discriminator(with_classes(images, classes), training=True)
            loss = objective.d_loss(probabilities, real_count)
            scaled = self.d_optimizer.scale_loss(loss + penalty)
        self.d_optimizer.apply(tape.gradient(scaled, weights), weights)
        return loss, accuracy(probabilities, real_count)

    def _train_generator(self, noise_g, classes_g):
        weights = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            images = self.generator(with_classes(noise_g, classes_g), training=True)
            g_loss = self.objective.g_loss(self.discriminator(with_classes(images, classes_g), training=True))
            scaled = self.g_optimizer.scale_loss(g_loss)
        self.g_optimizer.apply(tape.gradient(scaled, weights), weights)
        return g_loss

    def _separate_iteration(self, real, noise_d, noise_g, classes_real, classes_d, classes_g):
        fake = self.generator(with_classes(noise_d, classes_d), training=False)
        loss_real, acc_real = self._train_discriminator(real, classes_real, real=True)
        loss_fake, acc_fake = self._train_discriminator(fake, classes_d, real=False)
        g_loss = self._train_generator(noise_g, classes_g)
        return self._losses(loss_real, loss_fake, acc_real, acc_fake, g_loss)

    def _joint_iteration(self, real, noise_d, noise_g, classes_real, classes_d, classes_g):
        fake = self.generator(with_classes(noise_d, classes_d), training=True)
        both = tf.concat([real, fake], axis=0)
        classes = None if classes_real is None else tf.concat([classes_real, classes_d], axis=0)
        weights, objective, batch = self.discriminator.trainable_variables, self.objective, self.batch_size
        with tf.GradientTape() as tape:
            penalty = 0.0
            if objective.r1_gamma > 0:
                penalty, _ = r1_penalty(self.discriminator, real, classes_real, objective.r1_gamma)
            probabilities = self.discriminator(with_classes(both, classes), training=True)
            loss = objective.d_loss(probabilities, batch, sample_weight=self.both_weights)
            scaled = self.d_optimizer.scale_loss(loss + penalty)
        self.d_optimizer.apply(tape.gradient(scaled, weights), weights)
        loss_real = objective.d_loss(probabilities[:batch], batch)
        loss_fake = objective.d_loss(probabilities[batch:], 0)
        g_loss = self._train_generator(noise_g, classes_g)
        return self._losses(loss_real, loss_fake, accuracy(probabilities[:batch], batch),
                            accuracy(probabilities[batch:], 0), g_loss)

    def __call__(self, real: np.ndarray, noise_d: np.ndarray, noise_g: np.ndarray,
                 classes_real: np.ndarray | None = None, classes_d: np.ndarray | None = None,
                 classes_g: np.ndarray | None = None) -> dict[str, float]:
        values = self._step(real, noise_d, noise_g, classes_real, classes_d, classes_g).numpy()
        return dict(zip(LOSS_COLUMNS, values.tolist()))

    def run(self, first: int, count: int) -> list[dict[str, float]]:
        """Train iterations ``first`` .. ``first + count - 1`` in one call; each one's losses, in order."""
        if self.batches is None:
            raise ValueError("FastStep.run needs the run's InGraphBatches (the batches argument)")
        values = self._run(tf.constant(first, tf.int64), tf.constant(count, tf.int32)).numpy()
        return [dict(zip(LOSS_COLUMNS, row)) for row in values.tolist()]

    def run_in_calls(self, first: int, count: int, per_call: int) -> None:
        """Train ``count`` iterations from ``first``, ``per_call`` per compiled call (benchmarks, profiles)."""
        for call_first in range(first, first + count, per_call):
            self.run(call_first, min(per_call, first + count - call_first))
