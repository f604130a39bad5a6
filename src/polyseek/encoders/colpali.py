"""Page-image late interaction: ColPali and ColQwen2 through transformers' retrieval classes.

``colpali:NAME_OR_DIR`` loads either architecture (chosen from the checkpoint's
``model_type``, never from its name): ``colpali:vidore/colpali-v1.3-hf`` (PaliGemma:
SigLIP + Gemma), ``colpali:vidore/colqwen2-v1.0-hf`` (Qwen2-VL), or a directory written by
``save_pretrained`` for the model and its processor. Only the transformers-format
checkpoints load (the ``-hf`` repositories); the original ones are PEFT adapters for the
``colpali-engine`` package.

A page image becomes one vector per output token (1024 image patches plus a short prompt
for ColPali at 448 px; up to ~768 merged patches for ColQwen2), each projected to 128
dimensions and L2-normalised; a query one vector per token ("Question: ...", plus ten
padding tokens the models were trained to use as query augmentation). Relevance is MaxSim:
the sum over query tokens of the best dot product with any page token.

**Token pooling.** Storing ~1030 vectors a page is 0.5 MB and makes exact search 16x the
work of 64 vectors, so a page's tokens are merged into at most :data:`MAX_VECTORS` (64)
vectors by hierarchical clustering: Ward linkage on the unit token vectors (Euclidean on
unit vectors orders pairs as cosine does), the tree cut into at most 64 clusters, each
replaced by its renormalised mean. This is the "token pooling" of the ColPali paper and of
``colpali-engine``'s ``HierarchicalTokenPooler``; the paper reports it
keeps 97.8% of nDCG@5 at a third of the vectors. 64 is a stronger cut (about 1/16); the
Light-ColPali study (Ma et al., 2025), which reduced pages to a few dozen vectors, found
merging tokens far ahead of pruning them and merges by clustering on similarity too.
Spatial pooling of the patch grid would keep each vector tied to a region of the page, but
averages unrelated content that happens to be adjacent (text beside white margin).
Clustering costs ~70 ms a page here (scipy, 1030 tokens), nothing next to the
model's forward pass. Rows keep the order of each cluster's first token. Tokens are pooled
at indexing only: queries keep all their tokens, and ``pooled=False`` (the reranker) keeps
every page token. The pooling (``cluster64``) is part of the encoder's ``revision``, so an
index built with another pooling is not searched with this one unawares.

The weights load in float32 (no bf16 on our CPUs): about 12 GB of memory for the 3B
models, and seconds per page on CPU.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek import hub
from polyseek.deps import require
from polyseek.encoders._util import as_rgb_images, as_texts
from polyseek.encoders.base import EncoderInfo, LateInteractionEncoder, l2_normalize
from polyseek.encoders.transformers_clip import _dtype_kwarg
from polyseek.errors import ConfigError, EncoderError, MissingDependencyError, PolyseekError

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

MAX_VECTORS = 64
POOLINGS = ("cluster", "none")
# transformers class of each retrieval architecture, by the checkpoint's model_type.
ARCHITECTURES = {"colpali": "ColPaliForRetrieval", "colqwen2": "ColQwen2ForRetrieval"}
# A tokenizer this small is a broken stand-in (transformers can hand one out offline).
MIN_VOCAB_SIZE = 64

_HINT = "pip install transformers torch"
_CHECKPOINT_HINT = (
    "use a transformers-format checkpoint, e.g. colpali:vidore/colpali-v1.3-hf or "
    "colpali:vidore/colqwen2-v1.0-hf, or a directory written by model.save_pretrained(dir) "
    "and processor.save_pretrained(dir)"
)


def cluster_tokens(tokens: np.ndarray, max_vectors: int = MAX_VECTORS) -> np.ndarray:
    """At most ``max_vectors`` rows standing for ``tokens`` (n x d, unit rows).

    Ward hierarchical clustering cut into ``max_vectors`` clusters; each cluster becomes its
    renormalised mean, in the order of its first token. Fewer tokens than that: unchanged.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    if max_vectors < 1:
        raise ConfigError(f"max_vectors must be at least 1, got {max_vectors}")
    tokens = np.asarray(tokens, dtype=np.float32)
    if len(tokens) <= max_vectors:
        return tokens
    tree = linkage(tokens.astype(np.float64), method="ward")
    labels = fcluster(tree, t=max_vectors, criterion="maxclust")
    # Cluster numbers in the order each cluster first appears among the tokens.
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    owner = rank[inverse]
    sums = np.zeros((len(first), tokens.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, tokens)
    return l2_normalize(sums.astype(np.float32))


def _load_error(what: str, model_ref: str, exc: Exception) -> PolyseekError:
    text = str(exc)
    if "sentencepiece" in text.lower() or "protobuf" in text.lower():
        return MissingDependencyError(
            f"the tokenizer of {model_ref!r} needs an extra package: {text}",
            hint="pip install sentencepiece protobuf",
        )
    return EncoderError(
        f"cannot load the {what} of {model_ref!r}: {type(exc).__name__}: {text}",
        hint=_CHECKPOINT_HINT,
    )


def _load_model(
    transformers: Any, model_ref: str, location: str, kwargs: dict[str, Any]
) -> tuple[Any, str]:
    """The retrieval model at ``location`` (in float32, eval mode) and its model_type."""
    import torch

    try:
        config = transformers.AutoConfig.from_pretrained(location, **kwargs)
    except Exception as exc:
        raise _load_error("configuration", model_ref, exc) from exc
    model_type = str(getattr(config, "model_type", ""))
    class_name = ARCHITECTURES.get(model_type)
    cls = getattr(transformers, class_name, None) if class_name else None
    if cls is None:
        raise EncoderError(
            f"{model_ref!r} (model_type {model_type!r}) is not a ColPali or ColQwen2 retrieval "
            f"model that transformers {transformers.__version__} can load "
            f"(supported: {', '.join(ARCHITECTURES)})",
            hint=_CHECKPOINT_HINT,
        )
    dtype = {_dtype_kwarg(transformers): torch.float32}
    try:
        model = cls.from_pretrained(location, config=config, **dtype, **kwargs)
    except Exception as exc:
        raise _load_error("model", model_ref, exc) from exc
    model.eval()
    return model, model_type


class ColPaliEncoder(LateInteractionEncoder):
    """ColPali / ColQwen2: page images and text queries to token matrices (MaxSim).

    ``max_vectors`` bounds the rows stored per image; ``pooling="none"`` stores every token
    (about 16x the rows; for small collections or measuring what pooling costs).
    """

    backend = "colpali"
    image_batch_size = 4
    text_batch_size = 16

    def __init__(
        self,
        model_ref: str | None = None,
        *,
        max_vectors: int = MAX_VECTORS,
        pooling: str = "cluster",
    ) -> None:
        if not model_ref:
            raise ConfigError(f"the {self.backend!r} encoder needs a model", hint=_CHECKPOINT_HINT)
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown token pooling {pooling!r}", hint=f"valid: {POOLINGS}")
        if max_vectors < 1:
            raise ConfigError(f"max_vectors must be at least 1, got {max_vectors}")
        self.max_vectors = max_vectors
        self.pooling = pooling
        require("torch", hint=_HINT, feature="the ColPali encoder")
        transformers = require("transformers", hint=_HINT, feature="the ColPali encoder")
        resolved = hub.resolve_model(model_ref, backend=self.backend)
        kwargs: dict[str, Any] = {}
        if not resolved.local:
            kwargs["cache_dir"] = str(hub.hub_cache_dir())
            logger.info("downloading %s from the model hub", model_ref)
        with hub.offline_mode() if resolved.local else contextlib.nullcontext():
            self._model, self._model_type = _load_model(
                transformers, model_ref, resolved.location, kwargs
            )
            try:
                processor = transformers.AutoProcessor.from_pretrained(resolved.location, **kwargs)
            except Exception as exc:
                raise _load_error("processor", model_ref, exc) from exc
        self._processor = processor
        self._check_processor(model_ref)
        revision = resolved.revision or hub.hub_revision(model_ref) or "unknown"
        dim = self._probe_dim(model_ref)
        pooled = f"{pooling}{max_vectors}" if pooling == "cluster" else pooling
        self.info = EncoderInfo(
            spec=f"{self.backend}:{model_ref}",
            kind="late-interaction",
            revision=f"{revision}+{pooled}",
            dim=dim,
            metric="maxsim",
        )
        logger.debug("loaded %s (%s, dim %d, pooling %s)", model_ref, self._model_type, dim, pooled)

    @property
    def model_type(self) -> str:
        return self._model_type

    def _check_processor(self, model_ref: str) -> None:
        processor = self._processor
        tokenizer = getattr(processor, "tokenizer", None)
        usable = all(hasattr(processor, m) for m in ("process_images", "process_queries"))
        if tokenizer is None or getattr(processor, "image_processor", None) is None or not usable:
            raise EncoderError(
                f"the processor of {model_ref!r} ({type(processor).__name__}) is not a "
                "ColPali/ColQwen2 processor with a tokenizer and an image processor",
                hint=_CHECKPOINT_HINT,
            )
        if len(tokenizer) < MIN_VOCAB_SIZE:
            raise EncoderError(
                f"the tokenizer of {model_ref!r} has only {len(tokenizer)} tokens: its files "
                "are missing or broken",
                hint="make sure the model directory (or hub cache) holds the tokenizer files",
            )

    def _probe_dim(self, model_ref: str) -> int:
        """Embed one query and one blank page: both must work and agree in width."""
        from PIL import Image as PILImage

        try:
            query_dim = self._forward(self._processor.process_queries(["a page"]))[0].shape[1]
            image = PILImage.new("RGB", (64, 64), "white")
            image_dim = self._forward(self._processor.process_images([image]))[0].shape[1]
        except PolyseekError:
            raise
        except Exception as exc:
            raise EncoderError(
                f"{model_ref!r} loaded but fails on a test input: {type(exc).__name__}: {exc}"
            ) from exc
        if query_dim != image_dim:
            raise EncoderError(
                f"{model_ref!r} embeds queries in {query_dim} and pages in {image_dim} dimensions"
            )
        return int(query_dim)

    # ------------------------------------------------------------------ embedding
    def embed_query_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        batch = as_texts(texts)
        # Sorted by length so each batch pads little; results in input order.
        order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
        out: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(batch)
        for start in range(0, len(order), self.text_batch_size):
            idx = order[start : start + self.text_batch_size]
            inputs = self._processor.process_queries([batch[i] for i in idx])
            for i, tokens in zip(idx, self._forward(inputs), strict=True):
                out[i] = tokens
        return out

    def embed_image_tokens(
        self, images: Sequence[Image], *, pooled: bool = True
    ) -> list[np.ndarray]:
        rgb = as_rgb_images(images)
        out: list[np.ndarray] = []
        for start in range(0, len(rgb), self.image_batch_size):
            inputs = self._processor.process_images(rgb[start : start + self.image_batch_size])
            out.extend(self._forward(inputs))
        if pooled and self.pooling == "cluster":
            out = [cluster_tokens(tokens, self.max_vectors) for tokens in out]
        return out

    def _forward(self, inputs: Any) -> list[np.ndarray]:
        """Token vectors of one processed batch: the attended positions of each row."""
        import torch

        feed = {k: v for k, v in inputs.items() if k != "labels"}
        with torch.inference_mode():
            embeddings = self._model(**feed).embeddings
        mask = inputs["attention_mask"].bool()
        rows = embeddings.float().cpu()
        return [l2_normalize(rows[i][mask[i]].numpy()) for i in range(rows.shape[0])]


__all__ = ["MAX_VECTORS", "POOLINGS", "ColPaliEncoder", "cluster_tokens"]
