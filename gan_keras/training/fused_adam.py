"""Keras's Adam with each variable's update run as TensorFlow's one fused kernel (``ResourceApplyAdam``).

Keras 3 updates each variable with about ten separate ops (two moments, the bias
correction, the step), each a pass over the variable and, for G's and D's small
BatchNorm and bias vectors, mostly the cost of launching an op. TensorFlow's
``ApplyAdam`` kernel does the same update in one pass: Keras 2 (``tf.keras``,
where the seed notebook ran) updated with it. Same formula, same state (the
optimizer's momentums, velocities and iteration count, so checkpoints are
unchanged); one difference in the last bit: the kernel forms ``1 - beta_2`` in
float32 where Keras 3 rounds Python's ``1 - 0.999`` (0.00099998712 against
0.00100000005), so the two agree to about 1e-7 of a weight, not bit for bit.
Both training loops use the same optimizer instances, so they still agree exactly.

The optimizer stays a ``keras.optimizers.Adam`` (saved models name Keras's own
class); only its per-variable ``update_step`` is replaced, and only under the
TensorFlow backend, for dense float gradients without AMSGrad.
"""

from __future__ import annotations

import types

import keras
import tensorflow as tf


def fused_adam(learning_rate: float, beta_1: float) -> keras.optimizers.Adam:
    """``keras.optimizers.Adam(learning_rate, beta_1)``, updating through TensorFlow's fused kernel when it can."""
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    if keras.backend.backend() == "tensorflow":
        optimizer.update_step = types.MethodType(_fused_update_step, optimizer)
    return optimizer


def _handle(variable):
    """The resource handle of a tf.Variable, or of the one a Keras variable holds (per device under a strategy)."""
    return variable.handle if hasattr(variable, "handle") else variable.value.handle


def _fused_update_step(self: keras.optimizers.Adam, gradient, variable, learning_rate):
    dtype = tf.as_dtype(variable.dtype)
    if self.amsgrad or isinstance(gradient, tf.IndexedSlices) or not dtype.is_floating:
        return keras.optimizers.Adam.update_step(self, gradient, variable, learning_rate)
    local_step = tf.cast(self.iterations + 1, dtype)
    index = self._get_variable_index(variable)
    tf.raw_ops.ResourceApplyAdam(
        var=_handle(variable), m=_handle(self._momentums[index]), v=_handle(self._velocities[index]),
        beta1_power=tf.pow(tf.cast(self.beta_1, dtype), local_step),
        beta2_power=tf.pow(tf.cast(self.beta_2, dtype), local_step),
        lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype), beta2=tf.cast(self.beta_2, dtype),
        epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype), use_locking=False)
