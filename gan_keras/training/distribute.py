"""Which devices and processes train one run: TensorFlow's own ``tf.distribute`` strategies.

``--strategy default`` is one device (TensorFlow's default strategy, so the same
code path runs everywhere); ``mirrored`` is ``MirroredStrategy`` over every visible
GPU or over ``--devices`` (``CPU:0,CPU:1`` splits the CPU into that many logical
devices, which is how the tests prove data parallelism on a machine without GPUs);
``multiworker`` is ``MultiWorkerMirroredStrategy``, configured by the standard
``TF_CONFIG`` environment variable. ``--batch-size`` is always the global batch:
each of the N replicas trains on batch/N images and the gradients are summed by
the strategy's all-reduce, so one iteration is the same update at any N.

Only the chief (``TF_CONFIG`` task "chief", or worker 0 when there is none) writes
the run folder; every other worker runs the same code against a temporary folder
that it removes at the end, the usual ``tf.distribute`` pattern. This module reads
``TF_CONFIG`` without importing TensorFlow, so the lock can be taken first.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

STRATEGIES = ("default", "mirrored", "multiworker")
WORKER_FOLDER_PREFIX, WORKER_PID_FILE = "gan_keras_worker_", "pid"


def tf_config() -> dict:
    """The parsed ``TF_CONFIG`` ({} when unset); a malformed one is refused in one line."""
    from gan_keras.errors import UsageError

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
    from gan_keras.errors import UsageError

    index = config.get("task", {}).get("index", 0)
    try:
        return int(index)
    except (TypeError, ValueError):
        raise UsageError(f'TF_CONFIG\'s "task" has "index": {index!r}; it must be a number (this task\'s '
                         f'place in its list of the cluster)') from None


def worker_folder() -> str:
    """Where a non-chief worker writes what the chief writes to the run folder (removed at the end).

    A killed worker cannot remove its own, so each records its process id and the next
    worker started on the machine removes those of dead processes.
    """
    remove_dead_workers_folders()
    folder = tempfile.mkdtemp(prefix=WORKER_FOLDER_PREFIX)
    with open(os.path.join(folder, WORKER_PID_FILE), "w") as handle:
        handle.write(str(os.getpid()))
    return os.path.join(folder, "run")


def remove_worker_folder(run_dir: str) -> None:
    """Remove the temporary folder :func:`worker_folder` made for ``run_dir``."""
    shutil.rmtree(os.path.dirname(run_dir), ignore_errors=True)


def remove_dead_workers_folders() -> None:
    """Remove the temporary folders of workers whose process no longer runs (those with no
    readable process id are left alone: one may be a folder a worker is creating now)."""
    from gan_keras.run_dir import process_alive

    parent = tempfile.gettempdir()
    for name in os.listdir(parent):
        folder = os.path.join(parent, name)
        if not name.startswith(WORKER_FOLDER_PREFIX) or not os.path.isdir(folder):
            continue
        try:
            with open(os.path.join(folder, WORKER_PID_FILE)) as handle:
                pid = int(handle.read())
        except (OSError, ValueError):
            continue
        if not process_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def check_strategy_settings(strategy_name: str, devices: str | None) -> None:
    """Refuse combinations that cannot work, before anything is built."""
    from gan_keras.errors import UsageError

    if strategy_name not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy_name!r}")
    if devices is not None and strategy_name != "mirrored":
        raise UsageError("--devices picks the devices of --strategy mirrored; leave it out otherwise")
    if strategy_name == "multiworker":
        config = tf_config()
        if not config:
            raise UsageError("--strategy multiworker reads the cluster from TF_CONFIG, which is not set "
                             "(docs/scaling.md); to go on with a multi-worker run in this one process, "
                             "resume it with --strategy default")
        task_index(config)
    if devices is not None:
        device_names(devices)


def device_names(devices: str) -> list[str]:
    """``"CPU:0,CPU:1"`` -> ``["/CPU:0", "/CPU:1"]``; one kind of device, each named once."""
    from gan_keras.errors import UsageError

    names = [name.strip().upper().lstrip("/") for name in devices.split(",") if name.strip()]
    kinds = {name.split(":")[0] for name in names}
    if (not names or len(set(names)) != len(names) or len(kinds) != 1 or kinds - {"CPU", "GPU"}
            or not all(name.count(":") == 1 and name.split(":")[1].isdigit() for name in names)):
        raise UsageError(f"--devices must list distinct devices of one kind, like CPU:0,CPU:1 or "
                         f"GPU:0,GPU:1; got {devices!r}")
    return [f"/{name}" for name in names]


def make_strategy(strategy_name: str, devices: str | None = None, cluster_timeout: float = 300):
    """The ``tf.distribute.Strategy`` for ``--strategy``; call before TensorFlow runs any op.

    ``multiworker`` waits for every worker of ``TF_CONFIG`` at most ``cluster_timeout`` seconds
    (:class:`ClusterWait`), and a collective that has not completed in that time fails, so a dead
    peer ends the run instead of hanging it.
    """
    import tensorflow as tf

    if strategy_name == "multiworker":
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=cluster_timeout)
        with ClusterWait(cluster_timeout):
            strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        _restore_sigterm_handler()
        return strategy
    if strategy_name == "mirrored":
        names = device_names(devices) if devices else None
        if names and names[0].startswith("/CPU"):
            split_cpu(len(names))
        return tf.distribute.MirroredStrategy(devices=names)
    return tf.distribute.get_strategy()


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

    While it waits, SIGINT takes its default action (the process ends at once), and a watchdog process
    in this process's group (:mod:`gan_keras.training.cluster_watch`) ends it with SIGINT after ``timeout``
    seconds or on a SIGINT or SIGTERM to the group, in one line naming the workers that never came.
    Nothing has been trained or written by then.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout

    def __enter__(self) -> ClusterWait:
        import signal
        import subprocess
        import sys

        from gan_keras.training.stop import SIGNALS

        self.previous = {sig: signal.signal(sig, signal.SIG_DFL) for sig in SIGNALS}
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
        self.watchdog = subprocess.Popen(
            [sys.executable, "-m", "gan_keras.training.cluster_watch", str(os.getpid()), str(self.timeout),
             os.path.basename(sys.argv[0])], stdin=subprocess.PIPE, env=environment)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        from gan_keras.training.cluster_watch import DONE

        for sig, handler in self.previous.items():  # first, so that a stop from now on is the run's own
            signal.signal(sig, handler)
        self.watchdog.stdin.write(DONE)
        self.watchdog.stdin.close()  # the wait is over: the watchdog leaves quietly
        self.watchdog.wait()


def peer_failure(error: Exception, where: str) -> Exception | None:
    """One clear error for a collective that failed because another worker stopped (None for other errors)."""
    import tensorflow as tf

    from gan_keras.errors import GanKerasError

    if not isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                              tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError)):
        return None
    missing = unreachable_peers()
    who = ", ".join(missing) if missing else "another worker (still reachable, but it left the all-reduce)"
    return GanKerasError(f"{who} stopped; this worker stops too. Resume all workers with: python train.py "
                         f"--resume {where} (from its last checkpoint)")


def _restore_sigterm_handler() -> None:
    """Put Python's SIGTERM handler back in place.

    Starting MultiWorkerMirroredStrategy installs TensorFlow's own SIGTERM handler (its
    preemption notifier), which swallows the signal: the run's handler would never
    see it, and the workers could not stop together with a checkpoint.
    """
    import signal

    signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGTERM))


def split_cpu(count: int) -> None:
    """Present the CPU as ``count`` logical devices (TensorFlow allows this only before it starts)."""
    import tensorflow as tf

    from gan_keras.errors import UsageError

    cpu = tf.config.list_physical_devices("CPU")[0]
    present = tf.config.get_logical_device_configuration(cpu)
    if present is not None and len(present) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise UsageError(f"cannot split the CPU into {count} devices: TensorFlow has already started "
                         f"with {len(present or [cpu])}") from None


def agreed_seed(strategy, seed: int) -> int:
    """The chief's seed on every worker (each worker may have drawn its own)."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return seed
    return int(_sum_over_replicas(strategy, lambda replica: float(seed) if replica == 0 else 0.0))


def any_worker(strategy, flag: bool) -> bool:
    """True on every worker when ``flag`` is True on any of them."""
    return _sum_over_replicas(strategy, lambda replica: 1.0 if flag else 0.0) > 0


def _sum_over_replicas(strategy, value_of_replica) -> float:
    """One all-reduce: the sum over all replicas of ``value_of_replica(replica id)``, on every worker."""
    import tensorflow as tf

    values = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(value_of_replica(context.replica_id_in_sync_group), tf.float64))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None).numpy())
