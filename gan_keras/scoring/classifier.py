"""The evaluation classifier: a small CNN trained here on the dataset in use, cached, reused.

Nothing is downloaded. The trained model is cached under the user's cache folder
(``$GAN_KERAS_CACHE``, else ``$XDG_CACHE_HOME/gan_keras``, else ``~/.cache/gan_keras``),
keyed by a fingerprint of the training data, so each dataset trains it once.
"""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

from gan_keras.files import atomic_path

CLASSIFIER_VERSION = "cnn-v2"  # part of the cache key: change it when the architecture changes
FEATURES_LAYER = "features"
TRAIN_EPOCHS = 6
BATCH_SIZE = 128


def cache_folder() -> str:
    explicit = os.environ.get("GAN_KERAS_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gan_keras")


def fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """Short hash of the training data and the classifier version."""
    digest = hashlib.sha256(CLASSIFIER_VERSION.encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def build_classifier(classes: int = 10):
    """Three conv blocks (32, 64, 128) with BatchNorm, a 128-unit feature layer, softmax."""
    import keras
    from keras import layers

    stack = [
        layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv_28"),
        layers.BatchNormalization(momentum=0.9, name="conv_28_bn"),
        layers.ReLU(name="conv_28_relu"),
        layers.MaxPooling2D(name="pool_14"),
        layers.Conv2D(64, 3, padding="same", use_bias=False, name="conv_14"),
        layers.BatchNormalization(momentum=0.9, name="conv_14_bn"),
        layers.ReLU(name="conv_14_relu"),
        layers.MaxPooling2D(name="pool_7"),
        layers.Conv2D(128, 3, padding="same", use_bias=False, name="conv_7"),
        layers.BatchNormalization(momentum=0.9, name="conv_7_bn"),
        layers.ReLU(name="conv_7_relu"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(128, activation="relu", name=FEATURES_LAYER),
        layers.Dense(classes, activation="softmax", name="class_probabilities"),
    ]
    image = keras.Input(shape=(28, 28, 1), name="image")
    output = image
    for layer in stack:
        output = layer(output)
    return keras.Model(image, output, name="evaluation_classifier")


def load_or_train_classifier(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                             y_test: np.ndarray, epochs: int = TRAIN_EPOCHS, verbose: int = 1):
    """The cached classifier for this training data, training and caching it first if needed.

    Images are uint8 (N, 28, 28); the classifier sees them scaled to [-1, 1], the
    generator's range. Returns (model, test accuracy, whether it was trained now).
    """
    import keras

    from gan_keras.data import scale_images

    path = os.path.join(cache_folder(), f"classifier_{fingerprint(x_train, y_train)}.keras")
    if os.path.isfile(path):
        try:
            model = keras.saving.load_model(path)
            return model, _accuracy(model, x_test, y_test), False
        except Exception as error:  # noqa: BLE001 - a broken cache entry is retrained, not fatal
            print(f"warning: cached classifier {path} is unreadable ({error}); training it again")
    if verbose:
        print(f"training the evaluation classifier on {len(x_train):,} images ({epochs} epochs); "
              f"it is cached in {path}", flush=True)
    keras.utils.set_random_seed(0)
    model = build_classifier(int(max(y_train.max(), y_test.max())) + 1)
    steps = epochs * -(-len(x_train) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    fit_verbosity = 0 if not verbose else (1 if sys.stdout.isatty() else 2)  # a bar only on a terminal
    model.fit(scale_images(x_train), y_train, batch_size=BATCH_SIZE, epochs=epochs, verbose=fit_verbosity,
              shuffle=True)
    accuracy = _accuracy(model, x_test, y_test)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_path(path) as partial:
        model.save(partial)
    return model, accuracy, True


def _accuracy(model, x_test: np.ndarray, y_test: np.ndarray) -> float:
    from gan_keras.data import scale_images

    predictions = model.predict(scale_images(x_test), batch_size=512, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=1) == y_test))


def feature_model(classifier):
    """classifier image -> (penultimate features, class probabilities)."""
    import keras

    return keras.Model(classifier.inputs,
                       [classifier.get_layer(FEATURES_LAYER).output, classifier.output])
