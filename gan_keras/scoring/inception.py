"""A ruler for any images: the pool features of Keras's InceptionV3 at 299x299, their FD (FID's formula) and KID.

No package ships InceptionV3's weights. They come from Keras's own download (ImageNet's, kept in Keras's
cache: ``~/.keras/models/``, or ``$KERAS_HOME/models/``) when online, or from a file the user names
(``--inception-weights``, or ``$GAN_KERAS_INCEPTION_WEIGHTS`` for training runs): any
file ``keras.applications.InceptionV3(include_top=False, weights=FILE)`` loads, Keras's own
``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`` or a ``.weights.h5``. The SHA-256 of the
weights is part of the ruler's name (``inception-v3-keras-<first 8 hex digits>``), so that scores made
with other weights are never mixed. These are not TF-FID's Inception weights (the TensorFlow 1 graph the
FID papers use): the figures rank generators, but are not the FIDs of papers.

Real images come from the run's own data: its test split, or where it has none (a folder of pictures),
up to REAL_IMAGES of its training images, a fixed random choice.

Lazy imports: Keras, where the network is built; tqdm, for the progress bar.
"""

from __future__ import annotations

import os
import socket

import numpy as np

from gan_keras.data import Dataset
from gan_keras.errors import DataError, GanKerasError
from gan_keras.files import regular_file
from gan_keras.sampling import balanced_classes, class_count, generate
from gan_keras.scoring import metrics
from gan_keras.scoring.classifier import file_sha256
from gan_keras.scoring.evaluator import Scores

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"  # Keras's name for them
WEIGHTS_VARIABLE = "GAN_KERAS_INCEPTION_WEIGHTS"  # a weights file of the user's, for runs (and evaluate) offline
INPUT_SIDE = 299
BATCH = 50
REAL_IMAGES = 10_000
DOWNLOAD_TIMEOUT_SECONDS = 60


class InceptionError(GanKerasError):
    """No InceptionV3 weights to score with."""


def keras_cache_weights() -> str:
    """Where Keras's download keeps InceptionV3's weights (without the top): ``$KERAS_HOME/models/``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", WEIGHTS_FILE)


def installed_weights() -> str | None:
    """Weights present without a download: ``$GAN_KERAS_INCEPTION_WEIGHTS`` (a file of the user's, for runs
    offline), else Keras's cached copy; None where there are none."""
    named = os.environ.get(WEIGHTS_VARIABLE)
    if named:
        return regular_file(named, f"weights file (${WEIGHTS_VARIABLE})")
    return keras_cache_weights() if os.path.isfile(keras_cache_weights()) else None


def find_weights(given: str | None = None, download: bool = True) -> str:
    """The weights file to score with: ``given``, else those installed (:func:`installed_weights`), else
    (``download``) Keras's download; else one line saying how to get them."""
    if given is not None:
        return regular_file(given, "weights file")
    if installed := installed_weights():
        return installed
    if download:
        import keras

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
        try:
            keras.applications.InceptionV3(include_top=False, weights="imagenet")  # keeps them in Keras's cache
            return keras_cache_weights()
        except Exception:  # noqa: BLE001 - any failure of the download: the one line below says what to do
            pass
        finally:
            socket.setdefaulttimeout(previous)
    raise InceptionError(f"no InceptionV3 weights to score with: online, --inception downloads Keras's (ImageNet's, "
                         f"92 MB) into {os.path.dirname(keras_cache_weights())}; offline, copy {WEIGHTS_FILE} "
                         f"there, give --inception-weights FILE, or set {WEIGHTS_VARIABLE}=FILE")


def ruler_name(weights: str) -> str:
    return f"inception-v3-keras-{file_sha256(weights)[:8]}"


class InceptionEvaluator:
    """InceptionV3's 2,048 pool features of the real images, computed once; FD and KID of generated ones."""

    samples = 10_000

    def __init__(self, dataset: Dataset, weights: str, verbose: int = 1):
        import keras

        self.version, self.verbose = ruler_name(weights), verbose
        try:
            self.network = keras.applications.InceptionV3(include_top=False, weights=weights, pooling="avg",
                                                          input_shape=(INPUT_SIDE, INPUT_SIDE, 3))
        except Exception as error:  # noqa: BLE001 - a file of other weights fails in many ways
            raise DataError(f"{weights} holds no InceptionV3 weights Keras can load "
                            f"({str(error).splitlines()[0][:160]})") from None
        if verbose:
            print(f"evaluator: {self.version} (InceptionV3 pool features at {INPUT_SIDE}x{INPUT_SIDE})", flush=True)
        self.real_features = self.embed(real_images(dataset), "real images")
        self.real_statistics = metrics.feature_statistics(self.real_features)

    def embed(self, images: np.ndarray, what: str = "samples") -> np.ndarray:
        """Pool features (N, 2048) of images in [-1, 1] (grayscale repeated to three channels), in batches, with a
        progress bar."""
        import tensorflow as tf
        from tqdm.auto import tqdm

        features = []
        with tqdm(total=len(images), desc=f"Inception features of {what}", unit="image", mininterval=0.5,
                  disable=not self.verbose or len(images) < 200, dynamic_ncols=True) as bar:
            for begin in range(0, len(images), BATCH):
                batch = tf.image.resize(np.asarray(images[begin:begin + BATCH], np.float32), (INPUT_SIDE, INPUT_SIDE))
                if batch.shape[-1] == 1:
                    batch = tf.repeat(batch, 3, axis=-1)
                features.append(np.asarray(self.network(batch, training=False), np.float64))
                bar.update(len(batch))
        return np.concatenate(features)

    def score(self, images: np.ndarray, asked: np.ndarray | None = None) -> Scores:
        """FD and KID of images in [-1, 1] against the real images' features."""
        features = self.embed(images)
        kid, kid_std = metrics.kernel_inception_distance(features, self.real_features)
        return Scores(count=len(images), frechet_distance=metrics.frechet_distance(
            *metrics.feature_statistics(features), *self.real_statistics), inception_score=float("nan"),
            class_shares=[], rarest_class_share=float("nan"), memorization_share=float("nan"), evaluator=self.version,
            extra={"kernel_inception_distance": kid, "kid_std": kid_std})

    def score_generator(self, generator, count: int, seed: int | None = None) -> Scores:
        classes = class_count(generator)
        return self.score(generate(generator, count, seed, None if classes is None else balanced_classes(count,
                                                                                                          classes)))


def real_images(dataset: Dataset, count: int = REAL_IMAGES) -> np.ndarray:
    """The real images a ruler compares with, in [-1, 1]: the test split, else up to ``count`` training images
    (a fixed random choice, read row by row from a memory-mapped file)."""
    from gan_keras.data import scale_images

    if dataset.has_test_split and dataset.stack == 1:
        return scale_images(dataset.x_test)
    chosen = np.sort(np.random.default_rng(0).choice(len(dataset.x_train), min(count, len(dataset.x_train)),
                                                     replace=False))
    if dataset.stack > 1:
        chosen = np.random.default_rng(0).choice(len(dataset.x_train), (count, dataset.stack))
    return scale_images(dataset.images(chosen))
