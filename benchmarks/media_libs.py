"""polyseek's hand-written media helpers against well-kept libraries, on generated media.

* voice activity: ``polyseek.asr.vad.speech_spans`` (frame energy + tone rejection) vs
  webrtcvad (``webrtcvad-wheels``, mode 3, the same min-speech/min-pause smoothing) vs
  Silero VAD (``silero-vad``, its ONNX model inside the wheel) on espeak-ng sentences at
  known times over a faint noise floor, plus a pure tone, a chirp and white noise. Scored
  per 10 ms: precision / recall / F1 of speech, and seconds of the non-speech sounds taken
  for speech (those become words in the transcript).
* shot cuts: ``polyseek.ingest.scenes.SceneDetector`` (fed as the video loader feeds it:
  5 frames/s, 32x18) vs PySceneDetect's ContentDetector and AdaptiveDetector (all frames,
  OpenCV decoding, and fed the loader's own 5 fps frames) on videos from
  ``tests/helpers/media.py``: cuts found within 0.25 s.
* subtitles: ``polyseek.ingest.subtitles.parse_subtitles`` vs ``srt`` / ``webvtt-py`` on
  SRT and WebVTT documents with the quirks found in the wild; cues read right.

Times are ratios to the hand-written helper, measured in the same run.

    python benchmarks/media_libs.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from polyseek.asr.vad import VadOptions, speech_spans  # noqa: E402
from polyseek.ingest.media import MediaReader  # noqa: E402
from polyseek.ingest.scenes import ANALYSIS_SIZE, SceneDetector  # noqa: E402
from polyseek.ingest.subtitles import parse_subtitles  # noqa: E402
from tests.helpers.media import RATE, Scene, make_video, speak  # noqa: E402

Spans = list[tuple[float, float]]


# ---------------------------------------------------------------- voice activity
def vad_corpus() -> tuple[np.ndarray, Spans, Spans]:
    """Audio, its speech spans and its non-speech sound spans."""
    rng = np.random.default_rng(0)
    sentences = [
        "the harbour master checks the pumps every morning",
        "replace the intake filter cartridge after five hundred hours",
        "the lighthouse keeper writes the weather in the log",
        "please close the valve before you open the housing",
    ]
    track = rng.normal(0, 0.002, RATE * 60).astype(np.float32)
    speech: Spans = []
    t = 1.0
    for text in sentences:
        voice = speak(text)
        a = int(t * RATE)
        track[a : a + len(voice)] += voice
        active = np.flatnonzero(np.abs(voice) > 1e-3)
        speech.append((t + active[0] / RATE, t + active[-1] / RATE))
        t += len(voice) / RATE + 2.0
    others: Spans = []
    for kind in ("tone", "chirp", "noise"):
        n = RATE * 3
        x = np.arange(n) / RATE
        if kind == "tone":
            sound = 0.3 * np.sin(2 * np.pi * 440 * x)
        elif kind == "chirp":
            sound = 0.3 * np.sin(2 * np.pi * (300 + 200 * x) * x)
        else:
            sound = rng.normal(0, 0.1, n)
        a = int(t * RATE)
        track[a : a + n] += sound.astype(np.float32)
        others.append((t, t + 3.0))
        t += 5.0
    return track[: int(t * RATE)], speech, others


def mask(spans: Spans, seconds: float) -> np.ndarray:
    m = np.zeros(int(seconds * 100), bool)
    for a, b in spans:
        m[int(a * 100) : int(b * 100)] = True
    return m


def smooth(active: list[bool], frame_s: float, opts: VadOptions) -> Spans:
    """Frame decisions -> spans with the hand-written VAD's pause, length and pad rules."""
    spans: Spans = []
    start = None
    for i, on in enumerate([*active, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            spans.append((start * frame_s, i * frame_s))
            start = None
    merged: Spans = []
    for a, b in spans:
        if merged and a - merged[-1][1] < opts.min_pause_s:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [
        (max(0.0, a - opts.pad_s), b + opts.pad_s) for a, b in merged if b - a >= opts.min_speech_s
    ]


def webrtc_spans(audio: np.ndarray) -> Spans:
    import webrtcvad

    vad = webrtcvad.Vad(3)
    frame = int(0.03 * RATE)
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    active = [
        vad.is_speech(pcm[i : i + frame].tobytes(), RATE)
        for i in range(0, len(pcm) - frame + 1, frame)
    ]
    return smooth(active, 0.03, VadOptions())


_silero: list[object] = []


def silero_spans(audio: np.ndarray) -> Spans:
    from silero_vad import get_speech_timestamps, load_silero_vad

    if not _silero:
        _silero.append(load_silero_vad(onnx=True))
    found = get_speech_timestamps(audio, _silero[0], sampling_rate=RATE, return_seconds=True)
    return [(float(s["start"]), float(s["end"])) for s in found]


def vad_table() -> None:
    audio, speech, others = vad_corpus()
    seconds = len(audio) / RATE
    truth, noise = mask(speech, seconds), mask(others, seconds)
    methods: dict[str, Callable[[np.ndarray], Spans]] = {
        "polyseek energy + tone rejection (before)": lambda a: speech_spans(
            a, VadOptions(detector="energy")
        ),
        "polyseek with Silero's model (now)": lambda a: speech_spans(
            a, VadOptions(detector="silero")
        ),
        "webrtcvad (mode 3)": webrtc_spans,
        "silero-vad 6 get_speech_timestamps (ONNX)": silero_spans,
    }
    print(f"\nVoice activity: {seconds:.0f} s, {len(speech)} sentences, tone/chirp/noise 3 s each")
    print("| method | precision | recall | F1 | noise as speech (s of 9) | time | x real time |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for name, fn in methods.items():
        fn(audio[: RATE * 2])  # warm up (model load)
        t0 = time.perf_counter()
        got = mask(fn(audio), seconds)
        dt = time.perf_counter() - t0
        base = base or dt
        tp = (got & truth).sum()
        p, r = tp / max(got[~noise].sum(), 1), tp / truth.sum()
        f1 = 2 * p * r / max(p + r, 1e-9)
        fake = (got & noise).sum() / 100
        speed = seconds / dt
        cells = f"{p:.2f} | {r:.2f} | {f1:.2f} | {fake:.1f} | {dt / base:.2f}x | {speed:.0f}"
        print(f"| {name} | {cells} |")


# ---------------------------------------------------------------- shot cuts
def scene_videos(root: Path) -> list[tuple[Path, list[float]]]:
    videos = []
    sets = {
        "colours": [Scene(3, (200, 30, 30)), Scene(3, (30, 40, 200)), Scene(3, (30, 200, 40))],
        "shapes": [Scene(4, (120, 120, 120), "square"), Scene(4, (120, 120, 120), "disc"),
                   Scene(4, (120, 120, 120), "stripes")],  # same colour, other content
        "near": [Scene(3, (100, 100, 100), "stripes"), Scene(3, (130, 110, 100), "stripes"),
                 Scene(3, (100, 100, 140), "square"), Scene(3, (100, 140, 100), "disc")],
        "long": [Scene(8, (200, 200, 30), "disc"), Scene(2, (20, 20, 20)),
                 Scene(8, (30, 200, 200), "square")],
    }  # fmt: skip
    for name, scenes in sets.items():
        path = root / f"{name}.mp4"
        cuts = make_video(path, scenes, audio=False, fps=25)
        videos.append((path, cuts))
    return videos


def polyseek_cuts(path: Path) -> list[float]:
    det = SceneDetector(0.25, min_scene_s=1.0)
    w, h = ANALYSIS_SIZE
    with MediaReader(path, frame_fps=5.0, audio=False) as reader:
        for t, frame in reader.frames():
            det.push(t, frame.to_ndarray(format="rgb24", width=w, height=h))
    return det.cuts


def pyscenedetect_cuts(kind: str) -> Callable[[Path], list[float]]:
    def run(path: Path) -> list[float]:
        from scenedetect import AdaptiveDetector, ContentDetector, detect

        detector = ContentDetector() if kind == "content" else AdaptiveDetector()
        scenes = detect(str(path), detector)
        return [s[0].seconds for s in scenes[1:]]

    return run


def adaptive_on_loader_frames(path: Path) -> list[float]:
    """AdaptiveDetector fed the frames polyseek's loader already has (5 fps, 48x27): no
    second decode. It reports a cut ``window_width`` frames after it happened."""
    from scenedetect import AdaptiveDetector
    from scenedetect.common import FrameTimecode

    fps = 5.0
    det = AdaptiveDetector(min_scene_len=5, window_width=2)
    w, h = ANALYSIS_SIZE
    cuts: list[float] = []
    with MediaReader(path, frame_fps=fps, audio=False) as reader:
        for i, (_, frame) in enumerate(reader.frames()):
            img = frame.to_ndarray(format="bgr24", width=w, height=h)
            cuts.extend(tc.seconds for tc in det.process_frame(FrameTimecode(i, fps=fps), img))
    return cuts


def scenes_table(root: Path) -> None:
    videos = scene_videos(root)
    methods = {
        "polyseek frame difference (5 fps)": polyseek_cuts,
        "PySceneDetect ContentDetector": pyscenedetect_cuts("content"),
        "PySceneDetect AdaptiveDetector": pyscenedetect_cuts("adaptive"),
        "AdaptiveDetector on the loader's frames (5 fps, 48x27)": adaptive_on_loader_frames,
    }
    n_true = sum(len(c) for _, c in videos)
    print(f"\nShot cuts: {len(videos)} videos (25 fps), {n_true} cuts; a hit is within 0.25 s")
    print("| method | cuts found | false cuts | time |")
    print("|---|---|---|---|")
    base = None
    for name, fn in methods.items():
        fn(videos[0][0])  # warm up (imports)
        t0 = time.perf_counter()
        hits = false = 0
        for path, cuts in videos:
            got = fn(path)
            matched = [c for c in cuts if any(abs(c - g) <= 0.25 for g in got)]
            hits += len(matched)
            false += sum(1 for g in got if not any(abs(c - g) <= 0.25 for c in cuts))
        dt = time.perf_counter() - t0
        base = base or dt
        print(f"| {name} | {hits}/{n_true} | {false} | {dt / base:.2f}x |")


# ---------------------------------------------------------------- subtitles
_T1 = "00:00:01,000 --> 00:00:02,000"
_T2 = "00:00:03,000 --> 00:00:04,000"
_T3 = "00:00:05,000 --> 00:00:06,000"
SUBTITLES: list[tuple[str, str, list[tuple[float, float, str]]]] = [
    ("srt plain",
     f"1\n00:00:01,000 --> 00:00:02,500\nHello <i>there</i>\n\n2\n{_T2}\nSecond\nline\n",
     [(1, 2.5, "Hello there"), (3, 4, "Second line")]),
    ("srt no index numbers", f"{_T1}\nOne\n\n{_T2}\nTwo\n", [(1, 2, "One"), (3, 4, "Two")]),
    ("srt dot millis, CRLF", "1\r\n00:00:01.000 --> 00:00:02.000\r\nOne\r\n\r\n",
     [(1, 2, "One")]),
    ("srt extra blank lines", f"\n\n1\n{_T1}\nOne\n\n\n\n2\n{_T2}\nTwo\n",
     [(1, 2, "One"), (3, 4, "Two")]),
    ("srt one broken block",
     f"1\n{_T1}\nOne\n\n2\n00:00:03,000 -> 00:00:04\nBad\n\n3\n{_T3}\nThree\n",
     [(1, 2, "One"), (5, 6, "Three")]),
    ("srt ASS tags", f"1\n{_T1}\n{{\\an8}}Top text\n", [(1, 2, "Top text")]),
    ("vtt short times + ids",
     "WEBVTT\n\nintro\n00:01.000 --> 00:02.000 align:start\n<v Ana>Hi</v>\n\n"
     "00:03.000 --> 00:04.000\nBye\n", [(1, 2, "Hi"), (3, 4, "Bye")]),
    ("vtt NOTE and STYLE",
     "WEBVTT\n\nSTYLE\n::cue { color: red }\n\nNOTE a comment\n\n"
     "00:00:01.000 --> 00:00:02.000\nOne\n", [(1, 2, "One")]),
    ("vtt hour-less end, millis", "WEBVTT\n\n00:00:01.250 --> 00:02.500\nMix\n",
     [(1.25, 2.5, "Mix")]),
]  # fmt: skip


def lib_parse(text: str) -> list[tuple[float, float, str]]:
    import re

    tags = re.compile(r"<[^>]*>|\{\\[^}]*\}")
    if text.lstrip().startswith("WEBVTT"):
        import webvtt

        def secs(stamp: str) -> float:  # its *_in_seconds are whole seconds
            h, m, s = stamp.split(":")
            return int(h) * 3600 + int(m) * 60 + float(s)

        return [
            (secs(str(c.start)), secs(str(c.end)), " ".join(tags.sub("", c.text).split()))
            for c in webvtt.from_string(text)
        ]
    import srt

    return [
        (s.start.total_seconds(), s.end.total_seconds(), " ".join(tags.sub("", s.content).split()))
        for s in srt.parse(text)
    ]


def hand_parse(text: str) -> list[tuple[float, float, str]]:
    return [(c.start_s, c.end_s, c.text) for c in parse_subtitles(text)]


def subtitles_table() -> None:
    methods = {"polyseek parse_subtitles": hand_parse, "srt 3.5 / webvtt-py 0.6": lib_parse}
    print(f"\nSubtitles: {len(SUBTITLES)} documents")
    print("| method | read right | failures | time (x1000 parses) |")
    print("|---|---|---|---|")
    base = None
    for name, fn in methods.items():
        right, wrong = 0, []
        for label, text, want in SUBTITLES:
            try:
                got = fn(text)
            except Exception as exc:  # a library refusing a quirk counts as a failure
                wrong.append(f"{label} ({type(exc).__name__})")
                continue
            ok = len(got) == len(want) and all(
                abs(g[0] - w[0]) < 1e-3 and abs(g[1] - w[1]) < 1e-3 and g[2] == w[2]
                for g, w in zip(got, want, strict=True)
            )
            right += ok
            if not ok:
                wrong.append(label)
        t0 = time.perf_counter()
        for _ in range(1000):
            for _, text, _ in SUBTITLES:
                try:
                    fn(text)
                except Exception:
                    pass
        dt = time.perf_counter() - t0
        base = base or dt
        print(
            f"| {name} | {right}/{len(SUBTITLES)} | {', '.join(wrong) or '-'} | {dt / base:.2f}x |"
        )


def main() -> None:
    import tempfile

    subtitles_table()
    vad_table()
    with tempfile.TemporaryDirectory() as tmp:
        scenes_table(Path(tmp))


if __name__ == "__main__":
    main()
