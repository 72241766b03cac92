"""Mixed precision builds, trains with finite losses on both loops, and leaves the global policy alone."""

import keras
import numpy as np
import pytest

from gan_keras.training.fast_step import FastStep
from gan_keras.training.gan import build_gan
from gan_keras.training.notebook_step import NotebookStep

BATCH = 8


@pytest.mark.parametrize("precision, compute_dtype", [("bf16", "bfloat16"), ("fp16", "float16")])
def test_mixed_precision_trains_on_both_loops(precision, compute_dtype):
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32")
    noise = rng.normal(size=(BATCH, 100)).astype("float32")
    for make_step in (NotebookStep, FastStep):
        models = build_gan(mixed_precision=precision)
        assert keras.mixed_precision.global_policy().name == "float32"
        assert models.generator.layers[0].compute_dtype == compute_dtype
        assert models.generator.output_shape == (None, 28, 28, 1)
        assert models.generator(noise).dtype == "float32"  # the output layer computes in float32
        before = [w.numpy().copy() for w in models.generator.trainable_weights]
        losses = make_step(models, BATCH)(real, noise, noise)
        assert all(np.isfinite(value) for value in losses.values()), (make_step.__name__, losses)
        moved = [not np.array_equal(a, w.numpy()) for a, w in zip(before, models.generator.trainable_weights)]
        assert all(moved), make_step.__name__
    if precision == "fp16":
        assert isinstance(models.combined.optimizer, keras.optimizers.LossScaleOptimizer)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_saved_models_compute_in_float32_with_the_trained_weights(tmp_path, precision):
    """A G trained under mixed precision is saved computing in float32 (its variables are float32 already):
    it samples at full speed where bfloat16 is emulated and on any backend, and draws what a float32 G with
    the same weights draws; the training model's own images differ from it only by 16-bit rounding."""
    from gan_keras.models.training_forms import to_standard

    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32")
    noise = rng.normal(size=(BATCH, 100)).astype("float32")
    models = build_gan(mixed_precision=precision)
    FastStep(models, BATCH)(real, noise, noise)
    path = str(tmp_path / "generator.keras")
    to_standard(models.generator).save(path)
    loaded = keras.saving.load_model(path)
    assert {layer.dtype_policy.name for layer in loaded._flatten_layers()} == {"float32"}
    reference = build_gan(mixed_precision="none").generator
    for target, source in zip(reference.variables, models.generator.variables, strict=True):
        target.assign(source)
    drawn = keras.ops.convert_to_numpy(loaded(noise, training=False))
    np.testing.assert_allclose(drawn, keras.ops.convert_to_numpy(reference(noise, training=False)), atol=1e-5)
    trained = keras.ops.convert_to_numpy(models.generator(noise, training=False))
    assert 0 < np.abs(trained - drawn).max() < 0.05
    discriminator = to_standard(models.discriminator)
    assert {layer.dtype_policy.name for layer in discriminator._flatten_layers()} == {"float32"}


BF16_CPU = ["avx2", "avx512f", "avx512_bf16"]


AMX_CPU = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"]
AMD_SPEEDUP, INTEL_NO_AMX_SPEEDUP = 1.9, 0.57  # bf16 / float32 matmul rates measured on the two kinds


@pytest.mark.parametrize("requested, gpus, flags, onednn, speedup, chosen, warns", [
    ("auto", 0, BF16_CPU, True, AMD_SPEEDUP, "bf16", False),
    ("auto", 0, BF16_CPU, True, INTEL_NO_AMX_SPEEDUP, "none", False),  # native, but slower than float32
    ("auto", 0, BF16_CPU, True, 1.3, "none", False),  # too little gain to pay for the casts
    ("auto", 0, AMX_CPU, True, 4.0, "bf16", False),
    ("auto", 0, ["avx2"], True, None, "none", False),
    ("auto", 1, BF16_CPU, True, None, "none", False),
    ("auto", 0, BF16_CPU, False, None, "none", False),  # TF_ENABLE_ONEDNN_OPTS=0: Eigen emulates bf16
    ("bf16", 0, ["avx2"], True, None, "bf16", True),
    ("bf16", 0, BF16_CPU, True, AMD_SPEEDUP, "bf16", False),
    ("bf16", 0, BF16_CPU, True, INTEL_NO_AMX_SPEEDUP, "bf16", True),
    ("bf16", 0, BF16_CPU, False, None, "bf16", True),
    ("bf16", 2, ["avx2"], True, None, "bf16", False),
    ("none", 0, BF16_CPU, True, None, "none", False),
])
def test_precision_choice_follows_the_hardware(monkeypatch, requested, gpus, flags, onednn, speedup, chosen,
                                               warns):
    """The speedup is measured only where the flags leave the choice open (None: it must not be)."""
    from gan_keras import machine_choices, roofline

    def no_probe():
        raise AssertionError("the bf16 speed probe ran where the flags already decide")

    monkeypatch.setattr(roofline, "bf16_matmul_speedup", no_probe)
    got, warning, reason = machine_choices.choose_precision(requested, gpus, flags, onednn, bf16_speedup=speedup)
    assert got == chosen and reason and "\n" not in reason
    if speedup is not None and gpus == 0:
        assert f"{speedup:.2f}x" in reason  # the measured ratio: train.py prints why auto chose
    assert (warning is not None) == warns
    if warns:
        assert "\n" not in warning
        if speedup is None:
            assert "emulates bfloat16" in warning
            assert ("oneDNN kernels are off" in warning) == (not onednn)
        else:
            assert f"{speedup:.2f}x" in warning and "slower" in warning


def test_bf16_probe_measures_without_touching_the_random_state():
    """The probe times real products (a positive ratio) and draws from no global random state,
    so a seeded run trains alike whether or not its settling step measured."""
    import tensorflow as tf

    from gan_keras.roofline import bf16_matmul_speedup

    tf.random.set_seed(3)
    expected = tf.random.uniform((4,)).numpy()
    tf.random.set_seed(3)
    speedup = bf16_matmul_speedup(size=128)
    assert 0 < speedup < 100
    np.testing.assert_array_equal(tf.random.uniform((4,)).numpy(), expected)


def test_probe_takes_turns_so_a_slow_spell_slows_both_dtypes(monkeypatch):
    """A slow spell over 60% of the probe (every timing 50x longer there) must not move the ratio:
    the dtypes take turns, so each has timings outside the spell, and the best of each is compared."""
    from gan_keras import roofline

    calls = []

    def clock():  # a fake clock: each timing lasts 1 s, or 50 s during the spell
        calls.append(None)
        return sum(50.0 if index < roofline.SPEEDUP_PROBE_REPEATS * 5 // 2 else 1.0 for index in range(len(calls)))

    monkeypatch.setattr(roofline.time, "perf_counter", clock)
    assert roofline.bf16_matmul_speedup(size=64) == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("user_setting, enabled", [(None, True), ("0", False)])
def test_importing_the_package_turns_onednn_on_unless_the_user_said_otherwise(user_setting, enabled):
    """On x86-64 Linux: TensorFlow leaves oneDNN off on AVX2-only CPUs; gan_keras asks for it, before TF loads."""
    import os
    import platform
    import subprocess
    import sys

    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        pytest.skip("oneDNN is TensorFlow's choice on this platform; gan_keras changes nothing here")
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if user_setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = user_setting
    probe = ("import gan_keras, tensorflow\n"
             "from gan_keras.runtime import onednn_enabled\n"
             "print(onednn_enabled())")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(enabled)


def test_settle_precision_records_the_choice_and_warns_once(monkeypatch, capsys, tmp_path):
    from gan_keras import roofline, runtime
    from gan_keras.machine_choices import settle_precision

    monkeypatch.setenv("GAN_KERAS_CACHE", str(tmp_path / "first"))
    monkeypatch.setattr(runtime, "onednn_enabled", lambda: True)
    monkeypatch.setattr(roofline, "cpu_description", lambda: ("an AVX2 CPU", ["avx2"]))
    assert settle_precision("bf16") == "bf16"
    assert capsys.readouterr().err.count("emulates bfloat16") == 1
    monkeypatch.setattr(roofline, "cpu_description", lambda: ("a bf16 CPU", ["avx2", "avx512f", "avx512_bf16"]))
    monkeypatch.setattr(roofline, "bf16_matmul_speedup", lambda: AMD_SPEEDUP)
    assert settle_precision("auto") == "bf16"
    assert "mixed precision: bf16 (auto" in capsys.readouterr().out
    monkeypatch.setenv("GAN_KERAS_CACHE", str(tmp_path / "second"))  # another machine's cache
    monkeypatch.setattr(roofline, "bf16_matmul_speedup", lambda: INTEL_NO_AMX_SPEEDUP)
    assert settle_precision("auto") == "none"
    assert settle_precision("auto", multiworker=True) == "none"


def test_auto_settles_from_the_first_measure_on_this_machine(monkeypatch, capsys, tmp_path):
    """A timing near the threshold must not settle the same command differently from run to run:
    the first measure is kept (per machine) and read back, until the user deletes the file."""
    from gan_keras import cache, roofline, runtime
    from gan_keras.machine_choices import settle_precision

    monkeypatch.setenv("GAN_KERAS_CACHE", str(tmp_path))
    monkeypatch.setattr(roofline, "cpu_description", lambda: ("a bf16 CPU", BF16_CPU))
    monkeypatch.setattr(runtime, "onednn_enabled", lambda: True)
    measures = iter([1.52, 1.48, 1.47])  # either side of BF16_MIN_SPEEDUP

    monkeypatch.setattr(roofline, "bf16_matmul_speedup", lambda: next(measures))
    chosen = []
    for _ in range(2):
        chosen.append(settle_precision("auto"))
    assert chosen == ["bf16", "bf16"]
    out = capsys.readouterr().out
    assert "measured now, kept in" in out and "1.52x" in out and "measured on" in out
    stored = (tmp_path / cache.MEASUREMENTS_FILE).read_text()
    assert "1.52" in stored and roofline.machine_key() in stored
    monkeypatch.setattr(roofline, "machine_key", lambda: "another kind of CPU")  # one entry per kind
    assert settle_precision("auto") == "none" and "1.48x" in capsys.readouterr().out


def test_remembered_measures_survive_a_corrupt_or_unwritable_cache(monkeypatch, tmp_path):
    from gan_keras import cache

    monkeypatch.setenv("GAN_KERAS_CACHE", str(tmp_path))
    (tmp_path / cache.MEASUREMENTS_FILE).write_text("{not json")
    first = cache.remember("speed", "this machine", lambda: 2.0)
    assert (first.value, first.fresh) == (2.0, True)
    again = cache.remember("speed", "this machine", lambda: 9.0)
    assert (again.value, again.fresh) == (2.0, False)
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("GAN_KERAS_CACHE", str(blocker / "cache"))  # cannot be made: a file is in the way
    unkept = cache.remember("speed", "this machine", lambda: 3.0)
    assert (unkept.value, unkept.path) == (3.0, None) and "not kept" in unkept.describe()


@pytest.mark.parametrize("family", ["dcgan", "mlp", "mlp-bn", "fc"])
def test_every_family_trains_conditionally_in_bf16_on_both_loops(family):
    """G's images stay float32 under bf16 (the joint D update joins them to real float32 images)."""
    rng = np.random.default_rng(1)
    for make_step in (NotebookStep, FastStep):
        models = build_gan(model=family, classes=10, mixed_precision="bf16")
        latent = models.generator.inputs[0].shape[-1]
        classes = np.eye(10, dtype="float32")[rng.integers(0, 10, BATCH)]
        noise = rng.normal(size=(BATCH, latent)).astype("float32")
        assert models.generator([noise, classes]).dtype == "float32"
        real = rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype("float32")
        losses = make_step(models, BATCH)(real, noise, noise, classes, classes, classes)
        assert all(np.isfinite(value) for value in losses.values()), (family, make_step.__name__, losses)
