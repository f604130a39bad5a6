"""ONNX Runtime backends: export once into the user's cache, verify on every load, run.

Shared by the MiniLM text path (:mod:`polyseek.encoders.onnx_text`) and the image towers
of the transformers and open_clip encoders (:mod:`polyseek.encoders.onnx_image`).

**Switch.** ``POLYSEEK_ONNX`` (or an encoder's ``onnx=`` argument) is one of
:data:`ONNX_MODES`: ``auto`` (the default) uses ONNX Runtime wherever it was measured equal
to PyTorch and faster (MiniLM; image towers in int8), ``fp32`` runs image towers in fp32
instead of int8, ``off`` (also ``0``, ``false``, ``no``) keeps every encoder on PyTorch. Without
``onnxruntime`` installed everything runs on PyTorch, logged at info level.

**Cache.** Exports live in ``$POLYSEEK_CACHE/onnx`` (default ``~/.cache/polyseek/onnx``, or
``$XDG_CACHE_HOME/polyseek/onnx``), one directory per model and key: the key hashes
everything the exported graph depends on (the weights' revision/fingerprint, library
versions, the export format), so an upgraded package or model re-exports instead of reusing
a stale graph. A directory holds the ``.onnx`` files and ``manifest.json`` with each file's
size and SHA-256, which every load checks (about 50 ms for 90 MB): a truncated or corrupt
file is detected, logged and exported again.

**Atomic and concurrent.** An export is built in a private temporary directory next to the
final one and renamed into place in one step, so readers only ever see a complete export.
Two processes exporting at once both finish; the first rename wins and the loser reuses
the winner's files (a corrupt directory found at the final name is moved aside first).
Temporary directories of exports killed midway are swept once they are an hour old.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from polyseek.errors import ConfigError, EncoderError, MissingDependencyError

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

logger = logging.getLogger(__name__)

ONNX_ENV = "POLYSEEK_ONNX"
CACHE_ENV = "POLYSEEK_CACHE"
THREADS_ENV = "POLYSEEK_THREADS"
OnnxMode = Literal["auto", "fp32", "off"]
ONNX_MODES: tuple[str, ...] = ("auto", "fp32", "off")
_ALIASES = {
    "": "auto",
    "1": "auto",
    "on": "auto",
    "true": "auto",
    "yes": "auto",
    "0": "off",
    "false": "off",
    "no": "off",
}
MANIFEST = "manifest.json"
# Files whose hash was checked, by what their stat said then (see Export.verified_path).
VERIFIED = ".verified.json"
EXPORT_FORMAT = 2  # bump when the export code changes what it writes (2: fused BERT)
OPSET = 17
STALE_S = 3600.0  # an export's temporary directory untouched this long was abandoned
_ORT_HINT = "pip install onnxruntime"


def onnx_mode(explicit: str | None = None) -> OnnxMode:
    """The ONNX mode: ``explicit`` when given, else ``$POLYSEEK_ONNX``, else ``auto``."""
    raw = explicit if explicit is not None else os.environ.get(ONNX_ENV, "")
    value = _ALIASES.get(raw.strip().lower(), raw.strip().lower())
    if value not in ONNX_MODES:
        source = "onnx=" if explicit is not None else f"{ONNX_ENV}="
        raise ConfigError(
            f"unknown ONNX mode {source}{raw!r}",
            hint=f"valid: {', '.join(ONNX_MODES)} (0/false/no mean off, 1/true/yes mean auto)",
        )
    return value  # type: ignore[return-value]


def cache_root() -> Path:
    """``$POLYSEEK_CACHE``, else ``$XDG_CACHE_HOME/polyseek``, else ``~/.cache/polyseek``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.path.expandvars(os.environ[CACHE_ENV])).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "polyseek"


def import_onnxruntime(feature: str) -> ModuleType | None:
    """``onnxruntime``, or None (logged at info) when it cannot be imported."""
    try:
        import onnxruntime
    except ImportError as exc:
        logger.info("%s runs on PyTorch: onnxruntime is not available (%s)", feature, exc)
        return None
    return onnxruntime


def package_version(name: str) -> str:
    """The installed version of distribution ``name`` (no import), or ``none``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "none"


def cache_key(parts: Mapping[str, str]) -> str:
    """16 hex digits naming one export: a hash of ``parts`` and the export format."""
    text = json.dumps({**parts, "export_format": EXPORT_FORMAT, "opset": OPSET}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CorruptExportError(EncoderError):
    """A cached export is missing a file or its contents changed; it is exported again."""


@dataclass(frozen=True)
class Export:
    """A verified export read from the cache: its manifest and files' bytes on demand."""

    directory: Path
    manifest: dict[str, Any]

    def _entry(self, name: str) -> tuple[dict[str, Any], Path]:
        """File ``name``'s manifest entry (size, SHA-256) and path."""
        entry = self.manifest.get("files", {}).get(name)
        if entry is None:
            raise CorruptExportError(f"{self.directory} has no file {name!r} in its manifest")
        return entry, self.directory / name

    def read(self, name: str) -> bytes:
        """The bytes of file ``name``, checked against the manifest's size and SHA-256."""
        entry, path = self._entry(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CorruptExportError(f"cannot read {path}: {exc}") from exc
        if len(data) != entry["size"] or _sha256(data) != entry["sha256"]:
            raise CorruptExportError(
                f"{path} is corrupt ({len(data)} bytes, manifest says {entry['size']})"
            )
        return data

    def verified_path(self, name: str) -> Path:
        """The path of file ``name``, checked like :meth:`read` without reading it each time.

        The SHA-256 of a 90 MB model costs more than the session that maps it: a file is
        hashed once, and what ``stat`` said of it then (size, inode, mtime and ctime, which
        any write changes) is kept in :data:`VERIFIED`; while ``stat`` still says so, the
        check is one ``stat``.
        """
        entry, path = self._entry(name)
        try:
            st = path.stat()
        except OSError as exc:
            raise CorruptExportError(f"cannot read {path}: {exc}") from exc
        seen = [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, entry["sha256"]]
        stamps = self._stamps()
        if stamps.get(name) == seen:
            return path
        self.read(name)  # raises when the size or the hash differs
        stamps[name] = seen
        tmp = self.directory / f"{VERIFIED}.{uuid.uuid4().hex[:8]}"
        try:  # a read-only cache only costs the hash again next time
            tmp.write_text(json.dumps(stamps))
            os.replace(tmp, self.directory / VERIFIED)
        except OSError as exc:
            logger.debug("cannot record the check of %s: %s", path, exc)
            tmp.unlink(missing_ok=True)
        return path

    def _stamps(self) -> dict[str, Any]:
        try:
            stamps = json.loads((self.directory / VERIFIED).read_text())
        except (OSError, ValueError):
            return {}
        return stamps if isinstance(stamps, dict) else {}


class ExportCache:
    """One cache entry: ``<cache_root>/onnx/<name>-<key>/``."""

    def __init__(self, name: str, parts: Mapping[str, str]) -> None:
        self.name = name
        self.parts = dict(parts)
        self.key = cache_key(self.parts)
        self.base = cache_root() / "onnx"
        self.directory = self.base / f"{name}-{self.key}"

    def load(self) -> Export | None:
        """The export when its manifest is there and well-formed (files checked on read)."""
        manifest_path = self.directory / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            logger.warning("ignoring the unreadable ONNX manifest %s: %s", manifest_path, exc)
            return None
        if not isinstance(manifest, dict) or manifest.get("key") != self.key:
            logger.warning(
                "ignoring the ONNX manifest %s: it belongs to another key", manifest_path
            )
            return None
        return Export(self.directory, manifest)

    def create(self, build: Callable[[Path], Mapping[str, Any]]) -> Export:
        """Run ``build(tmpdir)`` (writes files, returns manifest extras) and publish it.

        ``build`` may raise to abort (nothing is published). Returns the published export,
        which is another process's when that one finished first with a sound export.
        """
        self.base.mkdir(parents=True, exist_ok=True)
        _sweep(self.base)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.name}-{self.key}.", dir=self.base))
        try:
            start = time.perf_counter()
            extras = dict(build(tmp))
            files = {}
            for path in sorted(p for p in tmp.iterdir() if p.is_file()):
                data = path.read_bytes()
                files[path.name] = {"size": len(data), "sha256": _sha256(data)}
            manifest = {
                "name": self.name,
                "key": self.key,
                "parts": self.parts,
                "export_format": EXPORT_FORMAT,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "seconds": round(time.perf_counter() - start, 2),
                "files": files,
                **extras,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
            _fsync_dir_files(tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache is the user's anyway
            self._publish(tmp)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        export = self.load()
        if export is None:  # pragma: no cover - someone removed it right after the rename
            raise EncoderError(f"the ONNX export {self.directory} vanished after it was written")
        return export

    def _publish(self, tmp: Path) -> None:
        for _ in range(3):
            try:
                os.rename(tmp, self.directory)
                logger.info("wrote ONNX export %s", self.directory)
                return
            except OSError:
                if not self.directory.exists():
                    raise
            # Something is there already: a sound export (another process won) or debris.
            existing = self.load()
            if existing is not None and _all_files_sound(existing):
                logger.debug("another process exported %s first; using its files", self.directory)
                return
            self.discard()
        raise EncoderError(f"cannot publish the ONNX export {self.directory}")

    def discard(self) -> None:
        """Move the entry aside (atomically) and delete it: the next load re-exports."""
        trash = self.base / f".trash-{self.name}-{self.key}-{uuid.uuid4().hex[:8]}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.directory, trash)
            shutil.rmtree(trash, ignore_errors=True)


def _sweep(base: Path, older_than_s: float = STALE_S) -> None:
    """Delete what exports killed midway left behind (hidden entries, untouched for long).

    Recent ones are left alone: they may be another process's export in progress.
    """
    now = time.time()
    for entry in base.iterdir():
        try:
            stale = entry.name.startswith(".") and now - entry.stat().st_mtime > older_than_s
        except FileNotFoundError:  # removed meanwhile by another process
            continue
        if stale:
            logger.info("removing %s, left by an interrupted ONNX export", entry)
            shutil.rmtree(entry, ignore_errors=True)


def _all_files_sound(export: Export) -> bool:
    try:
        for name in export.manifest.get("files", {}):
            export.read(name)
    except CorruptExportError:
        return False
    return True


def _fsync_dir_files(directory: Path) -> None:
    """Flush the files' data before the rename publishes them (a crash leaves no torn file)."""
    for path in directory.iterdir():
        with path.open("rb") as f:
            os.fsync(f.fileno())


def load_or_export(
    cache: ExportCache,
    build: Callable[[Path], Mapping[str, Any]],
    *,
    what: str,
    need: Callable[[Mapping[str, Any]], Sequence[str]],
) -> tuple[Export, dict[str, Path]]:
    """The export and the paths of the files ``need(manifest)`` names, each verified.

    A cached export whose needed files are missing or corrupt is discarded and exported
    again with ``build``; so is a missing one.
    """
    export = cache.load()
    if export is not None:
        try:
            return export, {name: export.verified_path(name) for name in need(export.manifest)}
        except CorruptExportError as exc:
            logger.warning(
                "the cached ONNX export of %s is unusable (%s): exporting it again",
                what,
                exc.message,
            )
            cache.discard()
    logger.info("exporting %s to ONNX (once) into %s", what, cache.directory)
    export = cache.create(build)
    return export, {name: export.verified_path(name) for name in need(export.manifest)}


def compute_threads() -> int | None:
    """Threads an encoder may use in this process: ``$POLYSEEK_THREADS`` (see
    :func:`polyseek.encoders.set_compute_threads`), or None for the runtime's default (one
    per core)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    try:
        threads = int(raw)
    except ValueError:
        raise ConfigError(
            f"{THREADS_ENV}={raw!r} is not a whole number", hint="e.g. POLYSEEK_THREADS=2"
        ) from None
    return threads if threads > 0 else None


def make_session(ort: ModuleType, model: bytes | Path) -> InferenceSession:
    """A CPU session over a model file (mapped, not read: faster) or in-memory bytes."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no per-node notices
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    threads = compute_threads()
    if threads:  # several model processes on one machine: one pool each, not one per core
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the tracer's and the exporter's warnings for the duration of one export."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def export_module(
    module: Any,
    example: tuple[Any, ...],
    path: Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """Trace ``module`` (a torch module) on ``example`` and write an ONNX graph to ``path``.

    Uses torch's TorchScript exporter (``dynamo=False``), which needs the ``onnx`` package
    but not ``onnxscript``; opset :data:`OPSET`.
    """
    import torch

    try:
        import onnx  # noqa: F401 - the exporter needs it; fail here with an install hint
    except ImportError as exc:
        raise MissingDependencyError(
            f"exporting to ONNX needs the Python package 'onnx' ({exc})", hint="pip install onnx"
        ) from exc
    module.eval()
    # With grad enabled, as exporters expect: under no_grad, torch.nn.MultiheadAttention
    # (open_clip's) takes its fused fast path, an operator ONNX cannot express.
    with _quiet_export(), torch.inference_mode(False), torch.enable_grad():
        torch.onnx.export(
            module,
            example,
            str(path),
            dynamo=False,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )


@contextlib.contextmanager
def quiet_onnxruntime_logs() -> Iterator[None]:
    """Drop what onnxruntime's Python tools (quantisation, transformer optimizer) log through
    the root logger: one line per tensor or fusion, and a warning advising pre-processing
    before quantisation, which measured no gain here."""
    root = logging.getLogger()

    def keep(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname or record.levelno >= logging.ERROR

    # logging.warning() would install a stderr handler on an unconfigured root logger.
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    root.addFilter(keep)
    # The transformer optimizer's modules are imported as top-level names (fusion_base, ...),
    # each with a logger of that name.
    loggers = [logging.getLogger("onnxruntime")] + [
        logging.getLogger(name)
        for name, module in list(sys.modules.items())
        if "onnxruntime" in str(getattr(module, "__file__", "") or "")
        and not name.startswith("onnxruntime")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        root.removeFilter(keep)
        if guard is not None:
            root.removeHandler(guard)


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights (activations quantised at run time).

    MatMul only: the patch-embedding convolution stays float32 (quantising it too measured
    no faster, and ConvInteger is slow on CPUs without VNNI).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_onnxruntime_logs():
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
            per_channel=False,
        )


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest row-wise cosine similarity between ``a`` and ``b`` (same shape)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)
    return float(cos.min()) if len(cos) else 1.0


def runtime_versions(*names: str) -> dict[str, str]:
    """``{name: version}`` for the distributions an export or its check depends on."""
    return {name: package_version(name) for name in names}


__all__ = [
    "CACHE_ENV",
    "ONNX_ENV",
    "ONNX_MODES",
    "CorruptExportError",
    "Export",
    "ExportCache",
    "OnnxMode",
    "cache_root",
    "export_module",
    "import_onnxruntime",
    "load_or_export",
    "compute_threads",
    "make_session",
    "min_cosine",
    "onnx_mode",
    "quantize_int8",
]
