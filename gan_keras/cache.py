"""The user's cache folder, and measurements of this machine remembered there.

A choice made from a timing (is bfloat16 faster than float32 here?) must come out the same
every time the same command runs on the same machine, or two runs of one seed would train
differently. A timing near a threshold cannot promise that, so the first measurement on a
machine is kept and every later run reads it back; deleting the file measures again.

Lazy imports: fcntl, where the platform has it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator

from gan_keras.files import atomic_path

MEASUREMENTS_FILE = "machine_measurements.json"


def cache_folder() -> str:
    """``$GAN_KERAS_CACHE``, else ``$XDG_CACHE_HOME/gan_keras``, else ``~/.cache/gan_keras``."""
    explicit = os.environ.get("GAN_KERAS_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gan_keras")


def measurements_path() -> str:
    return os.path.join(cache_folder(), MEASUREMENTS_FILE)


def not_writable(path: str, error: OSError) -> str:
    """Why ``path`` in the cache folder could not be written, in words that name the cache and how to move it."""
    folder = cache_folder()
    if os.path.exists(folder) and not os.path.isdir(folder):
        reason = f"{folder} is a file, not a folder"
    else:
        reason = error.strerror or str(error)
    return (f"cannot write {path} ({reason}); the cache folder is {folder}: set GAN_KERAS_CACHE to a writable "
            f"folder to keep it")


class Remembered:
    """A measured value and where it came from (``problem``: why it could not be kept)."""

    def __init__(self, value: float, measured_on: str, fresh: bool, path: str | None, problem: str = ""):
        self.value, self.measured_on, self.fresh, self.path = value, measured_on, fresh, path
        self.problem = problem

    def describe(self) -> str:
        """A few words for a log line: measured now, or when, and where it is kept."""
        if self.path is None:
            return f"measured now, not kept: {self.problem}"
        return (f"measured now, kept in {self.path}" if self.fresh
                else f"measured on {self.measured_on}, kept in {self.path}")


def remember(name: str, machine: str, measure: Callable[[], float]) -> Remembered:
    """The value ``measure()`` gave for ``name`` the first time it ran on ``machine``.

    ``machine`` is a key for the hardware and software the value depends on: a home folder
    shared by machines of several kinds keeps one value per kind. Processes starting together
    measure once between them (a lock on the file); a cache folder that cannot be written, or
    a file that is not ours to read (garbage), only costs a new measurement, kept in memory and said why.
    """
    path = measurements_path()
    try:
        os.makedirs(cache_folder(), exist_ok=True)
        with _locked(path + ".lock"):
            entries = _read(path)
            entry = entries.get(f"{name} on {machine}")
            if isinstance(entry, dict) and isinstance(entry.get("value"), (int, float)):
                return Remembered(float(entry["value"]), str(entry.get("measured_on", "an earlier day")), False, path)
            value = float(measure())
            entries[f"{name} on {machine}"] = {"value": value, "measured_on": time.strftime("%Y-%m-%d")}
            _write(path, entries)
            return Remembered(value, time.strftime("%Y-%m-%d"), True, path)
    except OSError as error:
        return Remembered(float(measure()), time.strftime("%Y-%m-%d"), True, None, not_writable(path, error))


def _read(path: str) -> dict:
    if os.path.lexists(path) and not os.path.isfile(path):  # not ours to read (a folder, a named pipe)
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            entries = json.load(handle)
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _write(path: str, entries: dict) -> None:
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as handle:
        json.dump(entries, handle, indent=1, sort_keys=True)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive lock on ``path`` where the platform has one (fcntl), else none."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
