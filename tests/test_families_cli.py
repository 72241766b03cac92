"""--model and --conditional end to end: training, exact resume, and sample.py's class options."""

import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from conftest import run_script

pytestmark = pytest.mark.slow  # every test here trains for real or runs another backend

RESUMABLE = ["--batch-size", "16", "--log-interval", "2", "--save-interval", "4", "--seed", "9",
             "--deterministic", "--no-progress", "--model", "mlp-bn", "--conditional", "--loop", "notebook"]


def grid_rows(path, cell=28 * 3, gap=2):
    with Image.open(path) as image:
        return (image.height - gap) // (cell + gap)


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory, small_mnist):
    """A conditional mlp-bn run of 8 iterations in one go (the notebook loop)."""
    run_dir = tmp_path_factory.mktemp("runs") / "conditional"
    result = run_script("train.py", "--epochs", "8", "--data", small_mnist, "--out", str(run_dir), *RESUMABLE)
    assert result.returncode == 0, result.stderr
    return run_dir


def test_conditional_run_has_one_grid_row_per_class_and_resumes_exactly(conditional_run, tmp_path,
                                                                         small_mnist):
    assert grid_rows(conditional_run / "grid_0000008.png") == 10
    config = json.loads((conditional_run / "config.json").read_text())["arguments"]
    assert config["model"] == "mlp-bn" and config["conditional"] is True
    assert (config["batch_size"], config["lr"], config["beta1"]) == (16, 2e-4, 0.5)  # flag, then the table
    halves = tmp_path / "halves"
    assert run_script("train.py", "--epochs", "4", "--data", small_mnist, "--out", str(halves),
                      *RESUMABLE).returncode == 0
    resumed = run_script("train.py", "--resume", str(halves), "--epochs", "8", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    for name in ("generator.keras", "discriminator.keras"):
        whole = keras.saving.load_model(conditional_run / name).weights
        for a, b in zip(whole, keras.saving.load_model(halves / name).weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert (conditional_run / "losses.csv").read_text() == (halves / "losses.csv").read_text()


@pytest.mark.parametrize("family,latent,batch", [("mlp", 100, 64), ("fc", 64, 32)])
def test_each_family_trains_with_its_own_defaults(tmp_path, small_mnist, family, latent, batch):
    run_dir = tmp_path / family
    result = run_script("train.py", "--epochs", "3", "--data", small_mnist, "--out", str(run_dir),
                        "--model", family, "--no-progress")
    assert result.returncode == 0, result.stderr
    config = json.loads((run_dir / "config.json").read_text())["arguments"]
    assert (config["latent_dim"], config["batch_size"]) == (latent, batch)
    generator = keras.saving.load_model(run_dir / "generator.keras")
    assert generator.input_shape == (None, latent) and generator.output_shape == (None, 28, 28, 1)
    assert grid_rows(run_dir / "grid_0000003.png") == 5


def test_sample_a_chosen_digit_and_one_row_per_class(conditional_run, tmp_path):
    generator = str(conditional_run / "generator.keras")
    result = run_script("sample.py", generator, "--per-class", "--cols", "4", "--out", str(tmp_path / "pc.png"))
    assert result.returncode == 0, result.stderr
    assert grid_rows(tmp_path / "pc.png") == 10
    result = run_script("sample.py", generator, "--digit", "7", "--count", "6", "--seed", "1",
                        "--out", str(tmp_path / "sevens.npy"))
    assert result.returncode == 0, result.stderr
    sevens = np.load(tmp_path / "sevens.npy")
    result = run_script("sample.py", generator, "--digit", "2", "--count", "6", "--seed", "1",
                        "--out", str(tmp_path / "twos.npy"))
    assert result.returncode == 0, result.stderr
    assert sevens.shape == (6, 28, 28) and not np.array_equal(sevens, np.load(tmp_path / "twos.npy"))


def test_interpolation_gifs(conditional_run, trained_run, tmp_path):
    walk = tmp_path / "walk.gif"
    result = run_script("sample.py", os.path.join(trained_run, "generator.keras"), "--interpolate",
                        "--points", "3", "--steps", "4", "--out", str(walk))
    assert result.returncode == 0, result.stderr
    with Image.open(walk) as gif:
        assert gif.n_frames == 12 and gif.info["loop"] == 0
    digits = tmp_path / "digits.gif"
    result = run_script("sample.py", str(conditional_run / "generator.keras"), "--interpolate", "--steps", "2",
                        "--rows", "2", "--cols", "3", "--out", str(digits))
    assert result.returncode == 0, result.stderr
    with Image.open(digits) as gif:
        assert gif.n_frames == 20  # 10 classes, 2 frames from each to the next


def test_class_options_refuse_nonsense(conditional_run, trained_run, tmp_path):
    out = str(tmp_path / "x.png")
    for generator, args, message in (
        (os.path.join(trained_run, "generator.keras"), ["--digit", "3"], "not a conditional generator"),
        (str(conditional_run / "generator.keras"), ["--digit", "10"], "--digit 10: this generator's classes are 0, 1, 2"),
        (str(conditional_run / "generator.keras"), ["--interpolate"], "give --out a .gif"),
        (str(conditional_run / "generator.keras"), ["--digit", "1", "--per-class"], "not allowed with"),
    ):
        result = run_script("sample.py", generator, *args, "--out", out)
        last_line = result.stderr.strip().splitlines()[-1]
        assert result.returncode == 2 and message in last_line, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not os.path.exists(out)


def test_unknown_model_is_a_usage_error(tmp_path, small_mnist):
    result = run_script("train.py", "--model", "gpt", "--data", small_mnist, "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "invalid choice" in result.stderr
