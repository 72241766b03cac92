"""The watchdog of a multi-worker start-up: python -m gan_keras.training.cluster_watch PID TIMEOUT PROG

Started by :class:`gan_keras.training.distribute.ClusterWait` while worker ``PID`` waits inside
TensorFlow for the rest of its cluster, where the worker can honour no signal (TensorFlow holds
its interpreter, and swallows SIGTERM there). It leaves quietly once the worker writes DONE and
closes its stdin. Otherwise it ends the worker with SIGINT (whose default action the worker has
during the wait) and writes one line: after ``TIMEOUT`` seconds, naming the workers that never
came; on a SIGINT or SIGTERM it receives (the worker's process group gets them from
:mod:`gan_keras.console`, a terminal or a cluster manager); or when the worker ended first.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

DONE = b"cluster up"
GRACE_SECONDS = 5  # after SIGINT, the worker is killed outright if it is still there


def watch(pid: int, timeout: float) -> str | None:
    """Wait for DONE, the worker's end, a signal or ``timeout``; what to report (None: nothing)."""
    received_signal, received, deadline = [], b"", time.monotonic() + timeout
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: received_signal.append(signal.Signals(signum).name))
    reason, stopped_at = None, None
    while True:
        try:
            ready, _, _ = select.select([sys.stdin], [], [], 0.25)
        except InterruptedError:
            ready = []
        if ready:
            chunk = os.read(sys.stdin.fileno(), 4096)
            received += chunk
            if not chunk:  # the worker closed the pipe: by writing DONE, or by ending
                if received == DONE:
                    return None
                return reason or (f"stopped by {received_signal[0]} while waiting for the other workers"
                                  if received_signal else "ended while waiting for the other workers")
        if reason is None and received_signal:
            reason = f"stopped by {received_signal[0]} while waiting for the other workers"
        elif reason is None and time.monotonic() > deadline:
            reason = f"the other workers did not all come within --cluster-timeout {timeout:g} s"
        if reason is not None and stopped_at is None:
            stopped_at = time.monotonic()
            _kill(pid, signal.SIGINT)
        elif stopped_at is not None and time.monotonic() > stopped_at + GRACE_SECONDS:
            _kill(pid, signal.SIGKILL)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def main() -> None:
    from gan_keras.training.distribute import unreachable_peers

    pid, timeout, prog = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    what = watch(pid, timeout)
    if what is not None:
        missing = unreachable_peers()
        detail = f"never reached: {', '.join(missing)}" if missing else "every worker's address answers"
        sys.stderr.write(f"{prog}: error: {what} ({detail}); nothing was trained or written\n")


if __name__ == "__main__":
    main()
