"""LanceDB, Lance and PyArrow errors become polyseek errors at the store's edge.

Every table handle :class:`~polyseek.store.lancedb.LanceStore` uses is wrapped in a
:class:`GuardedTable`: a call that fails inside LanceDB (a Rust ``LanceError``, a
``RuntimeError``/``ValueError``/``OSError`` from the bindings, even a Rust panic, which
PyO3 raises as a ``BaseException``) comes out as

* :class:`~polyseek.errors.DiskFullError` when the device is full (``os error 28``),
* :class:`~polyseek.errors.DamagedIndexError` naming the table (or its index, or its
  version manifest) when the data on disk cannot be read, with the command that brings
  the index back (``polyseek repair``),
* :class:`~polyseek.errors.StoreError` for anything else LanceDB refuses,

never as a traceback through Rust source paths. Query builders a table returns
(``table.search(...)``) are wrapped the same way, so the error surfaces where the query
runs (``.to_arrow()``).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from polyseek.errors import DamagedIndexError, DiskFullError, PolyseekError, StoreError

_RUST_LOCATION = re.compile(r",?\s*/\S+\.rs:\d+(?::\d+)?")
_DISK_FULL = ("no space left on device", "os error 28", "disk quota exceeded", "os error 122")
_DAMAGE = (
    "lanceerror(io)",
    "does not appear to be a lance file",
    "invalid magic",
    "failed to fill whole buffer",
    "file size is too small",
    "not found:",
    "object at location",
    "corrupt",
    "invalid range",
    "unexpected eof",
    "panicked",
    "decode error",
    "protobuf",
)
_PASS = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError, PolyseekError)


def repair_command(store_path: Path) -> str:
    """The ``polyseek repair`` command line for the index at ``store_path``."""
    if store_path.name == ".polyseek":
        return f"polyseek repair -c {store_path.parent}"
    return f"polyseek repair --store {store_path}"


def short_reason(exc: BaseException) -> str:
    """The first line of a foreign error, without Rust source locations."""
    text = str(exc).strip() or type(exc).__name__
    text = _RUST_LOCATION.sub("", text.splitlines()[0] if text else text)
    text = text.replace("lance error: ", "").strip()
    return text[:300]


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(m in str(exc).lower() for m in _DISK_FULL)


def _part(table: str, reason: str) -> str:
    if "/_indices/" in reason or "full text search" in reason.lower():
        return f"an index of table {table!r}"
    if "/_versions/" in reason or "manifest" in reason.lower():
        return f"the version manifest of table {table!r}"
    return f"table {table!r}"


def translate(exc: BaseException, table: str, store_path: Path) -> PolyseekError:
    """The polyseek error a foreign failure on ``table`` of the index at ``store_path`` means."""
    reason = short_reason(exc)
    if is_disk_full(exc):
        return DiskFullError(
            f"no space left on the device holding the index at {store_path} "
            f"(writing table {table!r})",
            hint="free some space, then run the command again: what was committed before "
            "is intact and the index stays readable",
        )
    lowered = reason.lower()
    panic = type(exc).__name__ == "PanicException"
    if panic or any(m in lowered for m in _DAMAGE) or isinstance(exc, OSError):
        part = _part(table, str(exc))
        return DamagedIndexError(
            part,
            f"the index at {store_path} is damaged: {part} cannot be read ({reason})",
            hint=f"run `{repair_command(store_path)}`: it rolls the table back to its last "
            "intact version or re-indexes the affected files from the collection "
            "(`polyseek check` only reports)",
        )
    return StoreError(
        f"LanceDB failed on table {table!r} of the index at {store_path}: {reason}",
        hint=f"`{repair_command(store_path).replace('repair', 'check')}` verifies the index",
    )


@contextmanager
def lance_errors(table: str, store_path: Path) -> Iterator[None]:
    """Translate foreign errors raised inside the block (see the module docstring)."""
    try:
        yield
    except _PASS:
        raise
    except BaseException as exc:  # noqa: B036 - Rust panics arrive as BaseException
        raise translate(exc, table, store_path) from exc


def _wraps(value: Any) -> bool:
    return type(value).__module__.startswith(("lancedb", "lance"))


class GuardedTable:
    """A LanceDB object (table, query builder) whose calls translate their errors."""

    __slots__ = ("_inner", "_table", "_store_path")

    def __init__(self, inner: Any, table: str, store_path: Path) -> None:
        self._inner = inner
        self._table = table
        self._store_path = store_path

    @property
    def unwrapped(self) -> Any:
        """The LanceDB object itself (for callers that need its exact type)."""
        return self._inner

    def __getattr__(self, attr: str) -> Any:
        with lance_errors(self._table, self._store_path):
            value = getattr(self._inner, attr)
        if callable(value) and not isinstance(value, type):
            return self._call(value)
        return GuardedTable(value, self._table, self._store_path) if _wraps(value) else value

    def _call(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lance_errors(self._table, self._store_path):
                result = method(*args, **kwargs)
            if _wraps(result):
                return GuardedTable(result, self._table, self._store_path)
            return result

        return call

    def __repr__(self) -> str:
        return f"GuardedTable({self._table!r}, {self._inner!r})"


__all__ = [
    "GuardedTable",
    "is_disk_full",
    "lance_errors",
    "repair_command",
    "short_reason",
    "translate",
]
