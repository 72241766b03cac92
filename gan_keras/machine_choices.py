"""What this machine trains with: the precision, G's upsampling form and the layers' training forms.

Each ``auto`` setting becomes a choice made from this machine's hardware and measurements
(:mod:`gan_keras.roofline`), which ``config.json`` records. A resumed run keeps the choices its
``config.json`` records (the same numbers as before the stop), unless ``--resume`` is given other
ones; where this machine would choose otherwise, one line says so and why. Under
``--strategy multiworker`` every ``auto`` is the same fixed choice on every worker, so that
all of them compute alike.

Lazy imports: TensorFlow, to count GPUs, and :mod:`gan_keras.models.training_forms` (which imports it),
so that checking ``--training-forms`` on the command line costs nothing until a run starts.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import NamedTuple

from gan_keras import roofline, runtime
from gan_keras.errors import UsageError

BF16_MIN_SPEEDUP = 1.5
STANDARD_LAYERS = "standard"  # --training-forms: Keras's own layers only


class PrecisionChoice(NamedTuple):
    precision: str  # the --mixed-precision to run
    warning: str | None  # one line for stderr where the choice will run slowly
    reason: str  # why, in a few words (train.py prints it when auto chose)


def choose_precision(requested: str, gpus: int, flags: list[str] | None = None,
                     onednn: bool | None = None, bf16_speedup: float | None = None) -> PrecisionChoice:
    """The --mixed-precision to run for the one requested on this machine, a warning, and why.

    ``auto`` is bf16 on a CPU-only machine whose CPU has native bf16, whose TensorFlow
    runs oneDNN's kernels (the only ones that use it) and whose bf16 matrix products are
    at least BF16_MIN_SPEEDUP times faster than float32 (``bf16_speedup``; when not given,
    the first one measured on this machine, remembered_bf16_speedup: the convolutions gain
    less than the matmul and the rest of an iteration nothing); float32 ("none") everywhere else (on GPUs fp16 is the user's
    explicit choice). bf16 asked for where it would be emulated or slower runs, with a warning.
    """
    flags = roofline.cpu_description()[1] if flags is None else flags
    onednn = runtime.onednn_enabled() if onednn is None else onednn
    if requested not in ("auto", "bf16"):
        return PrecisionChoice(requested, None, "asked for")
    if gpus > 0:
        return PrecisionChoice("none" if requested == "auto" else requested, None,
                               "a GPU runs it: fp16 or bf16 only when asked for")
    if not (roofline.native_bf16(flags) and onednn):
        reason = ("TensorFlow's oneDNN kernels are off (TF_ENABLE_ONEDNN_OPTS)" if roofline.native_bf16(flags)
                  else "a CPU without AVX512_BF16 or AMX")
        warning = (f"warning: --mixed-precision bf16 with {reason}: TensorFlow emulates bfloat16 here, "
                   "several times slower than float32 (see the docs/speed.md)")
        return PrecisionChoice("none", None, reason) if requested == "auto" else PrecisionChoice(
            requested, warning, reason)
    if bf16_speedup is None:
        remembered = roofline.remembered_bf16_speedup()
        speedup, source = remembered.value, f" ({remembered.describe()})"
    else:
        speedup, source = bf16_speedup, ""
    reason = (f"bfloat16 matrix products measured at {speedup:.2f}x float32's speed{source}, "
              f"{BF16_MIN_SPEEDUP}x needed")
    if requested == "auto":
        return PrecisionChoice("bf16" if speedup >= BF16_MIN_SPEEDUP else "none", None, reason)
    if speedup < 1:
        return PrecisionChoice(requested, (
            f"warning: --mixed-precision bf16: this CPU's bfloat16 matrix products run at "
            f"{speedup:.2f}x the speed of float32 here (AVX512_BF16 without AMX is not faster on "
            "every CPU): expect training slower than in float32"), reason)
    return PrecisionChoice(requested, None, reason)


def choose_upsampling(requested: str, gpus: int, onednn: bool | None = None) -> str:
    """The --upsampling to run for the one requested on this machine.

    ``auto`` is ``subpixel`` on a CPU-only machine whose TensorFlow runs Eigen's kernels
    (oneDNN off), whose transposed convolution is the slow one; ``transposed`` where
    oneDNN's or a GPU's transposed convolution is the faster form (docs/speed.md).
    """
    if requested != "auto":
        return requested
    onednn = runtime.onednn_enabled() if onednn is None else onednn
    return "subpixel" if gpus == 0 and not onednn else "transposed"


def choose_training_forms(gpus: int, onednn: bool | None = None, precision: str = "none",
                          flags: list[str] | None = None) -> tuple[str, ...]:
    """The layers' training forms (:mod:`gan_keras.models.training_forms`) that pay on this machine.

    None on a GPU: Keras's own layers, until a GPU measurement says otherwise. On a CPU, fused
    BatchNorm and 16-bit Dropout masks always; the tap-sum ``to_image`` only where TensorFlow runs
    oneDNN's kernels, whose transposed convolution to one channel is the slow one (Eigen's runs it
    faster than the tap sum). There too, the transposed convolutions' kernel gradients as matmuls
    under bf16 (``precision``, as settled) and on CPUs without AVX-512 (``flags``): oneDNN's bf16
    kernel-gradient kernel and its AVX2 float32 one are the slower there, its AVX-512 float32 one
    the faster (docs/speed.md).
    """
    from gan_keras.models.training_forms import DEFAULT_FORMS
    if gpus:
        return ()
    onednn = runtime.onednn_enabled() if onednn is None else onednn
    if not onednn:
        return tuple(form for form in DEFAULT_FORMS if form != "tap_sum")
    flags = roofline.cpu_description()[1] if flags is None else flags
    slow_kernel_gradient = precision == "bf16" or "avx512f" not in flags
    return (*DEFAULT_FORMS, "matmul_kernel_grad") if slow_kernel_gradient else DEFAULT_FORMS


def forms_text(forms: tuple[str, ...]) -> str:
    """How config.json records training forms: comma-separated names, or ``standard`` for none."""
    return ",".join(forms) or STANDARD_LAYERS


def parse_forms(text: str) -> tuple[str, ...]:
    """The training forms a recorded or given --training-forms names (refused in one line if unknown)."""
    from gan_keras.models.training_forms import FORMS

    if text == STANDARD_LAYERS:
        return ()
    forms = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in forms if name not in FORMS or name == "subpixel"]
    if unknown or not forms:
        raise UsageError(f"--training-forms must be auto, {STANDARD_LAYERS} or names among "
                         f"{', '.join(name for name in FORMS if name != 'subpixel')}; got {text!r} "
                         f"(G's sub-pixel form is --upsampling subpixel)")
    return forms


def settle_for_this_machine(config, resumed: bool = False, gpus: int | None = None):
    """``config`` (a frozen TrainConfig) with every ``auto`` hardware setting turned into this machine's choice;
    on a resumed run, one line where this machine would choose otherwise than the run records.

    Called by :func:`gan_keras.settings.resolve` once the strategy has set TensorFlow's devices up: measuring
    bf16's speed runs ops, and TensorFlow splits the CPU into logical devices only before its first op."""
    gpus = gpu_count() if gpus is None else gpus
    multiworker = config.strategy == "multiworker"
    if resumed:
        _note_other_choices(config, gpus, multiworker)
    precision = settle_precision(config.mixed_precision, gpus, multiworker)
    upsampling = settle_upsampling(config.upsampling, gpus, multiworker)
    forms = config.training_forms
    if forms == "auto":
        forms = forms_text(training_forms_here(precision, gpus, multiworker))
    if forms == STANDARD_LAYERS and upsampling == "subpixel":
        raise UsageError("--training-forms standard trains with Keras's own layers: leave out --upsampling subpixel")
    return dataclasses.replace(config, mixed_precision=precision, upsampling=upsampling, training_forms=forms)


def training_forms_here(precision: str, gpus: int | None = None, multiworker: bool = False) -> tuple[str, ...]:
    """``--training-forms auto`` on this machine (``gpus``: its GPU count, asked of TensorFlow when None), for
    the settled precision; under multiworker, those of a oneDNN CPU in float32 (as every worker must compute
    alike)."""
    from gan_keras.models.training_forms import DEFAULT_FORMS

    if multiworker:
        return DEFAULT_FORMS
    return choose_training_forms(gpu_count() if gpus is None else gpus, precision=precision)


def gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def settle_precision(requested: str, gpus: int | None = None, multiworker: bool = False) -> str:
    """The --mixed-precision that runs for ``requested`` on this machine (float32 for ``auto`` under multiworker):
    one warning where bf16 would be emulated, one line saying what ``auto`` chose and why."""
    gpus = gpu_count() if gpus is None else gpus
    if requested == "auto" and multiworker:
        return "none"
    choice = choose_precision(requested, gpus)
    if choice.warning:
        print(choice.warning, file=sys.stderr, flush=True)
    if requested == "auto":
        print(f"mixed precision: {choice.precision} (auto, on this machine: {choice.reason})", flush=True)
    return choice.precision


def settle_upsampling(requested: str, gpus: int | None = None, multiworker: bool = False) -> str:
    """The --upsampling that runs for ``requested`` on this machine (transposed for ``auto`` under multiworker)."""
    gpus = gpu_count() if gpus is None else gpus
    if requested == "auto" and multiworker:
        return "transposed"
    chosen = choose_upsampling(requested, gpus)
    if chosen != requested:
        print(f"upsampling: {chosen} (auto, on this machine)", flush=True)
    return chosen


def _note_other_choices(config, gpus: int, multiworker: bool) -> None:
    """One line when this machine's ``auto`` would differ from the choices the resumed run keeps."""
    if multiworker or "auto" in (config.mixed_precision, config.upsampling, config.training_forms):
        return
    precision = choose_precision("auto", gpus)
    here = {"--mixed-precision": precision.precision, "--upsampling": choose_upsampling("auto", gpus),
            "--training-forms": forms_text(training_forms_here(precision.precision, gpus))}
    kept = {"--mixed-precision": config.mixed_precision, "--upsampling": config.upsampling,
            "--training-forms": config.training_forms}
    differing = [name for name in here if here[name] != kept[name]]
    if differing:
        print("note: resuming with " + ", ".join(f"{name} {kept[name]}" for name in differing)
              + " as the run records; auto would choose " + ", ".join(f"{here[name]}" for name in differing)
              + f" on this machine ({precision.reason if '--mixed-precision' in differing else 'other kernels'}); "
              "pass them with --resume to change", flush=True)
