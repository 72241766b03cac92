"""Checkpoint entries are matched to variables by name and shape, never by position."""

import json

import numpy as np
import pytest

from gan_keras.training.checkpoints import (CheckpointMismatch, model_variables, restore_latest,
                                            save_checkpoint, variable_groups)
from gan_keras.training.gan import build_gan


@pytest.fixture
def saved(tmp_path):
    models = build_gan(8, ema=0.9)
    path = save_checkpoint(str(tmp_path), models, 3, np.zeros((25, 8), np.float32), np.random.default_rng(0),
                           [], keep=2)
    return path, models


def rewrite(path, change):
    with np.load(path) as archive:
        arrays = dict(archive)
    change(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def test_entries_are_named_by_layer_and_two_same_shaped_variables_stay_apart(saved, tmp_path):
    path, models = saved
    names = model_variables(models.generator)
    assert names["up_14x14_bn/gamma"].shape == names["project_bn/gamma"].shape == (128,)
    names["up_14x14_bn/gamma"].assign(np.full(128, 3.0, np.float32))
    names["project_bn/gamma"].assign(np.full(128, 5.0, np.float32))
    save_checkpoint(str(tmp_path), models, 4, np.zeros((25, 8), np.float32), np.random.default_rng(0), [], keep=2)
    fresh = build_gan(8, ema=0.9)
    restore_latest(str(tmp_path), fresh, np.random.default_rng(1))
    restored = model_variables(fresh.generator)
    assert np.all(restored["up_14x14_bn/gamma"].numpy() == 3.0)
    assert np.all(restored["project_bn/gamma"].numpy() == 5.0)
    assert set(variable_groups(fresh)) == {"generator", "discriminator", "d_optimizer", "g_optimizer",
                                           "generator_average"}


def test_a_renamed_entry_is_refused_in_one_line_and_nothing_changes(saved, tmp_path):
    path, _ = saved
    rewrite(path, lambda a: a.update({"generator/up_14x14_bnX/gamma": a.pop("generator/up_14x14_bn/gamma")}))
    fresh = build_gan(8, ema=0.9)
    before = [v.numpy().copy() for v in fresh.generator.variables]
    with pytest.raises(CheckpointMismatch, match=r"does not match this run's models: missing "
                                                 r"generator/up_14x14_bn/gamma; not in this run's models "
                                                 r"generator/up_14x14_bnX/gamma$"):
        restore_latest(str(tmp_path), fresh, np.random.default_rng(1))
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, fresh.generator.variables))


def test_a_wrong_shape_and_the_old_positional_format_are_refused(saved, tmp_path):
    path, _ = saved
    rewrite(path, lambda a: a.update({"generator/project/bias": np.zeros(3, np.float32)}))
    with pytest.raises(CheckpointMismatch, match=r"shape generator/project/bias \(3,\) vs \(6272,\)"):
        restore_latest(str(tmp_path), build_gan(8, ema=0.9), np.random.default_rng(1))

    def old_format(arrays):
        record = json.loads(str(arrays["record"]))
        del record["format"]
        arrays["record"] = np.array(json.dumps(record))

    rewrite(path, old_format)
    with pytest.raises(CheckpointMismatch, match="older gan_keras"):
        restore_latest(str(tmp_path), build_gan(8, ema=0.9), np.random.default_rng(1))
