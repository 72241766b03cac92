"""The notebook's DCGAN: the same layers, sizes, activations, BatchNorm and Dropout placement."""

from __future__ import annotations

import keras
from keras import layers

from gan_keras.defaults import MODEL_DEFAULTS
from gan_keras.models.conditioning import generator_model, projection_discriminator_model, spectral_if

IMG_SHAPE = (28, 28, 1)
LEAK = 0.2
DROPOUT = MODEL_DEFAULTS["dcgan"].d_dropout  # the notebook's 0.3
D_NORMALIZATIONS = ("none", "batch", "spectral")


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
                        classes: int | None = None, normalization: str = "none") -> keras.Model:
    """Image -> probability that it is real.

    Two stride-2 convolutions (64, 128 filters), each followed by LeakyReLU and
    Dropout, then one sigmoid unit. ``dropout`` is the notebook's 0.3; 0 leaves the
    Dropout layers out. ``normalization`` is the notebook's ``none``; ``batch`` adds
    BatchNorm after the second convolution (the DCGAN paper's D: none on the first);
    ``spectral`` wraps every convolution and Dense layer in Keras's
    ``SpectralNormalization``. The output probability is float32 even under a
    mixed-precision policy, so the loss is computed in full precision. With
    ``classes``, the class joins the image and is projected onto the final features
    (see :func:`projection_discriminator_model`).
    """
    if normalization not in D_NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {D_NORMALIZATIONS}, got {normalization!r}")
    features = [
        *_convolution(64, "down_14x14", normalization, dropout, batch_norm=False),
        *_convolution(128, "down_7x7", normalization, dropout, batch_norm=normalization == "batch"),
        layers.Flatten(name="flatten"),
    ]
    if classes is not None:
        return projection_discriminator_model(features, img_shape, classes, spectral=normalization == "spectral")
    image = keras.Input(shape=img_shape, name="image")
    output = spectral_if(normalization == "spectral",
                         layers.Dense(1, activation="sigmoid", dtype="float32", name="real_probability"))
    return keras.Sequential([image, *features, output], name="discriminator")


def _convolution(filters: int, name: str, normalization: str, dropout: float, batch_norm: bool) -> list:
    """One of D's blocks: a 3x3 stride-2 convolution [BatchNorm], LeakyReLU [Dropout]."""
    block = [spectral_if(normalization == "spectral",
                         layers.Conv2D(filters, kernel_size=3, strides=2, padding="same", name=name))]
    if batch_norm:
        block.append(layers.BatchNormalization(name=f"{name}_bn"))
    block.append(layers.LeakyReLU(negative_slope=LEAK, name=f"{name}_leaky_relu"))
    if dropout:
        block.append(layers.Dropout(dropout, name=f"{name}_dropout"))
    return block
