"""Sample data: the paper-listing corpus parser and the bundled sample collection.

The listings (``tests/fixtures/papers/listing-*.txt``) are pages of a public paper
listing saved as text: a few header lines, then per paper an optional date line, a
title line and an abstract paragraph, separated by blank lines.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from polyseek.errors import ConfigError

logger = logging.getLogger(__name__)

_HEADER_LINES = frozenset(
    {
        "new",
        "get trending papers in your email inbox!",
        "subscribe",
        "byak and the research community",
        "trending papers",
    }
)
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
_DATE_LINE = re.compile(rf"^(?:{_MONTHS})[a-z]*\.? \d{{1,2}}(?:, \d{{4}})?$", re.IGNORECASE)
_TITLE_MAX_CHARS = 300


@dataclass(frozen=True)
class Paper:
    """One paper of a listing."""

    title: str
    abstract: str
    date: str | None = None  # as printed in the listing, e.g. "Mar 12"


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def _looks_like_title(paragraph: str) -> bool:
    return "\n" not in paragraph and len(paragraph) <= _TITLE_MAX_CHARS


def parse_listing(text: str) -> list[Paper]:
    """The papers of one listing page, in order, each title once.

    Header lines ("new", "Subscribe", ...) and date lines ("Mar 12") are not papers; a
    date line dates the paper that follows it. A title without an abstract is dropped.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))]
    papers: list[Paper] = []
    seen: set[str] = set()
    title: str | None = None
    date: str | None = None
    for para in paragraphs:
        if not para or para.casefold() in _HEADER_LINES:
            continue
        if _DATE_LINE.match(para):
            date = para
            continue
        if title is None:
            if _looks_like_title(para):
                title = " ".join(para.split())
            else:
                logger.debug("listing: skipping a paragraph with no title: %.60s", para)
            continue
        if _looks_like_title(para) and len(para) < 120 and not para.endswith("."):
            # Two title-like lines in a row: the first paper had no abstract.
            logger.debug("listing: title without abstract dropped: %s", title)
            title = " ".join(para.split())
            continue
        key = _title_key(title)
        if key not in seen:
            seen.add(key)
            papers.append(Paper(title=title, abstract=" ".join(para.split()), date=date))
        title, date = None, None
    return papers


def load_papers(directory: str | os.PathLike[str]) -> list[Paper]:
    """Papers of every ``*.txt`` listing in ``directory`` (sorted by name), each title once."""
    directory = Path(directory)
    files = sorted(directory.glob("*.txt"))
    if not files:
        raise ConfigError(f"no paper listings (*.txt) in {directory}")
    papers: list[Paper] = []
    seen: set[str] = set()
    for file in files:
        for paper in parse_listing(file.read_text(encoding="utf-8")):
            key = _title_key(paper.title)
            if key not in seen:
                seen.add(key)
                papers.append(paper)
    return papers


def slugify(text: str, max_len: int = 80) -> str:
    """A lower-case ASCII file name stem: ``"CLIP: Learning..." -> "clip-learning..."``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug.rfind("-", 0, max_len + 1)
        slug = slug[: cut if cut > max_len // 2 else max_len].strip("-")
    return slug or "untitled"


def sample_collection_path() -> Path:
    """The sample collection in a source checkout: ``<repo>/examples/sample-collection``.

    It is not installed with the package; raises :class:`ConfigError` when missing.
    """
    root = Path(__file__).resolve().parents[2]
    path = root / "examples" / "sample-collection"
    if not path.is_dir():
        raise ConfigError(
            f"the sample collection is not at {path}",
            hint="it ships with a source checkout of polyseek (examples/sample-collection); "
            "rebuild it with `python scripts/build_sample.py`, or index your own folder",
        )
    return path


__all__ = ["Paper", "load_papers", "parse_listing", "sample_collection_path", "slugify"]
