"""sample.py and make_gif.py through their command lines, and their clear errors."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import run_script


def test_sample_grid(trained_run, tmp_path):
    out = tmp_path / "grid.png"
    result = run_script("sample.py", os.path.join(trained_run, "generator.keras"), "--out", str(out),
                        "--rows", "2", "--cols", "3", "--seed", "1")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as grid:
        assert grid.size == (3 * 84 + 4 * 2, 2 * 84 + 3 * 2)


@pytest.mark.slow
def test_sample_npy_is_seeded(trained_run, tmp_path):
    generator = os.path.join(trained_run, "generator.keras")
    for name in ("a.npy", "b.npy"):
        result = run_script("sample.py", generator, "--out", str(tmp_path / name), "--count", "7",
                            "--seed", "5")
        assert result.returncode == 0, result.stderr
    first, second = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert first.shape == (7, 28, 28) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)


@pytest.mark.slow
def test_sample_single_pngs_and_no_silent_overwrite(trained_run, tmp_path):
    generator = os.path.join(trained_run, "generator.keras")
    folder = tmp_path / "singles"
    assert run_script("sample.py", generator, "--out", str(folder), "--count", "4").returncode == 0
    assert sorted(os.listdir(folder)) == [f"sample_{i:06d}.png" for i in range(4)]
    again = run_script("sample.py", generator, "--out", str(folder), "--count", "4")
    assert again.returncode == 2 and "--force" in again.stderr


def test_sample_errors(trained_run, tmp_path):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"definitely not a zip")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(open(os.path.join(trained_run, "generator.keras"), "rb").read()[:2000])
    cases = [
        (str(tmp_path / "missing.keras"), 1, "not found"),
        (str(corrupt), 1, "not a .keras model"),
        (str(truncated), 1, str(truncated)),
        (os.path.join(trained_run, "discriminator.keras"), 2, "not a generator"),
    ]
    for path, code, message in cases:
        result = run_script("sample.py", path, "--out", str(tmp_path / "s.png"))
        assert result.returncode == code, (path, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "s.png").exists()


def test_gif_from_run(trained_run, tmp_path):
    out = tmp_path / "progress.gif"
    result = run_script("make_gif.py", trained_run, "--out", str(out), "--duration", "0.25", "--caption")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as gif:
        assert gif.n_frames == 3 and gif.info["loop"] == 0
        sizes = set()
        for index in range(3):
            gif.seek(index)
            assert gif.info["duration"] == 250
            sizes.add(gif.size)
        assert len(sizes) == 1


def test_gif_orders_frames_by_iteration(tmp_path):
    for iteration, value in ((10000, 200), (5000, 100), (0, 0)):
        Image.fromarray(np.full((16, 16), value, np.uint8)).save(tmp_path / f"grid_{iteration}.png")
    result = run_script("make_gif.py", str(tmp_path))
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "progress.gif") as gif:
        shades = []
        for index in range(gif.n_frames):
            gif.seek(index)
            shades.append(int(np.asarray(gif.convert("L"))[8, 8]))
    assert shades == sorted(shades) and shades[0] < 10 < 90 < shades[1] < 110 < shades[2]
    again = run_script("make_gif.py", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_gif_errors(tmp_path, trained_run):
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    shutil.copytree(trained_run, mixed)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(mixed / "grid_0000009.png")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "grid_0000000.png").write_text("not an image")
    cases = [(empty, "no grid_"), (tmp_path / "absent", "not a folder"), (mixed, "one size"),
             (broken, "not a readable image")]
    for folder, message in cases:
        result = run_script("make_gif.py", str(folder))
        assert result.returncode == 1, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not (folder / "progress.gif").exists()
    bad = run_script("make_gif.py", trained_run, "--duration", "0")
    assert bad.returncode == 2


@pytest.mark.slow
def test_mp4_from_run_through_imageio_ffmpeg(trained_run, tmp_path):
    import imageio.v3 as iio

    out = tmp_path / "progress.mp4"
    result = run_script("make_gif.py", trained_run, "--out", str(out), "--duration", "0.5")
    assert result.returncode == 0, result.stderr
    frames = iio.imread(out, plugin="FFMPEG")
    assert frames.shape[0] == 3 and frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0
    assert iio.immeta(out, plugin="FFMPEG")["fps"] == 2.0


def test_mp4_without_imageio_ffmpeg_is_one_line_naming_it(tmp_path, monkeypatch):
    import sys

    import pytest

    from gan_keras.errors import DataError
    from gan_keras.images import save_animation

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if it were not installed
    with pytest.raises(DataError, match="needs the imageio-ffmpeg package: pip install imageio-ffmpeg"):
        save_animation([np.zeros((8, 8), np.uint8)] * 2, str(tmp_path / "a.mp4"), 0.5)
    assert not (tmp_path / "a.mp4").exists()
