"""File writing that never leaves a half-written result behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


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
