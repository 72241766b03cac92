"""Train a shipped evaluation classifier, once, for the maintainers: the ruler every user's FD uses.

    python tools/ship_classifier.py --dataset mnist --data mnist.npz
    python tools/ship_classifier.py --dataset fashion_mnist        # Debian's dataset-fashion-mnist

Trains gan_keras.scoring.classifier's recipe (seed 0, TensorFlow's deterministic ops), reports its
test accuracy, writes gan_keras/scoring/weights/<dataset>-<architecture>.weights.h5 (at most 2 MB)
and prints the ShippedClassifier entry to paste into SHIPPED in gan_keras/scoring/classifier.py.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MAX_BYTES = 2 * 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mnist", "fashion_mnist"), required=True)
    parser.add_argument("--data", default=None, help="local .npz or IDX folder")
    parser.add_argument("--force", action="store_true", help="replace an existing weights file")
    args = parser.parse_args()

    import tensorflow as tf

    from gan_keras.data import load_dataset
    from gan_keras.roofline import cpu_description
    from gan_keras.scoring import classifier

    dataset = load_dataset(args.dataset, args.data)
    entry = classifier.ShippedClassifier(args.dataset, classifier.data_fingerprint(dataset.x_train, dataset.y_train),
                                         "", 0.0)
    if os.path.exists(entry.path) and not args.force:
        print(f"{entry.path} exists; --force replaces it", file=sys.stderr)
        return 2
    model_name, flags = cpu_description()
    print(f"data: {dataset.describe()}\nCPU: {model_name}; flags: {' '.join(flags)}; "
          f"TensorFlow {tf.__version__}", flush=True)
    tf.config.experimental.enable_op_determinism()
    start = time.time()
    model = classifier.train_classifier(dataset.x_train, dataset.y_train)
    seconds = time.time() - start
    accuracy = classifier.accuracy(model, dataset.x_test, dataset.y_test)
    os.makedirs(classifier.WEIGHTS_FOLDER, exist_ok=True)
    shipped = classifier.build_classifier(int(dataset.y_train.max()) + 1)  # no optimizer state: 1/3 the size
    shipped.set_weights(model.get_weights())
    shipped.save_weights(entry.path, overwrite=True)
    size = os.path.getsize(entry.path)
    print(f"trained in {seconds:.0f} s; test accuracy {accuracy:.2%}; {entry.path}: {size / 1e6:.2f} MB")
    if size > MAX_BYTES:
        print(f"{entry.path} is over 2 MB: shrink the feature head", file=sys.stderr)
        return 1
    print("\nSHIPPED entry:\n"
          f"    ShippedClassifier(dataset={args.dataset!r},\n"
          f"                      data_sha256={entry.data_sha256!r},\n"
          f"                      weights_sha256={classifier.file_sha256(entry.path)!r},\n"
          f"                      test_accuracy={accuracy:.4f}),")
    return 0


if __name__ == "__main__":
    sys.exit(main())
