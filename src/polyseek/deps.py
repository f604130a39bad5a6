"""Optional dependencies: import one or say how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

from polyseek.errors import MissingDependencyError


def require(module: str, *, hint: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the Python package {module!r}, which is not installed ({exc})",
            hint=hint,
        ) from exc


__all__ = ["require"]
