"""A quiet console that never hides why a command failed.

TensorFlow 2.21 writes some log lines before it reads ``TF_CPP_MIN_LOG_LEVEL`` (the
oneDNN notice, absl's "All log messages before absl::InitializeLog()" line, the CPU
feature notice), and Grappler's remapper reports, as an error, a fusion it declines on
AVX-512 CPUs (TensorFlow's, and harmless: the graph then runs unfused; docs/speed.md).
So a command runs as a child process whose stderr passes through this filter in the
parent, which drops exactly those known lines and passes everything else, at once:
fatal (``F``) lines, unknown errors, tracebacks, the progress bar. The filter lives in
the parent so that nothing is lost when the child dies: an abort, a segfault or
``os._exit`` leaves its last lines in the pipe, and the parent still reads them all.

The parent forwards SIGINT and SIGTERM to the child's process group once the child says it is ready
for them (a byte on a pipe, sent after a training command has set its early signal handlers), so a
signal in the first moments of either process is a clean stop and not a death; the child is killed with the
parent (``PR_SET_PDEATHSIG``), so a signal or a SIGKILL to the command's process acts as
it would on a single process; the parent exits with the child's status, and where the child
died of a signal, says which in one line ("Killed" for the out-of-memory killer's SIGKILL) and
dies of it too, so a shell still says "Aborted". ``--debug`` shows TensorFlow's
own lines and runs in one process; where Linux's parent-death signal is missing, so
does every command (TensorFlow's start-up lines then show).
"""

from __future__ import annotations

import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

from gan_keras.training.stop import SIGNALS, WATCHDOG_SIGNAL, early_signals

HARMLESS_LINE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.\-/]+:\d+\] "  # TensorFlow's INFO and WARNING lines
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] [\w.\-/]+:\d+\] "  # the same, older format
    rb"|E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ meta_optimizer\.cc:\d+\] remapper failed: "  # a fusion Grappler declines
    # a collective aborted because another worker ended: the run reports it in its own line (the error raised
    # in Python carries the same text), so its log lines and their gRPC details are left out
    rb"|E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ (?:ring_alg|base_collective_executor)\.cc:\d+\] "
    rb"(?:Aborting RingReduce|BaseCollectiveExecutor::StartAbort) "
    rb"|Additional GRPC error information from remote target /job:\w+/replica:\d+/task:\d+ while calling "
    rb"|:UNKNOWN:Error received from peer +\{grpc_"
    rb"|/job:\w+/replica:\d+/task:\d+$"  # the coordination service's word that a peer task ended
    rb"|The tasks have crashed\. Check the task logs for an earlier error"
    rb"|The error could be from a previous operation\. Restart your program to reset\."
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$)")
LINE_STARTS = (b"I", b"W", b"E", b"2", b"T")  # a partial line starting otherwise is passed on at once
CHILD_MARK = "GAN_KERAS_FILTERED_CHILD"
READY_FD = "GAN_KERAS_READY_FD"  # the child writes a byte here when signals may be forwarded to it
UNANSWERED_SIGNAL_S = 10.0  # a signal waits this long for a child that never says it is ready
PR_SET_PDEATHSIG = 1


def quiet_tensorflow(debug: bool = False) -> None:
    """Ask TensorFlow for warnings and errors only (all of its lines with ``debug``); call before importing it."""
    if debug:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_filtered(prog: str) -> int | None:
    """Run this very command (``prog``, as messages name it) again as a child whose stderr passes through
    :func:`relay`; its exit status.

    None in the child itself and where the child could not be tied to this process's life
    (no parent-death signal): the caller then runs the command in this process.
    """
    if os.environ.get(CHILD_MARK):
        _tell_parent_ready()
        return None
    if not sys.platform.startswith("linux") or not _is_this_command(sys.argv):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def die_with_parent() -> None:  # runs in the child before it starts Python
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    sys.stdout.flush()
    sys.stderr.flush()
    ready_read, ready_write = os.pipe()
    environment = {**os.environ, CHILD_MARK: "1", READY_FD: str(ready_write), "PYTHONUNBUFFERED": "1",
                   **_terminal_size()}
    child = subprocess.Popen([sys.executable, *sys.orig_argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=environment, process_group=0, preexec_fn=die_with_parent, pass_fds=(ready_write,))
    os.close(ready_write)
    forwarder = _Forwarder(child.pid, ready_read)
    previous = {sig: signal.signal(sig, forwarder.receive) for sig in SIGNALS}
    for signum in early_signals():  # what came before this process could forward it
        forwarder.receive(signum, None)
    try:
        relay({child.stderr.fileno(): sys.stderr.fileno(), child.stdout.fileno(): sys.stdout.fileno()},
              filtered=child.stderr.fileno())
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status if status >= 0 else _died_of(-status, prog)


def _died_of(signum: int, prog: str) -> int:
    """The child died of signal ``signum``: one line saying so (none where a watchdog, or the user's stop, said
    why already), then this process dies of it too where it can, for the shell to report it as well."""
    if signum == WATCHDOG_SIGNAL:
        return 1
    if signum not in SIGNALS:
        hint = " - the out-of-memory killer, or kill -9" if signum == signal.SIGKILL else ""
        sys.stderr.write(f"{prog}: {signal.strsignal(signum)} ({signal.Signals(signum).name}{hint})\n")
        sys.stderr.flush()
    if signum in (signal.SIGKILL, signal.SIGSTOP):  # no handler can be set for these, nor any need to
        return 128 + signum
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return 128 + signum


class _Forwarder:
    """SIGINT and SIGTERM to the child's process group, held until the child is ready for them."""

    def __init__(self, pid: int, ready_read: int):
        self.pid, self.ready, self.pending = pid, False, []
        threading.Thread(target=self._wait_ready, args=(ready_read,), daemon=True).start()

    def receive(self, signum, frame) -> None:
        self.pending.append((signum, time.monotonic()))
        if self.ready:
            self._flush()

    def _wait_ready(self, ready_read: int) -> None:
        while not self.ready:
            readable, _, _ = select.select([ready_read], [], [], 0.5)
            waited = self.pending and time.monotonic() - self.pending[0][1] > UNANSWERED_SIGNAL_S
            if readable:
                os.read(ready_read, 1)  # a byte when ready; b"" when the child ended without saying so
            if readable or waited:
                self.ready = True
        os.close(ready_read)
        self._flush()

    def _flush(self) -> None:
        while self.pending:
            try:
                signum, _ = self.pending.pop(0)
            except IndexError:  # the other thread took it
                return
            _signal_group(self.pid, signum)


def _tell_parent_ready() -> None:
    """In the child: the parent may forward signals now (its handlers, if any, are set)."""
    descriptor = os.environ.pop(READY_FD, None)
    if descriptor is None:
        return
    try:
        os.write(int(descriptor), b"r")
        os.close(int(descriptor))
    except (OSError, ValueError):
        pass


def _is_this_command(argv: list[str]) -> bool:
    """Whether running Python again as it was started runs this command with these arguments (not so when a
    program calls a command's main itself, e.g. through runpy, with an ``argv`` of its own)."""
    arguments = argv[1:]
    return sys.orig_argv[len(sys.orig_argv) - len(arguments):] == arguments and len(sys.orig_argv) > len(arguments)


def filtered_main(main) -> int:
    """Run ``main()`` (a module's command-line entry) as :func:`run_filtered`'s child; its exit status."""
    status = run_filtered(os.path.basename(sys.argv[0]))
    if status is not None:
        return status
    quiet_tensorflow()
    return main() or 0


def _signal_group(pid: int, signum: int) -> None:
    """``signum`` to the child's process group: the child and what it started (a watchdog, say)."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def _terminal_size() -> dict[str, str]:
    """COLUMNS and LINES of this process's terminal, for the child's progress bar (its stderr is a pipe)."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        return {}
    return {"COLUMNS": str(size.columns), "LINES": str(size.lines)}


def relay(streams: dict[int, int], filtered: int) -> None:
    """Copy each source of ``streams`` to its target until every source ends, as the data arrives (stderr
    first when both have some, so the order of the two is kept). From ``filtered``, HARMLESS_LINE lines are
    left out; a partial line there that cannot start one (a progress bar redrawn with \r) passes at once."""
    pending, open_sources = b"", sorted(streams, key=lambda source: source != filtered)
    while open_sources:
        try:
            ready, _, _ = select.select(open_sources, [], [])
        except InterruptedError:
            continue
        for source in (source for source in open_sources if source in ready):
            chunk = _read(source)
            if not chunk:
                open_sources.remove(source)
            elif source != filtered:
                _write(streams[source], chunk)
            else:
                pending = _pass_lines(pending + chunk, streams[source])
    if pending and not HARMLESS_LINE.match(pending):
        _write(streams[filtered], pending)


def _pass_lines(data: bytes, target: int) -> bytes:
    """Write the whole lines of ``data`` that are not HARMLESS_LINE; returns the partial line left over."""
    *lines, pending = data.split(b"\n")
    for line in lines:
        if not HARMLESS_LINE.match(line):
            _write(target, line + b"\n")
    if pending and (pending[:1] not in LINE_STARTS or b"\r" in pending or len(pending) > 8192):
        _write(target, pending)
        return b""
    return pending


def _read(source: int) -> bytes:
    while True:
        try:
            return os.read(source, 65536)
        except InterruptedError:
            continue


def _write(target: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(target, data):]
    except OSError:
        pass  # stderr is gone (a closed pipe): nothing more can be shown
