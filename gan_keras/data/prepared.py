"""Prepared images: decoded, converted and resized once, then kept in the cache folder as uint8 arrays.

A folder or zip of pictures, an array file at another size or channel count than the run's, or one too
large to hold in memory, is prepared once, with a progress bar: its images, made the run's shape, are
written row by row into ``.npy`` files under ``<cache>/prepared/<key>/``, where the key is a SHA-256 of the
source's files (names, sizes and times; a zip's CRCs) and of the settings that shape them. A later run on
the same files and settings finds them and starts in seconds; a changed file changes the key. The arrays
are memory-mapped, never loaded whole: a run reads only the rows of its batches, so its memory does not
grow with the data. The folder appears complete or not at all (written under a temporary name, renamed).

Lazy imports: tqdm, for the progress bar.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict

import numpy as np

from gan_keras.cache import cache_folder, not_writable
from gan_keras.data.dataset import ArrayDigest, Dataset, ImageRequest
from gan_keras.errors import DataError

FORMAT = 1  # change it when what a prepared folder holds changes: it is part of every key
PREPARED_FOLDER = "prepared"
META_FILE = "prepared.json"
ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def prepared_key(identity: object, request: ImageRequest, size: int, channels: int) -> str:
    """The key of a source (what its images depend on: ``identity``) prepared at ``size`` x ``channels``."""
    text = json.dumps({"format": FORMAT, "source": identity, "request": asdict(request), "size": size,
                       "channels": channels}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def prepared_folder(key: str) -> str:
    return os.path.join(cache_folder(), PREPARED_FOLDER, key)


def load_prepared(key: str, source: str) -> Dataset | None:
    """The prepared dataset of ``key`` (memory-mapped), or None if there is none (or it is damaged)."""
    folder = prepared_folder(key)
    try:
        with open(os.path.join(folder, META_FILE), encoding="utf-8") as handle:
            meta = json.load(handle)
        arrays = {name: np.load(os.path.join(folder, f"{name}.npy"), mmap_mode="r", allow_pickle=False)
                  for name in ARRAYS if name in meta["arrays"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _dataset(arrays, meta, source)


def _dataset(arrays: dict[str, np.ndarray], meta: dict, source: str) -> Dataset:
    x_test, y_test = arrays.get("x_test"), arrays.get("y_test")
    if x_test is None:  # no test split: the training arrays, the very same objects
        x_test, y_test = arrays["x_train"], arrays["y_train"]
    names = meta.get("class_names")
    return Dataset(arrays["x_train"], arrays["y_train"], x_test, y_test, source,
                   tuple(names) if names else None, tuple(tuple(entry) for entry in meta.get("skipped", ())),
                   meta["fingerprint"], meta.get("labelled", True))


class Split:
    """One split to prepare: how many images, and a function that yields them in chunks of (rows, uint8 images
    (n, size, size, channels) or None for an image that could not be read) and its labels."""

    def __init__(self, count: int, chunks: Callable[[], Iterator[list[np.ndarray | None]]], labels: np.ndarray):
        self.count, self.chunks, self.labels = count, chunks, labels


def prepare(key: str, source: str, shape: tuple[int, int, int], train: Split, test: Split | None,
            meta: dict, describe: str, progress: bool = True) -> Dataset:
    """Write ``train`` (and ``test``) at ``shape`` under the key's folder, with a progress bar, and return the
    dataset memory-mapped from there. Images that turn out unreadable are left out, named in ``meta["skipped"]``
    (as (name, why) pairs by the caller, who knows the names). Where the cache folder cannot be written, the
    arrays go to a temporary folder for this run only, said in one line."""
    parent = os.path.join(cache_folder(), PREPARED_FOLDER)
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{key}.partial", dir=parent)
        kept = True
    except OSError as error:
        print(f"warning: {not_writable(parent, error)}; the prepared images are kept for this run only",
              file=sys.stderr, flush=True)
        staging, kept = tempfile.mkdtemp(prefix="gan_keras_prepared_"), False
    try:
        _write_split(staging, "train", shape, train, describe, progress)
        if test is not None:
            _write_split(staging, "test", shape, test, describe, progress)
        meta = {**meta, "format": FORMAT, "arrays": [name for name in ARRAYS if os.path.exists(
            os.path.join(staging, f"{name}.npy"))], "created": datetime.datetime.now().isoformat(timespec="seconds")}
        meta["fingerprint"] = _fingerprint(staging, meta["arrays"])
        with open(os.path.join(staging, META_FILE), "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=1)
        folder = _publish(staging, prepared_folder(key)) if kept else staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    arrays = {name: np.load(os.path.join(folder, f"{name}.npy"), mmap_mode="r") for name in meta["arrays"]}
    return _dataset(arrays, meta, source)


def _write_split(folder: str, split: str, shape: tuple[int, int, int], images: Split, describe: str,
                 progress: bool) -> list[int]:
    """x_<split>.npy and y_<split>.npy in ``folder``; returns the indices of the images left out. Rows are written
    with plain file writes, never through a memory map, so that preparing large data does not fill this
    process's memory with its pages."""
    from tqdm.auto import tqdm

    path = os.path.join(folder, f"x_{split}.npy")
    row_bytes, left_out, index = int(np.prod(shape)), [], 0
    bar = tqdm(total=images.count, desc=f"{describe} ({split})" if split == "test" else describe, unit="image",
               disable=not progress or images.count < 500, mininterval=0.5, dynamic_ncols=True)
    with open(path + ".rows", "wb") as rows:
        for chunk in images.chunks():
            for image in chunk:
                if image is None:
                    left_out.append(index)
                else:
                    rows.write(np.ascontiguousarray(image, np.uint8).tobytes())
                index += 1
            bar.update(len(chunk))
    bar.close()
    count = os.path.getsize(path + ".rows") // row_bytes
    with open(path, "wb") as array, open(path + ".rows", "rb") as rows:
        np.lib.format.write_array_header_2_0(array, {"descr": "|u1", "fortran_order": False,
                                                     "shape": (count, *shape)})
        shutil.copyfileobj(rows, array, 16 * 2**20)
    os.remove(path + ".rows")
    np.save(os.path.join(folder, f"y_{split}.npy"), np.delete(np.asarray(images.labels, np.int64), left_out))
    return left_out


def _fingerprint(folder: str, names: list[str]) -> dict:
    """The fingerprint of the arrays written (as :func:`gan_keras.data.dataset.fingerprint` computes it), read
    with file reads a few thousand rows at a time."""
    digest, counts = ArrayDigest(), {}
    for name in names:
        with open(os.path.join(folder, f"{name}.npy"), "rb") as handle:
            version = np.lib.format.read_magic(handle)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = reader(handle)
            digest.start(shape)
            row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
            for block in iter(lambda: handle.read(max(row_bytes, 1) * 4096), b""):
                digest.rows(np.frombuffer(block, dtype))
        counts[name] = shape[0]
    return {"train_images": counts["x_train"], "test_images": counts.get("x_test", counts["x_train"]),
            "sha256": digest.hexdigest()}


def _publish(staging: str, folder: str) -> str:
    """Rename the staging folder into place; where another process was first, use its folder instead."""
    try:
        os.rename(staging, folder)
    except OSError:
        if not os.path.isfile(os.path.join(folder, META_FILE)):
            raise DataError(f"cannot keep the prepared images in {folder}") from None
        shutil.rmtree(staging, ignore_errors=True)
    return folder
