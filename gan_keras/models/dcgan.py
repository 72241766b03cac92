"""The notebook's DCGAN at 28x28, and at 32, 64 and 128 pixels the same kind of network by one rule.

At 28x28 (grayscale, or RGB for Stacked MNIST) G and D are the notebook's layers, sizes, activations,
BatchNorm and Dropout placement; only the channels of G's output and D's input follow the data.

At 32, 64 and 128 pixels, in the spirit of the DCGAN paper's 64x64 networks: G projects the noise to a
4x4 map, then grows by one stride-2 transposed convolution per doubling, each followed by LeakyReLU and
BatchNorm (the notebook's order), halving its channels each time, and ends in a stride-1 transposed
convolution to C channels with tanh. D mirrors it: one stride-2 convolution per halving down to 4x4,
doubling its channels each time, LeakyReLU (and the recipe's Dropout and normalisation), then one sigmoid
unit. A layer's channels times the side of its map is G_WIDTH in G and D_WIDTH in D (half G's, as in the
notebook, whose G has 128 channels at 14 px and D 64): every layer costs about the same, and G is a
512-channel 4x4 map at every size. All kernels are 3x3, the notebook's, so the training forms apply at
every size.
"""

from __future__ import annotations

import keras
from keras import layers

from gan_keras.defaults import MODEL_DEFAULTS
from gan_keras.models.conditioning import generator_model, projection_discriminator_model, spectral_if

IMG_SHAPE = (28, 28, 1)
LEAK = 0.2
DROPOUT = MODEL_DEFAULTS["dcgan"].d_dropout  # the notebook's 0.3
D_NORMALIZATIONS = ("none", "batch", "spectral")
NOTEBOOK_SIZE = 28
BASE = 4  # the side of G's first map and D's last one, at 32 px and more
G_WIDTH = 2048  # channels x side of every map of G, at 32 px and more
D_WIDTH = 1024  # the same for D: half G's, as in the notebook


def build_generator(latent_dim: int = 100, classes: int | None = None,
                    image_shape: tuple[int, int, int] = IMG_SHAPE) -> keras.Model:
    """Noise (latent_dim,) -> image ``image_shape`` in [-1, 1].

    At 28x28: Dense to a 7x7x128 map, two stride-2 transposed convolutions up to 28x28, then a stride-1
    transposed convolution to the image's channels with tanh (the notebook's). At 32 px and more, the rule of
    the module's docstring. The output layer computes in float32 even under a mixed-precision policy. With
    ``classes``, a one-hot class is a second input (see :mod:`gan_keras.models.conditioning`).
    """
    size, _, channels = image_shape
    if size == NOTEBOOK_SIZE:
        body = [*_projection(7, 128), *_upsampling(128, "up_14x14"), *_upsampling(64, "up_28x28")]
    else:
        body, side = list(_projection(BASE, G_WIDTH // BASE)), BASE
        while side < size:
            side *= 2
            body += _upsampling(G_WIDTH // side, f"up_{side}x{side}")
    body.append(layers.Conv2DTranspose(channels, kernel_size=3, strides=1, padding="same", activation="tanh",
                                       dtype="float32", name="to_image"))
    return generator_model(body, latent_dim, classes)


def _projection(side: int, filters: int) -> list:
    """The noise to a ``side`` x ``side`` x ``filters`` map: Dense, LeakyReLU, Reshape, BatchNorm (the notebook's)."""
    return [layers.Dense(side * side * filters, name="project"),
            layers.LeakyReLU(negative_slope=LEAK, name="project_leaky_relu"),
            layers.Reshape((side, side, filters), name=f"to_{side}x{side}"),
            layers.BatchNormalization(name="project_bn")]


def _upsampling(filters: int, name: str) -> list:
    """One of G's doublings: a 3x3 stride-2 transposed convolution, LeakyReLU, BatchNorm."""
    return [layers.Conv2DTranspose(filters, kernel_size=3, strides=2, padding="same", name=name),
            layers.LeakyReLU(negative_slope=LEAK, name=f"{name}_leaky_relu"),
            layers.BatchNormalization(name=f"{name}_bn")]


def build_discriminator(img_shape: tuple[int, int, int] = IMG_SHAPE, dropout: float = DROPOUT,
                        classes: int | None = None, normalization: str = "none") -> keras.Model:
    """Image -> probability that it is real.

    At 28x28: two stride-2 convolutions (64, 128 filters), each followed by LeakyReLU and Dropout, then one
    sigmoid unit (the notebook's). At 32 px and more, the rule of the module's docstring. ``dropout`` is the
    notebook's 0.3; 0 leaves the Dropout layers out. ``normalization`` is the notebook's ``none``; ``batch``
    adds BatchNorm after every convolution but the first (the DCGAN paper's D); ``spectral`` wraps every
    convolution and Dense layer in Keras's ``SpectralNormalization``. The output probability is float32 even
    under a mixed-precision policy, so the loss is computed in full precision. With ``classes``, the class
    joins the image and is projected onto the final features (see :func:`projection_discriminator_model`).
    """
    if normalization not in D_NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {D_NORMALIZATIONS}, got {normalization!r}")
    size = img_shape[0]
    if size == NOTEBOOK_SIZE:
        plan = [(64, 14), (128, 7)]
    else:
        sides = [size // 2**step for step in range(1, size.bit_length()) if size // 2**step >= BASE]
        plan = [(D_WIDTH // side, side) for side in sides]
    features = [layer for number, (filters, side) in enumerate(plan)
                for layer in _convolution(filters, f"down_{side}x{side}", normalization, dropout,
                                          batch_norm=normalization == "batch" and number > 0)]
    features.append(layers.Flatten(name="flatten"))
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
