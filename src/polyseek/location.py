"""Where a collection's index is: from ``-c``/``--store``, the environment or the working
directory. Light on purpose (no LanceDB, no models): the CLI resolves the index before it
decides whether a running server can answer (:mod:`polyseek.cli.warm`)."""

from __future__ import annotations

import os
from pathlib import Path

from polyseek.errors import CollectionNotFoundError
from polyseek.store.uri import is_uri

STORE_DIRNAME = ".polyseek"
COLLECTION_ENV = "POLYSEEK_COLLECTION"
MANIFEST = "manifest.json"  # what makes a folder an index (LanceStore.MANIFEST)


def find_store(start: Path) -> Path | None:
    """The nearest ``.polyseek`` index in ``start`` or its parents."""
    for folder in [start, *start.parents]:
        if (folder / STORE_DIRNAME / MANIFEST).is_file():
            return folder / STORE_DIRNAME
    return None


def locate(collection: str | Path | None, store: str | Path | None) -> tuple[Path | None, Path]:
    """(collection root or None, index path) from what the user gave, the environment or cwd."""
    root = Path(collection).expanduser().resolve() if collection is not None else None
    if root is not None:
        check_folder(root, "the collection folder (-c DIR)")
    if store is not None:
        if is_uri(store):  # an object store: its local working folder (serve.json, caches)
            from polyseek.store.uri import StoreLocation

            return root, StoreLocation.parse(str(store)).local_dir
        return root, Path(store).expanduser().resolve()
    if root is not None:
        return root, root / STORE_DIRNAME
    env = os.environ.get(COLLECTION_ENV)
    if env:
        env_root = Path(env).expanduser().resolve()
        check_folder(env_root, f"${COLLECTION_ENV}")
        return env_root, env_root / STORE_DIRNAME
    found = find_store(Path.cwd())
    if found is None:
        raise CollectionNotFoundError(
            "no collection given and no .polyseek index found here or above",
            hint=f"pass the collection folder (-c DIR) or set ${COLLECTION_ENV}",
        )
    return found.parent, found


def check_folder(root: Path, given_as: str) -> None:
    """A collection named by the user must be a folder: say so, not "index it first"."""
    if not root.exists():
        raise CollectionNotFoundError(
            f"{root}: no such folder", hint=f"check the path given as {given_as}"
        )
    if not root.is_dir():
        raise CollectionNotFoundError(
            f"{root} is not a folder", hint=f"give a folder as {given_as}"
        )


__all__ = ["COLLECTION_ENV", "MANIFEST", "STORE_DIRNAME", "check_folder", "find_store", "locate"]
