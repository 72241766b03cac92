"""Training on a folder of colour pictures: every family at 32x32x3 and 64x64x3, conditional training on
subfolders with --class by name, exact resume at 64x64, and a saved generator that loads anywhere."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import run_script

pytestmark = pytest.mark.slow
QUICK = ["--batch-size", "8", "--no-progress", "--no-tensorboard"]


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory) -> str:
    """Two classes of coloured shapes, 24 pictures each, 80x80 (not one of the sizes: made square at the run's)."""
    folder = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    for kind in ("circles", "squares"):
        (folder / kind).mkdir()
        for index in range(24):
            image = Image.new("RGB", (80, 80), tuple(int(v) for v in rng.integers(0, 256, 3)))
            x, y = (int(v) for v in rng.integers(5, 40, 2))
            draw = ImageDraw.Draw(image)
            (draw.ellipse if kind == "circles" else draw.rectangle)([x, y, x + 30, y + 30],
                                                                   fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
            image.save(folder / kind / f"{index}.png")
    return str(folder)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("model", ["dcgan", "mlp", "mlp-bn", "fc"])
def test_every_family_trains_on_colour_pictures(tmp_path, shapes_folder, model, size):
    """train.py's own path, in this process (TensorFlow loaded once for all eight)."""
    import keras

    from gan_keras.defaults import TrainConfig
    from gan_keras.training import loop

    run_dir = tmp_path / "run"
    loop.train(TrainConfig(data=shapes_folder, image_size=size, model=model, epochs=2, save_interval=2, batch_size=8,
                           out=str(run_dir), no_tensorboard=True, seed=1), show_progress=False)
    with Image.open(run_dir / "grid_0000002.png") as grid:
        assert grid.mode == "RGB"
    arguments = json.loads((run_dir / "config.json").read_text())["arguments"]
    assert (arguments["image_size"], arguments["channels"]) == (size, 3)
    generator = keras.saving.load_model(run_dir / "generator.keras")
    assert generator.output_shape == (None, size, size, 3)


def test_conditional_training_on_subfolders_and_a_class_by_name(tmp_path, shapes_folder):
    run_dir = tmp_path / "run"
    result = run_script("train.py", "--data", shapes_folder, "--image-size", "32", "--conditional", "--epochs", "2",
                        "--save-interval", "2", "--out", str(run_dir), *QUICK)
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "config.json").read_text())["data_classes"] == ["circles", "squares"]
    generator = str(run_dir / "generator.keras")
    squares = run_script("sample.py", generator, "--class", "squares", "--out", str(tmp_path / "squares.npy"),
                         "--count", "6")
    assert squares.returncode == 0, squares.stderr
    assert np.load(tmp_path / "squares.npy").shape == (6, 32, 32, 3)
    grid = run_script("sample.py", generator, "--per-class", "--out", str(tmp_path / "rows.png"))
    assert grid.returncode == 0, grid.stderr
    with Image.open(tmp_path / "rows.png") as labelled:  # 2 rows of 5 cells of 96 px (32 px enlarged 3 times)
        assert labelled.height == 2 * 96 + 3 * 2 and labelled.width > 5 * 96 + 6 * 2  # the rows' names at the left
    unknown = run_script("sample.py", generator, "--class", "triangles", "--out", str(tmp_path / "t.png"))
    assert unknown.returncode == 2 and "classes are circles, squares" in unknown.stderr


def test_a_64x64_run_stopped_and_resumed_equals_one_go(tmp_path, shapes_folder):
    common = ["--data", shapes_folder, "--image-size", "64", "--seed", "3", "--deterministic", "--save-interval", "2",
              *QUICK]
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    assert run_script("train.py", "--epochs", "4", "--out", str(whole), *common).returncode == 0
    assert run_script("train.py", "--epochs", "2", "--out", str(halves), *common).returncode == 0
    resumed = run_script("train.py", "--resume", str(halves), "--epochs", "4", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    for name in ("ckpt_0000004.npz",):
        with np.load(whole / "checkpoints" / name) as a, np.load(halves / "checkpoints" / name) as b:
            for key in a.files:
                if key != "record":
                    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_the_saved_colour_generator_loads_without_gan_keras_and_draws_in_range(tmp_path, shapes_folder):
    run_dir = tmp_path / "run"
    assert run_script("train.py", "--data", shapes_folder, "--image-size", "64", "--epochs", "2", "--out",
                      str(run_dir), *QUICK).returncode == 0
    code = ("import keras, numpy as np, sys\n"
            "g = keras.saving.load_model(sys.argv[1])\n"
            "x = g.predict(np.random.default_rng(0).normal(size=(3, 100)), verbose=0)\n"
            "print(x.shape, float(x.min()) >= -1, float(x.max()) <= 1)")
    loaded = subprocess.run([sys.executable, "-c", code, str(run_dir / "generator.keras")], capture_output=True,
                            text=True, timeout=300, cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": ""})
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1] == "(3, 64, 64, 3) True True"


@pytest.mark.parametrize("options", [["--strategy", "mirrored", "--devices", "CPU:0,CPU:1"], ["--loop", "notebook"],
                                     ["--mixed-precision", "bf16"], ["--recipe", "ttur", "--mixed-precision", "none"]],
                         ids=["mirrored", "notebook-loop", "bf16", "ttur-float32"])
def test_colour_pictures_train_on_every_strategy_loop_precision_and_recipe(tmp_path, shapes_folder, options):
    run_dir = tmp_path / "run"
    result = run_script("train.py", "--data", shapes_folder, "--image-size", "32", "--epochs", "2", "--out",
                        str(run_dir), *QUICK, *options)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "generator.keras").exists() and (run_dir / "checkpoints" / "ckpt_0000002.npz").exists()
