"""Pictures from files: a folder (searched recursively) or a zip of images Pillow reads, made into squares.

Every file is tried (PNG, JPEG, BMP, GIF, WebP, TIFF, ...), but hidden ones and the labels file; one that
cannot be read (not an image, corrupt, truncated, a decompression bomb, a zip member that would inflate
beyond MAX_MEMBER_BYTES, not a regular file, unreadable) is skipped, and the list is kept. The classes are
the first-level subfolders' names, sorted, as ``keras.utils.image_dataset_from_directory`` has them, or
the labels of a ``dataset.json`` (stylegan2-ada's: ``{"labels": [["path", 3], ...]}``).

A picture becomes a square of the run's size as stylegan2-ada's ``dataset_tool.py`` makes it
(``center-crop``: the largest centred square, then a Lanczos resize), or stretched, or padded with the
background colour; any mode (L, LA, P, RGB, RGBA, CMYK, 16-bit) becomes grayscale or RGB, transparency
laid on the background colour. Reading happens in two passes: the headers first (sizes and modes: what
the default size and channels are), then the pixels (:func:`read_picture`).

"""

from __future__ import annotations

import json
import os
import stat
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageColor, UnidentifiedImageError

from gan_keras.data.dataset import IMAGE_SIZES, LABELS_FILE, ImageRequest
from gan_keras.errors import DataError, UsageError

MAX_PIXELS = 64 * 2**20  # more pixels than this in one picture is a decompression bomb, refused unread
MAX_MEMBER_BYTES = 256 * 2**20  # a zip member that would inflate to more than this is not read (a zip bomb)
DEFAULT_SIZE = 64  # when the pictures are not all one of IMAGE_SIZES square
GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def printable(name: str) -> str:
    """A file name for messages and config.json: bytes that are not UTF-8 (kept by Python as surrogates)
    written as escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def background_rgb(background: str) -> tuple[int, int, int]:
    """--background as an RGB triple: a colour name or #rrggbb as Pillow reads them."""
    try:
        return ImageColor.getrgb(background)[:3]
    except ValueError:
        raise UsageError(f"--background {background!r} is not a colour: give a name (white, black, gray) or "
                         f"#rrggbb") from None


class PictureSource:
    """The files of a folder (recursively, not following links to folders) or of a zip, by relative name."""

    def __init__(self, path: str):
        self.path = path
        self.archive = None
        self.unlisted: list[tuple[str, str]] = []  # (folder, why) of subfolders that could not be listed
        if os.path.isdir(path):
            self.names = sorted(self._folder_names(path, self.unlisted))
        else:
            try:
                self.archive = zipfile.ZipFile(path)
                self.members = {info.filename: info for info in self.archive.infolist() if not info.is_dir()}
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                raise DataError(f"{path} is a damaged zip archive: {error}") from None
            self.names = sorted(self.members)
        self.names = [name for name in self.names if not _hidden(name) and name != LABELS_FILE]

    @staticmethod
    def _folder_names(folder: str, unlisted: list[tuple[str, str]]) -> list[str]:
        names = []

        def cannot_list(error: OSError) -> None:
            if error.filename is None or os.path.abspath(error.filename) == os.path.abspath(folder):
                raise DataError(f"cannot read {folder}: {error.strerror or error}")
            unlisted.append((printable(os.path.relpath(error.filename, folder)) + "/", error.strerror or str(error)))

        for parent, folders, files in os.walk(folder, onerror=cannot_list):  # links to folders not followed: no loops
            folders[:] = [name for name in folders if not name.startswith(".")]
            names += [os.path.relpath(os.path.join(parent, name), folder) for name in files]
        return [name.replace(os.sep, "/") for name in names]

    def identity(self) -> list:
        """What the prepared images depend on: each file's name, size and time (a zip's: each member's CRC)."""
        if self.archive is not None:
            return [[printable(name), self.members[name].CRC, self.members[name].file_size] for name in self.names]
        found = []
        for name in self.names:
            try:
                info = os.stat(os.path.join(self.path, name))
                found.append([printable(name), info.st_size, info.st_mtime_ns])
            except OSError:
                found.append([printable(name), None, None])
        return found + [self.labels_text()]

    def open(self, name: str):
        """A binary file object of ``name``; an OSError or DataError says why it cannot be read."""
        if self.archive is not None:
            member = self.members[name]
            if member.file_size > MAX_MEMBER_BYTES:
                raise DataError(f"it would inflate to {member.file_size:,} bytes (a zip bomb?)")
            return self.archive.open(member)
        path = os.path.join(self.path, name)
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise DataError("not a regular file")
        return open(path, "rb")

    def labels_text(self) -> str | None:
        """The labels file's text, if the folder or zip has one."""
        try:
            if self.archive is not None:
                return self.archive.read(LABELS_FILE).decode() if LABELS_FILE in self.archive.namelist() else None
            path = os.path.join(self.path, LABELS_FILE)
            return open(path, encoding="utf-8").read() if os.path.isfile(path) else None
        except (OSError, UnicodeDecodeError, KeyError) as error:
            raise DataError(f"{self.path}: {LABELS_FILE} cannot be read ({error})") from None


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/"))


@dataclass(frozen=True)
class Header:
    """What a picture's header says: its name, (width, height), whether it is grayscale, and its class."""

    name: str
    size: tuple[int, int]
    gray: bool
    label: str | None


def scan(source: PictureSource, progress=None) -> tuple[list[Header], list[tuple[str, str]]]:
    """(the pictures' headers, [(name, why)] of the files that are no readable picture), in name order."""
    labels = file_labels(source)
    headers, skipped = [], list(source.unlisted)
    for name in source.names:
        try:
            with _warnings_as_errors(), source.open(name) as handle, Image.open(handle) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise DataError(f"{image.width}x{image.height} pixels, more than {MAX_PIXELS:,} (a "
                                    f"decompression bomb?)")
                headers.append(Header(name, image.size, _is_gray(image), labels.get(name, _folder_label(name))))
        except Exception as error:  # noqa: BLE001 - an untrusted file fails in any of Pillow's ways
            skipped.append((name, why_unreadable(error)))
        if progress is not None:
            progress.update(1)
    return headers, skipped


def why_unreadable(error: Exception) -> str:
    """A few words on why a file is no picture."""
    if isinstance(error, DataError):
        return str(error)
    if isinstance(error, UnidentifiedImageError):
        return "not a picture Pillow can read"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error).splitlines()[0][:120] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _warnings_as_errors(warnings.catch_warnings):
    """Pillow's DecompressionBombWarning (and its other warnings) make a picture unreadable."""

    def __enter__(self):
        result = super().__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return result


def _folder_label(name: str) -> str | None:
    return name.split("/", 1)[0] if "/" in name else None


def file_labels(source: PictureSource) -> dict[str, str]:
    """{name: label} from the labels file (stylegan2-ada's dataset.json), or {} where there is none."""
    text = source.labels_text()
    if text is None:
        return {}
    try:
        pairs = json.loads(text)["labels"]
        return {str(name): str(int(label)) for name, label in pairs}
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{source.path}: {LABELS_FILE} is not stylegan2-ada's labels file "
                        f'({{"labels": [["name.png", 0], ...]}}): {error}') from None


def _is_gray(image: Image.Image) -> bool:
    if image.mode in GRAY_MODES:
        return True
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [], np.int32).reshape(-1, 3)
        return bool(len(palette)) and bool(np.all(palette[:, 0] == palette[:, 1]) and
                                           np.all(palette[:, 1] == palette[:, 2]))
    return False


def class_names(headers: list[Header]) -> tuple[str, ...] | None:
    """The classes, sorted (numerically where all are numbers), when every picture has one and there are two or
    more; else None."""
    labels = {header.label for header in headers}
    if None in labels or len(labels) < 2:
        return None
    numeric = all(label.lstrip("-").isdigit() for label in labels)
    return tuple(sorted(labels, key=lambda label: (int(label) if numeric else 0, label)))


def chosen_shape(headers: list[Header], request: ImageRequest) -> tuple[int, int, list[str]]:
    """(size, channels, notes): as asked, else the pictures' own size where all share one of IMAGE_SIZES square
    (DEFAULT_SIZE otherwise, said in a note), and 1 channel where every picture is grayscale, else 3."""
    notes = []
    sizes = sorted({header.size for header in headers})
    size = request.size
    if size is None:
        if len(sizes) == 1 and sizes[0][0] == sizes[0][1] and sizes[0][0] in IMAGE_SIZES:
            size = sizes[0][0]
        else:
            size = DEFAULT_SIZE
            found = (f"{len(sizes)} sizes, from {sizes[0][0]}x{sizes[0][1]} to {sizes[-1][0]}x{sizes[-1][1]}"
                     if len(sizes) > 1 else f"{sizes[0][0]}x{sizes[0][1]}")
            notes.append(f"--image-size {size}: the pictures are not all one of "
                         f"{', '.join(map(str, IMAGE_SIZES[:-1]))} or {IMAGE_SIZES[-1]} px square ({found}); "
                         f"give --image-size to choose")
    channels = request.channels or (1 if all(header.gray for header in headers) else 3)
    return size, channels, notes


def read_picture(source: PictureSource, name: str, size: int, channels: int, request: ImageRequest) -> np.ndarray:
    """The picture ``name`` decoded, made grayscale or RGB on the background, squared and resized:
    uint8 (size, size, channels)."""
    with _warnings_as_errors(), source.open(name) as handle, Image.open(handle) as image:
        image.load()  # a truncated or corrupt file fails here
        return square_pixels(image, size, channels, request)


def square_pixels(image: Image.Image, size: int, channels: int, request: ImageRequest) -> np.ndarray:
    """``image`` in ``channels`` (transparency laid on the background), made a square of ``size`` as ``request``
    says: uint8 (size, size, channels)."""
    background = background_rgb(request.background)
    image = _eight_bits(image)
    if image.mode in ("RGBA", "LA", "La", "PA", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        laid = Image.new("RGBA", image.size, (*background, 255))
        laid.alpha_composite(image.convert("RGBA"))
        image = laid
    image = image.convert("L" if channels == 1 else "RGB")
    fill = round(0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]) if channels == 1 else background
    image = _squared(image, size, request.resize, fill)
    pixels = np.asarray(image, np.uint8)
    return pixels.reshape(size, size, channels)


def _eight_bits(image: Image.Image) -> Image.Image:
    """16- and 32-bit grayscale and float images as 8-bit L (their top bits; floats clipped to 0-255)."""
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image).astype(np.int64)
        return Image.fromarray((np.clip(values, 0, 65535) >> 8).astype(np.uint8), "L")
    if image.mode == "F":
        return Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    if image.mode == "1":
        return image.convert("L")
    return image


def _squared(image: Image.Image, size: int, resize: str, fill) -> Image.Image:
    width, height = image.size
    if resize == "center-crop" and width != height:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    elif resize == "pad" and width != height:
        side = max(width, height)
        canvas = Image.new(image.mode, (side, side), fill)
        canvas.paste(image, ((side - width) // 2, (side - height) // 2))
        image = canvas
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image
