"""One plugin mechanism for every family: a name -> factory registry, lazy by default.

Encoders, loaders, rerankers, speech-to-text backends and answer generators are each a
:class:`Registry`. A built-in backend is declared *lazily* by the dotted path of its
factory (``"polyseek.encoders.minilm:MiniLMEncoder"``), so naming it costs nothing until
it is used: ``import polyseek`` does not import torch, PyMuPDF or LanceDB. Third-party
code registers with the decorator (``@ENCODERS.register("mine")``) or lazily too, and
``resolve("package.module.Class")`` imports a factory that was never registered.
Unknown names raise :class:`ConfigError` listing the registered ones.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from polyseek.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Lazy:
    """A registry entry not imported yet: ``module:attr``."""

    module: str
    attr: str

    @classmethod
    def parse(cls, target: str) -> Lazy:
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr:
            raise ConfigError(f"lazy registry target {target!r} must read 'package.module:attr'")
        return cls(module, attr)

    def load(self) -> Any:
        obj: Any = importlib.import_module(self.module)
        for part in self.attr.split("."):
            obj = getattr(obj, part)
        return obj

    def names(self, obj: object) -> bool:
        """Whether ``obj`` is what this entry points to (a decorator re-registering it)."""
        return (
            getattr(obj, "__module__", None) == self.module
            and getattr(obj, "__qualname__", None) == self.attr
        )


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | Lazy] = {}
        self._lock = threading.RLock()

    def register(self, *names: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under each of ``names``."""

        def decorator(obj: T) -> T:
            with self._lock:
                for name in names:
                    known = self._entries.get(name)
                    if known is not None and known is not obj:
                        if not (isinstance(known, Lazy) and known.names(obj)):
                            raise ConfigError(f"{self.kind} {name!r} is already registered")
                    self._entries[name] = obj
            return obj

        return decorator

    def register_lazy(self, names: str | tuple[str, ...], target: str) -> None:
        """Register ``package.module:attr`` under ``names``, imported on first use."""
        entry = Lazy.parse(target)
        with self._lock:
            for name in (names,) if isinstance(names, str) else names:
                known = self._entries.get(name)
                if known is not None and known != entry:
                    raise ConfigError(f"{self.kind} {name!r} is already registered")
                self._entries[name] = entry

    def unregister(self, name: str) -> None:
        """Forget ``name`` (tests and plugins that replace a backend); unknown names pass."""
        with self._lock:
            self._entries.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def aliases(self) -> dict[str, str]:
        """``{alias: name}`` for names registered together (one entry, several names); the
        first name registered is the one the others alias."""
        with self._lock:
            first: list[tuple[str, object]] = []
            out: dict[str, str] = {}
            for name, entry in self._entries.items():
                main = next((n for n, e in first if e is entry or e == entry), None)
                if main is None:
                    first.append((name, entry))
                else:
                    out[name] = main
            return out

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def resolve(self, name: str) -> T:
        """The entry registered as ``name``, or ``name`` imported as a dotted path."""
        with self._lock:
            entry = self._entries.get(name)
            if isinstance(entry, Lazy):
                loaded = self._import(entry.load, f"{entry.module}:{entry.attr}")
                for key, value in self._entries.items():  # every alias of this entry
                    if value == entry:
                        self._entries[key] = loaded
                return cast(T, loaded)
            if entry is not None:
                return entry
        if "." in name:
            module_name, _, attr = name.rpartition(".")
            return cast(T, self._import(Lazy(module_name, attr).load, name))
        raise ConfigError(
            f"unknown {self.kind} {name!r}",
            hint=f"registered {self.kind}s: {', '.join(self.names())}; "
            "or give a dotted path to a class (package.module.Class)",
        )

    def _import(self, load: Callable[[], Any], what: str) -> Any:
        try:
            return load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"cannot import {self.kind} {what!r}: {exc}",
                hint=f"registered {self.kind}s: {', '.join(self.names())}",
            ) from exc


__all__ = ["Lazy", "Registry"]
