"""Training-time forms of standard Keras layers, and the way back to standard layers for saving.

Some layers train faster in another form that keeps the same variables and
names. The same numbers to float rounding: ``Conv2DTranspose`` as a sub-pixel
convolution where the transposed one is slow (``subpixel``,
:mod:`gan_keras.models.subpixel`), or with its kernel gradient as matmuls
(``matmul_kernel_grad``, :mod:`gan_keras.models.kernel_matmul`), or, stride 1 to a few channels, as a matmul and
a sum of shifted maps (``tap_sum``, :mod:`gan_keras.models.tap_sum`);
``BatchNormalization`` with a fused training kernel (``fused_norm``,
:mod:`gan_keras.models.fused_norm`). The same rate and seed stream, other random
draws: ``Dropout`` with masks drawn 16 bits per activation (``fast_dropout``,
:mod:`gan_keras.models.fast_dropout`). Swapping is a clone holding the same
variables (weights and seed states); every saved model is swapped back, so files
hold standard layers and load with ``keras.saving.load_model`` anywhere, without
custom objects.
"""

from __future__ import annotations

import keras
from keras import layers

from gan_keras.models.fast_dropout import FastDropout
from gan_keras.models.fused_norm import FusedBatchNormalization
from gan_keras.models.kernel_matmul import MatmulKernelGradConv2DTranspose
from gan_keras.models.subpixel import SubpixelConv2DTranspose
from gan_keras.models.tap_sum import TapSumConv2DTranspose
from gan_keras.models.transposed import TransposedConvolutionForm
from gan_keras.models.walk import nested_layers

FORMS = {"subpixel": SubpixelConv2DTranspose, "matmul_kernel_grad": MatmulKernelGradConv2DTranspose,
         "tap_sum": TapSumConv2DTranspose, "fused_norm": FusedBatchNormalization, "fast_dropout": FastDropout}
TRAINING_FORMS = tuple(FORMS.values())
DEFAULT_FORMS = ("tap_sum", "fused_norm", "fast_dropout")  # subpixel where --upsampling asks for it;
# matmul_kernel_grad where it pays (machine_choices.choose_training_forms)


def eligible_forms(layer) -> tuple[str, ...]:
    """The names of the training forms that compute ``layer`` (a standard Keras layer), the preferred first."""
    kind = type(layer)
    if kind is layers.Conv2DTranspose:
        return tuple(name for name, form in FORMS.items() if issubclass(form, TransposedConvolutionForm)
                     and form.computes_exactly(layer) and form.pays_for(layer))
    if kind is layers.BatchNormalization and _rank(layer) == 4:  # the fused kernel's images
        return ("fused_norm",)
    if kind is layers.Dropout:
        return ("fast_dropout",)
    return ()


def to_training_forms(model: keras.Model, forms: tuple[str, ...] = DEFAULT_FORMS) -> keras.Model:
    """``model`` with each layer eligible for one of ``forms`` (names in FORMS) in that form: same names,
    variables and weights.

    Call it in the scope the model's variables belong to (a ``tf.distribute``
    strategy's). A model with nothing to swap comes back as it is.
    """
    unknown = set(forms) - set(FORMS)
    if unknown:
        raise ValueError(f"unknown training forms: {sorted(unknown)}; known: {sorted(FORMS)}")

    def form(layer):
        chosen = [name for name in eligible_forms(layer) if name in forms]
        return FORMS[chosen[0]] if chosen else None

    return _swapped(model, form)


def to_standard(model: keras.Model) -> keras.Model:
    """``model`` made of standard Keras layers computing in float32, with the same weights (for saving).

    Under mixed precision the variables are float32 already; only the computation
    changes. So a generator trained in bf16 samples at full speed and precision on
    CPUs that emulate bfloat16 (about 20x slower there) and on every backend.
    """
    return _swapped(model, lambda layer: keras_layer(type(layer)) if isinstance(layer, TRAINING_FORMS) else None,
                    dtype="float32")


def keras_layer(form: type) -> type:
    """The Keras layer class a training form computes (the first of Keras's own among its bases)."""
    return next(base for base in form.__mro__ if base.__module__.startswith("keras."))


def _rank(layer) -> int | None:
    """The rank of ``layer``'s input in its model, None where it has no single input."""
    try:
        return len(layer.input.shape)
    except (AttributeError, ValueError):
        return None


def _swapped(model: keras.Model, form, dtype: str | None = None) -> keras.Model:
    """A clone of ``model`` where each layer for which ``form`` gives a class is rebuilt as that class from
    its config (with ``dtype`` as its dtype policy, if given), holding the same variables (weights and seed
    states); ``model`` itself when nothing would change."""
    layers_within = [model, *nested_layers(model)]
    if not any(form(layer) for layer in layers_within) and (
            dtype is None or all(layer.dtype_policy.name == dtype for layer in layers_within)):
        return model

    def clone(layer):
        config = layer.get_config()
        if dtype is not None:
            config["dtype"] = dtype
        return (form(layer) or layer.__class__).from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for source, target in zip(model.variables, copy.variables, strict=True):
        if source.path.rsplit("/", 1)[-1] != target.path.rsplit("/", 1)[-1] or source.shape != target.shape:
            raise ValueError(f"{model.name}: cloning paired {source.path} with {target.path}")
        target.assign(source)
    return copy
