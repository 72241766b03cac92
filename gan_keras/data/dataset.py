"""A dataset as every part of the package sees it: uint8 images (N, H, W, C), integer labels, where they came from.

However they were stored (an .npz, IDX files, a folder or a zip of pictures), images arrive here at the
run's own size and channels: 28, 32, 64 or 128 pixels square, grayscale (C = 1) or RGB (C = 3).
:func:`scale_images` maps them to [-1, 1] as the notebook does; :func:`fingerprint` says whether two
datasets are the same data, whatever file held them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from gan_keras.errors import DataError

CLASSES = 10  # MNIST's and Fashion-MNIST's digits and items
IMAGE_SIZES = (28, 32, 64, 128)
CHANNELS = (1, 3)
RESIZE_MODES = ("center-crop", "stretch", "pad")
LABELS_FILE = "dataset.json"  # stylegan2-ada's labels file, beside a folder's pictures


@dataclass(frozen=True)
class ImageRequest:
    """The shape a run asks its images in: None leaves the size or the channels to the data (see
    :func:`gan_keras.data.pictures.chosen_shape`); ``resize`` says how another aspect ratio becomes a square,
    ``background`` what transparent pixels are laid on."""

    size: int | None = None
    channels: int | None = None
    resize: str = "center-crop"
    background: str = "white"


@dataclass
class Dataset:
    """Images as uint8 (N, H, W, C) with labels, and a line saying where they came from.

    ``x_train`` may be a read-only memory map (large or prepared data): read a batch at a time, never whole.
    Data without a test split (a folder of pictures) holds the training arrays as its test arrays too.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    class_names: tuple[str, ...] | None = None  # from subfolders or a labels file; None: the digits 0-9, if labelled
    skipped: tuple[str, ...] = ()  # files that could not be read, in the order they were met
    known_fingerprint: dict | None = None  # computed when the data was prepared, so never recomputed
    labelled: bool = True  # False: no labels came with the images (all are class 0)
    stack: int = 1  # Stacked MNIST: each image is this many training images (digits) as its channels

    @property
    def image_shape(self) -> tuple[int, int, int]:
        height, width, channels = (int(n) for n in self.x_train.shape[1:])
        return height, width, channels * self.stack

    @property
    def classes(self) -> int:
        """How many classes the labels name: the class names', else MNIST's ten digits (1,000 modes stacked three
        deep); 1 where there are none."""
        if self.class_names:
            return len(self.class_names)
        return CLASSES**self.stack if self.labelled else 1

    def images(self, indices: np.ndarray) -> np.ndarray:
        """uint8 images of the training indices ``indices`` (n,), or, stacked, (n, stack): rows as channels."""
        rows = self.x_train[np.asarray(indices).reshape(-1)]
        if self.stack == 1:
            return rows
        return rows.reshape(-1, self.stack, *rows.shape[1:3]).transpose(0, 2, 3, 1)

    @property
    def has_test_split(self) -> bool:
        return self.x_test is not self.x_train

    def describe(self) -> str:
        height, width, channels = self.image_shape
        colour = "RGB" if channels == 3 else "grayscale"
        test = f"{len(self.x_test):,} test images" if self.has_test_split else "no test split"
        classes = f", {len(self.class_names)} classes" if self.class_names else ""
        if self.stack > 1:
            return (f"Stacked MNIST, {self.stack} digits of {self.source} as the channels of each image: "
                    f"{len(self.x_train):,} training digits and {test}, {height}x{width} {colour}, "
                    f"{self.classes:,} modes")
        return f"{self.source}: {len(self.x_train):,} training images and {test}, {height}x{width} {colour}{classes}"

    def class_name(self, index: int) -> str:
        return self.class_names[index] if self.class_names else str(index)


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) (or (N, H, W), one channel) -> float32 (N, H, W, C) in [-1, 1], as the notebook does."""
    scaled = np.asarray(images).astype(np.float32) / 127.5 - 1.0
    return scaled[..., np.newaxis] if scaled.ndim == 3 else scaled


def with_channel_axis(images: np.ndarray) -> np.ndarray:
    """(N, H, W) grayscale -> (N, H, W, 1); (N, H, W, C) as it is."""
    return images[..., np.newaxis] if images.ndim == 3 else images


def fingerprint(dataset: Dataset) -> dict:
    """Image counts and a SHA-256 of the arrays: the same data whatever file or format holds it.

    A grayscale array is hashed as (N, H, W), the shape MNIST's files hold, so that runs and shipped evaluators
    fingerprinted before images had a channel axis still match; test arrays that are the training arrays are
    hashed once.
    """
    if dataset.known_fingerprint is not None:
        return dataset.known_fingerprint
    digest = ArrayDigest()
    arrays = [dataset.x_train, dataset.y_train]
    if dataset.has_test_split:
        arrays += [dataset.x_test, dataset.y_test]
    for array in arrays:
        digest.add(array)
    if dataset.stack > 1:
        digest.digest.update(f"stacked {dataset.stack}".encode())
    return {"train_images": int(len(dataset.x_train)), "test_images": int(len(dataset.x_test)),
            "sha256": digest.hexdigest()}


class ArrayDigest:
    """SHA-256 over arrays as :func:`fingerprint` takes them (shape, then bytes), fed whole or in rows."""

    def __init__(self):
        self.digest = hashlib.sha256()

    def start(self, shape: tuple[int, ...]) -> None:
        """An array of ``shape`` follows (in :meth:`rows`)."""
        if len(shape) == 4 and shape[-1] == 1:
            shape = shape[:3]
        self.digest.update(str(tuple(shape)).encode())

    def rows(self, rows: np.ndarray) -> None:
        self.digest.update(np.ascontiguousarray(rows).tobytes())

    def add(self, array: np.ndarray, chunk: int = 4096) -> None:
        self.start(array.shape)
        for begin in range(0, len(array), chunk):
            self.rows(array[begin:begin + chunk])

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


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


def check_labels(labels: np.ndarray, count: int, source: str, key: str, classes: int = CLASSES) -> None:
    """Refuse labels that are not one integer class per image, naming the file and the array."""
    if labels.ndim != 1:
        raise DataError(f"{source}: {key} has shape {labels.shape}; expected ({count},), one integer class label "
                        f"0-{classes - 1} per image (not one-hot vectors or a column)")
    if len(labels) != count:
        raise DataError(f"{source}: {key} holds {len(labels):,} labels for {count:,} images")
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= classes):
        raise DataError(f"{source}: {key} must hold integer class labels 0-{classes - 1}")


def check_images(images: np.ndarray, source: str, key: str) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, 1 or 3) images, as (N, H, W, C); else one line naming file and array."""
    check_image_header(images.shape, images.dtype, source, key)
    return with_channel_axis(images)


def check_image_header(shape: tuple[int, ...], dtype: np.dtype, source: str, key: str) -> None:
    """Refuse an array of images by its shape and dtype (known before it is read), naming file and array."""
    if dtype != np.uint8:
        raise DataError(f"{source}: {key} has dtype {dtype}; expected uint8 pixels 0-255")
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in CHANNELS):
        raise DataError(f"{source}: {key} has shape {tuple(shape)}; expected (N, H, W) grayscale or "
                        f"(N, H, W, 3) RGB images")
