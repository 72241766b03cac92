"""The averaged generator: an exponential moving average (EMA) of all of G's variables.

After every training iteration, on both loops, each variable of the average moves
towards the trained generator's:

    ema = d * ema + (1 - d) * w,    d = min(decay, (1 + t) / (10 + t))

where ``t`` counts the updates made before this one. The warm-up is the one of
``tf.train.ExponentialMovingAverage(num_updates=t)``: early on, when G changes
fastest, the average forgets quickly, so it never drags the random initial
weights along. BatchNorm's moving statistics are averaged with the weights (the
README's quality section has the measurement behind that choice). The average is
a clone of G with its own variables, so it saves as a plain Keras model.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def warmed_up_decay(decay: float, updates):
    """The decay used for update number ``updates`` (0-based): min(decay, (1 + t) / (10 + t))."""
    t = tf.cast(updates, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), (1.0 + t) / (10.0 + t))


class GeneratorAverage:
    """An averaged copy of ``generator``; ``update()`` runs inside a compiled step, ``update_now()`` outside."""

    def __init__(self, generator: keras.Model, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.generator = generator
        self.decay = decay
        self.average = keras.models.clone_model(generator)
        self.average.build(generator.input_shape if isinstance(generator.input_shape, tuple)
                           else list(generator.input_shape))
        for target, source in zip(self.average.variables, generator.variables, strict=True):
            target.assign(source)
        self.updates = keras.Variable(0, dtype="int64", trainable=False, name="ema_updates")
        self._compiled_update = tf.function(self.update)

    def update(self) -> None:
        """One EMA step on every variable (weights and BatchNorm statistics), then count it."""
        d = warmed_up_decay(self.decay, self.updates)
        for average, weight in zip(self.average.variables, self.generator.variables):
            if average.dtype in ("float16", "bfloat16", "float32", "float64"):
                value = tf.cast(weight.value, average.dtype)
                average.assign(tf.cast(d, average.dtype) * average.value
                               + tf.cast(1.0 - d, average.dtype) * value)
            else:  # integer state (a random seed): follow the trained model
                average.assign(weight.value)
        self.updates.assign_add(1)

    def update_now(self) -> None:
        """The same update, compiled, for loops that run outside ``tf.function`` (the notebook loop)."""
        self._compiled_update()
