"""The paper-listing parser and the bundled sample collection."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from polyseek.errors import ConfigError
from polyseek.samples import Paper, load_papers, parse_listing, sample_collection_path, slugify

REPO = Path(__file__).resolve().parents[3]
PAPERS = REPO / "tests" / "fixtures" / "papers"

LISTING = """new

Get trending papers in your email inbox!

Subscribe

byAK and the research community

Mar 12

First Paper: A Title

An abstract about contrastive learning. It has sentences.

Second Paper

Another abstract,
wrapped over two lines.

First Paper:  a title

A repeated paper (same title, other case and spacing) is kept once.

Orphan Title Without Abstract

Third Paper

Its abstract.
"""


def test_parse_listing_synthetic() -> None:
    papers = parse_listing(LISTING)
    assert [p.title for p in papers] == ["First Paper: A Title", "Second Paper", "Third Paper"]
    assert papers[0] == Paper(
        "First Paper: A Title",
        "An abstract about contrastive learning. It has sentences.",
        "Mar 12",
    )
    assert papers[1].abstract == "Another abstract, wrapped over two lines."
    assert papers[1].date is None


@pytest.mark.parametrize(
    ("name", "count", "date"),
    [("contrastive", 84, "Mar 12"), ("debiasing", 76, "Mar 11"), ("fewshot", 83, "Apr 23")],
)
def test_parse_real_listings(name: str, count: int, date: str) -> None:
    papers = parse_listing((PAPERS / f"listing-{name}.txt").read_text(encoding="utf-8"))
    assert len(papers) == count
    assert papers[0].date == date
    headers = {"new", "Subscribe", "byAK and the research community"}
    assert not headers & {p.title for p in papers}
    assert all(len(p.abstract) > 200 and len(p.title) < 300 for p in papers)


def test_load_papers_dedupes_across_pages() -> None:
    papers = load_papers(PAPERS)
    assert len(papers) == 206
    assert len({p.title.casefold() for p in papers}) == 206


def test_load_papers_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no paper listings"):
        load_papers(tmp_path)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("CLIP: Learning Transferable Visual Models", "clip-learning-transferable-visual-models"),
        ("Über  façade -- déjà vu!", "uber-facade-deja-vu"),
        ("???", "untitled"),
        ("a" * 100, "a" * 80),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_slugify_cuts_at_a_word() -> None:
    slug = slugify("word " * 30)
    assert len(slug) <= 80 and not slug.endswith("-") and slug.endswith("word")


def test_sample_collection_contents() -> None:
    root = sample_collection_path()
    assert root == REPO / "examples" / "sample-collection"
    assert len(list((root / "papers").glob("*.md"))) == 206
    assert len(list((root / "images").iterdir())) == 6
    assert len(list((root / "pdfs").glob("*.pdf"))) == 3
    # The bundled files only: `./run demo` leaves its index in root/.polyseek (git-ignored).
    size = sum(
        p.stat().st_size for p in root.rglob("*") if p.is_file() and ".polyseek" not in p.parts
    )
    assert size < 2 * 2**20


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".polyseek" not in p.parts
    }


@pytest.mark.slow
def test_sample_collection_is_up_to_date(tmp_path: Path) -> None:
    """The committed collection is exactly what scripts/build_sample.py makes."""
    spec = importlib.util.spec_from_file_location("build_sample", REPO / "scripts/build_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "built"
    module.main(["--out", str(out)])
    assert digest(out) == digest(sample_collection_path()), "run scripts/build_sample.py"
