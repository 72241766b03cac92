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
that it removes at the end, the usual ``tf.distribute`` pattern. ``TF_CONFIG`` is read
without TensorFlow (:mod:`gan_keras.training.cluster`), so the lock can be taken first.

Lazy imports: TensorFlow, inside the functions that make or use a strategy.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile

from gan_keras.errors import GanKerasError, UsageError
from gan_keras.files import process_alive
from gan_keras.run_dir import resume_command
from gan_keras.training.cluster import ClusterWait, task_index, tf_config, unreachable_peers

STRATEGIES = ("default", "mirrored", "multiworker")
WORKER_FOLDER_PREFIX, WORKER_PID_FILE = "gan_keras_worker_", "pid"


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


def peer_failure(error: Exception, where: str) -> Exception | None:
    """One clear error for a collective that failed because another worker stopped (None for other errors)."""
    import tensorflow as tf

    if not isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                              tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError)):
        return None
    missing = unreachable_peers()
    who = ", ".join(missing) if missing else "another worker (still reachable, but it left the all-reduce)"
    return GanKerasError(f"{who} stopped; this worker stops too. Resume all workers with: {resume_command(where)} "
                         f"(from its last checkpoint)")


def _restore_sigterm_handler() -> None:
    """Put Python's SIGTERM handler back in place.

    Starting MultiWorkerMirroredStrategy installs TensorFlow's own SIGTERM handler (its
    preemption notifier), which swallows the signal: the run's handler would never
    see it, and the workers could not stop together with a checkpoint.
    """
    signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGTERM))


def split_cpu(count: int) -> None:
    """Present the CPU as ``count`` logical devices (TensorFlow allows this only before it starts)."""
    import tensorflow as tf

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
