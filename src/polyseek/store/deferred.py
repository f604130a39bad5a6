"""Defer the part of LanceDB's import that a local or object-store index never uses.

``import lancedb`` imports ``lance_namespace``, whose package ``lance_namespace_urllib3_client``
(the generated client of the Lance REST namespace server) imports every one of its API
classes when the package loads: about 0.7 s of a 1.1 s ``import lancedb`` on an idle 2-core
machine, paid by every CLI call that writes the index (reads go through Lance and never
import LanceDB: :mod:`polyseek.store.reader`). polyseek opens
directories and ``s3://``-style URIs, never a REST namespace.

:func:`defer_rest_namespace_client` registers that package without running its
``__init__``: its submodules (the request/response models ``lance_namespace`` imports)
load as usual, and the first read of any attribute of the package itself (``ApiClient``,
``TableApi``, ...: what a REST namespace connection uses) runs the real ``__init__`` then,
so nothing changes for code that does use it. If the package is missing or already
imported, nothing is done.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from typing import Any

logger = logging.getLogger(__name__)

REST_CLIENT = "lance_namespace_urllib3_client"


def defer_rest_namespace_client(name: str = REST_CLIENT) -> bool:
    """Register package ``name`` with its ``__init__`` deferred; True if it now is."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return False
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def load_body(attr: str) -> Any:
        # Runs once: the real package body fills this very module object in.
        delattr(module, "__getattr__")
        logger.debug("loading %s (first use of %s.%s)", name, name, attr)
        loader.exec_module(module)
        return getattr(module, attr)

    setattr(module, "__getattr__", load_body)  # noqa: B010 - PEP 562, on a module object
    sys.modules[name] = module
    return True


__all__ = ["REST_CLIENT", "defer_rest_namespace_client"]
