"""Loading a saved generator and drawing images from it: grids, chosen classes, latent walks.

Lazy imports: Keras (on whichever backend is set), where a model is loaded or run.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from gan_keras.errors import DataError, UsageError
from gan_keras.files import regular_file


def load_generator(path: str):
    """Load a ``.keras`` generator (safe mode on) and check it maps noise vectors to images.

    A conditional generator takes [noise, one-hot class] and is accepted too.
    """
    regular_file(path, "model file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a .keras model file (corrupt or another format)")
    import keras

    try:
        model = keras.saving.load_model(path)  # safe_mode stays on: no arbitrary code from files
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for broken archives
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot load {path}: {first_line[:200]}") from None
    input_shape, output_shape = model.input_shape, model.output_shape
    vector_inputs = [input_shape] if isinstance(input_shape, tuple) else list(input_shape)
    if not (1 <= len(vector_inputs) <= 2 and all(len(shape) == 2 for shape in vector_inputs)
            and isinstance(output_shape, tuple) and len(output_shape) == 4):
        raise UsageError(f"{path} is not a generator: it maps {input_shape} to {output_shape}, "
                         f"not noise vectors to images (a discriminator?)")
    return model


def latent_dim(generator) -> int:
    shape = generator.input_shape
    return int((shape if isinstance(shape, tuple) else shape[0])[1])


def class_count(generator) -> int | None:
    """The number of classes a conditional generator takes, None for an unconditional one."""
    shape = generator.input_shape
    return None if isinstance(shape, tuple) else int(shape[1][1])


def class_names(generator_path: str, classes: int) -> list[str]:
    """The names of a conditional generator's classes: as the run's config.json beside it records them (a folder
    of pictures' subfolders), else their indices."""
    record_path = os.path.join(os.path.dirname(os.path.abspath(generator_path)), "config.json")
    try:
        with open(record_path, encoding="utf-8") as handle:
            names = json.load(handle).get("data_classes")
    except (OSError, ValueError, AttributeError):
        names = None
    if isinstance(names, list) and len(names) == classes and all(isinstance(name, str) for name in names):
        return names
    return [str(index) for index in range(classes)]


def class_index(asked: str | int, names: list[str], option: str = "--class") -> int:
    """The index of the class ``asked`` names (by name, else by index), or one line listing the classes."""
    if str(asked) in names:
        return names.index(str(asked))
    if str(asked).lstrip("-").isdigit() and 0 <= int(asked) < len(names):
        return int(asked)
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise UsageError(f"{option} {asked}: this generator's classes are {shown} (or their indices 0-{len(names) - 1})")


def balanced_classes(count: int, classes: int) -> np.ndarray:
    """0, 1, ..., classes-1, 0, 1, ...: every class equally often."""
    return np.arange(count) % classes


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[np.asarray(labels)]


def generate(generator, count: int, seed: int | None = None, labels: np.ndarray | None = None) -> np.ndarray:
    """``count`` images in [-1, 1] from standard normal noise.

    A conditional generator draws ``labels`` (class ids), every class equally
    often when none are given.
    """
    noise = np.random.default_rng(seed).normal(size=(count, latent_dim(generator))).astype(np.float32)
    classes = class_count(generator)
    if classes is None:
        if labels is not None:
            raise UsageError("this generator is not conditional: it cannot draw a chosen class")
        return run_generator(generator, noise)
    if labels is None:
        labels = balanced_classes(count, classes)
    return run_generator(generator, noise, one_hot(labels, classes))


def run_generator(generator, noise: np.ndarray, class_vectors: np.ndarray | None = None,
                  batch_size: int = 256) -> np.ndarray:
    """G in inference mode on ``noise`` (and classes), in batches, on any Keras backend.

    A direct call rather than ``predict``: under a ``tf.distribute`` strategy ``predict``
    would split the work across replicas and workers, while sampling is local to each process.
    """
    import keras

    parts = []
    for begin in range(0, len(noise), batch_size):
        batch = noise[begin:begin + batch_size]
        inputs = batch if class_vectors is None else [batch, class_vectors[begin:begin + batch_size]]
        parts.append(keras.ops.convert_to_numpy(generator(inputs, training=False)))
    return np.concatenate(parts).astype(np.float32)


def slerp(start: np.ndarray, end: np.ndarray, fraction: float) -> np.ndarray:
    """Spherical interpolation, which keeps Gaussian noise at a typical length along the way."""
    cos = np.sum(start * end, axis=-1, keepdims=True) / (
        np.linalg.norm(start, axis=-1, keepdims=True) * np.linalg.norm(end, axis=-1, keepdims=True))
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(angle)
    safe = np.where(sin < 1e-6, 1.0, sin)
    mixed = (np.sin((1 - fraction) * angle) * start + np.sin(fraction * angle) * end) / safe
    return np.where(sin < 1e-6, (1 - fraction) * start + fraction * end, mixed).astype(np.float32)


def latent_walk(generator, cells: int, points: int, steps: int, seed: int | None = None) -> list[np.ndarray]:
    """Frames (each ``cells`` images in [-1, 1]) of a closed walk through ``points`` random latents.

    Every cell walks its own path. A conditional generator keeps each cell's
    noise and walks through the classes instead: 0 -> 1 -> ... -> last -> 0,
    blending one class vector into the next.
    """
    rng = np.random.default_rng(seed)
    classes = class_count(generator)
    if classes is None:
        stops = rng.normal(size=(points, cells, latent_dim(generator))).astype(np.float32)
        return [run_generator(generator, slerp(stops[p], stops[(p + 1) % points], s / steps))
                for p in range(points) for s in range(steps)]
    noise = rng.normal(size=(cells, latent_dim(generator))).astype(np.float32)
    eye = np.eye(classes, dtype=np.float32)
    frames = []
    for digit in range(classes):
        for s in range(steps):
            blend = (1 - s / steps) * eye[digit] + (s / steps) * eye[(digit + 1) % classes]
            frames.append(run_generator(generator, noise, np.repeat(blend[np.newaxis], cells, axis=0)))
    return frames
