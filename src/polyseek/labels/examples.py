"""The examples of ``polyseek label train LABELS``: which items stand for which class.

``LABELS`` is a CSV file (``path_or_item_id,label`` per line, an optional header) or a
folder with one sub-folder per class holding example files. A path names an indexed file
of the collection (all its items are one example) or, in the folder form, any file: one
outside the index is read and embedded on the fly, like a query.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from polyseek.errors import ConfigError

if TYPE_CHECKING:
    from polyseek.collection import Collection

logger = logging.getLogger(__name__)


@dataclass
class Example:
    """One example of ``label``: indexed items (``item_ids``) or a file outside the index."""

    name: str  # what the user gave: a path or an item id
    label: str
    item_ids: list[str] = field(default_factory=list)
    outside: Path | None = None  # a file to embed (folder form, not in the index)


def read_examples(collection: Collection, spec: Path) -> list[Example]:
    """The examples ``spec`` (a CSV file or a folder of class folders) names, resolved."""
    if spec.is_dir():
        pairs = _folder_pairs(spec)
    elif spec.is_file():
        pairs = _csv_pairs(spec)
    else:
        raise ConfigError(f"{spec}: no such file or folder", hint="give a CSV or a folder")
    if not pairs:
        raise ConfigError(f"{spec}: no examples in it", hint="one line per example: path,label")
    by_source: dict[str, list[str]] = {}
    for item_id, source in _item_sources(collection):
        by_source.setdefault(source, []).append(item_id)
    known_ids = {i for ids in by_source.values() for i in ids}
    out: list[Example] = []
    for name, label, base in pairs:
        out.append(_resolve(collection, name, label, base, by_source, known_ids))
    classes = {e.label for e in out}
    if len(classes) < 2:
        raise ConfigError(
            f"{spec}: examples of {len(classes)} class, need at least 2",
            hint="label examples of every class you want items sorted into",
        )
    return out


def _item_sources(collection: Collection) -> list[tuple[str, str]]:
    t = collection.store.visible_items(["id", "source"])
    return list(zip(t.column("id").to_pylist(), t.column("source").to_pylist(), strict=True))


def _folder_pairs(folder: Path) -> list[tuple[str, str, Path | None]]:
    pairs: list[tuple[str, str, Path | None]] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(x for x in sub.rglob("*") if x.is_file() and not x.name.startswith(".")):
            pairs.append((str(f), sub.name, None))
    return pairs


def _csv_pairs(path: Path) -> list[tuple[str, str, Path | None]]:
    pairs: list[tuple[str, str, Path | None]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if len(cells) < 2 or not cells[1]:
                raise ConfigError(f"{path}:{n}: expected 'path_or_item_id,label', got {row!r}")
            if n == 1 and cells[1].lower() == "label":
                continue  # a header
            pairs.append((cells[0], cells[1], path.parent))
    return pairs


def _resolve(
    collection: Collection,
    name: str,
    label: str,
    base: Path | None,
    by_source: dict[str, list[str]],
    known_ids: set[str],
) -> Example:
    if name in known_ids:
        return Example(name, label, [name])
    if name in by_source:  # a collection-relative path
        return Example(name, label, list(by_source[name]))
    p = Path(name).expanduser()
    candidates = [p] if p.is_absolute() else [Path.cwd() / p, collection.root / p]
    if base is not None and not p.is_absolute():
        candidates.append(base / p)
    for c in candidates:
        c = c.resolve()
        if c.is_relative_to(collection.root):
            rel = c.relative_to(collection.root).as_posix()
            if rel in by_source:
                return Example(name, label, list(by_source[rel]))
        if c.is_file():
            return Example(name, label, outside=c)
    raise ConfigError(
        f"example {name!r} (label {label!r}) is neither an indexed file, an item id nor a file",
        hint="give collection-relative paths of indexed files, item ids, or existing files",
    )


__all__ = ["Example", "read_examples"]
