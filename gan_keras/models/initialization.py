"""Weight initialisation: Keras's own (Glorot uniform, the notebook's) or the DCGAN paper's N(0, 0.02).

Radford et al. (2015) initialise every weight from a normal distribution with standard
deviation 0.02 and BatchNorm's scale from N(1, 0.02). The models are built with Keras's
defaults and then re-drawn here, so ``build_generator`` and ``build_discriminator`` stay
the notebook's and a saved model is the same kind of file either way.
"""

from __future__ import annotations

import keras

from gan_keras.models.walk import nested_layers

INITIALIZATIONS = ("glorot", "normal")
NORMAL_STDDEV = 0.02


def initialize(model: keras.Model, scheme: str, seed: int | None = None) -> None:
    """Re-draw ``model``'s kernels (and BatchNorm scales) as ``scheme`` says; ``glorot`` leaves them as built."""
    if scheme not in INITIALIZATIONS:
        raise ValueError(f"initialization must be one of {INITIALIZATIONS}, got {scheme!r}")
    if scheme == "glorot":
        return
    generator = keras.random.SeedGenerator(seed)
    for layer in nested_layers(model):
        for variable in _kernels(layer):
            variable.assign(keras.random.normal(variable.shape, stddev=NORMAL_STDDEV, seed=generator))
        if isinstance(layer, keras.layers.BatchNormalization) and layer.scale:
            layer.gamma.assign(keras.random.normal(layer.gamma.shape, 1.0, NORMAL_STDDEV, seed=generator))


def _kernels(layer) -> list:
    """The kernel of a Dense or convolution layer (not a wrapper's alias of its inner layer's)."""
    if isinstance(layer, keras.layers.Wrapper):
        return []
    kernel = getattr(layer, "kernel", None)
    return [kernel] if isinstance(kernel, keras.Variable) else []
