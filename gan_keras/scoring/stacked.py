"""Stacked MNIST's ruler: the shipped MNIST classifier reads each of an image's three channels as a digit.

Three digits make one of 1,000 modes (R's x 100 + G's x 10 + B's). The GAN literature's mode-collapse
benchmark (VEEGAN; PacGAN, Lin et al. 2018) counts the modes covered by 26,000 samples and the KL divergence
of their histogram from uniform. Beside those, each channel's Fréchet distance to the MNIST test digits in
the classifier's features, and their mean: the figure a run's scorings and its end-of-run pick use.
The ruler's name is ``stacked-`` and the MNIST classifier's version (``stacked-mnist-cnn-v3``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gan_keras.data import Dataset
from gan_keras.sampling import balanced_classes, class_count, generate
from gan_keras.scoring import metrics
from gan_keras.scoring.evaluator import Evaluator, Scores

SAMPLES = 26_000  # the benchmark's count (VEEGAN, PacGAN)


class StackedEvaluator:
    """Scores (N, 28, 28, 3) images channel by channel with the MNIST classifier of the stacked digits' data."""

    samples = SAMPLES

    def __init__(self, dataset: Dataset, verbose: int = 1, train_classifier: bool = False):
        self.digits = Evaluator(dataclasses.replace(dataset, stack=1), verbose=0, memorization=False,
                                train_classifier=train_classifier)
        self.version = f"stacked-{self.digits.version}"
        self.classes = 10 ** dataset.stack
        if verbose:
            print(f"evaluator: {self.version} (the shipped {self.digits.version} on each channel, "
                  f"{self.digits.classifier_accuracy:.2%} test accuracy)", flush=True)

    def score(self, images: np.ndarray, asked: np.ndarray | None = None) -> Scores:
        """Modes, KL and each channel's FD of images in [-1, 1]; ``asked``: the modes a conditional G was asked
        for (the conditional accuracy is the share whose three digits read as asked)."""
        distances, digits, scores = [], [], []
        for channel in range(images.shape[-1]):
            features, probabilities = self.digits.embed(images[..., channel:channel + 1])
            distances.append(metrics.frechet_distance(*metrics.feature_statistics(features),
                                                      *self.digits.test_statistics))
            digits.append(np.argmax(probabilities, axis=1))
            scores.append(metrics.inception_score(probabilities))
        digits = np.stack(digits, axis=1)
        modes = metrics.mode_statistics(digits, self.classes)
        places = 10 ** np.arange(digits.shape[1] - 1, -1, -1)
        shares = np.bincount(digits @ places, minlength=self.classes) / len(digits)
        return Scores(
            count=len(images), frechet_distance=float(np.mean(distances)), inception_score=float(np.mean(scores)),
            class_shares=[float(share) for share in shares], rarest_class_share=float(shares.min()),
            memorization_share=float("nan"), evaluator=self.version,
            conditional_accuracy=None if asked is None else float(np.mean(digits @ places == np.asarray(asked))),
            extra={**modes, "channel_frechet_distances": [float(value) for value in distances]})

    def score_generator(self, generator, count: int, seed: int | None = None) -> Scores:
        classes = class_count(generator)
        asked = None if classes is None else balanced_classes(count, classes)
        return self.score(generate(generator, count, seed, asked), asked)
