"""What to find (:class:`Query`) and how to rank it (:class:`Ranking`), declared once.

Every ranking option lives in :class:`Ranking`, a frozen dataclass that validates itself.
Each field's metadata (help text, bounds, choices) is the one declaration the other
surfaces are built from: the CLI options of ``search``, ``eval`` and ``ask``
(:mod:`polyseek.cli.options`), the REST query and form parameters and the web UI's
option panel (:mod:`polyseek.server.schemas`), ``Engine.search(**options)`` and the eval
configuration. Adding an option here adds it everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyseek.errors import QueryError
from polyseek.search.cutoff import Cutoff
from polyseek.store.first_pass import DEFAULT_OVERSAMPLE, FIRST_PASS_KINDS, FirstPass
from polyseek.types import MODALITIES, Modality

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image

    from polyseek.encoders.base import Encoder, EncoderInfo
    from polyseek.rerank.base import Reranker

FUSIONS = ("zscore", "rrf")
GRAINS = ("page", "region")
CALIBRATION_MODES = ("hubness", "query", "collection")


def option(
    default: Any,
    help: str,  # noqa: A002  (the word every CLI library uses)
    *,
    choices: Sequence[str] | None = None,
    ge: float | None = None,
    le: float | None = None,
    flag: str | None = None,
    cli: bool = True,
) -> Any:
    """A :class:`Ranking` field with what every surface needs to present it.

    ``flag`` overrides the CLI spelling (``"--exact/--ann"``); ``cli=False`` keeps an
    option out of the command line (it stays in Python and REST).
    """
    meta = {"help": help, "choices": tuple(choices or ()), "ge": ge, "le": le}
    meta.update(flag=flag, cli=cli)
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Ranking:
    """How a query is ranked. Frozen and validated on construction (:class:`QueryError`).

    ``rerank`` is a reranker spec (``late:minilm``, ``cross-encoder:DIR``; see
    :func:`polyseek.rerank.load_reranker`) or a loaded :class:`~polyseek.rerank.Reranker`;
    ``cutoff`` a spec (``gap:0.3``) or a :class:`~polyseek.search.cutoff.Cutoff`.
    """

    dense: bool = option(True, "Embedding search (--no-dense with --lexical: lexical only).")
    lexical: bool = option(
        True, "Fuse BM25 full-text search with the dense lists (--no-lexical: dense only)."
    )
    fusion: str = option("zscore", "Hybrid fusion: zscore (linear mix) or rrf.", choices=FUSIONS)
    lexical_weight: float = option(
        0.7, "Share of BM25 in the mix (the encoders share the rest).", ge=0.0, le=1.0
    )
    calibrate: bool | None = option(
        None,
        "Make scores comparable across modalities (--calibrate / --no-calibrate); default: "
        "on when the searched items mix modalities.",
        flag="--calibrate/--no-calibrate",
    )
    calibration: str = option(
        "hubness",
        "Calibration: hubness (per-query statistics of hubness-corrected scores), query "
        "(per-query statistics) or collection (index-time statistics).",
        choices=CALIBRATION_MODES,
    )
    rerank: str | Reranker | None = option(
        None, "Reranker: late:minilm (offline), cross-encoder:DIR, mllm:DIR."
    )
    rerank_depth: int = option(30, "Candidates the reranker sees.", ge=1)
    rerank_weight: float = option(
        1.0, "Reranker share of the score (1: alone; 0.5: mix).", ge=0.0, le=1.0
    )
    cutoff: str | Cutoff | None = option(
        None, "Return fewer hits when scores fall off: gap:0.3, relative:0.6."
    )
    first_pass: str = option(
        "none",
        "Compressed first pass, rescored exactly: " + ", ".join(FIRST_PASS_KINDS) + ".",
    )
    oversample: int = option(
        DEFAULT_OVERSAMPLE, "First pass: rescore results x this many candidates.", ge=1
    )
    exact: bool | None = option(
        None,
        "Exhaustive search (--exact) or the ANN index (--ann); default: ANN when the index "
        "has one.",
        flag="--exact/--ann",
    )
    grain: str = option(
        "page",
        "Results per page (a page's layout regions roll up under it, the best one shown) "
        "or per region.",
        choices=GRAINS,
    )
    encoders: tuple[str, ...] = option(
        (), "Only these encoders (specs); default: every one that applies.", cli=False
    )
    where: str | None = option(
        None,
        "Only items matching a filter, applied before ranking: a SQL-like expression over "
        "modality, source, ext, size, mtime, page, width, height, exif_date, camera, title, "
        "author, pages, start, label, label_prob, meta.KEY; e.g. \"source GLOB 'docs/*.pdf' "
        'AND pages > 10" (operators = != < <= > >= IN LIKE GLOB BETWEEN IS NULL AND OR NOT).',
    )

    def __post_init__(self) -> None:
        if not self.dense and not self.lexical:
            raise QueryError("a query needs dense or lexical search (or both)")
        _check_choice("fusion", self.fusion, FUSIONS)
        _check_choice("calibration", self.calibration, CALIBRATION_MODES)
        _check_choice("grain", self.grain, GRAINS)
        for f in fields(self):
            lo, hi = f.metadata.get("ge"), f.metadata.get("le")
            value = getattr(self, f.name)
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                bounds = f"lie in [{lo:g}, {hi:g}]" if hi is not None else f"be at least {lo:g}"
                raise QueryError(f"{f.name} must {bounds}, got {value}")
        if isinstance(self.cutoff, str):
            object.__setattr__(self, "cutoff", _parse_cutoff(self.cutoff))
        if self.where is not None:
            from polyseek.search.filters import parse_where

            object.__setattr__(self, "where", self.where.strip() or None)
            if self.where is not None:
                parse_where(self.where)  # a bad expression is refused here, naming the token
        if not isinstance(self.encoders, tuple):
            object.__setattr__(self, "encoders", tuple(self.encoders))
        if not self.first_pass_plan.is_exact and self.exact is False:
            raise QueryError(
                f"first pass {self.first_pass} and the ANN path are alternatives: give one"
            )

    # ------------------------------------------------------------------ reading
    @property
    def reranker(self) -> Reranker | None:
        """The reranker, loaded once per process when given as a spec."""
        if self.rerank is None or not isinstance(self.rerank, str):
            return self.rerank
        from polyseek.rerank import cached_reranker

        return cached_reranker(self.rerank)

    @property
    def first_pass_plan(self) -> FirstPass:
        return FirstPass.parse(self.first_pass, self.oversample)

    @property
    def rerank_name(self) -> str | None:
        if self.rerank is None:
            return None
        return self.rerank if isinstance(self.rerank, str) else self.rerank.name

    @classmethod
    def from_options(cls, options: Mapping[str, Any], base: Ranking | None = None) -> Ranking:
        """``base`` (default: the defaults) with ``options`` changed; unknown names refused."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise QueryError(
                f"unknown ranking option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                hint=f"valid: {', '.join(sorted(names))}",
            )
        return replace(base or cls(), **options)

    def to_dict(self) -> dict[str, Any]:
        """Every option as plain data (a reranker by its name, a cut-off by its spec)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["rerank"] = self.rerank_name
        out["cutoff"] = self.cutoff.describe() if isinstance(self.cutoff, Cutoff) else None
        out["encoders"] = list(self.encoders)
        return out

    def describe(self) -> dict[str, Any]:
        """The options a result's ``query`` echoes: those that change what is ranked how."""
        out: dict[str, Any] = {}
        if not self.dense:
            out["dense"] = False
        out["lexical"] = self.lexical
        if self.lexical:
            out["fusion"] = self.fusion
        if self.calibrate:
            out["calibrate"] = self.calibration
        elif self.calibrate is False:
            out["calibrate"] = False
        if self.rerank is not None:
            out["rerank"] = self.rerank_name
            if self.rerank_weight != 1.0:
                out["rerank_weight"] = self.rerank_weight
        if isinstance(self.cutoff, Cutoff):
            out["cutoff"] = self.cutoff.describe()
        if self.first_pass != "none":
            out["first_pass"] = self.first_pass
            out["oversample"] = self.oversample
        if self.grain != "page":
            out["grain"] = self.grain
        if self.where is not None:
            out["where"] = self.where
        return out


def ranking_fields() -> list[Any]:
    """The declared ranking options (dataclass fields with their metadata)."""
    return list(fields(Ranking))


def field_default(f: Any) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


def _check_choice(name: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise QueryError(f"unknown {name} {value!r}", hint=f"valid: {', '.join(valid)}")


def _parse_cutoff(spec: str) -> Cutoff:
    from polyseek.errors import ConfigError

    try:
        return Cutoff.parse(spec)
    except ConfigError as exc:
        raise QueryError(exc.message, hint=exc.hint) from None


@dataclass(frozen=True)
class Query:
    """What to find: ``text``, ``image`` or both (a composed query), and how many.

    ``image`` is a PIL image or the path of an image, of a video clip (matched by its
    keyframes) or of an audio clip (matched by its sound, with an audio-text encoder).
    ``ranking`` says how (default: :class:`Ranking` defaults).
    """

    text: str | None = None
    image: Image | Path | str | None = None
    top: int = 10
    modalities: tuple[Modality, ...] = ()
    image_weight: float = 0.5  # share of the image in a composed (image + text) query
    ranking: Ranking = field(default_factory=Ranking)

    def __post_init__(self) -> None:
        # Neither text nor image is allowed: a query ranked with vectors computed
        # elsewhere (SearchPipeline.rank); embedding one is refused by the embedder.
        if self.text is not None and not self.text.strip() and self.image is None:
            raise QueryError("the query text is empty")
        if self.top < 1:
            raise QueryError(f"top must be at least 1, got {self.top}")
        if not 0.0 <= self.image_weight <= 1.0:
            raise QueryError(f"image_weight must be in [0, 1], got {self.image_weight}")
        for m in self.modalities:
            _check_choice("modality", m, MODALITIES)
        if not self.ranking.dense and not self.has_text:
            raise QueryError("lexical-only search needs query text")

    @property
    def has_text(self) -> bool:
        return bool(self.text and self.text.strip())

    @property
    def text_share(self) -> float:
        """How much of the query is its text: 1 without an image, 0 without text, else
        ``1 - image_weight`` (the share of the text in a composed query's vector)."""
        if self.image is None:
            return 1.0
        return 1.0 - self.image_weight if self.has_text else 0.0

    def with_ranking(self, **options: Any) -> Query:
        return replace(self, ranking=Ranking.from_options(options, self.ranking))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"top": self.top}
        if self.text is not None:
            out["text"] = self.text
        if self.image is not None:
            out["image"] = str(self.image) if isinstance(self.image, (str, Path)) else "<image>"
        if self.modalities:
            out["modalities"] = list(self.modalities)
        if self.text is not None and self.image is not None:
            out["image_weight"] = self.image_weight
        out.update(self.ranking.describe())
        return out


Ranked = Sequence[tuple[str, float]]
"""(item id, score) pairs, best first."""


@dataclass(frozen=True)
class Fused:
    item_id: str
    score: float
    signals: dict[str, float] = field(default_factory=dict)  # each signal's raw value
    contributions: dict[str, float] = field(default_factory=dict)  # parts summing to score


class EncoderSource(Protocol):
    """Where a pipeline gets the encoders of an index (a :class:`~polyseek.Collection`)."""

    @property
    def encoder_infos(self) -> tuple[EncoderInfo, ...]: ...

    def encoder(self, info: EncoderInfo) -> Encoder: ...


QueryVectors = dict["EncoderInfo", "np.ndarray"]
"""One query's vector per encoder that embeds it."""


__all__ = [
    "CALIBRATION_MODES",
    "FUSIONS",
    "GRAINS",
    "EncoderSource",
    "Fused",
    "Query",
    "QueryVectors",
    "Ranked",
    "Ranking",
    "option",
    "ranking_fields",
]
