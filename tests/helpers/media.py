"""Real test media made on the spot: videos of distinct scenes with spoken soundtracks.

Speech comes from espeak-ng (Debian package ``espeak-ng``), pictures are drawn with numpy,
files are written with PyAV. Everything is small (160x120, 10 fps) so tests stay fast.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

RATE = 16_000


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, *, speed: int = 130, voice: str = "en-us") -> np.ndarray:
    """``text`` spoken by espeak-ng: float32 mono at 16 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(out)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32)
    pcm /= 32768.0
    n = int(len(pcm) * RATE / rate)
    return np.interp(np.linspace(0, len(pcm) - 1, n), np.arange(len(pcm)), pcm).astype(np.float32)


@dataclass(frozen=True)
class Scene:
    seconds: float
    colour: tuple[int, int, int]
    shape: str = "none"  # "none", "square", "disc", "stripes"


def draw(scene: Scene, size: tuple[int, int], t: float = 0.0) -> np.ndarray:
    """The picture of ``scene`` at ``t`` seconds into it (a shape drifts slowly)."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:] = scene.colour
    inverse = tuple(255 - c for c in scene.colour)
    dx = int(4 * t) % max(1, w // 4)
    if scene.shape == "square":
        img[h // 4 : 3 * h // 4, w // 4 + dx : w // 2 + dx] = inverse
    elif scene.shape == "disc":
        yy, xx = np.mgrid[:h, :w]
        mask = (xx - w // 2 - dx) ** 2 + (yy - h // 2) ** 2 < (h // 4) ** 2
        img[mask] = inverse
    elif scene.shape == "stripes":
        img[:, ((np.arange(w) + dx) // 8) % 2 == 0] = inverse
    return img


def soundtrack(
    duration: float, speech: Sequence[tuple[float, str]], speed: int = 130
) -> np.ndarray:
    """Silence of ``duration`` s with each text spoken from its start time (float32, 16 kHz)."""
    track = np.zeros(int(duration * RATE), np.float32)
    rng = np.random.default_rng(0)
    track += rng.normal(0, 0.001, len(track)).astype(np.float32)  # a faint noise floor
    for start, text in speech:
        voice = speak(text, speed=speed)
        a = int(start * RATE)
        b = min(len(track), a + len(voice))
        track[a:b] += voice[: b - a]
    return track


def make_video(
    path: Path,
    scenes: Sequence[Scene],
    speech: Sequence[tuple[float, str]] = (),
    *,
    size: tuple[int, int] = (160, 120),
    fps: int = 10,
    audio: bool = True,
    codec: str = "libx264",
) -> list[float]:
    """Write a video of ``scenes`` (with ``speech`` at its times); return the cut times."""
    import av

    duration = sum(s.seconds for s in scenes)
    cuts, t = [], 0.0
    for s in scenes[:-1]:
        t += s.seconds
        cuts.append(round(t, 3))
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        if codec == "libx264":
            vs.options = {"preset": "ultrafast"}
        as_ = out.add_stream("aac", rate=RATE, layout="mono") if audio else None
        n = 0
        for scene in scenes:
            for i in range(round(scene.seconds * fps)):
                frame = av.VideoFrame.from_ndarray(draw(scene, size, i / fps), format="rgb24")
                frame.pts = n
                frame.time_base = Fraction(1, fps)
                n += 1
                for packet in vs.encode(frame):
                    out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            track = soundtrack(duration, speech)
            _write_audio(out, as_, track)
    return cuts


def _write_audio(out, stream, track: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    import av

    step = 1024
    for i in range(0, len(track), step):
        chunk = np.ascontiguousarray(track[i : i + step][None, :])
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate = RATE
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def make_audio(path: Path, duration: float, speech: Sequence[tuple[float, str]]) -> None:
    """A WAV (16 kHz mono 16-bit) of ``speech`` at its times."""
    track = soundtrack(duration, speech)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(track, -1, 1) * 32767).astype("<i2").tobytes())


def write_srt(path: Path, cues: Sequence[tuple[float, float, str]]) -> None:
    def stamp(s: float) -> str:
        ms = int(round(s * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues, 1)]
    path.write_text("\n".join(blocks), encoding="utf-8")


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance divided by the reference length."""
    ref, hyp = reference.lower().split(), hypothesis.lower().split()
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / max(len(ref), 1)
