"""How TensorFlow is set up before it is first imported: its oneDNN kernels on every x86-64 Linux CPU.

TensorFlow's Linux wheels run oneDNN's kernels only on CPUs with AVX512_VNNI,
AVX512_BF16, AVX_VNNI or AMX (``DefaultOneDnnPolicy`` in tensorflow/core/util/port.cc);
on an AVX2-only CPU they fall back to Eigen's, whose transposed convolution, the
generator's main layer, runs at about a third of a regular convolution's speed and
whose bfloat16 is emulated. oneDNN has AVX2 kernels too, so this package turns them
on there (README, "Speed", has the measurement). Importing :mod:`gan_keras` does it;
a ``TF_ENABLE_ONEDNN_OPTS`` the user has set is left as it is.
"""

from __future__ import annotations

import os
import platform
import sys

ONEDNN_SWITCH = "TF_ENABLE_ONEDNN_OPTS"


def prefer_onednn() -> None:
    """Ask TensorFlow for its oneDNN kernels on x86-64 Linux, unless the user said otherwise."""
    if sys.platform.startswith("linux") and platform.machine() == "x86_64":
        os.environ.setdefault(ONEDNN_SWITCH, "1")


ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")


def onednn_enabled() -> bool:
    """Whether TensorFlow runs oneDNN's kernels in this process (its native bfloat16 comes only through them).

    TensorFlow has no public call that says so; this follows its rule (``IsMklEnabled`` in
    tensorflow/core/util/port.cc): ``TF_ENABLE_ONEDNN_OPTS`` when set, else on for x86-64 Linux CPUs with
    one of ONEDNN_DEFAULT_FLAGS. ``tests/test_package.py`` checks it against TensorFlow's own answer.
    """
    switch = os.environ.get(ONEDNN_SWITCH, "").strip().lower()
    if switch in ("1", "true"):
        return True
    if switch in ("0", "false"):
        return False
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        return False
    return any(flag in cpu_flags() for flag in ONEDNN_DEFAULT_FLAGS)


def cpuinfo() -> str:
    """The text of /proc/cpuinfo ("" where there is no such file)."""
    try:
        with open("/proc/cpuinfo") as handle:
            return handle.read()
    except OSError:
        return ""


def first_cpu_field(name: str, text: str | None = None) -> str | None:
    """The value of field ``name`` for the first CPU of ``text`` (/proc/cpuinfo's when None), or None."""
    for line in (cpuinfo() if text is None else text).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_flags(text: str | None = None) -> set[str]:
    """Every flag /proc/cpuinfo (or ``text``) lists for the first CPU (empty where there is none)."""
    return set((first_cpu_field("flags", text) or "").split())
