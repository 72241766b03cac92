"""Loading a saved generator and drawing images from it."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from gan_keras.errors import DataError, UsageError


def load_generator(path: str):
    """Load a ``.keras`` generator (safe mode on) and check it maps noise vectors to images."""
    if not os.path.isfile(path):
        raise DataError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a .keras model file (corrupt or another format)")
    import keras

    try:
        model = keras.saving.load_model(path)  # safe_mode stays on: no arbitrary code from files
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for broken archives
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot load {path}: {first_line[:200]}") from None
    input_shape, output_shape = model.input_shape, model.output_shape
    if not (isinstance(input_shape, tuple) and len(input_shape) == 2
            and isinstance(output_shape, tuple) and len(output_shape) == 4):
        raise UsageError(f"{path} is not a generator: it maps {input_shape} to {output_shape}, "
                         f"not noise vectors to images (a discriminator?)")
    return model


def generate(generator, count: int, seed: int | None = None) -> np.ndarray:
    """``count`` images in [-1, 1] from standard normal noise."""
    latent_dim = generator.input_shape[1]
    noise = np.random.default_rng(seed).normal(size=(count, latent_dim)).astype(np.float32)
    return np.asarray(generator.predict(noise, verbose=0, batch_size=256))
