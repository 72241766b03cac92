"""Could the slowest convolutions' weight gradients run faster as one matmul? python tools/weight_grad_probe.py

The kernel gradients of G's stride-2 transposed convolutions and of D's second
convolution are the slowest convolution ops of an iteration (README, "Speed").
Each is exactly one matrix product of the layer's input with its upstream
gradient rearranged into patches. This times TensorFlow's own kernel
(``Conv2DBackpropFilter``, oneDNN's where it runs) against that product, in
float32 and bfloat16, the two taking turns (best of 40 each), at batch 32, and
prints the largest difference as a share of the result's scale.

    python tools/weight_grad_probe.py
"""

from __future__ import annotations

import time

import gan_keras  # noqa: F401  (oneDNN's kernels on, as train.py runs)
import numpy as np
import tensorflow as tf

from gan_keras.models.kernel_matmul import kernel_gradient as transposed_kernel_gradient

BATCH = 32


def best_ms(functions: dict, arguments, turns: int = 40) -> dict:
    for function in functions.values():
        function(*arguments).numpy()
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(turns):
        for name, function in functions.items():
            started = time.perf_counter()
            function(*arguments).numpy()
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: 1000 * seconds for name, seconds in best.items()}


def conv_kernel_gradient(x, dy):
    """Kernel gradient (3, 3, in, out) of a 3x3, stride-2, SAME convolution from x to dy: x's patches times dy."""
    channels_in, channels_out = x.shape[3], dy.shape[3]
    patches = tf.image.extract_patches(tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]), [1, 3, 3, 1], [1, 2, 2, 1],
                                       [1, 1, 1, 1], "VALID")
    product = tf.matmul(tf.reshape(patches, [-1, 9 * channels_in]), tf.reshape(dy, [-1, channels_out]),
                        transpose_a=True)
    return tf.reshape(product, [3, 3, channels_in, channels_out])


CASES = [  # (layer, transposed, input shape, upstream shape)
    ("G up_28x28 (14x14x128 -> 28x28x64)", True, (14, 14, 128), (28, 28, 64)),
    ("G up_14x14 (7x7x128 -> 14x14x128)", True, (7, 7, 128), (14, 14, 128)),
    ("D down_7x7 (14x14x64 -> 7x7x128)", False, (14, 14, 64), (7, 7, 128)),
]


def main() -> None:
    from gan_keras.roofline import cpu_description

    model, flags = cpu_description()
    print(f"CPU: {model}; flags: {' '.join(flags)}; batch {BATCH}; ms, best of 40 in turns")
    rng = np.random.default_rng(0)
    for dtype in ("float32", "bfloat16"):
        for name, transposed, x_shape, dy_shape in CASES:
            x = tf.cast(rng.standard_normal((BATCH, *x_shape), dtype=np.float32), dtype)
            dy = tf.cast(rng.standard_normal((BATCH, *dy_shape), dtype=np.float32), dtype)
            if transposed:  # the transposed convolution's kernel gradient: Conv2DBackpropFilter with the roles swapped
                sizes = tf.constant([3, 3, dy_shape[-1], x_shape[-1]])
                kernel = tf.function(lambda x, dy: tf.raw_ops.Conv2DBackpropFilter(
                    input=dy, filter_sizes=sizes, out_backprop=x, strides=[1, 2, 2, 1], padding="SAME"))
                product = tf.function(transposed_kernel_gradient)
            else:
                sizes = tf.constant([3, 3, x_shape[-1], dy_shape[-1]])
                kernel = tf.function(lambda x, dy: tf.raw_ops.Conv2DBackpropFilter(
                    input=x, filter_sizes=sizes, out_backprop=dy, strides=[1, 2, 2, 1], padding="SAME"))
                product = tf.function(conv_kernel_gradient)
            want = kernel(x, dy).numpy().astype(np.float32)
            got = product(x, dy).numpy().astype(np.float32)
            difference = np.abs(got - want).max() / np.abs(want).max()
            times = best_ms({"kernel": kernel, "matmul": product}, (x, dy))
            print(f"{dtype:9} {name:38} TensorFlow's kernel {times['kernel']:6.2f}  as matmul {times['matmul']:6.2f}"
                  f"  difference {difference:.1e}", flush=True)


if __name__ == "__main__":
    main()
