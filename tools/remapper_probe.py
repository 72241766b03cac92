"""Does Grappler's remapper failure cost the fast step time?

    python tools/remapper_probe.py default|noremap|leaky_out [mnist.npz]

default: as shipped (the remapper gives up on the training step's graph); noremap: remapper off
everywhere; leaky_out: LeakyReLU's gradient computed from its output, so the remapper's
Conv2D+BiasAdd+LeakyRelu fusion no longer strands LeakyReluGrad and the pass succeeds.
Prints ms per iteration (batch 32, median of 5 x 20 after 10 warm-up). A measurement, not product code.
"""
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
variant = sys.argv[1]
import tensorflow as tf
import keras
if variant == "noremap":
    tf.config.optimizer.set_experimental_options({"remapping": False})
if variant == "leaky_out":
    def call(self, inputs):
        alpha = self.negative_slope
        @tf.custom_gradient
        def leaky(x):
            y = tf.nn.leaky_relu(x, alpha)
            def grad(dy):
                return dy * tf.where(y > 0, tf.ones_like(y), tf.fill(tf.shape(y), tf.cast(alpha, y.dtype)))
            return y, grad
        return leaky(inputs)
    keras.layers.LeakyReLU.call = call
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Variant, prepare_variant, summary, time_block  # noqa: E402
from gan_keras.data import load_local  # noqa: E402
d = load_local(sys.argv[2] if len(sys.argv) > 2 else "mnist.npz")
args = types.SimpleNamespace(latent_dim=100, warmup=10, iterations=20, repeats=5)
prepared = prepare_variant(Variant(variant, 32, "fast", "none", "transposed"), d.x_train, args)
for _ in range(args.repeats):
    time_block(prepared, args.iterations)
r = summary(prepared, 32, 0.0)
print(f"{variant:10s} {r['ms']:.1f} ms/it spread {r['spread']:.1f}", flush=True)
