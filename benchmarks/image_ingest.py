"""Image ingest and text encoding: eager PyTorch vs ONNX Runtime (fp32, dynamic int8), one run.

Images: a CLIP ViT-B/32-architecture model (random weights: the hub is not reachable here,
and speed does not depend on the weights; saved and loaded like a real model) embeds N
real pictures (the sample collection's photos, scans and slides, cropped, scaled,
rotated, flipped and recoloured into N distinct images of 200-900 px) through
``embed_images``, preprocessing included, as ingest calls it:
  eager      the PyTorch tower (POLYSEEK_ONNX=0; the path before ONNX)        baseline
  onnx fp32  the exported tower on ONNX Runtime                                 ratio, cosine
  onnx int8  the dynamically quantised export (the automatic choice when it matches)
Runs are interleaved (eager, fp32, int8, eager, ...) and the median is reported; CPU
seconds per image too, which a busy shared machine disturbs less than wall time.

Text: MiniLM on PyTorch (sentence-transformers) vs ONNX Runtime: single-query latency,
documents/s over the collection's first 600 text chunks, their cosines, and a cold
query in a fresh process (start, import, load, embed one query) both ways.

    .venv/bin/python benchmarks/image_ingest.py [--images 256] [--repeat 3] [--texts 600]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SAMPLE = ROOT / "examples" / "sample-collection"


def augmented_images(n: int) -> list[Any]:
    """``n`` distinct RGB pictures made from the sample collection's images (seeded)."""
    from PIL import Image, ImageEnhance, ImageOps

    sources = [Image.open(p).convert("RGB") for p in sorted((SAMPLE / "images").iterdir())]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        image = sources[i % len(sources)]
        w, h = image.size
        cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = image.crop((x, y, x + cw, y + ch))
        width = int(rng.integers(200, 900))
        image = image.resize((width, max(32, round(ch * width / cw))), Image.Resampling.BICUBIC)
        if rng.random() < 0.5:
            image = ImageOps.mirror(image)
        image = image.rotate(float(rng.choice([0, 0, 90, 180, 270])), expand=True)
        image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.3, 1.7)))
        image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.7, 1.3)))
        out.append(image)
    return out


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def interleaved(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, dict[str, Any]]:
    """Each callable ``repeat`` times, interleaved; wall and CPU seconds per run, last output."""
    stats: dict[str, dict[str, Any]] = {k: {"wall": [], "cpu": [], "out": None} for k in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            wall, cpu, out = timed(fn)
            stats[name]["wall"].append(wall)
            stats[name]["cpu"].append(cpu)
            stats[name]["out"] = out
    return stats


def image_rows(args: argparse.Namespace) -> list[str]:
    from media_ingest import make_clip_b32

    from polyseek.encoders.transformers_clip import TransformersImageTextEncoder

    clip_dir = args.workdir / "clip-b32-random"
    if not (clip_dir / "config.json").exists():
        make_clip_b32(clip_dir)
    images = augmented_images(args.images)
    encoders = {}
    for name, mode in (("eager", "off"), ("onnx fp32", "fp32"), ("onnx auto", "auto")):
        wall, _, enc = timed(
            lambda mode=mode: TransformersImageTextEncoder(str(clip_dir), onnx=mode)
        )
        if args.batch:
            enc.image_batch_size = args.batch
        encoders[name] = enc
        print(f"loaded {name:<10} in {wall:5.1f} s: images on {enc.image_runtime}", flush=True)
    from polyseek.encoders._onnx import cache_root

    manifests = (cache_root() / "onnx").glob("clip-image-*/manifest.json")
    manifest = max(manifests, key=lambda p: p.stat().st_mtime)  # the export just loaded
    calibration = json.loads(manifest.read_text())["calibration"]
    for enc in encoders.values():
        enc.embed_images(images[:8])  # warm-up
    stats = interleaved(
        {k: (lambda e=e: e.embed_images(images)) for k, e in encoders.items()}, args.repeat
    )
    base = statistics.median(stats["eager"]["wall"])
    eager_vectors = stats["eager"]["out"]
    rows = [
        f"\nimage ingest: CLIP ViT-B/32 architecture (random weights), {len(images)} images, "
        f"batch {encoders['eager'].image_batch_size}, {args.repeat} interleaved runs",
        f"{'runtime':<22} {'img/s':>7} {'x eager':>8} {'cpu s/img':>10} "
        f"{'cos min':>9} {'cos mean':>9}",
    ]
    for name, s in stats.items():
        wall = statistics.median(s["wall"])
        cpu = statistics.median(s["cpu"]) / len(images)
        cos = cosines(s["out"], eager_vectors)
        label = f"{name} ({encoders[name].image_runtime})" if name == "onnx auto" else name
        rows.append(
            f"{label:<22} {len(images) / wall:>7.1f} {base / wall:>8.2f} {cpu:>10.3f} "
            f"{cos.min():>9.6f} {cos.mean():>9.6f}"
        )
    rows.append(
        "runs (s): "
        + ", ".join(f"{k} {[round(x, 1) for x in s['wall']]}" for k, s in stats.items())
    )
    rows.append(
        "calibration at export (8 synthetic images): "
        f"fp32 min cos {calibration['fp32_min_cosine']:.6f}, "
        f"int8 min cos {calibration.get('int8_min_cosine', float('nan')):.6f}"
    )
    return rows


def paper_texts(n: int) -> list[str]:
    from polyseek.ingest import load_file

    texts: list[str] = []
    for p in sorted((SAMPLE / "papers").iterdir()):
        texts += [it.text for it in load_file(p, p.name) if it.text.strip()]
        if len(texts) >= n:
            break
    return texts[:n]


COLD_QUERY = """
import time
t0 = time.perf_counter()
from polyseek.encoders import load_encoder
t1 = time.perf_counter()
enc = load_encoder("minilm")
t2 = time.perf_counter()
enc.embed_queries(["how do I replace the filter cartridge"])
t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""


def cold_query(onnx: str) -> tuple[float, list[float]]:
    env = {**os.environ, "POLYSEEK_ONNX": onnx, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", COLD_QUERY], env=env, capture_output=True, text=True, check=True
    )
    total = time.perf_counter() - start
    return total, [float(x) for x in out.stdout.split()]


def text_rows(args: argparse.Namespace) -> list[str]:
    from polyseek.encoders.minilm import MiniLMEncoder

    texts = paper_texts(args.texts)
    queries = [t[:80] for t in texts[: args.queries]]
    encoders = {"pytorch": MiniLMEncoder(onnx="off"), "onnx": MiniLMEncoder(onnx="auto")}
    assert encoders["onnx"].document_runtime == "onnx", "the ONNX path did not load"
    for enc in encoders.values():
        enc.embed_documents(texts[:64])

    def one_by_one(enc: MiniLMEncoder) -> np.ndarray:
        return np.vstack([enc.embed_queries([q]) for q in queries])

    q_stats = interleaved(
        {k: (lambda e=e: one_by_one(e)) for k, e in encoders.items()}, args.repeat
    )
    d_stats = interleaved(
        {k: (lambda e=e: e.embed_documents(texts)) for k, e in encoders.items()}, args.repeat
    )
    q_cos = cosines(q_stats["onnx"]["out"], q_stats["pytorch"]["out"])
    d_cos = cosines(d_stats["onnx"]["out"], d_stats["pytorch"]["out"])
    q_base = statistics.median(q_stats["pytorch"]["wall"])
    d_base = statistics.median(d_stats["pytorch"]["wall"])
    rows = [
        f"\nMiniLM text: {len(queries)} single queries, {len(texts)} document chunks "
        f"(mean {np.mean([len(t) for t in texts]):.0f} chars), {args.repeat} interleaved runs",
        f"{'runtime':<10} {'query ms':>9} {'x pytorch':>10} {'docs/s':>8} {'x pytorch':>10} "
        f"{'cpu ms/doc':>11}",
    ]
    for name in encoders:
        q = statistics.median(q_stats[name]["wall"])
        d = statistics.median(d_stats[name]["wall"])
        cpu = statistics.median(d_stats[name]["cpu"]) / len(texts) * 1000
        rows.append(
            f"{name:<10} {q / len(queries) * 1000:>9.1f} {q_base / q:>10.2f} "
            f"{len(texts) / d:>8.1f} {d_base / d:>10.2f} {cpu:>11.1f}"
        )
    rows.append(
        f"cosine onnx vs pytorch: queries min {q_cos.min():.6f}, documents min "
        f"{d_cos.min():.6f} mean {d_cos.mean():.6f}"
    )
    rows.append("cold query in a fresh process (import polyseek.encoders / load minilm / embed):")
    for onnx in ("auto", "0"):
        total, parts = cold_query(onnx)
        label = "onnx" if onnx == "auto" else "pytorch"
        rows.append(
            f"  {label:<8} total {total:5.2f} s  (import {parts[0]:.2f}, load {parts[1]:.2f}, "
            f"query {parts[2]:.3f})"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=0, help="image batch size (0: the encoder's)")
    ap.add_argument("--texts", type=int, default=600)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--skip-images", action="store_true")
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "polyseek-bench")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    # Exports go to the benchmark's own cache: made on the first run, reused afterwards.
    os.environ.setdefault("POLYSEEK_CACHE", str(args.workdir / "cache"))
    rows: list[str] = []
    if not args.skip_images:
        rows += image_rows(args)
    if not args.skip_text:
        rows += text_rows(args)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
