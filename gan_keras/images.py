"""Where images are written: sample grids, single samples, and the progress GIF."""

from __future__ import annotations

import os
import re

import numpy as np
from PIL import Image, ImageDraw

from gan_keras.errors import DataError
from gan_keras.files import atomic_path

GRID_PATTERN = re.compile(r"^grid_(\d+)\.png$")
GRID_SCALE = 3
GRID_GAP = 2


def grid_name(iteration: int) -> str:
    """Zero-padded so that name order is iteration order."""
    return f"grid_{iteration:07d}.png"


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 [0, 255], mapped as it is (no per-image stretching)."""
    pixels = np.round((np.asarray(images, dtype=np.float32) + 1.0) * 127.5)
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    return pixels[..., 0] if pixels.ndim == 4 and pixels.shape[-1] == 1 else pixels


def tile(images: np.ndarray, rows: int, cols: int, scale: int = GRID_SCALE,
         gap: int = GRID_GAP) -> np.ndarray:
    """uint8 (rows*cols, H, W) -> one (rows, cols) mosaic, enlarged ``scale`` times, grey gaps."""
    count, height, width = images.shape[:3]
    if count != rows * cols:
        raise ValueError(f"{count} images do not fill a {rows}x{cols} grid")
    cell_h, cell_w = height * scale, width * scale
    canvas = np.full((rows * cell_h + (rows + 1) * gap, cols * cell_w + (cols + 1) * gap), 128,
                     dtype=np.uint8)
    for index, image in enumerate(images):
        r, c = divmod(index, cols)
        top, left = gap + r * (cell_h + gap), gap + c * (cell_w + gap)
        canvas[top:top + cell_h, left:left + cell_w] = np.kron(image, np.ones((scale, scale), np.uint8))
    return canvas


def save_grid(images: np.ndarray, path: str, rows: int, cols: int) -> None:
    """Save generator output (rows*cols images in [-1, 1]) as one PNG grid, atomically."""
    save_png(tile(to_uint8(images), rows, cols), path)


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


def caption(frame: Image.Image, text: str) -> Image.Image:
    """A copy of ``frame`` with a strip of text beneath it."""
    strip = 14
    framed = Image.new("L", (frame.width, frame.height + strip), 255)
    framed.paste(frame, (0, 0))
    ImageDraw.Draw(framed).text((3, frame.height + 1), text, fill=0)
    return framed


def write_gif(frame_paths: list[str], out_path: str, seconds_per_frame: float,
              captions: list[str] | None = None) -> int:
    """Animate PNG frames into a GIF that loops forever; returns the number of frames.

    Pillow takes the duration in milliseconds, which is what the GIF stores (in
    hundredths), so the written file has exactly ``seconds_per_frame`` per frame.
    """
    if not frame_paths:
        raise DataError("no frames to animate")
    frames = []
    for index, path in enumerate(frame_paths):
        try:
            with Image.open(path) as image:
                frame = image.convert("L")
        except Exception as error:  # noqa: BLE001 - anything Pillow cannot decode
            raise DataError(f"{path} is not a readable image: {error}") from None
        if frames and frame.size != frames[0].size:
            raise DataError(f"{path} is {frame.size[0]}x{frame.size[1]}, but the first frame is "
                            f"{frames[0].size[0]}x{frames[0].size[1]}: frames must share one size")
        frames.append(frame)
    return save_gif(frames, out_path, seconds_per_frame, captions)


def save_gif(frames: list[Image.Image], out_path: str, seconds_per_frame: float,
             captions: list[str] | None = None) -> int:
    """Write frames (greyscale images) as a GIF that loops forever, atomically; returns their number."""
    if captions is not None:
        frames = [caption(frame, text) for frame, text in zip(frames, captions)]
    with atomic_path(out_path) as partial:
        frames[0].save(partial, format="GIF", save_all=True, append_images=frames[1:],
                       duration=round(seconds_per_frame * 1000), loop=0, optimize=False)
    return len(frames)
