"""Encoders: turn texts and images into vectors. One module per backend, loaded by spec.

A spec is ``backend`` or ``backend:model_ref`` (split on the first colon)::

    minilm                                   # default text encoder, offline (PyPI package)
    st:/models/bge-small | st:BAAI/bge-small-en-v1.5
    clip:openai/clip-vit-base-patch32 | siglip:/models/siglip | hf:/models/any-two-tower
    open_clip:ViT-B-32/laion2b_s34b_b79k     # optional extra: pip install 'polyseek[open-clip]'
    colpali:vidore/colpali-v1.3-hf | colpali:vidore/colqwen2-v1.0-hf | colpali:/models/x
                                             # page images as token matrices (late interaction)
    mypackage.encoders.MyEncoder:my-model    # dotted path to an Encoder subclass

Backends are imported when first used, so ``import polyseek.encoders`` stays light (no
torch). Add your own with ``@ENCODERS.register("name")`` on an :class:`Encoder` subclass
whose constructor takes ``model_ref: str | None``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from polyseek.encoders.base import Encoder, EncoderInfo, EncoderKind, LateInteractionEncoder
from polyseek.errors import ConfigError
from polyseek.hub import loading_model
from polyseek.registry import Registry

logger = logging.getLogger(__name__)

EncoderFactory = Callable[[str | None], Encoder]
"""What the registry holds: an Encoder subclass, or any callable ``(model_ref) -> Encoder``."""

ENCODERS: Registry[EncoderFactory] = Registry("encoder")

DEFAULT_TEXT_ENCODER = "minilm"


def set_compute_threads(threads: int) -> None:
    """Let encoders of this process use ``threads`` CPU threads (ONNX Runtime sessions made
    from now on, and PyTorch). For several model processes on one machine, such as Ray
    embedding actors: each runtime's default of one thread per core oversubscribes it."""
    from polyseek.encoders._onnx import THREADS_ENV  # (numpy only: import stays light)

    if threads < 1:
        raise ConfigError(f"compute threads must be >= 1, got {threads}")
    os.environ[THREADS_ENV] = str(threads)  # read by encoders._onnx.compute_threads
    torch = sys.modules.get("torch")  # PyTorch reads its own setting; never import it here
    if torch is not None:
        torch.set_num_threads(threads)


ENCODERS.register_lazy("minilm", "polyseek.encoders.minilm:MiniLMEncoder")
ENCODERS.register_lazy(
    ("st", "sentence-transformers"), "polyseek.encoders.minilm:SentenceTransformerEncoder"
)
ENCODERS.register_lazy("clip", "polyseek.encoders.transformers_clip:TransformersImageTextEncoder")
ENCODERS.register_lazy("siglip", "polyseek.encoders.transformers_clip:SiglipEncoder")
ENCODERS.register_lazy("hf", "polyseek.encoders.transformers_clip:HfImageTextEncoder")
ENCODERS.register_lazy(("open_clip", "open-clip"), "polyseek.encoders.open_clip:OpenClipEncoder")
ENCODERS.register_lazy("clap", "polyseek.encoders.clap:ClapEncoder")
ENCODERS.register_lazy("colpali", "polyseek.encoders.colpali:ColPaliEncoder")

# What each built-in backend imports when loaded (checked without importing), and how to
# get it; names not listed need only polyseek's own dependencies.
_REQUIRES: dict[str, tuple[tuple[str, ...], str]] = {
    "minilm": (("onnxruntime", "tokenizers"), "pip install onnxruntime tokenizers"),
    "st": (("sentence_transformers",), "pip install sentence-transformers"),
    "clip": (("torch", "transformers"), "pip install transformers torch"),
    "siglip": (("torch", "transformers"), "pip install transformers torch"),
    "hf": (("torch", "transformers"), "pip install transformers torch"),
    "open_clip": (("open_clip",), "pip install 'polyseek[open-clip]'"),
    "clap": (("torch", "transformers"), "pip install transformers torch"),
    "colpali": (("torch", "transformers"), "pip install transformers torch"),
}
# Names with their own entry that are the same backend as another (a label only).
_SAME_BACKEND = {"siglip": "clip", "hf": "clip"}


@dataclass(frozen=True)
class BackendInfo:
    """One name ``--encoder`` accepts: whether it is an alias, and what it lacks."""

    name: str
    alias_of: str | None = None
    missing: tuple[str, ...] = ()  # Python packages not installed
    install_hint: str | None = None

    @property
    def installed(self) -> bool:
        return not self.missing


def encoder_backends() -> list[BackendInfo]:
    """The registered encoder names, marking aliases and backends whose packages are missing."""
    aliases = {**_SAME_BACKEND, **ENCODERS.aliases()}
    rows = []
    for name in ENCODERS.names():
        main = aliases.get(name)
        modules, hint = _REQUIRES.get(main or name, ((), None))
        missing = tuple(m for m in modules if importlib.util.find_spec(m) is None)
        rows.append(BackendInfo(name, main, missing, hint if missing else None))
    return rows


def parse_encoder_spec(spec: str) -> tuple[str, str | None]:
    """Split ``backend[:model_ref]`` on the first colon: ``("clip", "/models/x")``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(
            f"empty encoder spec {spec!r}",
            hint=f"e.g. {DEFAULT_TEXT_ENCODER!r} or 'clip:/path/to/model'; "
            f"registered encoders: {', '.join(ENCODERS.names())}",
        )
    backend, _, model_ref = spec.strip().partition(":")
    return backend.strip(), (model_ref.strip() or None)


def _factory(backend: str) -> EncoderFactory:
    factory = ENCODERS.resolve(backend)
    if backend not in ENCODERS and not (isinstance(factory, type) and issubclass(factory, Encoder)):
        raise ConfigError(
            f"{backend!r} is not an Encoder subclass ({type(factory).__name__})",
            hint="a dotted path must name a subclass of polyseek.encoders.Encoder; "
            f"registered encoders: {', '.join(ENCODERS.names())}",
        )
    return factory


_cache: dict[str, Encoder] = {}
_cache_lock = threading.RLock()


def load_encoder(spec: str) -> Encoder:
    """Load (once per process and spec) the encoder that ``spec`` names.

    Raises :class:`ConfigError` for unknown backends (listing the registered ones),
    :class:`~polyseek.errors.MissingDependencyError` for a missing optional extra, and
    :class:`~polyseek.errors.EncoderError` for a model that cannot be found or loaded.
    """
    backend, model_ref = parse_encoder_spec(spec)
    key = f"{backend}:{model_ref}" if model_ref else backend
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        factory = _factory(backend)
        start = time.perf_counter()
        with loading_model(key):
            encoder = factory(model_ref)
        if not isinstance(encoder, Encoder):
            raise ConfigError(f"encoder {backend!r} returned {type(encoder).__name__}, not Encoder")
        info = getattr(encoder, "info", None)
        if not isinstance(info, EncoderInfo):
            raise ConfigError(f"encoder {backend!r} did not set its EncoderInfo (self.info)")
        if info.spec != key:
            # Aliases share a class: record the spec as the user wrote it (normalised).
            encoder.info = replace(info, spec=key)
        logger.info(
            "loaded encoder %s (%s, dim %d) in %.1f s",
            key,
            encoder.info.kind,
            encoder.info.dim,
            time.perf_counter() - start,
        )
        _cache[key] = encoder
        return encoder


def clear_encoder_cache() -> None:
    """Forget the encoders loaded so far (their memory is freed once unreferenced)."""
    with _cache_lock:
        _cache.clear()


__all__ = [
    "DEFAULT_TEXT_ENCODER",
    "BackendInfo",
    "ENCODERS",
    "Encoder",
    "EncoderFactory",
    "EncoderInfo",
    "EncoderKind",
    "LateInteractionEncoder",
    "clear_encoder_cache",
    "encoder_backends",
    "load_encoder",
    "parse_encoder_spec",
    "set_compute_threads",
]
