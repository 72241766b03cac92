"""The notebook's DCGAN: the same layers, sizes, activations, BatchNorm and Dropout placement."""

from __future__ import annotations

import keras
from keras import layers

from gan_keras.models.conditioning import generator_model, projection_discriminator_model

IMG_SHAPE = (28, 28, 1)
LEAK = 0.2
DROPOUT = 0.3


def build_generator(latent_dim: int = 100, classes: int | None = None) -> keras.Model:
    """Noise (latent_dim,) -> image (28, 28, 1) in [-1, 1].

    Dense to a 7x7x128 map, two stride-2 transposed convolutions up to 28x28,
    then a stride-1 transposed convolution to one tanh channel. The output layer
    computes in float32 even under a mixed-precision policy. With ``classes``,
    a one-hot class is a second input (see :mod:`gan_keras.models.conditioning`).
    """
    body = [
        layers.Dense(7 * 7 * 128, name="project"),
        layers.LeakyReLU(negative_slope=LEAK, name="project_leaky_relu"),
        layers.Reshape((7, 7, 128), name="to_7x7"),
        layers.BatchNormalization(name="project_bn"),
        layers.Conv2DTranspose(128, kernel_size=3, strides=2, padding="same", name="up_14x14"),
        layers.LeakyReLU(negative_slope=LEAK, name="up_14x14_leaky_relu"),
        layers.BatchNormalization(name="up_14x14_bn"),
        layers.Conv2DTranspose(64, kernel_size=3, strides=2, padding="same", name="up_28x28"),
        layers.LeakyReLU(negative_slope=LEAK, name="up_28x28_leaky_relu"),
        layers.BatchNormalization(name="up_28x28_bn"),
        layers.Conv2DTranspose(1, kernel_size=3, strides=1, padding="same", activation="tanh",
                               dtype="float32", name="to_image"),
    ]
    return generator_model(body, latent_dim, classes)


def build_discriminator(img_shape: tuple[int, int, int] = IMG_SHAPE, dropout: float = DROPOUT,
                        classes: int | None = None) -> keras.Model:
    """Image -> probability that it is real.

    Two stride-2 convolutions (64, 128 filters), each followed by LeakyReLU and
    Dropout, then one sigmoid unit. ``dropout`` is the notebook's 0.3; tests set 0
    to compare training paths exactly. The output probability is float32 even
    under a mixed-precision policy, so the loss is computed in full precision.
    With ``classes``, the class joins the image and is projected onto the final
    features (see :func:`projection_discriminator_model`).
    """
    features = [
        layers.Conv2D(64, kernel_size=3, strides=2, padding="same", name="down_14x14"),
        layers.LeakyReLU(negative_slope=LEAK, name="down_14x14_leaky_relu"),
        layers.Dropout(dropout, name="down_14x14_dropout"),
        layers.Conv2D(128, kernel_size=3, strides=2, padding="same", name="down_7x7"),
        layers.LeakyReLU(negative_slope=LEAK, name="down_7x7_leaky_relu"),
        layers.Dropout(dropout, name="down_7x7_dropout"),
        layers.Flatten(name="flatten"),
    ]
    if classes is not None:
        return projection_discriminator_model(features, img_shape, classes)
    image = keras.Input(shape=img_shape, name="image")
    output = layers.Dense(1, activation="sigmoid", dtype="float32", name="real_probability")
    return keras.Sequential([image, *features, output], name="discriminator")
