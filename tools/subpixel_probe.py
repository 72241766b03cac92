"""G's stride-2 transposed convolutions against their sub-pixel form (gan_keras.models.subpixel), per layer.

    python tools/subpixel_probe.py [bf16]
    TF_ENABLE_ONEDNN_OPTS=0 python tools/subpixel_probe.py     # Eigen's kernels, TensorFlow's own choice
                                                              # on AVX2-only CPUs (gan_keras turns oneDNN on)

Batch 32, the notebook DCGAN's two layers, forward alone and forward + backward (input and kernel
gradients), each the best of 3 x 30 calls inside tf.function. Prints the CPU, its flags and whether
oneDNN runs, and the largest difference between the two forms' outputs.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gan_keras  # noqa: E402,F401  (before TensorFlow: oneDNN as in training)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_keras.models.subpixel import subpixel_conv2d_transpose  # noqa: E402
from gan_keras.roofline import cpu_description  # noqa: E402
from gan_keras.runtime import onednn_enabled  # noqa: E402

LAYERS = {"up_14x14": (7, 128, 128), "up_28x28": (14, 128, 64)}  # input side, channels in, channels out


def transposed(x, kernel):
    n, h, w, _ = x.shape
    return tf.nn.conv2d_transpose(x, kernel, [n, 2 * h, 2 * w, kernel.shape[2]], 2, "SAME")


def best_ms(fn, calls=30):
    for _ in range(5):
        fn()
    times = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - started) / calls * 1e3)
    return min(times)


def forward_and_backward(op, x, kernel):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.cast(op(x, kernel), tf.float32) ** 2)
    return tape.gradient(loss, [x, kernel])


def main():
    dtype = tf.bfloat16 if "bf16" in sys.argv[1:] else tf.float32
    model, flags = cpu_description()
    print(f"CPU: {model}; flags: {' '.join(flags)}; oneDNN: {'on' if onednn_enabled() else 'off (Eigen)'}; "
          f"{dtype.name}")
    rng = np.random.default_rng(0)
    for name, (side, channels_in, channels_out) in LAYERS.items():
        x = tf.constant(rng.normal(size=(32, side, side, channels_in)), dtype)
        kernel = tf.Variable(tf.constant(rng.normal(size=(3, 3, channels_out, channels_in)) * 0.05, dtype))
        difference = float(tf.reduce_max(tf.abs(tf.cast(transposed(x, kernel) - subpixel_conv2d_transpose(x, kernel),
                                                        tf.float32))))
        for form, op in (("transposed", transposed), ("sub-pixel", subpixel_conv2d_transpose)):
            forward = tf.function(lambda op=op: op(x, kernel))
            both = tf.function(lambda op=op: forward_and_backward(op, x, kernel))
            print(f"{name} {form:<10} forward {best_ms(forward):6.2f} ms  forward+backward {best_ms(both):6.2f} ms"
                  f"  max |difference| {difference:.1e}", flush=True)


if __name__ == "__main__":
    main()
