"""Subtitle parsing (.srt, .vtt) and finding the sidecar of a video."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyseek.errors import IngestError
from polyseek.ingest.subtitles import find_sidecar, parse_subtitles, read_subtitles

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Hello</i> there,
general.

2
00:01:02,250 --> 00:01:04,000
{\\an8}Second cue

3
00:00:05,000 --> 00:00:06,000

"""

VTT = """WEBVTT
Kind: captions

NOTE a comment

intro
00:01.000 --> 00:02.000 align:start
<v Roger>Ahoy</v> matey

01:00:00.500 --> 01:00:01.000
Late line
"""


def test_srt_cues_lose_markup_and_keep_times() -> None:
    cues = parse_subtitles(SRT)
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [
        (1.0, 2.5, "Hello there, general."),
        (62.25, 64.0, "Second cue"),
    ]


def test_vtt_short_timestamps_cue_ids_and_voice_tags() -> None:
    cues = parse_subtitles(VTT)
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [
        (1.0, 2.0, "Ahoy matey"),
        (3600.5, 3601.0, "Late line"),
    ]


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    path.write_bytes(("\ufeff" + SRT).replace("\n", "\r\n").encode("utf-8"))
    assert [c.text for c in read_subtitles(path)][0] == "Hello there, general."


def test_a_file_without_cues_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.srt"
    path.write_text("just some text\n")
    with pytest.raises(IngestError, match="no subtitle cue"):
        read_subtitles(path)


def test_sidecar_prefers_untagged_or_english(tmp_path: Path) -> None:
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"")
    assert find_sidecar(video) is None
    (tmp_path / "talk.de.srt").write_text(SRT)
    (tmp_path / "talking.srt").write_text(SRT)  # another video's
    (tmp_path / "talk.extra.de.srt").write_text(SRT)  # not "<stem>.<lang>"
    assert find_sidecar(video) == tmp_path / "talk.de.srt"
    (tmp_path / "talk.en.vtt").write_text(VTT)
    assert find_sidecar(video) == tmp_path / "talk.en.vtt"
    (tmp_path / "talk.srt").write_text(SRT)
    assert find_sidecar(video) == tmp_path / "talk.srt"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_utf16_and_utf32_subtitles_are_read(tmp_path: Path, encoding: str) -> None:
    """Issue 15: UTF-16 .srt files (what Windows tools save) were ignored with a warning."""
    path = tmp_path / "a.srt"
    path.write_bytes(SRT.replace("\n", "\r\n").replace("general", "général").encode(encoding))
    assert [c.text for c in read_subtitles(path)] == ["Hello there, général.", "Second cue"]


def test_cp1252_subtitles_still_work(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    path.write_bytes(SRT.replace("general", "général").encode("cp1252"))
    assert read_subtitles(path)[0].text == "Hello there, général."
