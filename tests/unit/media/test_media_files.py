"""Decoding real media files: streaming reader, truncation, detection, loaders' edge cases."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest

from polyseek.errors import ConfigError, IngestError
from polyseek.ingest import IngestOptions, VideoLoader, detect_kind, load_file
from polyseek.ingest import media as media_mod
from polyseek.ingest.media import MediaReader, decode_audio
from polyseek.ingest.scenes import ANALYSIS_SIZE, SceneDetector
from tests.helpers.media import Scene, draw, espeak_available, make_audio, make_video

RED = Scene(3, (200, 30, 30), "square")
BLUE = Scene(3, (30, 40, 200), "disc")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "two.mkv"
    make_video(path, [RED, BLUE], audio=True)  # a silent soundtrack
    return path


def test_reader_streams_frames_and_resamples_audio(clip: Path) -> None:
    seen: list[tuple[float, float | None]] = []
    with MediaReader(clip, frame_fps=2.0, on_progress=lambda t, d: seen.append((t, d))) as r:
        assert r.info.has_video and r.info.has_audio and (r.info.width, r.info.height) == (160, 120)
        times = [t for t, _ in r.frames()]
        audio = r.audio
    assert times == pytest.approx([i * 0.5 for i in range(12)], abs=0.11)
    assert r.stats.frames_decoded == 60 and r.stats.frames_sampled == 12
    assert audio.dtype == np.float32 and len(audio) / 16_000 == pytest.approx(6.0, abs=0.1)
    assert seen and seen[-1][1] == pytest.approx(6.0, abs=0.1)


def test_progress_is_reported_by_media_time(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_mod, "PROGRESS_EVERY_S", 2.0)
    seen: list[float] = []
    with MediaReader(clip, on_progress=lambda t, d: seen.append(t)) as r:
        for _ in r.frames():
            pass
    assert len(seen) >= 3 and seen == sorted(seen) and seen[0] >= 2.0


def test_truncated_file_is_reported_with_the_time_it_ends(tmp_path: Path, clip: Path) -> None:
    cut = tmp_path / "cut.mkv"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(IngestError, match=r"truncated media: data ends at 00:00:0\d"):
        with MediaReader(cut) as reader:  # a reader that may not keep part of a file
            for _ in reader.frames():
                pass
    # The video loader keeps the moments before the cut and says where the data ends.
    items = load_file(cut, options=IngestOptions(asr="none"))
    assert items and items[-1].locator.end_s < 6.0
    note = items[0].metadata["indexing_note"]
    assert re.match(
        r"truncated media: data ends at 00:00:0\d but the file announces 00:00:06", note
    )


def test_garbage_with_a_video_extension(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"hello, this is text and not a film\n" * 20)
    with pytest.raises(IngestError, match="extension .mp4 but content looks like text"):
        detect_kind(fake)
    noise = tmp_path / "noise.mkv"
    noise.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)  # EBML magic, then junk
    with pytest.raises(IngestError, match="not a readable media file|no video or audio"):
        load_file(noise, options=IngestOptions(asr="none"))


def test_media_kinds_by_extension_and_content(tmp_path: Path, clip: Path) -> None:
    assert detect_kind(clip) == "video"
    wav = tmp_path / "a.wav"
    make_audio(wav, 1.0, [])
    assert detect_kind(wav) == "audio"
    as_m4a = tmp_path / "song.m4a"  # an MP4 container under an audio extension
    make_video(tmp_path / "x.mp4", [RED])
    as_m4a.write_bytes((tmp_path / "x.mp4").read_bytes())
    assert detect_kind(as_m4a) == "audio"
    mp3 = tmp_path / "bare.mp3"
    mp3.write_bytes(b"\xff\xfb\x90\x00" + b"\x00" * 100)
    assert detect_kind(mp3) == "audio"
    png_named_mp4 = tmp_path / "pic.mp4"
    png_named_mp4.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(IngestError, match="content looks like PNG image"):
        detect_kind(png_named_mp4)


def test_audio_in_a_video_container_becomes_audio_items(tmp_path: Path) -> None:
    if not espeak_available():
        pytest.skip("needs espeak-ng")
    import av

    from tests.helpers.media import _write_audio, soundtrack

    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16_000, layout="mono")
        _write_audio(out, stream, soundtrack(4.0, [(0.5, "we are going to the hospital")]))
    items = VideoLoader(IngestOptions()).load(path, "voice.mp4")
    assert [it.modality for it in items] == ["audio"]
    assert items[0].locator.start_s == pytest.approx(0.5, abs=0.3) and "hospital" in items[0].text


def test_decode_audio_of_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    rate = 44_100
    t = np.arange(rate * 2) / rate
    pcm = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    info, audio = decode_audio(path)
    assert not info.has_video and info.duration_s == pytest.approx(2.0, abs=0.05)
    assert len(audio) == pytest.approx(32_000, abs=400)
    assert np.sqrt(np.mean(audio**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_video_without_sound_or_subtitles_has_pictures_only(clip: Path, tmp_path: Path) -> None:
    silent = tmp_path / "silent.webm"
    make_video(silent, [RED, BLUE], audio=False, codec="libvpx-vp9")
    items = VideoLoader(IngestOptions()).load(silent, "silent.webm")
    assert [it.text for it in items] == ["", ""]
    assert all(it.metadata["transcript"] == "none" and it.keyframes for it in items)


def test_scene_detector_ignores_motion_and_sees_cuts() -> None:
    w, h = ANALYSIS_SIZE
    det = SceneDetector()
    stripes = Scene(10, (30, 40, 200), "stripes")
    disc = Scene(10, (30, 160, 40), "disc")
    t = 0.0
    for scene in (stripes, disc, stripes):
        for i in range(15):  # 3 s at 5 samples per second, the pattern moving
            frame = draw(scene, (w * 4, h * 4), i / 5)[::4, ::4]
            det.push(t, frame)
            t += 0.2
    assert det.cuts == pytest.approx([3.0, 6.0])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("moment_max_s", 0),
        ("scene_threshold", 1.5),
        ("keyframes", 0),
        ("keyframe_pooling", "maxsim"),
        ("asr", ""),
        ("asr", "vosk"),
        ("scene_fps", 0),
    ],
)
def test_bad_media_options(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field.split("_")[0]):
        IngestOptions(**{field: value})  # type: ignore[arg-type]


def test_a_stream_ffmpeg_cannot_decode_is_a_plain_reason(tmp_path: Path) -> None:
    """Issue 15: a damaged codec tag gave 'AttributeError: NoneType has no attribute width'."""
    good, bad = tmp_path / "good.mp4", tmp_path / "bad.mp4"
    make_video(good, [RED], audio=False)
    bad.write_bytes(good.read_bytes().replace(b"avc1", b"zzzz"))
    with pytest.raises(IngestError) as caught:
        load_file(bad, options=IngestOptions(asr="none"))
    assert "no decodable video or audio stream" in caught.value.reason
