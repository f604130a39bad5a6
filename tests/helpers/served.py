"""A served collection for the server, browser and ask tests.

``build_collection`` copies a few papers, the sample images and PDFs, makes a short
two-shot video with subtitles, indexes them with MiniLM + a tiny random CLIP (so image
queries work), then adds one audio file with a timed item through the store's commit
protocol (an audio item without running speech recognition). ``Server`` runs
``polyseek serve`` in a real uvicorn process on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
import wave
from pathlib import Path

import httpx
import numpy as np

AUDIO_SOURCE = "audio/calibration-tone.wav"
AUDIO_TEXT = "a steady calibration tone for the media player between two and four seconds"
AUDIO_START, AUDIO_END = 2.0, 4.0


def write_tone(path: Path, seconds: float = 6.0, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def add_audio_item(engine, root: Path) -> str:
    """Commit one audio source with one timed item; returns the item id."""
    from polyseek.indexing import file_hash
    from polyseek.store.base import SourceBatch, SourceRecord, StoredItem
    from polyseek.types import Item, Locator

    path = write_tone(root / AUDIO_SOURCE)
    st = path.stat()
    gen = uuid.uuid4().hex[:12]
    item = Item(
        AUDIO_SOURCE,
        "audio",
        Locator(start_s=AUDIO_START, end_s=AUDIO_END),
        text=AUDIO_TEXT,
        metadata={"duration_s": 6.0},
    )
    stored = StoredItem.from_item(item, gen, None)
    record = SourceRecord(
        AUDIO_SOURCE,
        file_hash(path),
        st.st_size,
        st.st_mtime_ns,
        gen,
        "ok",
        n_items=1,
        indexed_at=time.time(),
    )
    batch = SourceBatch([record], [stored])
    for info in engine.encoder_infos:
        if info.kind != "text":  # image-text encoders embed images, not item texts
            continue
        batch.vectors[info.key] = ([stored.id], engine.encoder(info).embed_documents([AUDIO_TEXT]))
    with engine.store.writing():
        engine.store.commit(batch)
    return stored.id


VIDEO_SOURCE = "videos/pump-demo.mp4"
VIDEO_MOMENT = (3.0, 6.0)  # the second shot, where the subtitles say the words below
VIDEO_WORDS = "now we replace the filter cartridge of the pump"


def add_video(root: Path) -> None:
    """A 6 s video of two shots (cut at 3 s) with a subtitle sidecar: real moments."""
    from tests.helpers.media import Scene, make_video, write_srt

    path = root / VIDEO_SOURCE
    path.parent.mkdir(parents=True, exist_ok=True)
    scenes = [Scene(3.0, (200, 30, 30), "square"), Scene(3.0, (30, 30, 200), "disc")]
    make_video(path, scenes, audio=False)
    write_srt(
        path.with_suffix(".srt"),
        [(0.2, 2.8, "welcome to the pump room tour"), (3.2, 5.8, VIDEO_WORDS)],
    )


def build_collection(dest: Path, clip_dir: Path, n_papers: int = 12) -> Path:
    from polyseek.engine import Engine
    from tests.conftest import copy_small_collection

    root = copy_small_collection(dest, n_papers=n_papers)
    add_video(root)
    engine = Engine.open(root, encoders=["minilm", f"clip:{clip_dir}"], create=True)
    report = engine.index()
    assert report.failed == [], report.failed
    add_audio_item(engine, root)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``polyseek serve`` in a subprocess; ``stop()`` ends exactly that process."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root.parent / f"server-{self.port}.log"
        cmd = [sys.executable, "-m", "polyseek", "serve", "-c", str(root), "--port", str(self.port)]
        full_env = {**os.environ, **(env or {})}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [*cmd, *args], stdout=log, stderr=subprocess.STDOUT, env=full_env
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


_BUILT: dict[str, Path] = {}


def shared_collection(tmp_path_factory) -> Path:
    """The served collection, built once per test session (tests must not change it)."""
    if "root" not in _BUILT:
        from tests.helpers.tiny_models import make_tiny_clip

        base = tmp_path_factory.mktemp("served")
        clip = make_tiny_clip(base / "tiny-clip")
        _BUILT["root"] = build_collection(base / "collection", clip)
    return _BUILT["root"]


def copy_collection(root: Path, dest: Path) -> Path:
    """A private copy (sources and index) for tests that change the collection."""
    import shutil

    shutil.copytree(root, dest, symlinks=True)
    return dest


READ_KEY = "read-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
KEYS_ENV = {"POLYSEEK_API_KEY": READ_KEY, "POLYSEEK_ADMIN_KEY": ADMIN_KEY}


def shared_server(tmp_path_factory, request) -> Server:
    """One keyed server over the shared collection per session (stopped at its end)."""
    if "server" not in _SERVERS:
        root = shared_collection(tmp_path_factory)
        srv = _SERVERS["server"] = Server(root, env=KEYS_ENV)
        request.session.config.add_cleanup(srv.stop)
    return _SERVERS["server"]


_SERVERS: dict[str, Server] = {}
