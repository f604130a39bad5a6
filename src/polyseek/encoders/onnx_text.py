"""Sentence embeddings through ONNX Runtime without torch: the light text-query path.

A sentence-transformers model of the plain ``Transformer -> mean Pooling -> Normalize``
shape (all-MiniLM-L6-v2 is one) is run as sentence-transformers runs it, with three light
pieces instead of torch + transformers + sentence-transformers:

* ``tokenizers`` (Rust) reading the model's own ``tokenizer.json``, truncating to the
  model's ``max_seq_length`` (256 for MiniLM; the file itself says 128) and padding each
  batch to its longest text, as ``SentenceTransformer.encode`` does;
* ``onnxruntime`` running the transformer, exported once from the PyTorch weights
  (:func:`export_transformer`, the only function here that imports torch);
* numpy for attention-mask mean pooling and L2 normalisation.

Importing this module and embedding with :class:`OnnxSentenceEncoder` imports neither
torch nor transformers nor sentence-transformers (a test checks ``sys.modules``).
Any model configuration this pipeline does not reproduce exactly (another pooling, a
prompt, a Dense layer) makes :func:`read_pipeline` return None, and the caller stays on
PyTorch.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from polyseek.encoders._onnx import export_module, make_session
from polyseek.encoders.base import l2_normalize
from polyseek.errors import EncoderError

logger = logging.getLogger(__name__)

BATCH_SIZE = 64
BATCH_TOKENS = 2048
"""Most padded tokens (rows x longest row) in one call of the model. Long texts in big
batches run slower per token (the activations of 64 x 256 tokens spill out of the CPU
caches): over the 185 passages of 40 Octave-manual pages (MiniLM, two threads, medians
of 4 interleaved runs) batches of 64 rows took 1.26x the CPU time of batches of at most
2,048 tokens (1,024: the same), while 40 whole pages (256 tokens each) took 0.95-1.02x
either way."""
MODEL_FILE = "model.onnx"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_MODULE_TYPES = ("Transformer", "Pooling", "Normalize")


@dataclass(frozen=True)
class Pipeline:
    """What :class:`OnnxSentenceEncoder` needs to know of a sentence-transformers folder."""

    model_dir: Path
    max_seq_length: int
    dim: int
    do_lower_case: bool


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_pipeline(model_dir: Path) -> Pipeline | None:
    """The pipeline of ``model_dir`` when ONNX can reproduce it exactly, else None (logged)."""
    try:
        return _read_pipeline(model_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.info("%s stays on PyTorch: cannot read its configuration (%s)", model_dir, exc)
        return None


def _read_pipeline(model_dir: Path) -> Pipeline | None:
    def unsupported(why: str) -> Pipeline | None:
        logger.info("%s stays on PyTorch: %s", model_dir, why)
        return None

    modules = _json(model_dir / "modules.json")
    kinds = tuple(str(m["type"]).rpartition(".")[2] for m in modules)
    if kinds != _MODULE_TYPES:
        return unsupported(f"modules {kinds}, not {_MODULE_TYPES}")
    pooling_dir = next(m["path"] for m in modules if str(m["type"]).endswith("Pooling"))
    pooling = _json(model_dir / pooling_dir / "config.json")
    other_modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if other_modes != ["pooling_mode_mean_tokens"]:
        return unsupported(f"pooling {other_modes}, not mean")
    st_config_path = model_dir / "config_sentence_transformers.json"
    st_config = _json(st_config_path) if st_config_path.is_file() else {}
    if st_config.get("prompts") or st_config.get("default_prompt_name"):
        return unsupported("it has prompts")
    bert_config = _json(model_dir / "sentence_bert_config.json")
    max_seq_length = int(bert_config.get("max_seq_length") or 512)
    positions = _json(model_dir / "config.json").get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0:
        max_seq_length = min(max_seq_length, positions)
    if not (model_dir / "tokenizer.json").is_file():
        return unsupported("it has no tokenizer.json")
    return Pipeline(
        model_dir=model_dir,
        max_seq_length=max_seq_length,
        dim=int(pooling["word_embedding_dimension"]),
        do_lower_case=bool(bert_config.get("do_lower_case", False)),
    )


def load_tokenizer(pipeline: Pipeline) -> tuple[Any, int]:
    """The model's fast tokenizer truncating at ``max_seq_length``, and its padding id.

    Padding is done here in numpy (to each batch's longest text, as sentence-transformers
    pads), so the tokenizer is never reconfigured after loading and threads can share it.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(pipeline.model_dir / "tokenizer.json"))
    padding = tokenizer.padding or {}
    pad_id = padding.get("pad_id")
    if pad_id is None:
        pad_id = tokenizer.token_to_id(padding.get("pad_token") or "[PAD]") or 0
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=pipeline.max_seq_length, strategy="longest_first")
    return tokenizer, int(pad_id)


class OnnxSentenceEncoder:
    """Embeds texts like ``SentenceTransformer.encode(normalize_embeddings=True)``, on ORT."""

    def __init__(self, pipeline: Pipeline, model: bytes | Path, ort: ModuleType) -> None:
        self.pipeline = pipeline
        self._tokenizer, self._pad_id = load_tokenizer(pipeline)
        self._session = make_session(ort, model)
        names = [i.name for i in self._session.get_inputs()]
        unknown = set(names) - set(_INPUTS)
        if unknown:
            raise EncoderError(f"the ONNX text model takes unexpected inputs {sorted(unknown)}")
        self._input_names = names
        width = self._session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != pipeline.dim:
            raise EncoderError(
                f"the ONNX text model has width {width}, its pooling config {pipeline.dim}"
            )

    @property
    def dim(self) -> int:
        return self.pipeline.dim

    def embed(
        self, texts: Sequence[str], batch_size: int = BATCH_SIZE, batch_tokens: int = BATCH_TOKENS
    ) -> np.ndarray:
        """Normalised float32 rows, in input order (batches sorted by token count, each of
        at most ``batch_size`` rows and, but for a single row, ``batch_tokens`` padded
        tokens)."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        batch = [t.lower() for t in texts] if self.pipeline.do_lower_case else list(texts)
        encodings = self._tokenizer.encode_batch(batch)
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(batch)), key=lambda i: lengths[i])
        out = np.empty((len(batch), self.dim), np.float32)
        for idx in token_batches(order, lengths, batch_size, batch_tokens):
            out[idx] = self._embed_batch([encodings[i] for i in idx])
        return l2_normalize(out)

    def _embed_batch(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        shape = (len(encodings), width)
        arrays = {
            "input_ids": np.full(shape, self._pad_id, dtype=np.int64),
            "attention_mask": np.zeros(shape, dtype=np.int64),
            "token_type_ids": np.zeros(shape, dtype=np.int64),
        }
        for row, e in enumerate(encodings):
            n = len(e.ids)
            arrays["input_ids"][row, :n] = e.ids
            arrays["attention_mask"][row, :n] = e.attention_mask
            arrays["token_type_ids"][row, :n] = e.type_ids
        tokens = self._session.run(None, {n: arrays[n] for n in self._input_names})[0]
        mask = arrays["attention_mask"][..., None].astype(np.float32)
        summed = (tokens * mask).sum(axis=1)
        return summed / np.clip(mask.sum(axis=1), 1e-9, None)  # type: ignore[no-any-return]


def token_batches(
    order: Sequence[int], lengths: Sequence[int], max_rows: int, max_tokens: int
) -> list[list[int]]:
    """Consecutive runs of ``order`` (indices sorted by ascending length) of at most
    ``max_rows`` rows whose padded size (rows x the last, longest, length) stays within
    ``max_tokens``; a row longer than ``max_tokens`` goes alone."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) >= max_rows or (len(current) + 1) * lengths[i] > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def export_transformer(st_model: Any, path: Path) -> None:
    """Export the transformer of a loaded ``SentenceTransformer`` (token embeddings out).

    Inputs ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the model takes
    them), dynamic batch and sequence axes; output ``token_embeddings``. A BERT model is
    traced with transformers' plain ("eager") attention, whose graph ONNX Runtime's
    transformer optimizer recognises and fuses (Attention, EmbedLayerNormalization,
    SkipLayerNormalization, BiasGelu): on MiniLM that measured about 15% less CPU per
    document and a third of the single-query latency of the unfused SDPA graph, at cosine
    0.9999999 to it. Other models, or an optimizer that fails, keep the plain export.
    """
    import torch

    transformer = st_model[0].auto_model
    config = transformer.config
    takes_types = getattr(config, "type_vocab_size", 0) > 0

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            kwargs = dict(zip(_INPUTS, inputs, strict=False))
            return self.model(**kwargs).last_hidden_state

    names = list(_INPUTS if takes_types else _INPUTS[:2])
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    example = (ids, (ids != 0).long(), torch.zeros_like(ids))[: len(names)]
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]}
    fuse = getattr(config, "model_type", "") == "bert"
    raw = path.with_name(path.stem + ".unfused.onnx") if fuse else path
    with _attention(transformer, "eager" if fuse else None):
        export_module(
            TokenEmbeddings(transformer),
            example,
            raw,
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
        )
    if fuse:
        try:
            _fuse_bert(raw, path, heads=config.num_attention_heads, hidden=config.hidden_size)
        except Exception as exc:  # the unfused graph is correct, only slower
            logger.info("keeping the unfused ONNX graph: the optimizer failed (%s)", exc)
            raw.replace(path)
        finally:
            raw.unlink(missing_ok=True)


@contextlib.contextmanager
def _attention(model: Any, implementation: str | None) -> Iterator[None]:
    """Switch ``model`` to an attention implementation for the export, then back."""
    setter = getattr(model, "set_attn_implementation", None)
    before = getattr(model.config, "_attn_implementation", None)
    if implementation is None or setter is None or before is None:
        yield
        return
    setter(implementation)
    try:
        yield
    finally:
        setter(before)


def _fuse_bert(source: Path, target: Path, *, heads: int, hidden: int) -> None:
    from onnxruntime.transformers import optimizer

    from polyseek.encoders._onnx import quiet_onnxruntime_logs

    with quiet_onnxruntime_logs():
        model = optimizer.optimize_model(
            str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
    fused = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    if not fused.get("Attention"):
        raise EncoderError(f"no attention was fused ({fused})")
    model.save_model_to_file(str(target))
    logger.info("fused the ONNX text graph: %s", fused)
