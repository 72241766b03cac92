"""Score the same images with an old evaluation classifier and the shipped one, to convert FDs.

    python tools/compare_evaluators.py OLD_CLASSIFIER.keras --data mnist.npz GENERATOR.keras ...

Prints FD and IS under both for the calibration sets and for 10,000 samples of each generator
(a conditional one is asked for every class equally often). OLD_CLASSIFIER is a classifier .keras
file from an earlier version's cache (~/.cache/gan_keras/classifier_*.keras), loaded in safe mode.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_classifier")
    parser.add_argument("generators", nargs="*")
    parser.add_argument("--data", default=None)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_intermixed_args()

    import keras

    from gan_keras.data import load_dataset, scale_images
    from gan_keras.sampling import balanced_classes, class_count, generate, load_generator
    from gan_keras.scoring import metrics
    from gan_keras.scoring.classifier import feature_model
    from gan_keras.scoring.evaluator import Evaluator, calibration_sets

    dataset = load_dataset(args.dataset, args.data)
    new = Evaluator(dataset)
    old = feature_model(keras.saving.load_model(args.old_classifier))

    def old_embed(images):
        features, probabilities = old.predict(np.asarray(images, np.float32), batch_size=500, verbose=0)
        return np.asarray(features, np.float64), np.asarray(probabilities, np.float64)

    reference = metrics.feature_statistics(old_embed(scale_images(dataset.x_test))[0])

    def compare(name, images, asked=None):
        features, probabilities = old_embed(images)
        old_fd = metrics.frechet_distance(*metrics.feature_statistics(features), *reference)
        scores = new.score(images, asked)
        print(f"{name:<60} old FD {old_fd:9.2f}  IS {metrics.inception_score(probabilities):5.2f}   "
              f"{scores.evaluator} FD {scores.frechet_distance:8.2f}  IS {scores.inception_score:5.2f}   "
              f"old/new {old_fd / scores.frechet_distance:4.1f}", flush=True)

    for name, images in calibration_sets(dataset, args.samples).items():
        compare(name, images)
    for path in args.generators:
        generator = load_generator(path)
        classes = class_count(generator)
        asked = None if classes is None else balanced_classes(args.samples, classes)
        compare(path, generate(generator, args.samples, 0, asked), asked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
