"""The cluster of ``TF_CONFIG``, read without TensorFlow, and the watchdog of a multi-worker start-up.

``TF_CONFIG`` names every task of the cluster and this one: :func:`is_chief` says whether this
process writes the run folder, :func:`unreachable_peers` which other tasks accept no connection.

While a worker waits inside TensorFlow for the rest of its cluster, it can honour no signal
(TensorFlow holds its interpreter, and swallows SIGTERM there). :class:`ClusterWait` bounds that
wait with a watchdog process, ``python -m gan_keras.training.cluster PID TIMEOUT PROG``, which
leaves quietly once the worker writes DONE and closes its stdin. Otherwise it ends the worker with
WATCHDOG_SIGNAL (whose default action, the end, the worker has during the wait; the console then
exits 1 and adds nothing) and writes one line: after
``TIMEOUT`` seconds, naming the workers that never came; on a SIGINT or SIGTERM it receives (the
worker's process group gets them from :mod:`gan_keras.console`, a terminal or a cluster manager);
or when the worker ended first.

Lazy imports: subprocess and socket, where a watchdog is started or a peer is probed.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time

from gan_keras.errors import UsageError
from gan_keras.training.stop import SIGNALS, WATCHDOG_SIGNAL


def tf_config() -> dict:
    """The parsed ``TF_CONFIG`` ({} when unset); a malformed one is refused in one line."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"TF_CONFIG is not valid JSON ({error})") from None
    if not isinstance(value, dict) or "cluster" not in value or "task" not in value:
        raise UsageError('TF_CONFIG needs "cluster" and "task", e.g. {"cluster": {"worker": '
                         '["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}')
    return value


def is_chief(strategy_name: str) -> bool:
    """Whether this process writes the run folder: always, except non-chief ``multiworker`` workers."""
    if strategy_name != "multiworker":
        return True
    config = tf_config()
    task = config.get("task", {})
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and task_index(config) == 0


def task_index(config: dict) -> int:
    """This task's index in ``TF_CONFIG`` (refused in one line when it is no number)."""
    index = config.get("task", {}).get("index", 0)
    try:
        return int(index)
    except (TypeError, ValueError):
        raise UsageError(f'TF_CONFIG\'s "task" has "index": {index!r}; it must be a number (this task\'s '
                         f'place in its list of the cluster)') from None


def peers() -> list[tuple[str, int, str]]:
    """(task type, index, address) of every other task in ``TF_CONFIG``'s cluster."""
    config = tf_config()
    me = config.get("task", {})
    return [(kind, index, address) for kind, addresses in config.get("cluster", {}).items()
            for index, address in enumerate(addresses)
            if not (kind == me.get("type") and index == task_index(config))]


def unreachable_peers() -> list[str]:
    """"worker 1 at host:port" for every other task whose address accepts no connection now."""
    import socket

    missing = []
    for kind, index, address in peers():
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
                pass
        except (OSError, ValueError):
            missing.append(f"{kind} {index} at {address}")
    return missing


class ClusterWait:
    """Bounds TensorFlow's wait for the cluster, which no Python code can interrupt: TensorFlow holds the
    interpreter there, so neither a signal handler nor a thread of this process runs until it returns.

    While it waits, SIGINT and SIGTERM take their default action (the process ends at once), and a watchdog
    process in this process's group (``python -m gan_keras.training.cluster``) ends it with WATCHDOG_SIGNAL
    after ``timeout`` seconds or on a SIGINT or SIGTERM to the group, in one line naming the workers that
    never came.
    Nothing has been trained or written by then.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout

    def __enter__(self) -> ClusterWait:
        import subprocess

        self.previous = {sig: signal.signal(sig, signal.SIG_DFL) for sig in (*SIGNALS, WATCHDOG_SIGNAL)}
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
        self.watchdog = subprocess.Popen(
            [sys.executable, "-m", "gan_keras.training.cluster", str(os.getpid()), str(self.timeout),
             os.path.basename(sys.argv[0])], stdin=subprocess.PIPE, env=environment)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():  # first, so that a stop from now on is the run's own
            signal.signal(sig, handler)
        self.watchdog.stdin.write(DONE)
        self.watchdog.stdin.close()  # the wait is over: the watchdog leaves quietly
        self.watchdog.wait()


DONE = b"cluster up"
GRACE_SECONDS = 5  # after WATCHDOG_SIGNAL, the worker is killed outright if it is still there


def watch(pid: int, timeout: float) -> str | None:
    """Wait for DONE, the worker's end, a signal or ``timeout``; what to report (None: nothing)."""
    received_signal, received, deadline = [], b"", time.monotonic() + timeout
    for sig in SIGNALS:
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
            _kill(pid, WATCHDOG_SIGNAL)
        elif stopped_at is not None and time.monotonic() > stopped_at + GRACE_SECONDS:
            _kill(pid, signal.SIGKILL)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def main() -> None:
    pid, timeout, prog = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    what = watch(pid, timeout)
    if what is not None:
        missing = unreachable_peers()
        detail = f"never reached: {', '.join(missing)}" if missing else "every worker's address answers"
        sys.stderr.write(f"{prog}: error: {what} ({detail}); nothing was trained or written\n")


if __name__ == "__main__":
    main()
