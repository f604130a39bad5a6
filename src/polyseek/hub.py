"""Where model weights come from: a local path, the local hub cache, or (when reachable) the hub.

Every backend resolves its ``model_ref`` here, so all of them behave the same way offline:

* an existing local directory or file is used as it is;
* a hub name (``org/name``) is served from the local Hugging Face cache when it is there;
* otherwise it is downloaded, but only after checking that downloading can work: with
  ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) set, or with the hub unreachable, the
  load fails at once with an :class:`~polyseek.errors.EncoderError` that names the model and
  says how to get it, instead of hanging for about a minute inside ``from_pretrained``.

It also computes the ``revision`` fingerprint recorded in :class:`~polyseek.encoders.EncoderInfo`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from polyseek.errors import EncoderError

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
REACHABILITY_TIMEOUT_S = 3.0
_REACHABILITY_TTL_S = 60.0

# Small files that define a model; hashed whole. Anything else that is large (weights) is
# fingerprinted by size plus its first and last MiB, which is cheap even for GB files.
_CONFIG_SUFFIXES = frozenset({".json", ".txt", ".model", ".yaml", ".yml", ".py", ".tiktoken"})
_WEIGHT_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".npz", ".npy", ".h5", ".msgpack"}
)
_EDGE_BYTES = 1 << 20
_SKIP_DIRS = frozenset({".git", ".cache", "__pycache__", ".locks"})
_SKIP_FILES = frozenset({"README.md", "LICENSE", "LICENSE.txt"})


@dataclass(frozen=True)
class ResolvedModel:
    """Where to load a model from.

    ``location`` is a local path (a directory given by the user or a cached hub snapshot)
    when ``local`` is true, else the hub name to download. ``revision`` is known for local
    models; for downloads call :func:`hub_revision` once the download is done.
    """

    ref: str
    location: str
    local: bool
    revision: str | None
    hub_name: str | None = None  # set for hub names (cached or not)


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def is_offline() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``).

    Read from the environment at call time (huggingface_hub reads it once, at import).
    """
    if any(_is_true(os.environ.get(var)) for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip() or DEFAULT_ENDPOINT


def hub_cache_dir() -> Path:
    """The hub cache directory, following ``HF_HUB_CACHE`` / ``HF_HOME`` at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.path.expandvars(os.environ["HF_HUB_CACHE"])).expanduser()
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.path.expandvars(os.environ["HUGGINGFACE_HUB_CACHE"])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


_reachability: dict[str, tuple[float, str | None]] = {}
_reachability_lock = threading.Lock()


def forget_reachability() -> None:
    """Drop the remembered reachability answers (after the network or endpoint changed)."""
    with _reachability_lock:
        _reachability.clear()


def hub_unreachable_reason(timeout: float = REACHABILITY_TIMEOUT_S) -> str | None:
    """None when the hub endpoint (``HF_ENDPOINT``) accepts a TCP connection, else why not."""
    return unreachable_reason(hub_endpoint(), timeout=timeout)


def unreachable_reason(url: str, *, timeout: float = REACHABILITY_TIMEOUT_S) -> str | None:
    """None when a TCP connection to the host of ``url`` can be opened, else why not.

    Bounded by ``timeout`` seconds in total, name resolution included; the answer is
    remembered for a minute so that loading several models checks only once.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return f"{url!r} is not a URL"
    port = parts.port or (80 if parts.scheme == "http" else 443)
    key = f"{host}:{port}"
    now = time.monotonic()
    with _reachability_lock:
        cached = _reachability.get(key)
        if cached is not None and now - cached[0] < _REACHABILITY_TTL_S:
            return cached[1]

    result: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as exc:
            result.append(f"cannot connect to {key} ({exc})")

    # getaddrinfo ignores socket timeouts, so probe in a thread and stop waiting in time.
    thread = threading.Thread(target=probe, name="polyseek-net-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    reason = result[0] if result else f"no answer from {key} within {timeout:g} s"
    with _reachability_lock:
        _reachability[key] = (time.monotonic(), reason)
    if reason:
        logger.info("%s unreachable: %s", key, reason)
    return reason


def _looks_like_path(ref: str) -> bool:
    return (
        ref.startswith(("/", "./", "../", "~", "\\"))
        or (len(ref) > 2 and ref[1] == ":" and ref[2] in "/\\")  # C:\...
        or ref.count("/") > 1
    )


def local_path(ref: str) -> Path | None:
    """The existing local file or directory ``ref`` names, or None."""
    path = Path(ref).expanduser()
    return path if path.exists() else None


def _snapshot_dir(repo_id: str, revision: str = "main") -> Path | None:
    repo_dir = hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    if not repo_dir.is_dir():
        return None
    ref_file = repo_dir / "refs" / revision
    commit = ref_file.read_text().strip() if ref_file.is_file() else revision
    snapshot = repo_dir / "snapshots" / commit
    return snapshot if snapshot.is_dir() and any(snapshot.iterdir()) else None


def cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot directory of hub model ``repo_id`` (its ``main``), or None."""
    return _snapshot_dir(repo_id)


def cached_file(repo_id: str, filename: str) -> Path | None:
    """A file of a hub repo from the local cache, or None when it is not cached."""
    snapshot = _snapshot_dir(repo_id)
    if snapshot is None:
        return None
    path = snapshot / filename
    return path if path.is_file() else None


def hub_revision(repo_id: str) -> str | None:
    """The commit hash of the cached snapshot of ``repo_id``."""
    snapshot = _snapshot_dir(repo_id)
    return f"{repo_id}@{snapshot.name}" if snapshot is not None else None


def not_available_error(name: str, reason: str, *, backend: str | None = None) -> EncoderError:
    """The error raised when ``name`` is neither on disk nor in the cache, nor downloadable."""
    spec = f"{backend}:/path/to/model" if backend else "a local directory"
    return EncoderError(
        f"model {name!r} is not available locally and cannot be downloaded: {reason}",
        hint=(
            f"on a machine with network access run `huggingface-cli download {name}` (or "
            f"`hf download {name}`) and copy its hub cache to {hub_cache_dir()} here, or save "
            f"the model to a directory and pass its path ({spec})"
        ),
    )


def ensure_downloadable(name: str, *, backend: str | None = None, url: str | None = None) -> None:
    """Raise :class:`EncoderError` unless downloading ``name`` can work now.

    ``url`` is where it would come from; the hub (``HF_ENDPOINT``) by default.
    """
    source = url or hub_endpoint()
    if is_offline():
        raise not_available_error(
            name,
            "it is not in the local cache and offline mode is on "
            "(HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE)",
            backend=backend,
        )
    reason = unreachable_reason(source)
    if reason is not None:
        raise not_available_error(
            name,
            f"it is not in the local cache and {source} is unreachable: {reason}",
            backend=backend,
        )


def resolve_model(model_ref: str, *, backend: str | None = None) -> ResolvedModel:
    """Find ``model_ref``: a local path, a cached hub snapshot, or a hub name to download.

    Raises :class:`EncoderError` at once when a download would be needed but cannot work.
    """
    ref = model_ref.strip()
    if not ref:
        raise EncoderError("empty model reference", hint="give a hub name or a local path")
    path = local_path(ref)
    if path is not None:
        return ResolvedModel(ref, str(path), True, fingerprint(path))
    if _looks_like_path(ref):
        raise EncoderError(
            f"model path {ref!r} does not exist",
            hint="check the path; hub names look like 'org/name'",
        )
    snapshot = cached_snapshot(ref)
    if snapshot is not None:
        logger.debug("using cached snapshot %s for %s", snapshot, ref)
        return ResolvedModel(ref, str(snapshot), True, f"{ref}@{snapshot.name}", hub_name=ref)
    ensure_downloadable(ref, backend=backend)
    return ResolvedModel(ref, ref, False, None, hub_name=ref)


@contextlib.contextmanager
def offline_mode() -> Iterator[None]:
    """Make the Hugging Face libraries stay off the network inside this block.

    Used while loading models that are already on disk, so that a third-party loader that
    would still ask the hub for updates (and hang without network) uses what is there.
    huggingface_hub reads ``HF_HUB_OFFLINE`` once at import, so its constant is set too.
    Not meant for concurrent use with other threads talking to the hub.
    """
    old_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = None
    old_const = False
    try:
        from huggingface_hub import constants as _constants

        constants = _constants
        old_const = bool(getattr(constants, "HF_HUB_OFFLINE", False))
        setattr(constants, "HF_HUB_OFFLINE", True)  # noqa: B010 - read at call time by the hub
    except ImportError:  # pragma: no cover
        pass
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env
        if constants is not None:
            setattr(constants, "HF_HUB_OFFLINE", old_const)  # noqa: B010


ModelLoadCallback = Callable[[str], None]
"""Called with a model's name just before polyseek starts loading it."""

_load_listener: ContextVar[ModelLoadCallback | None] = ContextVar(
    "polyseek_model_loads", default=None
)


@contextlib.contextmanager
def report_model_loads(callback: ModelLoadCallback) -> Iterator[None]:
    """Tell ``callback`` the name of every model loaded in this context (thread), so a
    progress display can say "loading model minilm" instead of sitting still."""
    token = _load_listener.set(callback)
    try:
        yield
    finally:
        _load_listener.reset(token)


@contextlib.contextmanager
def loading_model(name: str) -> Iterator[None]:
    """Wrap the loading of model ``name``: announced to :func:`report_model_loads`'s
    callback, and quiet (:func:`quiet_loading`)."""
    callback = _load_listener.get()
    if callback is not None:
        callback(name)
    with quiet_loading():
        yield


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: tuple[bool, str | None, tuple[bool, int] | None] = (False, None, None)


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Keep the Hugging Face libraries' chatter off stderr while polyseek loads a model.

    transformers draws a "Loading weights" bar for every model it loads, huggingface_hub
    one per file it fetches, and transformers logs notes such as "requires torchvision;
    falling back to the PIL image processor" that mean nothing to a polyseek user. Inside
    this block those bars are off and transformers logs errors only; when the last block
    (of any thread) ends the settings are put back, so an application's own use of these
    libraries is unchanged. transformers is not imported here (the ONNX paths load without
    it): imported inside the block it starts quiet (it copies huggingface_hub's bar setting
    and reads ``TRANSFORMERS_VERBOSITY`` at import) and gets its defaults back on exit.
    """
    global _quiet_depth, _quiet_saved
    with _quiet_lock:
        _quiet_depth += 1
        if _quiet_depth == 1:
            _quiet_saved = _silence()
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                _restore(*_quiet_saved)


def _silence() -> tuple[bool, str | None, tuple[bool, int] | None]:
    """Turn the bars and notes off; return what to put back."""
    import sys

    from huggingface_hub import utils as hub_utils

    hub_was_off = hub_utils.are_progress_bars_disabled()
    verbosity_env = os.environ.get("TRANSFORMERS_VERBOSITY")
    tf_logging = sys.modules.get("transformers.utils.logging")
    tf_state = None
    if tf_logging is not None:
        tf_state = (tf_logging.is_progress_bar_enabled(), tf_logging.get_verbosity())
        tf_logging.disable_progress_bar()
        tf_logging.set_verbosity_error()
    if not hub_was_off:
        hub_utils.disable_progress_bars()
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    return hub_was_off, verbosity_env, tf_state


def _restore(hub_was_off: bool, verbosity_env: str | None, tf: tuple[bool, int] | None) -> None:
    import sys

    from huggingface_hub import utils as hub_utils

    if not hub_was_off:
        hub_utils.enable_progress_bars()
    if verbosity_env is None:
        os.environ.pop("TRANSFORMERS_VERBOSITY", None)
    else:
        os.environ["TRANSFORMERS_VERBOSITY"] = verbosity_env
    tf_logging = sys.modules.get("transformers.utils.logging")
    if tf_logging is None:
        return
    if tf is None:  # imported inside the block: its defaults
        levels: dict[str, int] = getattr(tf_logging, "log_levels", {})
        tf = (not hub_was_off, levels.get(verbosity_env or "", logging.WARNING))
    (tf_logging.enable_progress_bar if tf[0] else tf_logging.disable_progress_bar)()
    tf_logging.set_verbosity(tf[1])


def _file_digest(path: Path, size: int, whole: bool) -> bytes:
    h = hashlib.sha1()
    with path.open("rb") as f:
        if whole or size <= 2 * _EDGE_BYTES:
            h.update(f.read())
        else:
            h.update(f.read(_EDGE_BYTES))
            f.seek(size - _EDGE_BYTES)
            h.update(f.read(_EDGE_BYTES))
    return h.digest()


def fingerprint(path: Path | str) -> str:
    """A cheap content fingerprint of a model file or directory: ``sha1:<16 hex>``.

    Config-like files are hashed whole; weight files by size plus their first and last MiB,
    so fingerprinting a multi-GB checkpoint reads 2 MiB. File names are part of the hash.
    """
    root = Path(path)
    h = hashlib.sha1()
    if root.is_file():
        files = [root]
        base = root.parent
    else:
        base = root
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and not p.name.startswith(".")
            and p.name not in _SKIP_FILES
            and not any(part in _SKIP_DIRS for part in p.relative_to(root).parts)
        )
    for file in files:
        rel = file.relative_to(base).as_posix()
        size = file.stat().st_size
        suffix = file.suffix.lower()
        whole = suffix in _CONFIG_SUFFIXES and suffix not in _WEIGHT_SUFFIXES
        h.update(f"{rel}\x00{size}\x00".encode())
        h.update(_file_digest(file, size, whole))
    return "sha1:" + h.hexdigest()[:16]
