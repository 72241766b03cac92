"""The sub-pixel form of a stride-2 Conv2DTranspose: the same numbers, the same variables, standard files."""

import keras
import numpy as np
import pytest

from gan_keras.models import build_generator
from gan_keras.models.subpixel import SubpixelConv2DTranspose
from gan_keras.models.tap_sum import TapSumConv2DTranspose
from gan_keras.models.fused_norm import FusedBatchNormalization
from gan_keras.models.training_forms import FORMS, TRAINING_FORMS, to_standard, to_training_forms


@pytest.mark.parametrize("classes", [None, 10])
def test_generator_round_trip_keeps_names_weights_and_outputs(classes, tmp_path):
    keras.utils.set_random_seed(0)
    generator = build_generator(16, classes)
    fast = to_training_forms(generator, tuple(FORMS))
    kinds = {layer.name: type(layer) for layer in fast.layers}
    assert kinds["up_14x14"] is kinds["up_28x28"] is SubpixelConv2DTranspose
    assert kinds["up_14x14_bn"] is kinds["up_28x28_bn"] is FusedBatchNormalization
    assert kinds["to_image"] is TapSumConv2DTranspose  # stride 1, one filter
    assert [v.path for v in fast.variables] == [v.path for v in generator.variables]
    noise = np.random.default_rng(3).normal(size=(6, 16)).astype("float32")
    inputs = noise if classes is None else [noise, np.eye(10, dtype="float32")[:6]]
    for training in (True, False):
        np.testing.assert_allclose(fast(inputs, training=training), generator(inputs, training=training),
                                   atol=1e-5)

    saved = to_standard(fast)
    assert not any(isinstance(layer, TRAINING_FORMS) for layer in saved.layers)
    path = str(tmp_path / "generator.keras")
    saved.save(path)
    names = [f"gan_keras>{form.__name__}" for form in TRAINING_FORMS]
    registered = {name: keras.saving.get_custom_objects().pop(name) for name in names}
    try:  # the file must load where this package's classes are unknown
        loaded = keras.saving.load_model(path)
    finally:
        keras.saving.get_custom_objects().update(registered)
    assert all(type(layer) not in TRAINING_FORMS for layer in loaded.layers)
    np.testing.assert_allclose(loaded(inputs), fast(inputs), atol=1e-5)


def test_models_without_eligible_layers_come_back_unchanged():
    from gan_keras.models import mlp

    generator = mlp.build_mlp_generator(16, None)
    assert to_training_forms(generator, tuple(FORMS)) is generator and to_standard(generator) is generator


@pytest.mark.slow
def test_training_with_subpixel_matches_transposed_and_saves_standard_layers(tmp_path, small_mnist, trained_run):
    """train.py --upsampling subpixel: the trained_run fixture's losses (to float rounding), a plain generator.keras."""
    import csv
    import json
    import os
    import subprocess
    import sys
    import zipfile

    from conftest import run_script

    run_dir = tmp_path / "subpixel"
    result = run_script("train.py", "--epochs", "6", "--save-interval", "3", "--batch-size", "16",
                        "--log-interval", "2", "--data", small_mnist, "--out", str(run_dir),
                        "--seed", "3", "--no-progress", "--upsampling", "subpixel")
    assert result.returncode == 0, result.stderr
    with open(run_dir / "config.json") as handle:
        assert json.load(handle)["arguments"]["upsampling"] == "subpixel"

    def losses(folder):
        with open(os.path.join(folder, "losses.csv")) as handle:
            return [{k: float(v) for k, v in row.items() if k.endswith("loss")} for row in csv.DictReader(handle)]

    transposed, subpixel = losses(trained_run), losses(run_dir)
    assert len(subpixel) == len(transposed) == 3 and set(subpixel[0]) == set(transposed[0])
    for a, b in zip(transposed, subpixel):
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=2e-3, abs=2e-4), key

    with zipfile.ZipFile(run_dir / "generator.keras") as archive:
        saved_config = archive.read("config.json").decode()
    assert "Subpixel" not in saved_config and "Conv2DTranspose" in saved_config
    code = ("import keras, numpy as np, sys; m = keras.saving.load_model(sys.argv[1]); "
            "print(m.predict(np.zeros((2, 100)), verbose=0).shape)")
    loaded = subprocess.run([sys.executable, "-c", code, str(run_dir / "generator.keras")],
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0 and "(2, 28, 28, 1)" in loaded.stdout, loaded.stderr

    resumed = run_script("train.py", "--resume", str(run_dir), "--epochs", "8", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert len(losses(run_dir)) == 4


@pytest.mark.parametrize("requested, gpus, onednn, chosen", [
    ("auto", 0, True, "transposed"),
    ("auto", 0, False, "subpixel"),  # Eigen's transposed convolution is the slow one
    ("auto", 1, False, "transposed"),
    ("transposed", 0, False, "transposed"),
    ("subpixel", 0, True, "subpixel"),
])
def test_upsampling_choice_follows_the_kernels_tensorflow_runs(requested, gpus, onednn, chosen):
    from gan_keras.machine_choices import choose_upsampling

    assert choose_upsampling(requested, gpus, onednn) == chosen


def test_settle_upsampling_records_the_choice(monkeypatch, capsys):
    from gan_keras import runtime
    from gan_keras.defaults import TrainConfig
    from gan_keras.machine_choices import settle_upsampling

    monkeypatch.setattr(runtime, "onednn_enabled", lambda: False)
    assert TrainConfig().upsampling == "auto"
    assert settle_upsampling("auto") == "subpixel" and "upsampling: subpixel (auto" in capsys.readouterr().out
    assert settle_upsampling("auto", multiworker=True) == "transposed"
    monkeypatch.setattr(runtime, "onednn_enabled", lambda: True)
    assert settle_upsampling("auto") == "transposed"
