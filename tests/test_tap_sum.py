"""The tap-sum form of a stride-1 Conv2DTranspose to a few channels: the same numbers and variables."""

import keras
import pytest

from gan_keras.models.tap_sum import TapSumConv2DTranspose
from gan_keras.training.gan import build_gan


def test_gan_trains_to_image_in_tap_sum_form_by_default():
    assert type(build_gan(16).generator.get_layer("to_image")) is TapSumConv2DTranspose
    assert type(build_gan(16, training_forms=()).generator.get_layer("to_image")) is keras.layers.Conv2DTranspose


@pytest.mark.parametrize("gpus, onednn, tap_sum", [(0, True, True), (0, False, False)])
def test_tap_sum_only_where_onednn_runs_the_cpu_convolutions(gpus, onednn, tap_sum):
    """Eigen's one-channel transposed convolution beats the tap sum (docs/speed.md)."""
    from gan_keras.machine_choices import choose_training_forms

    forms = choose_training_forms(gpus, onednn)
    assert ("tap_sum" in forms) == tap_sum
    assert {"fused_norm", "fast_dropout"} <= set(forms)


def test_a_gpu_trains_with_keras_layers_until_measured():
    from gan_keras.machine_choices import choose_training_forms

    assert choose_training_forms(1, True) == ()


def test_train_py_builds_the_forms_chosen_for_the_machine(monkeypatch):
    """The run's forms are machine_choices.choose_training_forms's (here: told oneDNN is off), except under
    multiworker, where every worker takes the same fixed forms."""
    from gan_keras import machine_choices
    from gan_keras.defaults import TrainConfig

    monkeypatch.setattr(machine_choices, "choose_training_forms", lambda gpus, onednn=None, precision="none": (
        "fused_norm", "fast_dropout"))
    config = machine_choices.settle_for_this_machine(TrainConfig(mixed_precision="none"))
    assert config.training_forms == "fused_norm,fast_dropout"
    config = machine_choices.settle_for_this_machine(TrainConfig(strategy="multiworker"))
    assert "tap_sum" in config.training_forms.split(",")  # every worker alike
