"""Scores a generator's images against the real test images of its dataset.

Lazy imports: Keras, to ask which backend runs, and the training forms (TensorFlow) where it is TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gan_keras.data import Dataset, scale_images
from gan_keras.scoring import metrics
from gan_keras.sampling import balanced_classes, class_count, generate
from gan_keras.scoring.classifier import accuracy, data_fingerprint, feature_model, load_classifier, shipped_for

DEFAULT_SAMPLES = 10_000
SHIPPED_SHAPE = (28, 28, 1)  # the shipped classifiers' images: MNIST's and Fashion-MNIST's


@dataclass
class Scores:
    """What the evaluator reports for one set of images."""

    count: int
    frechet_distance: float
    inception_score: float
    class_shares: list[float]
    rarest_class_share: float
    memorization_share: float
    evaluator: str
    conditional_accuracy: float | None = None
    extra: dict | None = None  # a ruler's own figures: Stacked MNIST's modes, Inception's KID

    def line(self) -> str:
        """The scores in one line, each where the ruler has it."""
        extra = self.extra or {}
        parts = [f"FD {self.frechet_distance:8.3f}"]
        if "channel_frechet_distances" in extra:
            parts[0] += f" (channels {' / '.join(f'{value:.2f}' for value in extra['channel_frechet_distances'])})"
            digit_kl = " / ".join(f"{value:.3f}" for value in extra.get("channel_digit_kl", []))
            parts += [f"modes {extra['modes_covered']:,} of {len(self.class_shares):,}",
                      f"KL {extra['kl_from_uniform']:.3f}" + (f" (each channel's digits {digit_kl})" if digit_kl else ""),
                      f"rarest mode {extra['rarest_mode']:03d} ({extra['rarest_mode_samples']} samples)",
                      f"commonest {extra['commonest_mode']:03d} ({extra['commonest_mode_samples']})"]
        if "kernel_inception_distance" in extra:
            parts.append(f"KID {extra['kernel_inception_distance']:.5f} +- {extra['kid_std']:.5f}")
        if math.isfinite(self.inception_score) and "channel_frechet_distances" not in extra:
            parts.append(f"IS {self.inception_score:5.2f}")
        if self.class_shares and "channel_frechet_distances" not in extra:
            parts.append(f"rarest class {self.rarest_class_share:6.1%}")
        if math.isfinite(self.memorization_share):
            parts.append(f"memorized {self.memorization_share:6.1%}")
        if self.conditional_accuracy is not None:
            parts.append(f"conditional accuracy {self.conditional_accuracy:6.1%}")
        return "   ".join(parts)


class Evaluator:
    """Holds the classifier and the real test and training features, computed once.

    ``version`` names the classifier (the ruler); every Scores carries it.
    ``train_classifier``: for data without a shipped classifier, train one here if none is cached.
    ``memorization`` False skips embedding the training set (most of the start-up); the
    memorization share is then NaN.
    """

    samples = DEFAULT_SAMPLES  # how many samples a score takes, unless asked otherwise

    def __init__(self, dataset: Dataset, verbose: int = 1, classifier_epochs: int | None = None,
                 train_classifier: bool = False, memorization: bool = True):
        kwargs = {} if classifier_epochs is None else {"epochs": classifier_epochs}
        loaded = load_classifier(dataset.x_train, dataset.y_train, train_if_missing=train_classifier,
                                 verbose=verbose, **kwargs)
        self.version = loaded.version
        self.classifier_accuracy = accuracy(loaded.model, dataset.x_test, dataset.y_test)
        if verbose:
            print(f"evaluator: {self.version} ({loaded.origin}), {self.classifier_accuracy:.2%} test accuracy",
                  flush=True)
        self.features_and_probabilities = feature_model(loaded.model)
        self.classes = int(loaded.model.output_shape[-1])
        self.test_features, _ = self.embed(scale_images(dataset.x_test))
        self.test_statistics = metrics.feature_statistics(self.test_features)
        self.train_features = self.test_nearest = None
        if memorization:
            self.train_features, _ = self.embed(scale_images(dataset.x_train))
            self.test_nearest = metrics.nearest_distances(self.test_features, self.train_features)

    def embed(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features and class probabilities of images in [-1, 1]."""
        features, probabilities = self.features_and_probabilities.predict(
            np.asarray(images, np.float32), batch_size=500, verbose=0)
        return np.asarray(features, np.float64), np.asarray(probabilities, np.float64)

    def score(self, images: np.ndarray, asked: np.ndarray | None = None) -> Scores:
        """All scores for images in [-1, 1], shaped (N, H, W, C) as the classifier's input.

        ``asked``: the classes a conditional generator was asked for; the
        conditional accuracy is the share the classifier labels as asked.
        """
        features, probabilities = self.embed(images)
        shares = metrics.class_histogram(probabilities, self.classes)
        return Scores(
            count=len(images),
            frechet_distance=metrics.frechet_distance(*metrics.feature_statistics(features),
                                                      *self.test_statistics),
            inception_score=metrics.inception_score(probabilities),
            class_shares=[float(s) for s in shares],
            rarest_class_share=float(shares.min()),
            memorization_share=math.nan if self.train_features is None else metrics.memorization_share(
                metrics.nearest_distances(features, self.train_features), self.test_nearest),
            evaluator=self.version,
            conditional_accuracy=None if asked is None else float(
                np.mean(np.argmax(probabilities, axis=1) == np.asarray(asked))),
        )

    def score_generator(self, generator, count: int, seed: int | None = None) -> Scores:
        """Scores of ``count`` samples; a conditional generator is asked for every class equally often."""
        classes = class_count(generator)
        asked = None if classes is None else balanced_classes(count, classes)
        return self.score(generate(generator, count, seed, asked), asked)


def score_as_saved(evaluator: Evaluator, generator, count: int, seed: int | None = None) -> Scores:
    """The evaluator's scores of ``generator`` computed as its saved file computes: standard layers in float32
    (:func:`~gan_keras.models.training_forms.to_standard`; a loaded file is that already). The one way the
    package scores a generator: ``evaluate``, a run's scorings and its end-of-run pick. Under bf16 on a CPU
    that emulates it, about 20x faster than the training model."""
    import keras

    if keras.backend.backend() == "tensorflow":  # training forms exist only there (another backend loads files)
        from gan_keras.models.training_forms import to_standard

        generator = to_standard(generator)
    return evaluator.score_generator(generator, count, seed)


def shipped_evaluator(dataset: Dataset) -> Evaluator | None:
    """An Evaluator when a shipped classifier knows this data (no training, no cache), else None."""
    if dataset.image_shape != SHIPPED_SHAPE or shipped_for(data_fingerprint(dataset.x_train, dataset.y_train)) is None:
        return None
    return Evaluator(dataset, verbose=0, memorization=False)


def calibration_sets(dataset: Dataset, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Reference image sets that show what good and bad scores look like."""
    rng = np.random.default_rng(seed)
    if dataset.stack == 1:
        real = dataset.images(rng.choice(len(dataset.x_train), min(count, len(dataset.x_train)), replace=False))
        one = dataset.x_test[:1]
    else:  # Stacked MNIST: fresh stacks of independent training digits, as training draws them
        real = dataset.images(rng.choice(len(dataset.x_train), (count, dataset.stack)))
        one = real[:1]
    return {
        "real training images (the floor)": scale_images(real),
        "uniform noise": rng.uniform(-1, 1, (count, *dataset.image_shape)).astype(np.float32),
        "one image repeated (collapse)": np.repeat(scale_images(one), count, axis=0),
    }
