"""Where images are written: sample grids, single samples, and the progress GIF, grayscale or RGB.

Lazy imports: imageio (and imageio-ffmpeg, for MP4s) where an animation is written.
"""

from __future__ import annotations

import os
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gan_keras.errors import DataError
from gan_keras.files import atomic_path, regular_file

GRID_PATTERN = re.compile(r"^grid_(\d+)\.png$")
GRID_CELL = 96  # about this many pixels a side for each image of a grid (28 px enlarged 3 times, 64 px twice)
GRID_GAP = 2


def grid_name(iteration: int) -> str:
    """Zero-padded so that name order is iteration order."""
    return f"grid_{iteration:07d}.png"


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 [0, 255], mapped as it is (no per-image stretching): (N, H, W) for
    one channel, (N, H, W, 3) for RGB."""
    pixels = np.round((np.asarray(images, dtype=np.float32) + 1.0) * 127.5)
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    return pixels[..., 0] if pixels.ndim == 4 and pixels.shape[-1] == 1 else pixels


def grid_scale(height: int) -> int:
    """How many times a grid enlarges images of ``height`` pixels: about GRID_CELL pixels a cell, at least once."""
    return max(1, round(GRID_CELL / height))


def tile(images: np.ndarray, rows: int, cols: int, scale: int | None = None, gap: int = GRID_GAP) -> np.ndarray:
    """uint8 (rows*cols, H, W) or (rows*cols, H, W, 3) -> one (rows, cols) mosaic, each image enlarged ``scale``
    times (default: :func:`grid_scale`), with grey gaps."""
    count, height, width = images.shape[:3]
    if count != rows * cols:
        raise ValueError(f"{count} images do not fill a {rows}x{cols} grid")
    scale = grid_scale(height) if scale is None else scale
    cell_h, cell_w = height * scale, width * scale
    canvas = np.full((rows * cell_h + (rows + 1) * gap, cols * cell_w + (cols + 1) * gap, *images.shape[3:]), 128,
                     dtype=np.uint8)
    for index, image in enumerate(images):
        r, c = divmod(index, cols)
        top, left = gap + r * (cell_h + gap), gap + c * (cell_w + gap)
        canvas[top:top + cell_h, left:left + cell_w] = image.repeat(scale, axis=0).repeat(scale, axis=1)
    return canvas


def save_grid(images: np.ndarray, path: str, rows: int, cols: int, row_labels: list[str] | None = None) -> None:
    """Save generator output (rows*cols images in [-1, 1]) as one PNG grid, atomically; ``row_labels`` writes
    each row's name at its left."""
    grid = tile(to_uint8(images), rows, cols)
    save_png(grid if row_labels is None else label_rows(grid, row_labels), path)


def label_rows(grid: np.ndarray, labels: list[str]) -> np.ndarray:
    """A copy of a grid of ``len(labels)`` equal rows with each row's label written at its left (Pillow's font)."""
    mode = "RGB" if grid.ndim == 3 else "L"
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(Image.new(mode, (1, 1)))
    width = 8 + max(int(draw.textlength(label, font=font)) for label in labels)
    framed = Image.new(mode, (grid.shape[1] + width, grid.shape[0]), (255,) * len(mode))
    framed.paste(Image.fromarray(grid), (width, 0))
    pen, row_height = ImageDraw.Draw(framed), grid.shape[0] / len(labels)
    for row, label in enumerate(labels):
        pen.text((4, int((row + 0.5) * row_height) - 5), label, fill=(0,) * len(mode), font=font)
    return np.asarray(framed)


def save_png(pixels: np.ndarray, path: str) -> None:
    with atomic_path(path) as partial:
        Image.fromarray(pixels).save(partial, format="PNG")


def list_grids(folder: str) -> list[tuple[int, str]]:
    """(iteration, path) of a run folder's grids, sorted by iteration number, not by text."""
    if not os.path.isdir(folder):
        raise DataError(f"not a folder: {folder}")
    found = []
    for name in os.listdir(folder):
        match = GRID_PATTERN.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(folder, name)))
    return sorted(found)


ANIMATION_TYPES = (".gif", ".mp4")


def caption(frame: np.ndarray, text: str) -> np.ndarray:
    """A copy of a grayscale or RGB frame with a strip of text beneath it (drawn with Pillow)."""
    strip = 14
    mode = "RGB" if frame.ndim == 3 else "L"
    framed = Image.new(mode, (frame.shape[1], frame.shape[0] + strip), (255,) * len(mode))
    framed.paste(Image.fromarray(frame), (0, 0))
    ImageDraw.Draw(framed).text((3, frame.shape[0] + 1), text, fill=(0,) * len(mode))
    return np.asarray(framed)


def write_animation(frame_paths: list[str], out_path: str, seconds_per_frame: float,
                    captions: list[str] | None = None) -> int:
    """Animate PNG frames into a looping GIF (or an .mp4); returns the number of frames."""
    if not frame_paths:
        raise DataError("no frames to animate")
    frames = []
    for path in frame_paths:
        regular_file(path, "grid image")
        try:
            with Image.open(path) as image:
                frame = np.asarray(image.convert("L" if image.mode in ("L", "1", "I;16", "I") else "RGB"))
        except Exception as error:  # noqa: BLE001 - anything the image plugins cannot decode
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DataError(f"{path} is not a readable image: {first_line}") from None
        if frames and frame.shape != frames[0].shape:
            raise DataError(f"{path} is {frame.shape[1]}x{frame.shape[0]}, but the first frame is "
                            f"{frames[0].shape[1]}x{frames[0].shape[0]}: frames must share one size")
        frames.append(frame)
    return save_animation(frames, out_path, seconds_per_frame, captions)


def save_animation(frames: list[np.ndarray], out_path: str, seconds_per_frame: float,
                   captions: list[str] | None = None) -> int:
    """Write grayscale (H, W) or RGB (H, W, 3) uint8 frames through imageio, atomically; returns their number.

    ``.gif``: loops forever, ``seconds_per_frame`` stored as it is (imageio's v3 Pillow
    writer takes milliseconds, unlike the notebook's v2 ``mimsave(duration=0.5)``).
    ``.mp4``: H.264 through imageio-ffmpeg (whose wheel ships ffmpeg), frames padded to
    even sizes as the codec needs.
    """
    import imageio.v3 as iio

    extension = os.path.splitext(out_path)[1].lower()
    if extension not in ANIMATION_TYPES:
        raise DataError(f"{out_path}: an animation is written as .gif or .mp4, not {extension or 'no extension'}")
    if captions is not None:
        frames = [caption(frame, text) for frame, text in zip(frames, captions)]
    with atomic_path(out_path) as partial:
        with open(partial, "wb") as handle:  # a folder that cannot be written fails here, in one clear line
            if extension == ".gif":  # encoded in memory: imageio's writer never holds the file
                handle.write(iio.imwrite("<bytes>", np.stack(frames), extension=".gif",
                                         duration=round(seconds_per_frame * 1000), loop=0))
        if extension == ".mp4":
            _write_mp4(partial, frames, seconds_per_frame)
    return len(frames)


def _write_mp4(path: str, frames: list[np.ndarray], seconds_per_frame: float) -> None:
    import imageio.v3 as iio

    try:
        import imageio_ffmpeg  # noqa: F401 - imageio's ffmpeg plugin needs it
    except ImportError:
        raise DataError("writing .mp4 needs the imageio-ffmpeg package: pip install imageio-ffmpeg "
                        "(or write a .gif)") from None
    height, width = frames[0].shape[:2]
    rgb = np.stack([frame if frame.ndim == 3 else np.repeat(frame[..., np.newaxis], 3, axis=-1) for frame in frames])
    padded = np.full((len(frames), height + height % 2, width + width % 2, 3), 128, np.uint8)
    padded[:, :height, :width] = rgb
    rgb = padded
    iio.imwrite(path, rgb, plugin="FFMPEG", extension=".mp4", fps=1.0 / seconds_per_frame,
                codec="libx264", macro_block_size=1)
