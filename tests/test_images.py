"""Pixel mapping, grid layout and order, and the GIF's real timing."""

import numpy as np
from PIL import Image

from gan_keras.images import grid_name, list_grids, tile, to_uint8, write_animation


def test_pixels_mapped_as_they_are():
    images = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0], dtype=np.float32).reshape(1, 1, 6, 1)
    assert to_uint8(images).tolist() == [[[0, 64, 128, 191, 255, 255]]]


def test_washed_out_images_are_not_stretched():
    grey = np.full((1, 28, 28, 1), -0.2, dtype=np.float32)
    assert set(np.unique(to_uint8(grey))) == {102}


def test_tile_places_images_row_by_row():
    images = np.stack([np.full((2, 2), value, np.uint8) for value in (10, 20, 30, 40, 50, 60)])
    grid = tile(images, rows=2, cols=3, scale=1, gap=1)
    assert grid.shape == (2 * 2 + 3, 3 * 2 + 4)
    assert grid[1, 1] == 10 and grid[1, 4] == 20 and grid[4, 1] == 40 and grid[4, 7] == 60
    assert grid[0, 0] == 128


def test_grid_names_sort_in_iteration_order(tmp_path):
    for iteration in (10000, 5000, 0, 200000):
        (tmp_path / grid_name(iteration)).write_bytes(b"")
    assert sorted(p.name for p in tmp_path.iterdir()) == [grid_name(i) for i in (0, 5000, 10000, 200000)]
    (tmp_path / "grid_5.png").write_bytes(b"")  # unpadded names still order by number
    assert [i for i, _ in list_grids(str(tmp_path))] == [0, 5, 5000, 10000, 200000]


def test_gif_duration_loop_and_order(tmp_path):
    paths = []
    for index, value in enumerate((0, 100, 200)):
        path = tmp_path / f"frame{index}.png"
        Image.fromarray(np.full((20, 20), value, np.uint8)).save(path)
        paths.append(str(path))
    out = tmp_path / "out.gif"
    assert write_animation(paths, str(out), 0.5) == 3
    with Image.open(out) as gif:
        assert gif.n_frames == 3
        assert gif.info["loop"] == 0
        for index, value in enumerate((0, 100, 200)):
            gif.seek(index)
            assert gif.info["duration"] == 500
            assert abs(int(np.asarray(gif.convert("L"))[10, 10]) - value) <= 2
