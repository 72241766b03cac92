"""The models match the notebook's layers, sizes and parameter counts."""

import keras
import numpy as np

from gan_keras.models import build_discriminator, build_generator


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_generator_matches_notebook():
    generator = build_generator(latent_dim=100)
    assert generator.input_shape == (None, 100)
    assert generator.output_shape == (None, 28, 28, 1)
    assert generator.count_params() == 856_705  # the notebook's Sequential, counted by Keras
    assert layer_kinds(generator) == [
        "Dense", "LeakyReLU", "Reshape", "BatchNormalization",
        "Conv2DTranspose", "LeakyReLU", "BatchNormalization",
        "Conv2DTranspose", "LeakyReLU", "BatchNormalization",
        "Conv2DTranspose",
    ]
    convs = [layer for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert [c.filters for c in convs] == [128, 64, 1]
    assert [c.strides for c in convs] == [(2, 2), (2, 2), (1, 1)]
    assert convs[-1].activation.__name__ == "tanh"
    assert all(layer.negative_slope == 0.2 for layer in generator.layers
               if isinstance(layer, keras.layers.LeakyReLU))


def test_generator_output_range():
    images = build_generator(16)(np.random.normal(size=(4, 16)).astype("float32"))
    assert images.shape == (4, 28, 28, 1)
    assert float(np.min(images)) >= -1 and float(np.max(images)) <= 1


def test_discriminator_matches_notebook():
    discriminator = build_discriminator()
    assert discriminator.input_shape == (None, 28, 28, 1)
    assert discriminator.output_shape == (None, 1)
    assert discriminator.count_params() == 80_769
    assert layer_kinds(discriminator) == [
        "Conv2D", "LeakyReLU", "Dropout", "Conv2D", "LeakyReLU", "Dropout", "Flatten", "Dense",
    ]
    assert [layer.rate for layer in discriminator.layers if isinstance(layer, keras.layers.Dropout)] == [0.3, 0.3]
    assert discriminator.layers[-1].activation.__name__ == "sigmoid"


def test_layers_are_named():
    for model in (build_generator(), build_discriminator()):
        names = [layer.name for layer in model.layers]
        assert len(set(names)) == len(names)
        assert not any(name.startswith(("dense", "conv2d", "batch_normalization")) for name in names)
