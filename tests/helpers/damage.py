"""Ways an index on disk gets damaged, for the repair tests and scripts/soak.py.

Each case damages one file of a store (a table's data file, version manifest, full-text
index file, the manifest, the statistics) by truncating it to half or overwriting it
with random bytes, and returns the name of what it damaged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

Damage = Callable[[Path, random.Random], str]


def truncate(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def overwrite(path: Path, rng: random.Random) -> None:
    path.write_bytes(rng.randbytes(path.stat().st_size))


def vector_table(store: Path) -> str:
    return sorted(p.name[: -len(".lance")] for p in (store / "db").glob("v_*.lance"))[0]


def _table(store: Path, table: str) -> str:
    return vector_table(store) if table == "vectors" else table


def data_file(store: Path, table: str) -> Path:
    """The newest data file of a table."""
    files = list((store / "db" / f"{_table(store, table)}.lance" / "data").glob("*.lance"))
    return max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def newest_manifest(store: Path, table: str) -> Path:
    """The version manifest of a table's latest version (Lance names count down)."""
    files = (store / "db" / f"{_table(store, table)}.lance" / "_versions").glob("*.manifest")
    return min(files, key=lambda p: int(p.stem))


def fts_file(store: Path, largest: bool) -> Path:
    """A file of the newest index of the items (the full-text index)."""
    folders = [p for p in (store / "db" / "items.lance" / "_indices").iterdir() if p.is_dir()]
    newest = max(folders, key=lambda p: min(f.stat().st_mtime_ns for f in p.iterdir()))
    files = [p for p in newest.iterdir() if p.is_file()]
    return max(files, key=lambda p: p.stat().st_size) if largest else sorted(files)[0]


def _case(target: Callable[[Path], Path], how: Callable[[Path, random.Random], None]) -> Damage:
    def damage(store: Path, rng: random.Random) -> str:
        path = target(store)
        how(path, rng)
        return path.relative_to(store).as_posix()

    return damage


CASES: dict[str, Damage] = {
    "sources data truncated": _case(lambda s: data_file(s, "sources"), truncate),
    "sources data overwritten": _case(lambda s: data_file(s, "sources"), overwrite),
    "items data truncated": _case(lambda s: data_file(s, "items"), truncate),
    "items data overwritten": _case(lambda s: data_file(s, "items"), overwrite),
    "vectors data truncated": _case(lambda s: data_file(s, "vectors"), truncate),
    "vectors data overwritten": _case(lambda s: data_file(s, "vectors"), overwrite),
    "full-text index truncated": _case(lambda s: fts_file(s, largest=False), truncate),
    "full-text index overwritten": _case(lambda s: fts_file(s, largest=True), overwrite),
    "items version manifest truncated": _case(lambda s: newest_manifest(s, "items"), truncate),
    "sources version manifest truncated": _case(lambda s: newest_manifest(s, "sources"), truncate),
    "vectors version manifest truncated": _case(lambda s: newest_manifest(s, "vectors"), truncate),
    "manifest.json truncated": _case(lambda s: s / "manifest.json", truncate),
    "calibration statistics truncated": _case(lambda s: s / "calibration.json", truncate),
}
"""Every damage case, by name (the soak script and the repair test run them all)."""
