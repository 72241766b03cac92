"""Wrapping a model family's layers into a generator and a discriminator, with or without labels.

Unconditional models are ``keras.Sequential`` stacks, as in the notebook. A
conditional model (the conditional GAN of pytorch_mlp_gan_and_cgan.md) takes a
one-hot class vector as a second input; a bias-free Dense layer turns it into a
learned label embedding (the same map as ``nn.Embedding``, one row per class),
joined to the noise in G and to the image in D. Taking one-hot vectors rather
than integer ids lets ``sample.py --interpolate`` blend classes smoothly.
"""

from __future__ import annotations

import math

import keras
from keras import layers


def generator_model(body: list[layers.Layer], latent_dim: int, classes: int | None) -> keras.Model:
    """noise (latent_dim,) [+ one-hot class (classes,)] -> the body's image."""
    noise = keras.Input(shape=(latent_dim,), name="noise")
    if classes is None:
        return keras.Sequential([noise, *body], name="generator")
    label = keras.Input(shape=(classes,), name="label")
    embedded = layers.Dense(classes, use_bias=False, name="label_embedding")(label)
    x = layers.Concatenate(name="noise_and_label")([noise, embedded])
    for layer in body:
        x = layer(x)
    return keras.Model([noise, label], x, name="generator")


def discriminator_model(body: list[layers.Layer], img_shape: tuple[int, int, int], classes: int | None,
                        flatten_image: bool) -> keras.Model:
    """image [+ one-hot class] -> the body's real-probability.

    ``flatten_image``: MLP bodies take a flat vector, and the label embedding is
    appended to it; convolutional bodies take the image, and the label is
    embedded as one extra image-sized channel.
    """
    image = keras.Input(shape=img_shape, name="image")
    front = [layers.Flatten(name="flatten_image")] if flatten_image else []
    if classes is None:
        return keras.Sequential([image, *front, *body], name="discriminator")
    label = keras.Input(shape=(classes,), name="label")
    if flatten_image:
        x = layers.Concatenate(name="image_and_label")(
            [front[0](image), layers.Dense(classes, use_bias=False, name="label_embedding")(label)])
    else:
        plane = layers.Dense(math.prod(img_shape[:2]), use_bias=False, name="label_embedding")(label)
        plane = layers.Reshape((*img_shape[:2], 1), name="label_plane")(plane)
        x = layers.Concatenate(name="image_and_label")([image, plane])
    for layer in body:
        x = layer(x)
    return keras.Model([image, label], x, name="discriminator")
