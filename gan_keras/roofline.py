"""What this CPU can compute, and what one training iteration asks of it: the bench's roofline.

An iteration's floating-point work is counted from the built models, layer by layer
(a multiply-add is 2 FLOPs; activations, BatchNorm and the optimizer are left out:
they are memory-bound and small beside the convolutions). The CPU's ceiling is a
large matrix product timed in TensorFlow, in float32 and bfloat16. Their ratio is
the fastest an iteration could run: the bench prints each variant's share of it.
"""

from __future__ import annotations

import math
import time

FLAGS_THAT_MATTER = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
MATMUL_SIZE = 2048


def cpu_description() -> tuple[str, list[str]]:
    """(CPU model name, the flags of FLAGS_THAT_MATTER it has) from /proc/cpuinfo."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, [flag for flag in FLAGS_THAT_MATTER if flag in flags]


def layer_flops(layer, batch: int) -> int:
    """Forward FLOPs of one Dense, Conv2D or Conv2DTranspose layer for ``batch`` inputs (0 for others)."""
    import keras

    if isinstance(layer, keras.layers.Dense):
        return 2 * batch * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
        kh, kw = layer.kernel_size
        if isinstance(layer, keras.layers.Conv2DTranspose):  # every input pixel scatters a k x k patch
            _, height, width, channels_in = layer.input.shape
            channels_out = layer.filters
        else:  # every output pixel gathers a k x k patch
            _, height, width, _ = layer.output.shape
            channels_in, channels_out = layer.input.shape[-1], layer.filters
        return 2 * batch * int(height) * int(width) * kh * kw * int(channels_in) * int(channels_out)
    return 0


def forward_flops(model, batch: int) -> int:
    return sum(layer_flops(layer, batch) for layer in model.layers)


def iteration_flops(models, batch: int) -> int:
    """FLOPs of one training iteration: G forward 4x (fakes for D, then a training pass and its
    backward, about 2x), D forward 9x (real and fake updates, then the G step through D, each a
    forward and a backward of about 2x)."""
    return 4 * forward_flops(models.generator, batch) + 9 * forward_flops(models.discriminator, batch)


def matmul_gflops(dtype: str, size: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """Best GFLOP/s of a size x size matrix product in TensorFlow on this machine."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)
    product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[0, :1], tf.float32)))
    product(a, b).numpy()
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16(flags: list[str] | None = None) -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512_BF16 or AMX); else TensorFlow emulates it."""
    flags = cpu_description()[1] if flags is None else flags
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def choose_precision(requested: str, gpus: int, flags: list[str] | None = None,
                     onednn: bool | None = None) -> tuple[str, str | None]:
    """(the --mixed-precision to run, a warning or None) for the one requested on this machine.

    ``auto`` is bf16 on a CPU-only machine whose CPU has native bf16 and whose TensorFlow
    runs oneDNN's kernels (the only ones that use it), float32 ("none") everywhere else
    (on GPUs fp16 is the user's explicit choice). bf16 asked for where it would be
    emulated runs, with a warning.
    """
    from gan_keras.runtime import onednn_enabled

    flags = cpu_description()[1] if flags is None else flags
    onednn = onednn_enabled() if onednn is None else onednn
    native = native_bf16(flags) and onednn
    if requested == "auto":
        return ("bf16" if gpus == 0 and native else "none"), None
    if requested == "bf16" and gpus == 0 and not native:
        reason = ("TensorFlow's oneDNN kernels are off (TF_ENABLE_ONEDNN_OPTS)" if native_bf16(flags)
                  else "a CPU without AVX512_BF16 or AMX")
        return requested, (f"warning: --mixed-precision bf16 with {reason}: TensorFlow emulates bfloat16 here, "
                           "several times slower than float32 (see the README's speed table)")
    return requested, None


def choose_upsampling(requested: str, gpus: int, onednn: bool | None = None) -> str:
    """The --upsampling to run for the one requested on this machine.

    ``auto`` is ``subpixel`` on a CPU-only machine whose TensorFlow runs Eigen's kernels
    (oneDNN off), whose transposed convolution is the slow one; ``transposed`` where
    oneDNN's or a GPU's transposed convolution is the faster form (README, "Speed").
    """
    from gan_keras.runtime import onednn_enabled

    if requested != "auto":
        return requested
    onednn = onednn_enabled() if onednn is None else onednn
    return "subpixel" if gpus == 0 and not onednn else "transposed"
