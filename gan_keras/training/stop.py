"""SIGINT and SIGTERM as a request to stop: the run finishes what is under way, checkpoints and leaves.

The handlers are installed before anything slow (TensorFlow's import included), so a
signal at any moment of a run's life is a clean stop with exit 0. (A multi-worker start-up,
where TensorFlow holds the interpreter, is bounded by its own watchdog:
:class:`gan_keras.training.distribute.ClusterWait`.)
"""

from __future__ import annotations

import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How a watchdog ends a process that can honour no signal (one waiting inside TensorFlow for its cluster); the
# watchdog says why itself, so the console reports nothing more and the command exits 1.
WATCHDOG_SIGNAL = signal.SIGUSR1
_EARLY: list[int] = []  # signals that came before a StopRequest took over


def hold_early_signals() -> None:
    """From now until a :class:`StopRequest` takes over, SIGINT and SIGTERM are remembered instead of
    fatal, so a signal in a run's first moments (its imports, say) is a clean stop at iteration 0 too."""
    for sig in SIGNALS:
        signal.signal(sig, lambda signum, frame: _EARLY.append(signum))


def early_signals() -> list[int]:
    """The signals :func:`hold_early_signals` remembered, oldest first; they are then forgotten."""
    taken = list(_EARLY)
    del _EARLY[:len(taken)]
    return taken


class StopRequest:
    """Records SIGINT/SIGTERM so the run can finish what is under way, checkpoint and leave."""

    def __init__(self):
        self.requested, self.signal_name = False, ""
        self._previous = {}

    def __enter__(self) -> StopRequest:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        for signum in early_signals():
            self._handle(signum, None)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        self.requested, self.signal_name = True, signal.Signals(signum).name

    def request(self, reason: str) -> None:
        """Stop for ``reason`` (another worker's signal, say) as a signal would."""
        self.requested, self.signal_name = True, reason
