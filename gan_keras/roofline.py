"""What this CPU can compute, and what one training iteration asks of it: the bench's roofline.

An iteration's floating-point work is counted from the built models, layer by layer
(a multiply-add is 2 FLOPs; activations, BatchNorm and the optimizer are left out:
they are memory-bound and small beside the convolutions). The CPU's ceiling is a
large matrix product timed in TensorFlow, in float32 and bfloat16. Their ratio is
the fastest an iteration could run: the bench prints each variant's share of it.

Lazy imports: Keras and TensorFlow, where a model is counted or a rate measured.
"""

from __future__ import annotations

import hashlib
import math
import time

import numpy as np

from gan_keras import runtime
from gan_keras.cache import remember
from gan_keras.runtime import cpu_flags, first_cpu_field

FLAGS_THAT_MATTER = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
MATMUL_SIZE = 2048


def cpu_description(text: str | None = None) -> tuple[str, list[str]]:
    """(CPU model name, the flags of FLAGS_THAT_MATTER it has) from /proc/cpuinfo (or ``text``)."""
    flags = cpu_flags(text)
    return (first_cpu_field("model name", text) or "unknown CPU",
            [flag for flag in FLAGS_THAT_MATTER if flag in flags])


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


def matmul_rates(dtypes: tuple[str, ...], size: int, repeats: int) -> dict[str, float]:
    """Best GFLOP/s of a size x size matrix product in each dtype, the dtypes timed in turn.

    Taking turns, each dtype meets the same slow spells of a shared machine; the best of
    ``repeats`` is the rate free of them. (Timed one dtype after the other, a slow spell
    could lower one side of the ratio only: in CI, two runs of the same command on one
    machine once settled ``--mixed-precision auto`` differently.)
    """
    import tensorflow as tf

    values = np.random.default_rng(0).standard_normal((2, size, size), dtype=np.float32)
    product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[0, :1], tf.float32)))
    operands = {dtype: [tf.cast(tf.constant(value), dtype) for value in values]  # no global random state
                for dtype in dtypes}
    best = {dtype: math.inf for dtype in dtypes}
    for turn in range(repeats + 1):
        for dtype in dtypes:
            started = time.perf_counter()
            product(*operands[dtype]).numpy()
            if turn:  # the first turn traces and warms up
                best[dtype] = min(best[dtype], time.perf_counter() - started)
    return {dtype: 2 * size**3 / seconds / 1e9 for dtype, seconds in best.items()}


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SPEEDUP_PROBE_SIZE = 1024
SPEEDUP_PROBE_REPEATS = 20


def native_bf16(flags: list[str] | None = None) -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512_BF16 or AMX); else TensorFlow emulates it."""
    flags = cpu_description()[1] if flags is None else flags
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def machine_key() -> str:
    """What a measurement of this machine's speed depends on: the CPU (model name, family, model,
    stepping, every flag), TensorFlow's version and whether its oneDNN kernels run."""
    import tensorflow as tf

    identity = {key: first_cpu_field(key) for key in ("cpu family", "model", "stepping") if first_cpu_field(key)}
    flags = first_cpu_field("flags") or ""
    model = cpu_description()[0]
    cpu = " ".join(f"{key} {value}" for key, value in identity.items())
    flags_digest = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:12]
    kernels = "oneDNN" if runtime.onednn_enabled() else "Eigen"
    return f"{model} ({cpu}; flags {flags_digest}), TensorFlow {tf.__version__} with {kernels}"


def remembered_bf16_speedup():
    """bf16_matmul_speedup as first measured on this machine (gan_keras.cache): a timing near the
    threshold must not settle ``--mixed-precision auto`` differently from one run to the next."""
    return remember("bfloat16 / float32 matmul speed", machine_key(), bf16_matmul_speedup)


def bf16_matmul_speedup(size: int = SPEEDUP_PROBE_SIZE) -> float:
    """How many times faster a bfloat16 matrix product runs than a float32 one on this machine.

    Native bf16 is not always fast bf16: an Intel Xeon with AVX512_BF16 but no AMX runs
    oneDNN's bf16 kernels at about 0.6x its float32 ones (README, "Speed"), an AMD EPYC's
    at about 1.9x. A half-second probe settles it where the flags cannot.
    """
    rates = matmul_rates(("bfloat16", "float32"), size, repeats=SPEEDUP_PROBE_REPEATS)
    return rates["bfloat16"] / rates["float32"]
