"""File writing that never leaves a half-written result behind, and whether a process that left files is alive."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

from gan_keras.errors import DataError, GanKerasError

NOT_REGULAR = {stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
               stat.S_ISSOCK: "a socket", stat.S_ISDIR: "a folder"}


def regular_file(path: str, what: str = "file") -> str:
    """``path``, refused in one line by its type unless it is a regular file (or a link to one): a named pipe or
    a device would keep a reader waiting forever. ``what`` names what the file should be, for the message."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError(f"{what} not found: {path}") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in NOT_REGULAR.items() if test(mode)), "not a regular file")
        raise DataError(f"{path} is {kind}, not a {what}")
    return path


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary name keeps the extension, since some writers (Keras) check it.
    A write error names ``path``, the file the user asked for, never the temporary one.
    """
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    partial = os.path.join(folder, f".{stem}.partial{os.getpid()}{ext}")
    try:
        yield partial
        os.replace(partial, path)
    except OSError as error:
        if error.filename in (None, partial) or str(partial) in str(error):
            raise OSError(error.errno, error.strerror or str(error), path) from None
        raise
    finally:
        if os.path.exists(partial):
            try:
                os.remove(partial)
            except OSError:
                pass


class writing:
    """Turns a failed write (disk full, permissions) into one clear error naming the file.

    ``path`` is the file, or the folder, named when the error carries no file name.
    ``staging``: the hidden folder a new run is assembled in; errors name its files by
    the run folder's real name (``path``) instead.
    """

    def __init__(self, path: str, staging: str | None = None):
        self.path, self.staging = path, staging

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, OSError):
            where = str(error.filename or (f"a file in {self.path}" if os.path.isdir(self.path) else self.path))
            if self.staging:
                where = where.replace(self.staging, os.path.abspath(self.path))
            raise GanKerasError(f"cannot write {where}: {why(error)}; "
                                f"earlier files are untouched") from None
        return False


def why(error: OSError) -> str:
    """An OSError's reason in words; a short write (NumPy's "N requested and M written") is a full disk."""
    text = error.strerror or str(error)
    if error.errno is None and "requested and" in text and "written" in text:
        return f"No space left on device ({text} bytes)"
    return text


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (another user's counts); where there is no such probe, assume it does."""
    if os.name != "posix":  # elsewhere os.kill(pid, 0) is no probe (on Windows it stops the process)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:  # a zombie (ended, never reaped: a container whose first process reaps nothing) is no longer alive
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
