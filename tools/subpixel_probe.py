"""Would sub-pixel convolution beat Conv2DTranspose on this CPU? A measurement for the speed work.

    python tools/subpixel_probe.py

Times the generator's two stride-2 3x3 transposed convolutions (batch 32) against the sub-pixel form
(one 2x2 stride-1 convolution to 4x the channels, then depth_to_space), forward and forward+backward.
Prints the CPU model and flags. Speed only: the exact weight mapping is for the implementation.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tensorflow as tf  # noqa: E402

from gan_keras.roofline import cpu_description  # noqa: E402

print("CPU: %s; flags: %s" % (cpu_description()[0], " ".join(cpu_description()[1])))


def bench(fn, *args, n=30):
    for _ in range(5): fn(*args)
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n): fn(*args)
        ts.append((time.perf_counter() - t) / n)
    return 1000 * statistics.median(ts)


for (h, cin, cout) in ((7, 128, 128), (14, 128, 64)):
    x = tf.random.normal((32, h, h, cin))
    kt = tf.Variable(tf.random.normal((3, 3, cout, cin)) * 0.05)
    ks = tf.Variable(tf.random.normal((2, 2, cin, 4 * cout)) * 0.05)
    @tf.function
    def tconv(x):
        return tf.nn.conv2d_transpose(x, kt, (32, 2 * h, 2 * h, cout), 2, "SAME")
    @tf.function
    def sub(x):
        y = tf.nn.conv2d(tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]), ks, 1, "VALID")
        return tf.nn.depth_to_space(y, 2)
    def grad_of(f, k):
        @tf.function
        def g(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(f(x) ** 2)
            return tape.gradient(loss, [x, k])
        return g

    flops = 32 * h * h * 9 * cin * cout * 2 / 1e9
    print(f"{h}x{h}x{cin} -> {2*h}x{2*h}x{cout} ({flops:.2f} GFLOP effective): "
          f"transposed fwd {bench(tconv, x):.2f} ms, fwd+bwd {bench(grad_of(tconv, kt), x):.2f} ms; "
          f"sub-pixel fwd {bench(sub, x):.2f} ms, fwd+bwd {bench(grad_of(sub, ks), x):.2f} ms", flush=True)
