"""The --where dialect: parsing (with errors naming the token or field) and evaluation."""

from __future__ import annotations

import pyarrow as pa
import pytest

from polyseek.errors import QueryError
from polyseek.search.base import Ranking
from polyseek.search.filters import (
    FIELDS,
    all_of,
    matching,
    parse_date,
    parse_where,
    under_folder,
)

ROWS = pa.table(
    {
        "id": ["a", "b", "c", "d"],
        "modality": ["image", "text", "page", "image"],
        "source": ["photos/cat.jpg", "notes/a_b.md", "docs/manual.pdf", "photos/2024/dog.png"],
        "ext": ["jpg", "md", "pdf", "png"],
        "size": pa.array([2_500_000, 900, 12_000_000, 40_000], pa.int64()),
        "mtime": pa.array([parse_date("2024-03-01"), parse_date("2023-01-01"), None, None]),
        "width": pa.array([1024.0, None, 595.0, 640.0]),
        "camera": ["Canon EOS 5D", None, None, "Apple iPhone 12"],
        "label": ["pets", None, "manuals", "pets"],
        "label_prob": pa.array([0.9, None, 0.6, 0.4]),
        "meta.format": [None, "markdown", None, None],
    }
)


def ids(where: str) -> list[str]:
    mask = matching(parse_where(where), ROWS)
    return ROWS.column("id").filter(mask).to_pylist()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("modality = 'image'", ["a", "d"]),
        ('modality == "image" AND width >= 1000', ["a"]),
        ("modality IN ('text', 'page')", ["b", "c"]),
        ("modality NOT IN ('image')", ["b", "c"]),
        ("source GLOB 'photos/*'", ["a", "d"]),  # '*' crosses folders, as in LanceDB
        ("source GLOB 'photos/*.jpg'", ["a"]),
        ("source GLOB '*o*/*'", ["a", "b", "c", "d"]),  # two stars (fnmatch: RE2-less)
        ("source GLOB '*/[cd]*.[jp]*'", ["a", "d"]),
        ("source GLOB '[!p]*'", ["b", "c"]),
        ("source LIKE 'notes/a_b%'", ["b"]),
        ("source NOT LIKE '%.pdf'", ["a", "b", "d"]),
        ("size > 2MB", ["a", "c"]),
        ("size BETWEEN 1KiB AND 1MB", ["d"]),
        ("mtime >= '2024-01-01'", ["a"]),
        ("mtime < '2024-01-01T00:00:00'", ["b"]),
        ("camera LIKE '%canon%'", []),  # LIKE is case-sensitive, as in SQL
        ("camera LIKE '%Canon%' OR camera IS NULL", ["a", "b", "c"]),
        ("width IS NOT NULL AND NOT (width > 600)", ["c"]),
        ("label = 'pets' AND label_prob >= 0.5", ["a"]),
        ("meta.format = 'markdown'", ["b"]),
        ("meta.nothing = 'x'", []),  # a key no item has: nothing matches
        ("width != 640", ["a", "c"]),  # NULL is not "not 640"
        ("(modality = 'page' or ext = 'md') and size < 1e7", ["b"]),
    ],
)
def test_expressions_select_the_right_rows(where: str, expected: list[str]) -> None:
    assert ids(where) == expected


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ("widht > 3", ["unknown field 'widht'", "did you mean 'width'"]),
        ("width > 'abc'", ["width compares with a number", "'abc'"]),
        ("width >", ["expected a value for width", "end of expression"]),
        ("width 3", ["expected an operator after width", "'3'"]),
        ("modality = 'image' AND", ["expected a field name"]),
        ("size < 10XB", ["unknown unit 'XB'"]),
        ("mtime > 'yesterday'", ["mtime compares with a date", "'yesterday'"]),
        ("size LIKE '1%'", ["LIKE needs a text field", "size is int"]),
        ("(modality = 'image'", ["expected ')'"]),
        ("modality = 'image' width > 3", ["expected AND, OR or the end", "'width'"]),
        ("modality = 'image' ; drop", ["unexpected character ';'"]),
        ("", ["the expression is empty"]),
    ],
)
def test_bad_expressions_name_the_token(where: str, names: list[str]) -> None:
    with pytest.raises(QueryError) as err:
        parse_where(where)
    text = err.value.message
    for part in names:
        assert part in text, text
    assert "--where" in text


def test_unknown_field_lists_the_known_ones() -> None:
    with pytest.raises(QueryError) as err:
        parse_where("colour = 'red'")
    assert err.value.hint is not None
    for name in FIELDS:
        assert name in err.value.hint


def test_ranking_validates_where_once() -> None:
    assert Ranking(where="  ").where is None
    assert Ranking(where=" ext = 'md' ").describe()["where"] == "ext = 'md'"
    with pytest.raises(QueryError, match="unknown field"):
        Ranking(where="nope = 1")


def test_folder_filters_escape_glob_characters() -> None:
    assert ids(under_folder("photos") or "") == ["a", "d"]
    assert ids(under_folder("/photos/2024/") or "") == ["d"]
    assert ids(under_folder("photos/cat.jpg") or "") == ["a"]
    assert under_folder(" / ") is None
    # '*' and quotes in a folder name are literal, not patterns or the end of a string
    assert "[*]" in (under_folder("we*rd'o") or "")
    parse_where(under_folder("we*rd'o") or "")
    assert all_of(None, "ext = 'md'") == "ext = 'md'"
    assert ids(all_of(under_folder("photos"), "ext = 'png'") or "") == ["d"]


def test_exif_dates_read_as_dates() -> None:
    assert parse_date("2023:06:01 12:00:00") == parse_date("2023-06-01T12:00:00")
    assert parse_date("not a date") is None


def test_label_cli_lists_the_label_methods() -> None:
    from polyseek.cli.label import METHODS as CLI_METHODS
    from polyseek.labels import METHODS

    assert CLI_METHODS == METHODS
