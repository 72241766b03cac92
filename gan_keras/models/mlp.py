"""The fully connected GANs of the PyTorch seed documents, as Keras models.

* ``mlp`` (pytorch_simple_gan.md): G 100-128-784 with ReLU and tanh; D 784-128-1
  with LeakyReLU 0.2 and sigmoid.
* ``mlp-bn`` (pytorch_mlp_gan_and_cgan.md): G 256-512-1024, each Dense followed
  by LeakyReLU 0.2 then BatchNorm (PyTorch's momentum 0.1 and epsilon 1e-5, i.e.
  Keras momentum 0.9); D 512-256 with LeakyReLU 0.2.
* ``fc`` (pytorch_fc_gan_tensorboard.md): G z-256-784 and D 784-128-1, both with
  LeakyReLU 0.01.

Every generator ends in a float32 tanh Dense of H*W*C units reshaped to the image; every
discriminator in a float32 sigmoid unit.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from gan_keras.models.conditioning import flat_discriminator_model, generator_model

IMG_SHAPE = (28, 28, 1)


def _to_image(img_shape: tuple[int, int, int]) -> list[layers.Layer]:
    return [layers.Dense(math.prod(img_shape), activation="tanh", dtype="float32", name="to_pixels"),
            layers.Reshape(img_shape, dtype="float32", name="to_image")]


def _real_probability() -> layers.Layer:
    return layers.Dense(1, activation="sigmoid", dtype="float32", name="real_probability")


def _hidden(units: int, index: int, leak: float | None, batch_norm: bool = False) -> list[layers.Layer]:
    """Dense, then ReLU (leak None) or LeakyReLU, then BatchNorm if asked: the seeds' order."""
    stack = [layers.Dense(units, name=f"dense_{index}")]
    stack.append(layers.ReLU(name=f"relu_{index}") if leak is None
                 else layers.LeakyReLU(negative_slope=leak, name=f"leaky_relu_{index}"))
    if batch_norm:
        stack.append(layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn_{index}"))
    return stack


def build_mlp_generator(latent_dim: int = 100, classes: int | None = None,
                        img_shape: tuple[int, int, int] = IMG_SHAPE) -> keras.Model:
    return generator_model(_hidden(128, 1, None) + _to_image(img_shape), latent_dim, classes)


def build_mlp_discriminator(classes: int | None = None,
                            img_shape: tuple[int, int, int] = IMG_SHAPE) -> keras.Model:
    return flat_discriminator_model(_hidden(128, 1, 0.2) + [_real_probability()], img_shape, classes)


def build_mlp_bn_generator(latent_dim: int = 100, classes: int | None = None,
                           img_shape: tuple[int, int, int] = IMG_SHAPE) -> keras.Model:
    body = [layer for index, units in enumerate((256, 512, 1024), start=1)
            for layer in _hidden(units, index, 0.2, batch_norm=True)]
    return generator_model(body + _to_image(img_shape), latent_dim, classes)


def build_mlp_bn_discriminator(classes: int | None = None,
                               img_shape: tuple[int, int, int] = IMG_SHAPE) -> keras.Model:
    body = _hidden(512, 1, 0.2) + _hidden(256, 2, 0.2) + [_real_probability()]
    return flat_discriminator_model(body, img_shape, classes)


def build_fc_generator(latent_dim: int = 64, classes: int | None = None,
                       img_shape: tuple[int, int, int] = IMG_SHAPE) -> keras.Model:
    return generator_model(_hidden(256, 1, 0.01) + _to_image(img_shape), latent_dim, classes)


def build_fc_discriminator(classes: int | None = None,
                           img_shape: tuple[int, int, int] = IMG_SHAPE) -> keras.Model:
    return flat_discriminator_model(_hidden(128, 1, 0.01) + [_real_probability()], img_shape, classes)
