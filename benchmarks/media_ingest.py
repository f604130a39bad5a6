"""Video ingest speed: a generated 10-minute video, as a multiple of real time, by stage.

Generates (once, cached in --workdir) a video of coloured scenes with drawn moving shapes
and an espeak-ng soundtrack of spoken sentences, then measures:

  decode        PyAV demux + decode of every frame, audio resampled to 16 kHz
  segmentation  frame shrinking, cut detection, keyframe pictures
  ASR           voice activity detection + pocketsphinx on the speech spans
  embedding     MiniLM over the moments' transcripts + a CLIP ViT-B/32-sized image tower
                over their keyframes (random weights with the real architecture: the
                hub is not reachable here, and speed does not depend on the weights)

Baseline: the video's own duration (real time). Memory: the process's peak resident set
during ingest above what it held before (models loaded), next to what the decoded video
would take if it were held in memory whole.

    .venv/bin/python benchmarks/media_ingest.py [--minutes 10] [--size 640x360] [--fps 25]
    add --end-to-end to also time Engine.index() on the same file
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "we are going to the hospital",
    "good morning ladies and gentlemen",
    "the weather today is sunny and warm",
    "please call me on the telephone",
    "the children are playing in the park",
    "i would like a cup of coffee",
    "the price of oil is going up",
    "thank you very much for coming",
]


def rss_peak_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def make_benchmark_video(path: Path, minutes: float, size: tuple[int, int], fps: int) -> float:
    from tests.helpers.media import Scene, make_video

    rng = __import__("random").Random(0)
    shapes = ["square", "disc", "stripes", "none"]
    scenes, total = [], 0.0
    while total < minutes * 60:
        seconds = min(rng.choice([6, 10, 15, 20, 40]), minutes * 60 - total)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        scenes.append(Scene(seconds, colour, shapes[len(scenes) % 4]))
        total += seconds
    speech = [(t, SENTENCES[i % len(SENTENCES)]) for i, t in enumerate(range(1, int(total) - 4, 8))]
    make_video(path, scenes, speech, size=size, fps=fps)
    return total


def make_clip_b32(path: Path) -> Path:
    """CLIP ViT-B/32's architecture with random weights, saved like a real model."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from tests.helpers.tiny_models import _byte_alphabet

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _byte_alphabet():
        vocab[ch] = len(vocab)
    for ch in _byte_alphabet():
        vocab[ch + "</w>"] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    config = CLIPConfig(
        text_config={"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"patch_size": 32},
        projection_dim=512,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(path)
    CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tokenizer).save_pretrained(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "polyseek-bench")
    ap.add_argument("--end-to-end", action="store_true")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    video = args.workdir / f"bench-{args.minutes:g}min-{w}x{h}-{args.fps}fps.mp4"
    if not video.exists():
        t0 = time.perf_counter()
        make_benchmark_video(video, args.minutes, (w, h), args.fps)
        print(f"generated {video.name} in {time.perf_counter() - t0:.0f} s")
    clip_dir = args.workdir / "clip-b32-random"
    if not (clip_dir / "config.json").exists():
        make_clip_b32(clip_dir)

    from polyseek.encoders import load_encoder
    from polyseek.encoders.pooling import embed_item_images
    from polyseek.ingest import IngestOptions, VideoLoader
    from polyseek.ingest.media import MediaReader

    with MediaReader(video) as r:
        duration = r.info.duration_s or 0.0
        n_frames = round(duration * (r.info.fps or args.fps))
    text_enc = load_encoder("minilm")
    image_enc = load_encoder(f"clip:{clip_dir}")
    text_enc.embed_documents(["warm-up"])
    loader = VideoLoader(IngestOptions())
    loader_asr = __import__("polyseek.asr", fromlist=["load_transcriber"]).load_transcriber
    loader_asr("pocketsphinx")  # model loading is not ingest

    before = rss_mb()
    peak_ok = reset_peak()
    t0 = time.perf_counter()
    items = loader.load(video, video.name)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    texts = [it.text for it in items if it.text.strip()]
    text_enc.embed_documents(texts)
    embed_items = [it for it in items if it.image is not None]
    embed_item_images(image_enc, embed_items, "mean")
    embed_s = time.perf_counter() - t1
    peak = rss_peak_mb() if peak_ok else float("nan")
    total = load_s + embed_s
    t = loader.timings
    stages = [
        ("decode (PyAV, all frames + audio)", t.get("decode_s", 0.0)),
        ("segmentation (cuts + keyframes)", t.get("segment_s", 0.0)),
        ("ASR (VAD + pocketsphinx)", t.get("asr_s", 0.0)),
        ("embedding (MiniLM + CLIP-B/32 size)", embed_s),
    ]
    other = total - sum(s for _, s in stages)
    stages.append(("other (transcript assembly, ...)", other))
    n_kf = sum(len(it.keyframes) for it in items)
    print(
        f"\n{video.name}: {duration / 60:.1f} min, {w}x{h} @ {args.fps} fps; "
        f"{len(items)} moments, {n_kf} keyframes, {len(texts)} with transcript"
    )
    print(f"{'stage':<40} {'seconds':>8} {'share':>7} {'x real time':>12}")
    for name, secs in stages:
        speed = duration / secs if secs > 0 else float("inf")
        print(f"{name:<40} {secs:>8.1f} {secs / total:>7.1%} {speed:>12.1f}")
    print(f"{'total ingest':<40} {total:>8.1f} {1:>7.0%} {duration / total:>12.2f}")
    decoded_mb = n_frames * w * h * 3 / 2**20
    above = peak - before
    print(f"\n{'memory':<40} {'MB':>8} {'x peak':>7}")
    print(f"{'resident before ingest (models loaded)':<40} {before:>8.0f}")
    print(f"{'peak during ingest, above that':<40} {above:>8.0f} {1:>7.2f}")
    held = decoded_mb / max(above, 1)
    print(f"{'whole video decoded (RGB), if held':<40} {decoded_mb:>8.0f} {held:>7.1f}")
    if args.end_to_end:
        from polyseek.engine import Engine

        with tempfile.TemporaryDirectory() as tmp:
            col = Path(tmp) / "col"
            col.mkdir()
            shutil.copy2(video, col / video.name)
            engine = Engine.open(col, encoders=["minilm", f"clip:{clip_dir}"], create=True)
            t0 = time.perf_counter()
            engine.index()
            e2e = time.perf_counter() - t0
        print(f"\nEngine.index() end to end: {e2e:.1f} s = {duration / e2e:.2f}x real time")


if __name__ == "__main__":
    main()
