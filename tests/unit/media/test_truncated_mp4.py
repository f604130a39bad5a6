"""A video cut short: the failure names the media time where decoding stopped (never a
raw FFmpeg errno), and the moments decoded before the cut are kept."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from polyseek.engine import Engine
from polyseek.errors import IngestError
from polyseek.ingest import IngestOptions, load_file
from tests.helpers.media import Scene, make_video

SCENES = [
    Scene(3, (200, 30, 30), "square"),
    Scene(3, (30, 40, 200), "disc"),
    Scene(3, (30, 200, 40)),
]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 9 s video twice: index at the end (the encoders' default) and at the front."""
    root = tmp_path_factory.mktemp("mp4")
    plain = root / "plain.mp4"
    make_video(plain, SCENES, audio=False)
    fast = root / "fast.mp4"
    with (
        av.open(str(plain)) as src,
        av.open(str(fast), "w", options={"movflags": "faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return plain, fast


def cut(path: Path, dest: Path, share: float) -> Path:
    data = path.read_bytes()
    dest.write_bytes(data[: int(len(data) * share)])
    return dest


def test_mp4_cut_before_its_index_names_the_missing_index(tmp_path: Path, videos) -> None:
    broken = cut(videos[0], tmp_path / "talk.mp4", 0.7)
    with pytest.raises(IngestError) as info:
        load_file(broken, options=IngestOptions(asr="none"))
    reason = info.value.reason
    assert "Errno" not in reason and str(tmp_path) not in reason  # no raw FFmpeg error
    assert "truncated" in reason and "'moov'" in reason and "00:00:00" in reason


def test_mp4_cut_after_its_index_keeps_the_moments_before_the_cut(tmp_path: Path, videos) -> None:
    root = tmp_path / "c"
    root.mkdir()
    cut(videos[1], root / "talk.mp4", 0.85)
    report = Engine.open(root, store=tmp_path / "idx", create=True).index(
        options=IngestOptions(asr="none")
    )
    assert report.failed == [] and report.added == 1
    ((path, note),) = report.notes
    assert path == "talk.mp4"
    assert "truncated media: data ends at 00:00:0" in note and "announces 00:00:09" in note
    assert report.items >= 2  # the first shots are indexed


def test_a_damaged_stream_reports_the_time_decoding_stopped(tmp_path: Path, videos) -> None:
    data = bytearray(videos[1].read_bytes())
    start = len(data) // 2
    data[start:] = bytes(len(data) - start)  # the second half zeroed: damaged, not short
    broken = tmp_path / "zeroed.mp4"
    broken.write_bytes(bytes(data))
    items = load_file(broken, options=IngestOptions(asr="none"))
    note = items[0].metadata["indexing_note"]
    assert "Errno" not in note
    assert "00:00:0" in note and ("truncated" in note or "corrupt" in note), note
