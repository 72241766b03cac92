"""G's BatchNorm layers in training, Keras's own against the fused form (gan_keras.models.fused_norm).

    python tools/batchnorm_probe.py [bf16]
    TF_ENABLE_ONEDNN_OPTS=0 python tools/batchnorm_probe.py     # Eigen's kernels

Batch 32, the notebook DCGAN's three BatchNorm inputs, one training pass forward and backward
(input, scale and offset gradients, moving averages updated), the median of 5 x 50 calls inside
tf.function. Prints the CPU, its flags and whether oneDNN runs, and the largest difference of the
two forms' outputs and input gradients. A measurement, not product code.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gan_keras  # noqa: E402,F401  (before TensorFlow: oneDNN as in training)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_keras.models.fused_norm import FusedBatchNormalization  # noqa: E402
from gan_keras.roofline import cpu_description  # noqa: E402
from gan_keras.runtime import onednn_enabled  # noqa: E402

SHAPES = {"project_bn": (32, 7, 7, 128), "up_14x14_bn": (32, 14, 14, 128), "up_28x28_bn": (32, 28, 28, 64)}


def training_pass(layer_class, policy: str, shape: tuple):
    """A compiled forward + backward of a fresh layer of ``layer_class``."""
    layer = layer_class(dtype=policy)
    layer.build(shape)

    @tf.function
    def run(x, upstream):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        return [y, *tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=upstream)]
    return run


def median_ms(run, *args, calls: int = 50) -> float:
    run(*args)
    blocks = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            result = run(*args)
        result[0].numpy()
        blocks.append((time.perf_counter() - started) / calls * 1000)
    return sorted(blocks)[2]


def main() -> None:
    policy = "mixed_bfloat16" if sys.argv[1:] == ["bf16"] else "float32"
    model, flags = cpu_description()
    print(f"CPU: {model}; flags: {' '.join(flags)}; oneDNN: {'on' if onednn_enabled() else 'off'}; {policy}")
    rng = np.random.default_rng(0)
    for name, shape in SHAPES.items():
        compute = "bfloat16" if policy == "mixed_bfloat16" else "float32"
        x = tf.cast(rng.normal(1.0, 2.0, shape).astype("float32"), compute)
        upstream = tf.cast(rng.normal(size=shape).astype("float32"), compute)
        runs = [training_pass(cls, policy, shape) for cls in (keras.layers.BatchNormalization, FusedBatchNormalization)]
        keras_ms, fused_ms = (median_ms(run, x, upstream) for run in runs)
        outputs = [run(x, upstream) for run in runs]
        difference = max(float(tf.reduce_max(tf.abs(tf.cast(a, "float32") - tf.cast(b, "float32"))))
                         for a, b in zip(outputs[0][:2], outputs[1][:2]))
        print(f"{name:<12} {str(shape[1:]):<14} Keras {keras_ms:6.2f} ms   fused {fused_ms:6.2f} ms   "
              f"max |difference| {difference:.1e}")


if __name__ == "__main__":
    main()
