"""A long-lived Engine (a server's) caches what it reads per table version: items, vectors,
the versions themselves for the length of one query. What another Engine (another
process) writes must show in its next search, and a removed file's items never again."""

from __future__ import annotations

from pathlib import Path

from polyseek.engine import Engine

TEXTS = {
    "pumps.txt": "The centrifugal pump housing cracked after the impeller seized.",
    "bread.txt": "Knead the sourdough, let it rise overnight, then bake it hot.",
    "stars.txt": "A red giant star sheds its outer layers as a planetary nebula.",
}


def _sources(engine: Engine, text: str, **options: object) -> list[str]:
    return [h.source for h in engine.search(text, top=5, **options).hits]


def test_a_reader_sees_the_writers_commits_and_removals(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    for name, text in TEXTS.items():
        (root / name).write_text(text, encoding="utf-8")
    writer = Engine.open(root, create=True)
    writer.index()
    reader = Engine.open(root)
    for _ in range(3):  # past the first lookup of a version: the cached catalog answers
        assert _sources(reader, "pump impeller")[0] == "pumps.txt"

    (root / "violin.txt").write_text("The violin's bow needs fresh rosin.", encoding="utf-8")
    writer.index()
    for options in ({}, {"lexical": False}, {"exact": True}):
        assert _sources(reader, "violin bow rosin", **options)[0] == "violin.txt"
    hit = reader.search("violin bow rosin", top=1).hits[0]
    assert "rosin" in hit.snippet

    assert writer.remove(root / "pumps.txt") == 1
    for options in ({}, {"lexical": False}, {"exact": True}):
        assert "pumps.txt" not in _sources(reader, "pump impeller", **options)
    assert reader.items([hit.item_id])  # the others are still there
