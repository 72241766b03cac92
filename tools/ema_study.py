"""The study behind --ema's default: which decay, warm-up and BatchNorm handling to use.

    python tools/ema_study.py SEED ITERATIONS path/to/mnist.npz

Trains the notebook DCGAN with the project's fast step and keeps several EMA copies of all of
G's variables beside it (TF-style warm-up min(d, (1+t)/(10+t)) for four decays, and
stylegan2-ada-style ramps whose half-life is at most 5% of the iterations so far). At set
iterations it scores the raw G and every copy on 10,000 samples with the project's evaluator;
at 3,000 and 20,000 also with BatchNorm statistics recomputed from 200 training-mode batches.
Not part of the package: a measurement, kept so the README's figures can be rerun.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_keras.data import load_dataset, scale_images  # noqa: E402
from gan_keras.scoring.evaluator import Evaluator  # noqa: E402
from gan_keras.training.gan import build_gan  # noqa: E402
from gan_keras.training.fast_step import FastStep  # noqa: E402

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 7
TOTAL = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
POINTS = {1000, 2000, 3000, 5000, 10000, 15000, 20000}
BATCH, Z = 32, 100


def tf_warmup(decay):
    return lambda t: min(decay, (1 + t) / (10 + t))


def ramp(half_life_its, rampup):
    return lambda t: 0.5 ** (1 / max(min(half_life_its, rampup * (t + 1)), 1e-8))


VARIANTS = {
    "tf0.99": tf_warmup(0.99), "tf0.995": tf_warmup(0.995), "tf0.999": tf_warmup(0.999),
    "tf0.9995": tf_warmup(0.9995), "ramp312": ramp(312, 0.05), "ramp1000": ramp(1000, 0.05),
}

dataset = load_dataset("mnist", sys.argv[3] if len(sys.argv) > 3 else None)
evaluator = Evaluator(dataset)
keras.utils.set_random_seed(SEED)
rng = np.random.default_rng(SEED)
images = scale_images(dataset.x_train)
models = build_gan(Z)
step = FastStep(models, BATCH)
g = models.generator
emas = {name: [tf.Variable(v.numpy(), trainable=False) for v in g.variables] for name in VARIANTS}
decays = tf.Variable(tf.zeros(len(VARIANTS)), trainable=False)


@tf.function
def update():
    for index, name in enumerate(VARIANTS):
        d = decays[index]
        for e, w in zip(emas[name], g.variables):
            e.assign(d * e + (1 - d) * tf.cast(w, e.dtype))


scorer = keras.models.clone_model(g)
scorer.build((None, Z))


def score(values, label, t):
    for target, value in zip(scorer.variables, values):
        target.assign(value)
    s = evaluator.score_generator(scorer, 10000, 1234)
    print(f"{t:6d} {label:<14} FD {s.frechet_distance:8.2f} IS {s.inception_score:5.2f} "
          f"rarest {s.rarest_class_share:5.1%}", flush=True)
    return s.frechet_distance


def recompute_bn(values, batches=200):
    """Load values, then set each BN's moving stats to the mean over ``batches`` training-mode batches."""
    for target, value in zip(scorer.variables, values):
        target.assign(value)
    bns = [layer for layer in scorer.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.zeros_like(layer.moving_variance))
    noise_rng = np.random.default_rng(99)
    for k in range(1, batches + 1):
        for layer in bns:
            layer.momentum = (k - 1) / k
        scorer(noise_rng.normal(size=(BATCH, Z)).astype(np.float32), training=True)
    for layer in bns:
        layer.momentum = 0.99
    return [v.numpy() for v in scorer.variables]


started = time.time()
for t in range(1, TOTAL + 1):
    chosen = rng.integers(0, len(images), BATCH)
    noise_d = rng.normal(size=(BATCH, Z)).astype(np.float32)
    noise_g = rng.normal(size=(BATCH, Z)).astype(np.float32)
    step(images[chosen], noise_d, noise_g)
    decays.assign([fn(t - 1) for fn in VARIANTS.values()])
    update()
    if t in POINTS:
        print(f"--- iteration {t}, {time.time() - started:.0f} s", flush=True)
        score([v.numpy() for v in g.variables], "raw", t)
        for name in VARIANTS:
            score([v.numpy() for v in emas[name]], name, t)
        if t in (3000, 20000):
            score(recompute_bn([v.numpy() for v in g.variables]), "raw+bn", t)
            score(recompute_bn([v.numpy() for v in emas["tf0.999"]]), "tf0.999+bn", t)
            score(recompute_bn([v.numpy() for v in emas["ramp312"]]), "ramp312+bn", t)
