"""The real manuals behind ``benchmarks/documents.py``: fetch, pin, read, scan.

Each manual is a PDF shipped in a Debian documentation package. ``prepare()`` downloads
the package with ``apt-get download`` and unpacks it with ``dpkg-deb -x`` (nothing is
installed), keeps the PDF (cut to a fixed page range where the manual is very long) in
a cache folder outside git, and records package, version, file and sha256 in
``manifest.json`` there, so a run can say exactly what it measured.

    .venv/bin/python benchmarks/documents.py --prepare   # or: benchmarks/documents_corpus.py

The cache is ``$POLYSEEK_BENCH_CACHE`` (default ``~/.cache/polyseek-bench``)/manuals.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pymupdf

logger = logging.getLogger(__name__)

# The text polyseek's PDF loader reads (src/polyseek/ingest/pdf.py): plain text without
# ligature glyphs. The tasks and the peer systems read exactly the same text layer.
TEXT_FLAGS = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES


class BenchDataError(RuntimeError):
    """A manual cannot be fetched or read; the message says which and how to fix it."""


@dataclass(frozen=True)
class ManualSpec:
    """One manual: where it comes from and which pages of it are used."""

    key: str  # short name used in tables, file names and query ids
    package: str  # Debian package shipping the PDF
    member: str  # path of the PDF inside the package (``.pdf.gz`` is unpacked)
    first_page: int = 1  # 1-based, inclusive
    last_page: int | None = None  # 1-based, inclusive; None: to the end
    tested_version: str = ""  # the package version the benchmark was written against


# Five manuals of five projects, typeset three ways (LaTeX + hyperref; Texinfo through
# pdfTeX; Texinfo through Ghostscript, with music engraving), 155-311 pages each.
# Octave's 1158-page manual is cut to its first 300 pages to keep a run near 25 minutes.
MANUALS: tuple[ManualSpec, ...] = (
    ManualSpec(
        "gnuplot", "gnuplot-doc", "usr/share/doc/gnuplot/gnuplot.pdf", 1, None, "5.4.4+dfsg1-2"
    ),
    ManualSpec(
        "lilypond-learning",
        "lilypond-doc-pdf",
        "usr/share/doc/lilypond/html/Documentation/learning.pdf",
        1,
        None,
        "2.24.1-2",
    ),
    ManualSpec(
        "maxima-book",
        "maxima-doc",
        "usr/share/doc/maxima-doc/maximabook-19-Sept-2004.pdf.gz",
        1,
        None,
        "5.46.0-11",
    ),
    ManualSpec("octave", "octave-doc", "usr/share/doc/octave/octave.pdf", 1, 300, "7.3.0-2"),
    ManualSpec(
        "r-exts", "r-doc-pdf", "usr/share/R/doc/manual/R-exts.pdf", 1, None, "4.2.2.20221110-2"
    ),
)

# The held-out manual, chosen before any result was seen, by a fixed rule: the manual of
# the alphabetically last package (r-doc-pdf). Never tune on it.
TEST_MANUAL = "r-exts"


@dataclass(frozen=True)
class Manual:
    """A prepared manual: the PDF the benchmark indexes and where it came from."""

    spec: ManualSpec
    pdf: Path  # the file indexed (the page range only)
    version: str
    deb: str
    deb_sha256: str
    member_sha256: str  # the PDF as shipped (after gunzip), before cutting pages
    pdf_sha256: str
    pages_total: int  # pages of the shipped PDF
    first_page: int
    last_page: int

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def split(self) -> str:
        return "test" if self.spec.key == TEST_MANUAL else "dev"

    def original_page(self, page: int) -> int:
        """The shipped PDF's page number of page ``page`` (1-based) of :attr:`pdf`."""
        return self.first_page + page - 1

    def describe(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "spec"}
        out.update(
            key=self.key, package=self.spec.package, member=self.spec.member, split=self.split
        )
        out["pdf"] = str(self.pdf)
        return out


def cache_dir(override: str | Path | None = None) -> Path:
    base = override or os.environ.get("POLYSEEK_BENCH_CACHE") or "~/.cache/polyseek-bench"
    return Path(base).expanduser().resolve()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path, what: str, hint: str) -> str:
    if shutil.which(cmd[0]) is None:
        raise BenchDataError(
            f"{what}: `{cmd[0]}` not found (a Debian/Ubuntu system is needed). {hint}"
        )
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BenchDataError(f"{what} failed: {' | '.join(detail[-3:])}. {hint}")
    return proc.stdout


def _download(spec: ManualSpec, debs: Path) -> Path:
    """The package's .deb in ``debs`` (downloaded once)."""
    found = sorted(debs.glob(f"{spec.package}_*.deb"))
    if found:
        return found[-1]
    hint = (
        f"The benchmark needs the Debian package {spec.package!r} (tested with "
        f"{spec.tested_version}). Run `apt-get update` and check `apt-cache policy "
        f"{spec.package}`; or fetch it by hand: `cd {debs} && apt-get download {spec.package}`."
    )
    logger.info("downloading %s (apt-get download)", spec.package)
    _run(["apt-get", "download", spec.package], debs, f"apt-get download {spec.package}", hint)
    found = sorted(debs.glob(f"{spec.package}_*.deb"))
    if not found:
        raise BenchDataError(f"apt-get download {spec.package} left no .deb in {debs}. {hint}")
    return found[-1]


def _extract(spec: ManualSpec, deb: Path, out: Path) -> tuple[Path, str]:
    """Unpack the manual from ``deb`` into ``out``; its path and the package version."""
    hint = f"Check the package: `dpkg-deb -c {deb} | grep pdf`."
    version = _run(["dpkg-deb", "-f", str(deb), "Version"], deb.parent, "dpkg-deb -f", hint).strip()
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        _run(["dpkg-deb", "-x", str(deb), tmp], deb.parent, f"dpkg-deb -x {deb.name}", hint)
        member = Path(tmp) / spec.member
        if not member.is_file():
            raise BenchDataError(f"{spec.package} {version} has no {spec.member}. {hint}")
        if member.suffix == ".gz":
            with gzip.open(member, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(member, out)
    if version != spec.tested_version:
        logger.warning(
            "%s is version %s, the benchmark was written against %s: numbers may differ",
            spec.package,
            version,
            spec.tested_version,
        )
    return out, version


def _cut(shipped: Path, spec: ManualSpec, out: Path) -> tuple[int, int, int]:
    """Write the page range of ``shipped`` to ``out``; (pages of shipped, first, last)."""
    with pymupdf.open(shipped) as doc:
        total = doc.page_count
        last = min(spec.last_page or total, total)
        if spec.first_page == 1 and last == total:
            shutil.copyfile(shipped, out)
        else:
            with pymupdf.open() as part:
                part.insert_pdf(doc, from_page=spec.first_page - 1, to_page=last - 1)
                part.save(out, garbage=1, deflate=True)
    return total, spec.first_page, last


def prepare(cache: Path, keys: list[str] | None = None) -> list[Manual]:
    """Fetch (once) and return the manuals named by ``keys`` (all by default)."""
    root = cache / "manuals"
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "manifest.json"
    manifest: dict[str, Any] = (
        json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    )
    out = []
    for spec in select(keys):
        entry = manifest.get(spec.key)
        pdf = root / f"{spec.key}.pdf"
        if entry and pdf.is_file() and entry.get("spec") == asdict(spec):
            out.append(_manual(spec, entry, root))
            continue
        logger.info("preparing %s from %s", spec.key, spec.package)
        deb = _download(spec, debs)
        shipped, version = _extract(spec, deb, root / f"{spec.key}.shipped.pdf")
        total, first, last = _cut(shipped, spec, pdf)
        entry = {
            "spec": asdict(spec),
            "version": version,
            "deb": deb.name,
            "deb_sha256": sha256(deb),
            "member_sha256": sha256(shipped),
            "pdf_sha256": sha256(pdf),
            "pages_total": total,
            "first_page": first,
            "last_page": last,
        }
        shipped.unlink()
        manifest[spec.key] = entry
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        out.append(_manual(spec, entry, root))
    for manual in out:
        if sha256(manual.pdf) != manual.pdf_sha256:
            raise BenchDataError(
                f"{manual.pdf} changed since it was prepared (sha256 differs): delete it and "
                "run `benchmarks/documents.py --prepare` again"
            )
    return out


def _manual(spec: ManualSpec, entry: dict[str, Any], root: Path) -> Manual:
    fields = {k: v for k, v in entry.items() if k != "spec"}
    return Manual(spec=spec, pdf=root / f"{spec.key}.pdf", **fields)


def select(keys: list[str] | None) -> list[ManualSpec]:
    if not keys:
        return list(MANUALS)
    known = {m.key: m for m in MANUALS}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise BenchDataError(f"unknown manual(s) {unknown}; known: {sorted(known)}")
    return [known[k] for k in keys]


# ---------------------------------------------------------------- text layer and scans
def page_texts(pdf: Path) -> list[str]:
    """Every page's text layer, as polyseek's PDF loader reads it."""
    with pymupdf.open(pdf) as doc:
        return [page.get_text("text", flags=TEXT_FLAGS) for page in doc]


def make_scan(pdf: Path, pages: list[int], dpi: int, out: Path) -> Path:
    """An image-only copy of ``pages`` (1-based) of ``pdf``: grey JPEG renders, no text.

    Cached: ``out`` is reused when it exists (its name carries the pages and the dpi).
    """
    if out.is_file():
        return out
    tmp = out.with_suffix(".tmp")
    with pymupdf.open(pdf) as doc, pymupdf.open() as scan:
        for number in pages:
            page = doc.load_page(number - 1)
            pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
            new = scan.new_page(width=page.rect.width, height=page.rect.height)
            new.insert_image(new.rect, stream=pix.tobytes("jpeg", jpg_quality=80))
        scan.save(tmp, garbage=1, deflate=True)
    with pymupdf.open(tmp) as check:
        if any(p.get_text().strip() for p in check):
            raise BenchDataError(f"{tmp}: the scan kept a text layer")
    tmp.rename(out)
    return out


def _ocr_page(args: tuple[str, int, int]) -> str:
    path, index, dpi = args
    import tesserocr
    from PIL import Image

    with pymupdf.open(path) as doc:
        pix = doc.load_page(index).get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    image = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    return tesserocr.image_to_text(image, path=_tessdata())


def _tessdata() -> str:
    for folder in sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata"), reverse=True):
        if (folder / "eng.traineddata").is_file():
            return str(folder)
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        return prefix
    raise BenchDataError("tesseract's eng.traineddata not found: apt-get install tesseract-ocr")


def tesseract_texts(scan: Path, dpi: int, workers: int = 2) -> list[str]:
    """Tesseract's own OCR of every page of ``scan`` (rendered at ``dpi``), cached beside it.

    This is the text the peer systems index for the scanned task: plain tesseract (through
    tesserocr, default settings), independent of polyseek's OCR pipeline.
    """
    import tesserocr

    version = tesserocr.tesseract_version().split()[1]
    cached = scan.with_name(f"{scan.stem}.tesseract-{version}-{dpi}dpi.json")
    if cached.is_file():
        return json.loads(cached.read_text())
    with pymupdf.open(scan) as doc:
        n = doc.page_count
    logger.info("tesseract OCR of %s (%d pages, for the peer systems; cached)", scan.name, n)
    # spawn, not fork: the parent has LanceDB's async runtime loaded by then.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        texts = list(pool.map(_ocr_page, [(str(scan), i, dpi) for i in range(n)]))
    cached.write_text(json.dumps(texts))
    return texts


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for manual in prepare(cache_dir(sys.argv[1] if len(sys.argv) > 1 else None)):
        print(
            f"{manual.key:18} {manual.split:4} {manual.spec.package} {manual.version} "
            f"pages {manual.first_page}-{manual.last_page}/{manual.pages_total} {manual.pdf}"
        )


if __name__ == "__main__":
    main()
