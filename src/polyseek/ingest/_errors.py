"""Translate foreign exceptions raised while reading a file into :class:`IngestError`."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from polyseek.errors import DiskFullError, IngestError, PolyseekError

logger = logging.getLogger(__name__)


def describe_os_error(exc: OSError) -> str:
    """A short reason for an OS-level failure, without the path (the caller adds it)."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(exc, FileNotFoundError):
        return "file not found (or a broken symbolic link)"
    return f"cannot read file: {exc.strerror or exc}"


@contextmanager
def ingest_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Let polyseek errors through; turn everything else into ``IngestError(path, reason)``.

    Loaders catch the errors they expect (a truncated image, a corrupt PDF) with precise
    reasons; this is the net for the rest, so one bad file never stops an index run.
    """
    try:
        yield
    except PolyseekError:
        raise
    except MemoryError:
        raise IngestError(str(path), "out of memory while reading the file") from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # not the file's fault: stop the run
            raise DiskFullError(f"no space left on the device while reading {path}") from exc
        raise IngestError(str(path), describe_os_error(exc)) from exc
    except Exception as exc:
        logger.debug("unexpected error reading %s", path, exc_info=True)
        raise IngestError(
            str(path), f"unexpected error while reading: {type(exc).__name__}: {exc}"
        ) from exc
