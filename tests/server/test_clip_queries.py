"""Clip queries over REST (issue 16, item 6): an audio or video clip uploaded as the query
(``clip`` in the multipart form, as ``polyseek search --video`` on the command line),
with a clear error when the index has no encoder for that modality, and no internal
object or path leaked in an error or the echoed query."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from polyseek.engine import Engine
from polyseek.ingest import IngestOptions
from polyseek.server import create_app
from tests.conftest import SAMPLE
from tests.helpers.media import make_audio, write_srt
from tests.helpers.served import AUDIO_SOURCE, VIDEO_SOURCE, write_tone
from tests.helpers.tiny_clap import make_tiny_clap

TONE, SPEECH = "sounds/tone.wav", "sounds/noise.wav"


@pytest.fixture(scope="module")
def clap_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A collection of two sounds indexed with MiniLM and a tiny random CLAP."""
    base = tmp_path_factory.mktemp("clip-queries")
    clap = make_tiny_clap(base / "clap")
    root = base / "collection"
    write_tone(root / TONE, seconds=4.0, rate=16_000)
    make_audio(root / SPEECH, 4.0, [(0.5, "filter cartridge")])
    for name in (TONE, SPEECH):  # one segment over the whole file, whatever ASR hears
        write_srt((root / name).with_suffix(".srt"), [(0.0, 4.0, f"the sound of {name}")])
    engine = Engine.open(root, encoders=["minilm", f"clap:{clap}"], create=True)
    assert engine.index(options=IngestOptions(asr="none")).failed == []
    return TestClient(create_app(engine), base_url="http://127.0.0.1")


def test_an_audio_clip_finds_that_sound(clap_client: TestClient) -> None:
    root = Path(clap_client.app.state.engine.root)  # type: ignore[attr-defined]
    for name in (TONE, SPEECH):
        data = (root / name).read_bytes()
        r = clap_client.post(
            "/api/search", files={"clip": ("mine.wav", data, "audio/wav")}, data={"top": "2"}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert [h["source"] for h in body["hits"]][0] == name
        assert body["query"]["clip"] == "mine.wav" and "image" not in body["query"]
        assert any(k.startswith("clap:") for k in body["hits"][0]["signals"])
    # A pasted blob without a media extension: its declared type says which it is.
    data = (root / TONE).read_bytes()
    r = clap_client.post("/api/search", files={"clip": ("blob", data, "audio/wav")})
    assert r.status_code == 200 and r.json()["hits"][0]["source"] == TONE


def test_clip_errors_are_clear(clap_client: TestClient) -> None:
    r = clap_client.post("/api/search", files={"clip": ("notes.txt", b"hello", "text/plain")})
    err = r.json()["error"]
    assert r.status_code == 400 and "not an audio or video file" in err["message"]
    assert ".mp4" in err["hint"] and ".wav" in err["hint"]
    r = clap_client.post("/api/search", files={"clip": ("broken.wav", b"RIFF0000", "audio/wav")})
    assert r.status_code == 400 and "cannot read the query clip" in r.json()["error"]["message"]
    r = clap_client.post("/api/search", files={"clip": ("empty.wav", b"", "audio/wav")})
    assert r.status_code == 400 and "empty" in r.json()["error"]["message"]
    png = (SAMPLE / "images/pump-housing-exploded-view.png").read_bytes()
    both = {"clip": ("a.wav", b"x", "audio/wav"), "image": ("a.png", png, "image/png")}
    r = clap_client.post("/api/search", files=both)
    assert r.status_code == 400 and "not both" in r.json()["error"]["message"]


def test_clips_on_the_served_collection(client: httpx.Client, served_root: Path) -> None:
    """The shared server has a tiny CLIP (image-text) and no CLAP (audio-text)."""
    video = (served_root / VIDEO_SOURCE).read_bytes()
    r = client.post("/api/search", files={"clip": ("demo.mp4", video, "video/mp4")})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and {h["modality"] for h in hits} <= {"image", "page", "video"}
    assert r.json()["query"]["clip"] == "demo.mp4"
    sound = (served_root / AUDIO_SOURCE).read_bytes()
    r = client.post("/api/search", files={"clip": ("tone.wav", sound, "audio/wav")})
    err = r.json()["error"]
    assert r.status_code == 400 and "need an audio-text encoder" in err["message"]
    assert "clap:" in err["hint"]
    # A video sent as the image: refused with a pointer to `clip`, no BytesIO repr.
    r = client.post("/api/search", files={"image": ("demo.mp4", video, "video/mp4")})
    err = r.json()["error"]
    assert r.status_code == 400 and "cannot read the uploaded image" in err["message"]
    assert "BytesIO" not in r.text and "`clip`" in err["hint"]


def test_a_video_clip_needs_an_image_text_encoder(tmp_path: Path, served_root: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    shutil.copy2(served_root / VIDEO_SOURCE, root / "v.mp4")
    engine = Engine.open(root, create=True)  # MiniLM only
    engine.index(options=IngestOptions(asr="none"))
    c = TestClient(create_app(engine), base_url="http://127.0.0.1")
    video = (root / "v.mp4").read_bytes()
    r = c.post("/api/search", files={"clip": ("v.mp4", video, "video/mp4")})
    err = r.json()["error"]
    assert r.status_code == 400 and "video clip queries" in err["message"]
    assert "image-text encoder" in err["message"] and "clip:" in err["hint"]
