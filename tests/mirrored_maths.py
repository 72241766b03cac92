"""Helper for tests/test_distribute.py, run in its own process: the CPU must be split first.

    python tests/mirrored_maths.py LOOP MODEL CONDITIONAL ITERATIONS

Builds the same models (same seed, Dropout 0) on one device and under MirroredStrategy
over 2 logical CPUs, trains both on the same global batches from the run's pipeline,
and prints one JSON line: both runs' losses and the largest difference of any variable
(weights, BatchNorm statistics, optimizer state, the averaged generator).
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_keras.training.distribute import make_strategy  # noqa: E402

mirrored = make_strategy("mirrored", "CPU:0,CPU:1")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_keras.training.batches import batch_stream  # noqa: E402
from gan_keras.training.checkpoints import variable_groups  # noqa: E402
from gan_keras.training.gan import build_gan  # noqa: E402
from gan_keras.training.run_state import make_step  # noqa: E402

LOOP, MODEL, CONDITIONAL, ITERATIONS = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
CLASSES = 10 if CONDITIONAL else None
BATCH = 16

rng = np.random.default_rng(0)
x_train = rng.integers(0, 256, (200, 28, 28, 1), dtype=np.uint8)  # as the data package hands them over
y_train = rng.integers(0, 10, 200)


def train(strategy) -> tuple[list, dict]:
    keras.utils.set_random_seed(3)
    models = build_gan(model=MODEL, dropout=0.0, classes=CLASSES, ema=0.9, strategy=strategy)
    latent = models.generator.inputs[0].shape[-1]
    step = make_step(LOOP, models, BATCH, strategy)
    batches = batch_stream(strategy, x_train, y_train, 5, 0, ITERATIONS, BATCH, latent, CLASSES)
    losses = [step(**next(batches)) for _ in range(ITERATIONS)]
    values = {f"{group}/{name}": np.asarray(variable.numpy(), np.float64)
              for group, variables in variable_groups(models).items() for name, variable in variables.items()}
    return losses, values


single_losses, single = train(tf.distribute.get_strategy())
mirrored_losses, replicated = train(mirrored)
assert single.keys() == replicated.keys()
worst = max(single, key=lambda key: float(np.max(np.abs(single[key] - replicated[key]), initial=0.0)))
print(json.dumps({"replicas": mirrored.num_replicas_in_sync, "single": single_losses, "mirrored": mirrored_losses,
                  "worst_variable": worst, "worst_difference": float(np.max(np.abs(single[worst] - replicated[worst]))),
                  "variables": len(single)}))
