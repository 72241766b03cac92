"""Which ruler scores a dataset: the one place a run, its end-of-run pick and the evaluate command choose it.

In this order: InceptionV3 when asked for (``--inception``); Stacked MNIST's per-channel ruler for Stacked
MNIST; the shipped classifier for the data it was trained on (MNIST, Fashion-MNIST); InceptionV3 where its
weights are installed (Keras's cache, or ``$GAN_KERAS_INCEPTION_WEIGHTS``: any other images); a classifier
trained here for labelled data, when allowed (``--train-classifier``, or a run's ``--eval-interval``); else
none, and a run's ``generator.keras`` is then its averaged generator, which the run says. A classifier trained
here before for the same data (cached) counts as known.

Lazy imports: the Stacked MNIST and Inception rulers, which only their data needs.
"""

from __future__ import annotations

from gan_keras.data import Dataset
from gan_keras.scoring.classifier import EvaluatorError, data_fingerprint, shipped_for
from gan_keras.scoring.evaluator import SHIPPED_SHAPE, Evaluator

PICK_SAMPLES = {"inception": 2_000}  # samples per candidate of a run's end-of-run pick, where not DEFAULT_SAMPLES


def ruler_for(dataset: Dataset, train_classifier: bool = False, inception: bool = False,
              inception_weights: str | None = None, verbose: int = 0, memorization: bool = False):
    """The evaluator that scores ``dataset``'s generators, or None where no ruler knows it (see the module)."""
    from gan_keras.scoring import inception as inception_ruler

    if inception or inception_weights:
        return inception_ruler.InceptionEvaluator(dataset, inception_ruler.find_weights(inception_weights), verbose)
    if dataset.stack > 1:
        from gan_keras.scoring.stacked import StackedEvaluator

        return StackedEvaluator(dataset, verbose, train_classifier)
    if dataset.image_shape == SHIPPED_SHAPE and shipped_for(data_fingerprint(dataset.x_train, dataset.y_train)):
        return Evaluator(dataset, verbose=verbose, memorization=memorization)
    if weights := inception_ruler.installed_weights():
        return inception_ruler.InceptionEvaluator(dataset, weights, verbose)
    if dataset.labelled and dataset.classes >= 2:
        try:  # a classifier trained here before (cached), or now where that is allowed
            return Evaluator(dataset, verbose=verbose, train_classifier=train_classifier, memorization=memorization)
        except EvaluatorError:
            return None
    return None


def pick_samples(evaluator) -> int:
    """How many samples of each candidate a run's end-of-run pick scores with ``evaluator``."""
    from gan_keras.scoring.evaluator import DEFAULT_SAMPLES

    return PICK_SAMPLES["inception"] if evaluator.version.startswith("inception") else DEFAULT_SAMPLES
