"""The evaluation classifier: one fixed, shipped ruler per dataset, or one trained here for other data.

FD is comparable between users only if everyone embeds images with the same network, as FID
uses the same Inception weights. So the MNIST and Fashion-MNIST classifiers are trained once
(``tools/ship_classifier.py``, seed 0), shipped in ``gan_keras/scoring/weights/``, and checked
against the SHA-256 recorded below before use. Each is used only for the data it was trained
on (matched by a fingerprint of the training images and labels). For any other data
``train_if_missing`` trains the same architecture here and caches it under the user's cache
folder (``$GAN_KERAS_CACHE``, else ``$XDG_CACHE_HOME/gan_keras``, else ``~/.cache/gan_keras``).
Every score names its evaluator version, so numbers from different rulers are never mixed.

Lazy imports: Keras, where a classifier is built, loaded or trained.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from gan_keras.cache import cache_folder, not_writable
from gan_keras.data import scale_images
from gan_keras.errors import GanKerasError
from gan_keras.files import atomic_path

ARCHITECTURE = "cnn-v3"  # change it when build_classifier changes: it is part of every version name
FEATURES_LAYER = "features"
TRAIN_EPOCHS = 6
TRAIN_SEED = 0
BATCH_SIZE = 128
LEARNING_RATE = 2e-3
WEIGHTS_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


class EvaluatorError(GanKerasError):
    """No usable evaluation classifier: a damaged shipped file, or none for this data."""


@dataclass(frozen=True)
class ShippedClassifier:
    """A classifier trained once by tools/ship_classifier.py and shipped with the package."""

    dataset: str
    data_sha256: str  # data_fingerprint() of the training images and labels it was trained on
    weights_sha256: str
    test_accuracy: float

    @property
    def version(self) -> str:
        return f"{self.dataset}-{ARCHITECTURE}"

    @property
    def path(self) -> str:
        return os.path.join(WEIGHTS_FOLDER, f"{self.version}.weights.h5")


SHIPPED: tuple[ShippedClassifier, ...] = (  # printed by tools/ship_classifier.py; 6 epochs, seed 0
    ShippedClassifier(dataset="mnist",
                      data_sha256="c41b322ede5b4fc991fbf5440b21cefc76cb0418e0ebf66b8f78109632b41509",
                      weights_sha256="4b3a447b385c15ceda56b323c9d358f7ebebb09ba29828923815330a26a48c9e",
                      test_accuracy=0.9948),
    ShippedClassifier(dataset="fashion_mnist",
                      data_sha256="c9471586015d65bcd36bd44575c3f83a8bfa8fd40cef404845336f3b15684d87",
                      weights_sha256="ffdb0ce569c3c6a71d1b71a49eeb63ba042c6d54f83ecd2711fc26562483b71f",
                      test_accuracy=0.9222),
)


@dataclass
class LoadedClassifier:
    """A classifier ready to embed images, and the version name its scores carry."""

    model: object
    version: str
    origin: str  # "shipped", "cached" or "trained now"


def data_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the training images and labels, whatever file or format held them (one channel hashed as
    (N, H, W), the shape the shipped classifiers' fingerprints were taken of), read a few thousand rows at a
    time."""
    digest = hashlib.sha256()
    shape = images.shape[:3] if images.ndim == 4 and images.shape[-1] == 1 else images.shape
    digest.update(str(tuple(shape)).encode())
    for begin in range(0, len(images), 8192):
        digest.update(np.ascontiguousarray(images[begin:begin + 8192], dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_classifier(classes: int = 10, image_shape: tuple[int, int, int] = (28, 28, 1)):
    """Three conv blocks (32, 64, 128) with BatchNorm, each max-pooled to half its side (28 px: to 3x3), a
    128-unit feature layer, softmax. At 28x28 the pooling keeps the weights near 1 MB, so they can ship.
    """
    import keras
    from keras import layers

    stack, side = [], image_shape[0]
    for filters in (32, 64, 128):
        stack += [layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv_{side}"),
                  layers.BatchNormalization(momentum=0.9, name=f"conv_{side}_bn"),
                  layers.ReLU(name=f"conv_{side}_relu"),
                  layers.MaxPooling2D(name=f"pool_{side // 2}")]
        side //= 2
    stack += [
        layers.Flatten(name="flatten"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(128, activation="relu", name=FEATURES_LAYER),
        layers.Dense(classes, activation="softmax", name="class_probabilities"),
    ]
    image = keras.Input(shape=image_shape, name="image")
    output = image
    for layer in stack:
        output = layer(output)
    return keras.Model(image, output, name="evaluation_classifier")


def train_classifier(x_train: np.ndarray, y_train: np.ndarray, epochs: int = TRAIN_EPOCHS,
                     seed: int = TRAIN_SEED, verbose: int = 1):
    """The one training recipe, for shipped and cached classifiers alike: Adam, cosine decay, seed."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_classifier(int(y_train.max()) + 1, tuple(x_train.shape[1:]) if x_train.ndim == 4 else (
        *x_train.shape[1:], 1))
    steps = epochs * -(-len(x_train) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    fit_verbosity = 0 if not verbose else (1 if sys.stdout.isatty() else 2)  # a bar only on a terminal
    model.fit(scale_images(x_train), y_train, batch_size=BATCH_SIZE, epochs=epochs, verbose=fit_verbosity,
              shuffle=True)
    return model


def shipped_for(fingerprint: str) -> ShippedClassifier | None:
    return next((entry for entry in SHIPPED if entry.data_sha256 == fingerprint), None)


def load_shipped(entry: ShippedClassifier, classes: int = 10):
    """The shipped classifier, refused in one line if its file does not match the recorded SHA-256."""
    if not os.path.isfile(entry.path):
        raise EvaluatorError(f"the shipped evaluator {entry.path} is missing: reinstall gan_keras (pip install --force-reinstall gan_keras, or git checkout the file in a clone)")
    actual = file_sha256(entry.path)
    if actual != entry.weights_sha256:
        raise EvaluatorError(f"{entry.path} does not match its recorded SHA-256 ({actual[:12]}... instead of "
                             f"{entry.weights_sha256[:12]}...): refusing a changed evaluator; reinstall gan_keras (pip install --force-reinstall gan_keras, or git checkout the file in a clone)")
    model = build_classifier(classes)
    model.load_weights(entry.path)
    return model


def local_version(fingerprint: str) -> str:
    return f"local-{ARCHITECTURE}-{fingerprint[:12]}"


def load_classifier(x_train: np.ndarray, y_train: np.ndarray, train_if_missing: bool = False,
                    epochs: int = TRAIN_EPOCHS, verbose: int = 1) -> LoadedClassifier:
    """The shipped classifier for this data, else the cached one, else (if allowed) one trained now.

    Images are uint8 (N, 28, 28); the classifier sees them scaled to [-1, 1], the generator's range.
    """
    import keras

    fingerprint = data_fingerprint(x_train, y_train)
    entry = shipped_for(fingerprint)
    if entry is not None:
        return LoadedClassifier(load_shipped(entry, int(y_train.max()) + 1), entry.version, "shipped")
    version = local_version(fingerprint)
    path = os.path.join(cache_folder(), f"classifier_{version}.keras")
    if os.path.isfile(path):
        try:
            return LoadedClassifier(keras.saving.load_model(path), version, "cached")
        except Exception as error:  # noqa: BLE001 - a broken cache entry is retrained, not fatal
            print(f"warning: cached classifier {path} is unreadable ({error}); training it again")
    if not train_if_missing:
        raise EvaluatorError(
            f"no shipped evaluator matches this data ({len(x_train):,} training images, SHA-256 "
            f"{fingerprint[:12]}...): add --train-classifier to train one for it into {cache_folder()} "
            f"(minutes; its scores are named {version} and compare only with each other)")
    if verbose:
        print(f"training the evaluation classifier {version} on {len(x_train):,} images ({epochs} epochs); "
              f"it is cached in {path}", flush=True)
    model = train_classifier(x_train, y_train, epochs, verbose=verbose)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as partial:
            model.save(partial)
    except OSError as error:  # the work is done: keep it for this process, and say why it is not cached
        print(f"warning: the evaluation classifier {version} was not cached: {not_writable(path, error)}; "
              f"this process uses it from memory", file=sys.stderr, flush=True)
    return LoadedClassifier(model, version, "trained now")


def accuracy(model, x_test: np.ndarray, y_test: np.ndarray) -> float:
    predictions = model.predict(scale_images(x_test), batch_size=512, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=1) == y_test))


def feature_model(classifier):
    """classifier image -> (penultimate features, class probabilities)."""
    import keras

    return keras.Model(classifier.inputs,
                       [classifier.get_layer(FEATURES_LAYER).output, classifier.output])
