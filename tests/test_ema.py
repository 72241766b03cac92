"""The averaged generator: the exact update with its warm-up, on both loops; the save interval chosen."""

import os

import numpy as np
import pytest

from gan_keras.defaults import TrainConfig
from gan_keras.settings import auto_save_interval, resolve_intervals
from gan_keras.training.gan import build_gan
from gan_keras.training.run_state import make_step
from gan_keras.sampling import one_hot


@pytest.mark.parametrize("loop", ["fast", "notebook"])
def test_update_is_the_documented_average_with_warm_up(loop):
    """ema = d * ema + (1 - d) * w with d = min(decay, (1 + t) / (10 + t)), every iteration, every variable."""
    decay, batch = 0.5, 8  # the warm-up reaches the decay at t = 8, inside the 12 steps checked
    models = build_gan(16, model="mlp-bn", classes=10, ema=decay)  # BatchNorm statistics included
    step = make_step(loop, models, batch)
    rng = np.random.default_rng(0)
    averaged, trained = models.average.average.variables, models.generator.variables
    assert len(averaged) == len(trained) and any("moving_mean" in v.path for v in averaged)
    for t in range(12):
        before = [v.numpy() for v in averaged]
        classes = [one_hot(rng.integers(0, 10, batch), 10) for _ in range(3)]
        step(rng.uniform(-1, 1, (batch, 28, 28, 1)).astype(np.float32),
             rng.normal(size=(batch, 16)).astype(np.float32), rng.normal(size=(batch, 16)).astype(np.float32),
             *classes)
        d = np.minimum(np.float32(decay), np.float32(1 + t) / np.float32(10 + t))
        for old, average, weight in zip(before, averaged, trained):
            expected = d * old + (np.float32(1) - d) * weight.numpy()
            np.testing.assert_allclose(average.numpy(), expected, rtol=1e-6, atol=1e-7, err_msg=average.path)
        assert int(models.average.updates.numpy()) == t + 1
    assert any(not np.array_equal(a.numpy(), w.numpy()) for a, w in zip(averaged, trained))


def test_no_average_when_turned_off():
    models = build_gan(16, model="mlp", ema=0)
    assert models.average is None and models.sampled is models.generator


@pytest.mark.parametrize("epochs, interval", [(3000, 100), (20000, 1000), (200_000, 10_000), (50, 2), (5, 1)])
def test_automatic_save_interval_is_round_and_gives_about_25_grids(epochs, interval):
    assert auto_save_interval(epochs) == interval
    grids = epochs // interval + 1
    assert epochs < 20 or 20 <= grids <= 31


def test_checkpoints_keep_their_own_interval():
    automatic = resolve_intervals(TrainConfig(epochs=3000))
    assert (automatic.save_interval, automatic.checkpoint_interval) == (100, 1000)
    given = resolve_intervals(TrainConfig(epochs=3000, save_interval=3))
    assert given.checkpoint_interval == 3  # an explicit --save-interval still sets both, as before
    both = resolve_intervals(TrainConfig(epochs=3000, save_interval=3, checkpoint_interval=7))
    assert (both.save_interval, both.checkpoint_interval) == (3, 7)


@pytest.mark.slow
def test_a_run_without_save_interval_writes_about_25_grids(tmp_path, small_mnist):
    from conftest import run_script

    run_dir = tmp_path / "run"
    result = run_script("train.py", "--epochs", "50", "--batch-size", "4", "--data", small_mnist,
                        "--out", str(run_dir), "--no-tensorboard", "--no-progress")
    assert result.returncode == 0, result.stderr
    grids = sorted(name for name in os.listdir(run_dir) if name.startswith("grid_"))
    assert grids == [f"grid_{i:07d}.png" for i in range(0, 51, 2)]  # every 2 iterations: 26 frames
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["ckpt_0000000.npz", "ckpt_0000050.npz"]
