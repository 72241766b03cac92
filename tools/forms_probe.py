"""The DCGAN's layers in training, Keras's own against their training forms (gan_keras.models.training_forms).

    python tools/forms_probe.py [bf16]
    TF_ENABLE_ONEDNN_OPTS=0 python tools/forms_probe.py     # Eigen's kernels

Every layer that a default training form replaces (G's BatchNorm and to_image, D's Dropout), taken
from models built as train.py builds them, at batch 32: one training-mode forward pass, and one
forward and backward (gradients of the input and the layer's weights), the median of 5 x 50 calls
inside tf.function each. Prints the CPU, its flags and whether oneDNN runs; the largest difference
of the two forms' outputs (Dropout: the share each drops, since their masks differ by design). A
measurement, not product code.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gan_keras  # noqa: E402,F401  (before TensorFlow: oneDNN as in training)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_keras.roofline import cpu_description  # noqa: E402
from gan_keras.runtime import onednn_enabled  # noqa: E402
from gan_keras.training.gan import build_gan  # noqa: E402

BATCH = 32
LAYERS = {"generator": ["project_bn", "up_14x14_bn", "up_28x28_bn", "to_image"],
          "discriminator": ["down_14x14_dropout", "down_7x7_dropout"]}


def passes(layer):
    """(a compiled training-mode forward, a compiled forward + backward) of ``layer``."""
    @tf.function
    def forward(x, upstream):
        return [layer(x, training=True)]

    @tf.function
    def forward_backward(x, upstream):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        return [y, *tape.gradient(y, [x, *layer.trainable_weights], output_gradients=upstream)]
    return forward, forward_backward


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


def compare(standard, form, rng) -> str:
    """One line: both layers' times and how their outputs differ (from the same weights)."""
    form.set_weights(standard.get_weights())
    shape = (BATCH, *standard.input.shape[1:])
    x = tf.cast(rng.normal(1.0, 2.0, shape).astype("float32"), standard.input.dtype)
    upstream = tf.cast(rng.normal(size=(BATCH, *standard.output.shape[1:])).astype("float32"), standard.output.dtype)
    times = [median_ms(run, x, upstream) for layer in (standard, form) for run in passes(layer)]
    outputs = [tf.cast(layer(x, training=True), "float32") for layer in (standard, form)]
    if "dropout" in standard.name:
        dropped = [float(tf.reduce_mean(tf.cast(y == 0, "float32"))) for y in outputs]
        detail = f"dropped {dropped[0]:.4f} / {dropped[1]:.4f}"
    else:
        detail = f"max |difference| {float(tf.reduce_max(tf.abs(outputs[0] - outputs[1]))):.1e}"
    return (f"{standard.name:<19} {type(form).__name__:<22} forward {times[0]:5.2f} / {times[2]:5.2f} ms   "
            f"forward+backward {times[1]:5.2f} / {times[3]:5.2f} ms   {detail}")


def main() -> None:
    precision = "bf16" if sys.argv[1:] == ["bf16"] else "none"
    model, flags = cpu_description()
    print(f"CPU: {model}; flags: {' '.join(flags)}; oneDNN: {'on' if onednn_enabled() else 'off'}; "
          f"--mixed-precision {precision}; Keras's layer / its training form")
    standard, forms = build_gan(mixed_precision=precision, training_forms=()), build_gan(mixed_precision=precision)
    rng = np.random.default_rng(0)
    for model_name, names in LAYERS.items():
        for name in names:
            pair = [getattr(models, model_name).get_layer(name) for models in (standard, forms)]
            print(compare(*pair, rng), flush=True)


if __name__ == "__main__":
    main()
