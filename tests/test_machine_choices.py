"""Every machine choice is recorded in config.json, honoured on resume, and can be turned off."""

import json
import os

import keras
import pytest

from gan_keras import machine_choices
from gan_keras.defaults import TrainConfig
from gan_keras.settings import with_family_and_recipe
from gan_keras.models.training_forms import TRAINING_FORMS


def test_a_run_records_its_precision_upsampling_and_training_forms(trained_run):
    arguments = json.load(open(os.path.join(trained_run, "config.json")))["arguments"]
    assert "auto" not in (arguments["mixed_precision"], arguments["upsampling"], arguments["training_forms"])
    assert machine_choices.parse_forms(arguments["training_forms"]) == machine_choices.training_forms_here(
        arguments["mixed_precision"], 0)


def test_standard_trains_with_keras_layers_only():
    from gan_keras.training.gan import build_run_models
    from gan_keras.models.walk import nested_layers

    config = with_family_and_recipe(TrainConfig(training_forms="standard", mixed_precision="none", seed=1, image_size=28, channels=1))
    config = machine_choices.settle_for_this_machine(config)
    assert config.training_forms == "standard" and config.upsampling == "transposed"
    models = build_run_models(config, None)
    layers = [*nested_layers(models.generator), *nested_layers(models.discriminator)]
    assert not any(isinstance(layer, TRAINING_FORMS) for layer in layers)
    assert any(type(layer) is keras.layers.Conv2DTranspose for layer in layers)


def test_standard_and_subpixel_do_not_go_together():
    from gan_keras.errors import UsageError

    config = with_family_and_recipe(TrainConfig(training_forms="standard", upsampling="subpixel",
                                                mixed_precision="none"))
    with pytest.raises(UsageError, match="--training-forms standard"):
        machine_choices.settle_for_this_machine(config)


def test_resume_keeps_the_recorded_choices_and_says_what_this_machine_would_change(monkeypatch, capsys):
    monkeypatch.setattr(machine_choices, "choose_training_forms", lambda gpus, onednn=None, precision="none": (
        "fused_norm",))
    monkeypatch.setattr(machine_choices, "choose_precision", lambda requested, gpus, *args, **kwargs: (
        machine_choices.PrecisionChoice("none" if requested == "auto" else requested, None, "a CPU without bf16")))
    recorded = with_family_and_recipe(TrainConfig(mixed_precision="bf16", upsampling="transposed",
                                                  training_forms="tap_sum,fused_norm,fast_dropout"))
    recorded = machine_choices.settle_for_this_machine(recorded, resumed=True)
    assert (recorded.mixed_precision, recorded.training_forms) == ("bf16", "tap_sum,fused_norm,fast_dropout")
    note = capsys.readouterr().out.strip().splitlines()
    assert len(note) == 1 and note[0].startswith("note: resuming with --mixed-precision bf16, --training-forms")
    assert "auto would choose none, fused_norm" in note[0] and "a CPU without bf16" in note[0]
    same = with_family_and_recipe(TrainConfig(mixed_precision="none", upsampling="transposed",
                                              training_forms="fused_norm"))
    machine_choices.settle_for_this_machine(same, resumed=True)
    assert capsys.readouterr().out == ""  # nothing would change: nothing said


def test_unknown_training_forms_are_refused_in_one_line():
    from gan_keras.settings import validate
    from gan_keras.errors import UsageError

    with pytest.raises(UsageError, match="--training-forms must be auto, standard or names among"):
        validate(TrainConfig(training_forms="fused_norm,warp_speed"))
