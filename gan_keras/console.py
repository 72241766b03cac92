"""A quiet console: TensorFlow's C++ log lines are hidden unless ``--debug`` is given.

``TF_CPP_MIN_LOG_LEVEL`` is set before TensorFlow is imported, but TensorFlow 2.21
writes some lines before its logger reads it (the oneDNN notice, absl's "All log
messages before absl::InitializeLog()" line) and Grappler's remapper reports, as an
error, a fusion it declines on AVX-512 CPUs (Conv2D + BiasAdd + LeakyReLU whose
pre-activation the LeakyReLU gradient still needs: TensorFlow's, and harmless, since
the graph then runs unfused). So the process's stderr (file descriptor 2) passes
through a filter that drops exactly TensorFlow's log-line format and that absl line;
everything else, the project's own errors and tracebacks included, goes through.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

TF_LOG_LINE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.\-/]+:\d+\] |"
                         rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] [\w.\-/]+:\d+\] |"
                         rb"WARNING: All log messages before absl::InitializeLog\(\) is called|"
                         rb"To enable the following instructions: .* rebuild TensorFlow)")
TF_LINE_STARTS = (b"I", b"W", b"E", b"F", b"2", b"T")  # a line starting otherwise is never held back
_installed = False


def quiet_tensorflow(debug: bool = False) -> None:
    """Hide TensorFlow's log lines from this process's stderr (all of them shown with ``debug``)."""
    global _installed
    if debug:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _installed or "tensorflow" in sys.modules:
        return
    _installed = True
    sys.stderr.flush()
    real_stderr = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    relay = threading.Thread(target=_relay, args=(read_end, real_stderr), daemon=True)
    relay.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real_stderr, 2)  # closes the pipe's last write end, so the relay sees its end
        relay.join(timeout=5)

    atexit.register(restore)


def _relay(read_end: int, real_stderr: int) -> None:
    """Copy lines from the pipe to the real stderr, leaving out TensorFlow's log lines."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as source:
        while chunk := source.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not TF_LOG_LINE.match(line):
                    os.write(real_stderr, line + b"\n")
            if pending and (pending[:1] not in TF_LINE_STARTS or len(pending) > 8192):
                os.write(real_stderr, pending)  # a progress bar redraws with \r and no newline: pass it on now
                pending = b""
    if pending and not TF_LOG_LINE.match(pending):
        os.write(real_stderr, pending)
