"""Metadata filters: ``--where EXPR``, a SQL-like boolean expression over named fields.

The dialect is the WHERE clause of LanceDB (DataFusion SQL) cut down to what a user of
a search tool types, over fields polyseek knows (:data:`FIELDS`), not raw columns::

    modality = 'image' AND width >= 1024
    source GLOB 'manuals/*.pdf' OR source LIKE 'notes/%'
    mtime > '2024-01-01' AND size < 10MB
    camera LIKE '%Canon%' AND exif_date BETWEEN '2023-06-01' AND '2023-09-01'
    author = 'Ada Lovelace' AND pages > 10
    label = 'ir' AND label_prob >= 0.8
    meta.format = 'markdown'

Comparisons ``= == != <> < <= > >=``, ``[NOT] IN (...)``, ``[NOT] LIKE`` (``%`` and
``_``), ``[NOT] GLOB`` (``*``, ``?``, ``[...]``), ``BETWEEN a AND b``, ``IS [NOT] NULL``,
``AND``, ``OR``, ``NOT`` and parentheses. Strings in single or double quotes; numbers
may carry a size unit (``10MB``, ``2KiB``); date fields take ISO dates. An item lacking a
field does not match a comparison on it (SQL's NULL). Keywords are case-insensitive.

:func:`parse_where` turns the text into a tree, once, with errors that name the token
and its position; :func:`evaluate` runs the tree over an Arrow table of the fields
(:mod:`polyseek.search.facets`) with ``pyarrow.compute`` and gives a boolean mask.
The search pipeline uses the mask to restrict every candidate list *before* ranking
(:mod:`polyseek.search.filtered`), so ``top`` results come back whenever that many match.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from polyseek.errors import QueryError

FieldType = Literal["str", "int", "float", "date"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    help: str


FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec("modality", "str", "text, image, page, video or audio"),
        FieldSpec("source", "str", "the file's collection-relative path ('/'-separated)"),
        FieldSpec("ext", "str", "the file's extension, lower-case, without the dot"),
        FieldSpec("size", "int", "the file's size in bytes (10MB, 512KiB ...)"),
        FieldSpec("mtime", "date", "the file's modification time"),
        FieldSpec("page", "int", "the page number of a PDF page or region"),
        FieldSpec("width", "float", "image width in pixels (PDF pages: points)"),
        FieldSpec("height", "float", "image height in pixels (PDF pages: points)"),
        FieldSpec("exif_date", "date", "EXIF DateTimeOriginal (else DateTime)"),
        FieldSpec("camera", "str", "EXIF Make and Model"),
        FieldSpec("title", "str", "document title (PDF metadata, HTML/Markdown title)"),
        FieldSpec("author", "str", "PDF author"),
        FieldSpec("pages", "int", "a PDF's page count"),
        FieldSpec("start", "float", "start of a video/audio moment, seconds"),
        FieldSpec("label", "str", "the label `polyseek label train` gave the item"),
        FieldSpec("label_prob", "float", "the label's calibrated probability"),
    )
}
META_PREFIX = "meta."  # meta.KEY: any key of an item's metadata, compared as text
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_KEYWORDS = {"and", "or", "not", "in", "like", "glob", "between", "is", "null", "true", "false"}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?P<unit>[A-Za-z]+)?
    | (?P<op><=|>=|<>|!=|==|=|<|>|\(|\)|,)
    | (?P<name>[A-Za-z_][\w.]*)
    | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, op, name, keyword, end
    value: Any
    pos: int
    text: str


# ---------------------------------------------------------------------------- tree
@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # = != < <= > >=
    value: Any


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True)
class Pattern:
    field: str
    kind: str  # like, glob
    pattern: str
    negate: bool = False


@dataclass(frozen=True)
class Between:
    field: str
    low: Any
    high: Any
    negate: bool = False


@dataclass(frozen=True)
class IsNull:
    field: str
    negate: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # and, or
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    part: Expr


Expr = Compare | InList | Pattern | Between | IsNull | BoolOp | Not


def _error(text: str, pos: int, message: str, hint: str | None = None) -> QueryError:
    shown = text if len(text) <= 120 else text[:117] + "..."
    return QueryError(
        f"--where {shown!r}: {message} (at character {pos + 1})",
        hint=hint or "see `polyseek search --help` for the --where syntax",
    )


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.end() == pos and not m.group(0):
            break
        start = m.start(m.lastgroup or 0)
        raw = m.group(m.lastgroup or 0)
        if m.group("bad") is not None:
            raise _error(text, start, f"unexpected character {raw!r}")
        if m.group("string") is not None:
            quote = raw[0]
            out.append(Token("string", raw[1:-1].replace(quote * 2, quote), start, raw))
        elif m.group("number") is not None:
            out.append(_number_token(text, m, start))
        elif m.group("op") is not None:
            out.append(Token("op", raw, start, raw))
        else:
            word = m.group("name")
            if word.lower() in _KEYWORDS:
                out.append(Token("keyword", word.lower(), start, word))
            else:
                out.append(Token("name", word, start, word))
        pos = m.end()
    out.append(Token("end", None, len(text.rstrip()), "end of expression"))
    return out


def _number_token(text: str, m: re.Match[str], start: int) -> Token:
    raw, unit = m.group("number"), (m.group("unit") or "").lower()
    if unit not in _UNITS:
        raise _error(
            text,
            start,
            f"unknown unit {m.group('unit')!r} after {raw}",
            "units: KB MB GB KiB MiB GiB",
        )
    number: float = float(raw) * _UNITS[unit]
    value = int(number) if number.is_integer() and ("." not in raw or unit) else number
    return Token("number", value, start, m.group(0).strip())


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def keyword(self, *words: str) -> bool:
        if self.tok.kind == "keyword" and self.tok.value in words:
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if self.tok.kind != "op" or self.tok.value != op:
            raise self.fail(f"expected {op!r}")
        self.i += 1

    def fail(self, message: str, hint: str | None = None) -> QueryError:
        return _error(self.text, self.tok.pos, f"{message}, got {self.tok.text!r}", hint)

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise _error(self.text, 0, "the expression is empty")
        expr = self.or_expr()
        if self.tok.kind != "end":
            raise self.fail("expected AND, OR or the end")
        return expr

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_expr(self) -> Expr:
        parts = [self.not_expr()]
        while self.keyword("and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_expr(self) -> Expr:
        if self.keyword("not"):
            return Not(self.not_expr())
        if self.tok.kind == "op" and self.tok.value == "(":
            self.take()
            expr = self.or_expr()
            self.expect_op(")")
            return expr
        return self.predicate()

    def field(self) -> tuple[str, FieldType]:
        tok = self.tok
        if tok.kind != "name":
            raise self.fail("expected a field name", f"fields: {', '.join(FIELDS)}, meta.KEY")
        self.take()
        name = tok.value.lower()
        if name.startswith(META_PREFIX) and len(name) > len(META_PREFIX):
            return META_PREFIX + tok.value[len(META_PREFIX) :], "str"
        spec = FIELDS.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, FIELDS, n=1)
            maybe = f" (did you mean {close[0]!r}?)" if close else ""
            raise _error(
                self.text,
                tok.pos,
                f"unknown field {tok.value!r}{maybe}",
                f"known fields: {', '.join(FIELDS)}; any metadata key as meta.KEY",
            )
        return name, spec.type

    def value(self, name: str, kind: FieldType) -> Any:
        tok = self.tok
        if tok.kind not in ("string", "number") and not (
            tok.kind == "keyword" and tok.value in ("true", "false")
        ):
            raise self.fail(f"expected a value for {name}")
        self.take()
        return _coerce(self.text, tok, name, kind)

    def predicate(self) -> Expr:
        name, kind = self.field()
        negate = self.keyword("not")
        if self.keyword("in"):
            self.expect_op("(")
            values = [self.value(name, kind)]
            while self.tok.kind == "op" and self.tok.value == ",":
                self.take()
                values.append(self.value(name, kind))
            self.expect_op(")")
            return InList(name, tuple(values), negate)
        if self.tok.kind == "keyword" and self.tok.value in ("like", "glob"):
            return self.pattern(name, kind, negate)
        if self.keyword("between"):
            low = self.value(name, kind)
            if not self.keyword("and"):
                raise self.fail("expected AND in BETWEEN ... AND ...")
            return Between(name, low, self.value(name, kind), negate)
        if negate:
            raise self.fail(f"expected IN, LIKE, GLOB or BETWEEN after {name} NOT")
        if self.keyword("is"):
            negate = self.keyword("not")
            self._null()
            return IsNull(name, negate=negate)
        if self.tok.kind != "op" or self.tok.value not in (
            "=",
            "==",
            "!=",
            "<>",
            "<",
            "<=",
            ">",
            ">=",
        ):
            raise self.fail(f"expected an operator after {name} (= != < <= > >= IN LIKE GLOB ...)")
        op = {"==": "=", "<>": "!="}.get(self.tok.value, self.tok.value)
        self.take()
        return Compare(name, op, self.value(name, kind))

    def _null(self) -> None:
        if not self.keyword("null"):
            raise self.fail("expected NULL after IS")

    def pattern(self, name: str, kind: FieldType, negate: bool) -> Expr:
        how = self.take().value
        if kind != "str":
            raise _error(
                self.text,
                self.toks[self.i - 1].pos,
                f"{how.upper()} needs a text field, {name} is {kind}",
            )
        tok = self.tok
        if tok.kind != "string":
            raise self.fail(f"expected a quoted pattern after {how.upper()}")
        self.take()
        return Pattern(name, how, tok.value, negate)


def _coerce(text: str, tok: Token, name: str, kind: FieldType) -> Any:
    value = tok.value
    if tok.kind == "keyword":  # true / false
        value = tok.value == "true"
    if kind == "str":
        if tok.kind != "string":
            return str(value).lower() if isinstance(value, bool) else str(value)
        return value
    if kind == "date":
        if tok.kind == "number":
            return float(value)
        parsed = parse_date(str(value))
        if parsed is None:
            raise _error(
                text,
                tok.pos,
                f"{name} compares with a date, got {tok.text}",
                "dates: '2024-05-01' or '2024-05-01T13:00'",
            )
        return parsed
    if tok.kind != "number":
        raise _error(text, tok.pos, f"{name} compares with a number, got {tok.text}")
    return value


def parse_date(value: str) -> float | None:
    """Seconds since the epoch (UTC) of an ISO date or an EXIF ``YYYY:MM:DD HH:MM:SS``."""
    v = value.strip()
    if re.match(r"^\d{4}:\d\d:\d\d", v):
        v = v[:10].replace(":", "-") + v[10:]
    try:
        dt = datetime.fromisoformat(v.replace(" ", "T", 1) if " " in v else v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


@lru_cache(maxsize=256)
def parse_where(text: str) -> Expr:
    """The tree of a ``--where`` expression (:class:`QueryError` naming the bad token)."""
    return _Parser(text).parse()


def fields_of(expr: Expr) -> set[str]:
    """The field names an expression reads."""
    if isinstance(expr, BoolOp):
        return set().union(*(fields_of(p) for p in expr.parts))
    if isinstance(expr, Not):
        return fields_of(expr.part)
    return {expr.field}


# ---------------------------------------------------------------------------- evaluation
def evaluate(expr: Expr, table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """A boolean per row of ``table`` (columns named as the fields); NULL where unknown."""
    if isinstance(expr, BoolOp):
        parts = [evaluate(p, table) for p in expr.parts]
        fn = pc.and_kleene if expr.op == "and" else pc.or_kleene
        out = parts[0]
        for p in parts[1:]:
            out = fn(out, p)
        return out
    if isinstance(expr, Not):
        return pc.invert(evaluate(expr.part, table))
    column = _column(table, expr.field)
    if isinstance(expr, Compare):
        fn = {
            "=": pc.equal,
            "!=": pc.not_equal,
            "<": pc.less,
            "<=": pc.less_equal,
            ">": pc.greater,
            ">=": pc.greater_equal,
        }[expr.op]
        return fn(column, _scalar(expr.value, column.type))
    if isinstance(expr, InList):
        found = pc.is_in(column, value_set=pa.array(list(expr.values), type=column.type))
        found = pc.if_else(pc.is_null(column), pa.scalar(None, pa.bool_()), found)
        return pc.invert(found) if expr.negate else found
    if isinstance(expr, Pattern):
        regex = _like_regex(expr.pattern) if expr.kind == "like" else _glob_regex(expr.pattern)
        found = pc.match_substring_regex(column, pattern=regex)
        return pc.invert(found) if expr.negate else found
    if isinstance(expr, Between):
        low, high = _scalar(expr.low, column.type), _scalar(expr.high, column.type)
        found = pc.and_kleene(pc.greater_equal(column, low), pc.less_equal(column, high))
        return pc.invert(found) if expr.negate else found
    null = pc.is_null(column)
    return pc.invert(null) if expr.negate else null


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, pa.string())])  # a metadata key no item has


def _scalar(value: Any, kind: pa.DataType) -> pa.Scalar:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pa.scalar(str(value), kind)
    return pa.scalar(float(value) if pa.types.is_floating(kind) else value, kind)


def _like_regex(pattern: str) -> str:
    """SQL LIKE (``%`` any run, ``_`` one character) as an anchored regular expression."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "(?s)^" + "".join(out) + "$"


def _glob_regex(pattern: str) -> str:
    """A shell glob (``*`` any run, '/' included; ``?``; ``[...]``, ``[!...]``) as an RE2
    expression. Not :func:`fnmatch.translate`: for two or more ``*`` it writes atomic
    groups (``(?>...)``), which RE2 (Arrow, LanceDB) refuses."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 1 if i < n and pattern[i] in "!^" else i)
            if end < 0:
                out.append(re.escape(ch))
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            chars = "".join(c if c == "-" else re.escape(c) for c in body)
            out.append(f"[{'^' if negate else ''}{chars}]")
        else:
            out.append(re.escape(ch))
    return "(?s)^" + "".join(out) + "$"


def matching(expr: Expr, table: pa.Table) -> pa.Array:
    """The rows of ``table`` the expression holds for (NULL counts as false)."""
    mask = evaluate(expr, table)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return pc.fill_null(mask, False)


def quote(value: str) -> str:
    """A string literal of the dialect."""
    return "'" + value.replace("'", "''") + "'"


def under_folder(prefix: str) -> str | None:
    """The filter of the items of a file or of any file under a folder (None: all)."""
    prefix = prefix.strip().strip("/")
    if not prefix:
        return None
    escaped = "".join(f"[{c}]" if c in "[]*?" else c for c in prefix)
    return f"(source = {quote(prefix)} OR source GLOB {quote(escaped + '/*')})"


def all_of(*wheres: str | None) -> str | None:
    """Several filters that must all hold, as one (None when there is none)."""
    parts = [w.strip() for w in wheres if w and w.strip()]
    if len(parts) <= 1:
        return parts[0] if parts else None
    return " AND ".join(f"({w})" for w in parts)


def describe_fields() -> Sequence[str]:
    """``name (type): help`` per field, for help texts and error hints."""
    return [f"{f.name} ({f.type}): {f.help}" for f in FIELDS.values()]


__all__ = [
    "FIELDS",
    "all_of",
    "quote",
    "under_folder",
    "META_PREFIX",
    "Expr",
    "FieldSpec",
    "describe_fields",
    "evaluate",
    "fields_of",
    "matching",
    "parse_date",
    "parse_where",
]
