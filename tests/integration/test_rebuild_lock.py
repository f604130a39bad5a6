"""`index --rebuild` deletes the old index only while holding the write lock (issue 15,
item 7): a running writer makes it fail at once, and a writer that opened the old index
before the rebuild refuses to write into the new one."""

from __future__ import annotations

import shutil

import pytest

from polyseek.collection import Collection
from polyseek.engine import Engine
from polyseek.errors import StoreError
from tests.conftest import SAMPLE


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "collection"
    root.mkdir()
    for p in sorted((SAMPLE / "papers").iterdir())[:3]:
        shutil.copy2(p, root / p.name)
    Engine.open(root, create=True).index()
    return root


def test_rebuild_waits_for_no_one_and_deletes_nothing_while_a_writer_runs(root):
    writer = Engine.open(root)
    before = writer.status().items
    with writer.store.writing():
        with pytest.raises(StoreError, match="another process is writing"):
            Collection.open(root, rebuild=True, create=True)
    assert Engine.open(root).status().items == before  # nothing was deleted


def test_a_writer_opened_before_a_rebuild_does_not_write_into_the_new_index(root):
    stale = Engine.open(root)
    Collection.open(root, rebuild=True, create=True)
    with pytest.raises(StoreError, match="rebuilt by another process"):
        stale.index()
    fresh = Engine.open(root)
    report = fresh.index()
    assert report.added == 3 and fresh.store.table_rows()["sources"] == 3
