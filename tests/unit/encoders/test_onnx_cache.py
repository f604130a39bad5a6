"""The ONNX export cache: atomic publication, concurrent exporters, damaged entries.

Exercised with small stand-in files (the real exports are tested in test_minilm_onnx.py
and test_onnx_image.py): what is under test here is the publication protocol.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from polyseek.encoders._onnx import ExportCache, load_or_export

PARTS = {"model": "stand-in==1", "fingerprint": "sha1:0"}


def _build(directory: Path, payload: bytes = b"graph " * 1000, delay: float = 0.0) -> dict:
    (directory / "model.onnx").write_bytes(payload)
    time.sleep(delay)
    return {"check": {"builder": os.getpid()}}


def _race(cache_dir: str, start_at: float) -> tuple[str, bytes]:
    os.environ["POLYSEEK_CACHE"] = cache_dir
    time.sleep(max(0.0, start_at - time.time()))
    cache = ExportCache("stand-in", PARTS)
    payload = f"graph from {os.getpid()} ".encode() * 1000
    export = cache.create(lambda d: _build(d, payload, delay=0.2))
    return str(export.directory), export.read("model.onnx")


def test_concurrent_exporters_publish_one_sound_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path))
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # after the workers have started
    with ProcessPoolExecutor(3, mp_context=context) as pool:
        results = list(pool.map(_race, [str(tmp_path)] * 3, [start_at] * 3))
    directories = {d for d, _ in results}
    assert len(directories) == 1
    (directory,) = directories
    published = ExportCache("stand-in", PARTS).load()
    assert published is not None and str(published.directory) == directory
    # Every process ended up with the published bytes, whoever built them.
    assert {data for _, data in results} == {published.read("model.onnx")}
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [Path(directory).name]


def test_a_late_exporter_keeps_the_winners_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path))
    cache = ExportCache("stand-in", PARTS)
    first = cache.create(lambda d: _build(d, b"first " * 100))
    second = cache.create(lambda d: _build(d, b"second " * 100))  # lost the race
    assert second.read("model.onnx") == first.read("model.onnx") == b"first " * 100


def test_a_damaged_entry_at_the_final_name_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path))
    cache = ExportCache("stand-in", PARTS)
    cache.create(lambda d: _build(d, b"old " * 100))
    (cache.directory / "model.onnx").write_bytes(b"garbage")
    export = cache.create(lambda d: _build(d, b"new " * 100))
    assert export.read("model.onnx") == b"new " * 100


def test_a_failed_build_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path))
    cache = ExportCache("stand-in", PARTS)

    def broken(directory: Path) -> dict[str, Any]:
        (directory / "model.onnx").write_bytes(b"half")
        raise RuntimeError("export crashed")

    with pytest.raises(RuntimeError, match="export crashed"):
        load_or_export(cache, broken, what="a stand-in", need=lambda _: ["model.onnx"])
    assert list((tmp_path / "onnx").iterdir()) == []


def test_the_key_follows_what_the_export_depends_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path))
    upgraded = ExportCache("stand-in", {**PARTS, "model": "stand-in==2"})
    assert upgraded.directory != ExportCache("stand-in", PARTS).directory
    export = upgraded.create(_build)
    manifest = json.loads((export.directory / "manifest.json").read_text())
    assert manifest["parts"]["model"] == "stand-in==2"
    assert manifest["files"]["model.onnx"]["size"] == len(b"graph " * 1000)


def test_debris_of_an_interrupted_export_is_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path))
    base = tmp_path / "onnx"
    stale = base / ".stand-in-0123456789abcdef.killed"  # a process killed mid-export
    fresh = base / ".stand-in-0123456789abcdef.running"  # another process exporting now
    for directory in (stale, fresh):
        directory.mkdir(parents=True)
        (directory / "model.onnx").write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    ExportCache("stand-in", PARTS).create(_build)
    assert not stale.exists()
    assert fresh.exists()


def test_a_checked_file_is_not_hashed_again_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path))
    cache = ExportCache("stand-in", PARTS)
    _, files = load_or_export(cache, _build, what="stand-in", need=lambda _: ["model.onnx"])
    model = files["model.onnx"]
    assert model.read_bytes() == b"graph " * 1000
    stamps = json.loads((cache.directory / ".verified.json").read_text())
    assert stamps["model.onnx"][0] == model.stat().st_size
    # Same size, other bytes, the old mtime put back: the ctime still tells, and the
    # hash is checked again and refuses it.
    before = model.stat()
    model.write_bytes(b"GRAPH " * 1000)
    os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))
    export = cache.load()
    assert export is not None
    with pytest.raises(Exception, match="corrupt"):
        export.verified_path("model.onnx")
    # load_or_export exports it again and the new file is checked and stamped
    _, again = load_or_export(cache, _build, what="stand-in", need=lambda _: ["model.onnx"])
    assert again["model.onnx"].read_bytes() == b"graph " * 1000
