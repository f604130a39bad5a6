"""A small name -> factory registry with a dotted-path fallback.

Used for encoders and loaders: ``@ENCODERS.register("minilm")`` adds a backend;
``ENCODERS.resolve("pkg.module.Class")`` imports a class that was never registered.
Unknown names raise :class:`ConfigError` listing the registered names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from polyseek.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, *names: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            for name in names:
                if name in self._entries and self._entries[name] is not obj:
                    raise ConfigError(f"{self.kind} {name!r} is already registered")
                self._entries[name] = obj
            return obj

        return decorator

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def resolve(self, name: str) -> T:
        """Return the entry registered as ``name``, or import ``name`` as a dotted path."""
        if name in self._entries:
            return self._entries[name]
        if "." in name:
            module_name, _, attr = name.rpartition(".")
            try:
                module = importlib.import_module(module_name)
                return getattr(module, attr)  # type: ignore[no-any-return]
            except (ImportError, AttributeError) as exc:
                raise ConfigError(
                    f"cannot import {self.kind} {name!r}: {exc}",
                    hint=f"registered {self.kind}s: {', '.join(self.names())}",
                ) from exc
        raise ConfigError(
            f"unknown {self.kind} {name!r}",
            hint=f"registered {self.kind}s: {', '.join(self.names())}; "
            "or give a dotted path to a class (package.module.Class)",
        )
