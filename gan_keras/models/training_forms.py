"""Training-time forms of standard Keras layers, and the way back to standard layers for saving.

Three layer kinds train faster in another form that keeps the same variables
and names: ``Conv2DTranspose`` as a sub-pixel convolution where the transposed
one is slow (:mod:`gan_keras.models.subpixel`) and ``BatchNormalization`` with a
fused training kernel (:mod:`gan_keras.models.fused_norm`), both the same numbers
to float rounding, and ``Dropout`` with masks drawn 16 bits per activation (the
same rate and seed stream, other random draws: :mod:`gan_keras.models.fast_dropout`).
Swapping is a clone holding the same variables (weights and seed states); every
saved model is swapped back, so files hold standard layers and load with
``keras.saving.load_model`` anywhere, without custom objects.
"""

from __future__ import annotations

import keras
from keras import layers

from gan_keras.models.fast_dropout import FastDropout
from gan_keras.models.fused_norm import FusedBatchNormalization
from gan_keras.models.subpixel import SubpixelConv2DTranspose, has_subpixel_geometry

TRAINING_FORMS = (SubpixelConv2DTranspose, FusedBatchNormalization, FastDropout)


def to_training_forms(model: keras.Model, subpixel: bool = False, fused_norm: bool = True,
                      fast_dropout: bool = True) -> keras.Model:
    """``model`` with its eligible layers in their training forms: same names, variables and weights.

    ``subpixel``: each 3x3, stride-2, SAME ``Conv2DTranspose``; ``fused_norm``: each
    ``BatchNormalization`` of images (4-D inputs: the fused kernel's); ``fast_dropout``:
    each ``Dropout``. Call it in the scope the model's variables belong to (a
    ``tf.distribute`` strategy's). A model with nothing to swap comes back as it is.
    """
    def form(layer):
        if subpixel and type(layer) is layers.Conv2DTranspose and has_subpixel_geometry(layer):
            return SubpixelConv2DTranspose
        if fused_norm and type(layer) is layers.BatchNormalization and _rank(layer) == 4:
            return FusedBatchNormalization
        if fast_dropout and type(layer) is layers.Dropout:
            return FastDropout
        return None

    return _swapped(model, form)


def to_standard(model: keras.Model) -> keras.Model:
    """``model`` made of standard Keras layers again, with the same weights (for saving)."""
    return _swapped(model, lambda layer: layer.__class__.__base__ if isinstance(layer, TRAINING_FORMS) else None)


def _rank(layer) -> int | None:
    """The rank of ``layer``'s input in its model, None where it has no single input."""
    try:
        return len(layer.input.shape)
    except (AttributeError, ValueError):
        return None


def _swapped(model: keras.Model, form) -> keras.Model:
    """A clone of ``model`` where each layer for which ``form`` gives a class is rebuilt as that class from
    its config, holding the same variables (weights and seed states); ``model`` itself when ``form`` gives
    no class for any layer."""
    if not any(form(layer) for layer in model._flatten_layers()):  # noqa: SLF001 - nested models too
        return model

    def clone(layer):
        return (form(layer) or layer.__class__).from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    for source, target in zip(model.variables, copy.variables, strict=True):
        if source.path.rsplit("/", 1)[-1] != target.path.rsplit("/", 1)[-1] or source.shape != target.shape:
            raise ValueError(f"{model.name}: cloning paired {source.path} with {target.path}")
        target.assign(source)
    return copy
