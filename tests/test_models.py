"""The models match the notebook's layers, sizes and parameter counts."""

import keras
import numpy as np
import pytest

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


def dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def activations(model):
    """Activation layers and Dense activations, in order, as (kind, slope) pairs."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.LeakyReLU):
            found.append(("leaky_relu", layer.negative_slope))
        elif isinstance(layer, keras.layers.ReLU):
            found.append(("relu", None))
        elif isinstance(layer, keras.layers.Dense) and layer.activation.__name__ != "linear":
            found.append((layer.activation.__name__, None))
    return found


def test_mlp_families_match_their_seed_documents():
    from gan_keras.models import build_pair

    generator, discriminator = build_pair("mlp", 100)
    assert dense_units(generator) == [128, 784] and dense_units(discriminator) == [128, 1]
    assert activations(generator) == [("relu", None), ("tanh", None)]
    assert activations(discriminator) == [("leaky_relu", 0.2), ("sigmoid", None)]

    generator, discriminator = build_pair("mlp-bn", 100)
    assert dense_units(generator) == [256, 512, 1024, 784] and dense_units(discriminator) == [512, 256, 1]
    assert layer_kinds(generator)[:3] == ["Dense", "LeakyReLU", "BatchNormalization"]  # the seed's order
    assert sum(kind == "BatchNormalization" for kind in layer_kinds(generator)) == 3
    assert "BatchNormalization" not in layer_kinds(discriminator)

    generator, discriminator = build_pair("fc", 64)
    assert generator.input_shape == (None, 64)
    assert dense_units(generator) == [256, 784] and dense_units(discriminator) == [128, 1]
    assert activations(generator) == [("leaky_relu", 0.01), ("tanh", None)]
    assert activations(discriminator) == [("leaky_relu", 0.01), ("sigmoid", None)]


@pytest.mark.parametrize("family", ["dcgan", "mlp", "mlp-bn", "fc"])
def test_conditional_models_take_a_class(family):
    from gan_keras.models import build_pair

    generator, discriminator = build_pair(family, 8, classes=10)
    assert generator.input_shape == [(None, 8), (None, 10)]
    assert discriminator.input_shape == [(None, 28, 28, 1), (None, 10)]
    noise = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    digits = np.eye(10, dtype="float32")[[0, 1, 2, 3]]
    other = np.eye(10, dtype="float32")[[5, 5, 5, 5]]
    images = np.asarray(generator([noise, digits], training=False))
    assert images.shape == (4, 28, 28, 1)
    assert not np.allclose(images, generator([noise, other], training=False))  # the class matters
    assert discriminator([images, digits]).shape == (4, 1)


def test_conditional_dcgan_discriminator_projects_the_class_onto_its_features():
    """logit = dense(phi(x)) + <embed(y), phi(x)>: the class counts even with the input embedding cut."""
    from gan_keras.models import build_pair

    _, discriminator = build_pair("dcgan", 8, classes=10)
    embedding = discriminator.get_layer("label_embedding")
    embedding.set_weights([np.zeros_like(weight) for weight in embedding.get_weights()])
    images = np.random.default_rng(1).uniform(-1, 1, size=(4, 28, 28, 1)).astype("float32")
    threes, fives = (np.eye(10, dtype="float32")[[digit] * 4] for digit in (3, 5))

    probability = np.asarray(discriminator([images, threes])).ravel()
    assert not np.allclose(probability, np.asarray(discriminator([images, fives])).ravel())

    phi = np.asarray(keras.Model(discriminator.inputs, discriminator.get_layer("flatten").output)(
        [images, threes]), dtype="float64")
    kernel, bias = discriminator.get_layer("unconditional_logit").get_weights()
    direction = discriminator.get_layer("label_projection").get_weights()[0][3]
    logit = (phi @ kernel).ravel() + bias[0] + phi @ direction
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-logit)), rtol=1e-4, atol=1e-6)


def test_model_table_gives_defaults_and_flags_override():
    from gan_keras.defaults import MODEL_DEFAULTS, TrainConfig
    from gan_keras.settings import with_family_and_recipe as with_model_defaults

    fc = with_model_defaults(TrainConfig(model="fc"))
    assert (fc.latent_dim, fc.batch_size, fc.lr, fc.beta1) == (64, 32, 3e-4, 0.9)
    mlp = with_model_defaults(TrainConfig(model="mlp", batch_size=8, lr=1e-3))
    assert (mlp.latent_dim, mlp.batch_size, mlp.lr) == (100, 8, 1e-3)
    dcgan = with_model_defaults(TrainConfig())
    assert (dcgan.latent_dim, dcgan.batch_size, dcgan.lr, dcgan.beta1) == (100, 32, 2e-4, 0.5)
    assert MODEL_DEFAULTS["mlp-bn"].d_loss_scale == 0.5 and MODEL_DEFAULTS["dcgan"].d_update == "separate"
