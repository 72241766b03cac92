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


def onednn_enabled() -> bool:
    """Whether TensorFlow runs oneDNN's kernels in this process (its native bfloat16 comes only through them)."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own answer

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get(ONEDNN_SWITCH, "1").strip().lower() not in ("0", "false")
