"""The stride-2 transposed convolution with its kernel gradient as matmuls: the standard layer's numbers."""

import keras
import pytest

from gan_keras.models.kernel_matmul import MatmulKernelGradConv2DTranspose
from gan_keras.models.training_forms import to_standard
from gan_keras.training.gan import build_gan

SETTINGS = {"kernel_size": 3, "strides": 2, "padding": "same"}
AVX512 = ["avx2", "avx512f", "avx512_bf16"]


@pytest.mark.parametrize("gpus, onednn, precision, flags, chosen", [
    (0, True, "bf16", AVX512, True), (0, True, "none", AVX512, False), (0, True, "none", ["avx2"], True),
    (0, False, "bf16", AVX512, False), (0, False, "none", ["avx2"], False), (1, True, "bf16", AVX512, False)])
def test_chosen_for_bf16_or_avx2_where_onednn_runs_the_cpu_convolutions(gpus, onednn, precision, flags, chosen):
    """oneDNN's bf16 and AVX2 kernel-gradient kernels are the slow ones; its AVX-512 float32 one beats the
    matmuls (README)."""
    from gan_keras.machine_choices import choose_training_forms

    assert ("matmul_kernel_grad" in choose_training_forms(gpus, onednn, precision, flags)) == chosen


def test_g_trains_in_the_form_and_saves_standard_layers():
    """Where asked for, G's two stride-2 layers take the form, sub-pixel taking precedence; saved: the standard layer."""
    forms = ("fused_norm", "matmul_kernel_grad")
    generator = build_gan(16, mixed_precision="bf16", training_forms=forms).generator
    assert type(generator.get_layer("up_14x14")) is MatmulKernelGradConv2DTranspose
    assert type(generator.get_layer("up_28x28")) is MatmulKernelGradConv2DTranspose
    assert type(to_standard(generator).get_layer("up_14x14")) is keras.layers.Conv2DTranspose
    subpixel = build_gan(16, training_forms=forms, upsampling="subpixel").generator
    assert type(subpixel.get_layer("up_14x14")).__name__ == "SubpixelConv2DTranspose"
