"""Warm queries: ``polyseek search`` through a running ``polyseek serve`` of the same index.

While it runs, ``polyseek serve`` keeps ``<store>/serve.json`` (mode 0600): its URL, pid
and read key. ``polyseek search`` with a text query reads it first; when the server is
alive it asks ``GET /api/search`` with the same ranking options and builds the same
:class:`~polyseek.types.SearchResult` a local search gives, so one HTTP round trip
replaces loading the index and the models. Anything amiss (no file, a dead pid, no answer
to ``/api/health`` within 0.3 s, an HTTP error) means a local search, logged at debug
level. Opt out with ``--no-server`` or ``POLYSEEK_NO_SERVER=1``.

Only light modules are imported here: deciding costs no LanceDB and no model.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyseek.search.base import Ranking, field_default, ranking_fields
from polyseek.types import Hit, Locator, SearchResult

logger = logging.getLogger(__name__)

SERVER_FILE = "serve.json"
NO_SERVER_ENV = "POLYSEEK_NO_SERVER"
HEALTH_TIMEOUT_S = 0.3
SEARCH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ServerInfo:
    """A running server of one index, as its ``serve.json`` says."""

    url: str  # base URL to connect to, ending in "/"
    pid: int
    api_key: str | None = None


def server_disabled() -> bool:
    """Whether ``$POLYSEEK_NO_SERVER`` asks for local searches only."""
    return os.environ.get(NO_SERVER_ENV, "").strip().lower() not in ("", "0", "false", "no")


def connect_url(host: str, port: int) -> str:
    """The URL a local client reaches a server bound to ``host:port`` at."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def write_server_file(store: Path, info: ServerInfo) -> Path:
    """Write ``<store>/serve.json`` atomically, readable by its owner only."""
    path = store / SERVER_FILE
    tmp = store / f".{SERVER_FILE}.{info.pid}.tmp"
    data = json.dumps({"url": info.url, "pid": info.pid, "api_key": info.api_key})
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def remove_server_file(store: Path, pid: int) -> None:
    """Remove ``<store>/serve.json`` if it is the one server ``pid`` wrote."""
    path = store / SERVER_FILE
    info = read_server_file(store, check_pid=False)
    if info is not None and info.pid == pid:
        path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: not a server of ours
        return False
    return True


def read_server_file(store: Path, *, check_pid: bool = True) -> ServerInfo | None:
    """The server ``<store>/serve.json`` names: None when there is none, when the file is
    not this user's own (owner, mode) or malformed, or (``check_pid``) its pid is dead."""
    path = store / SERVER_FILE
    try:
        st = path.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            logger.debug("ignoring %s: not private to this user", path)
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        info = ServerInfo(url=str(data["url"]), pid=int(data["pid"]), api_key=data.get("api_key"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.debug("ignoring %s: %s", path, exc)
        return None
    if check_pid and not _pid_alive(info.pid):
        logger.debug("ignoring %s: pid %d is not running", path, info.pid)
        return None
    return info


def ranking_params(ranking: Ranking) -> list[tuple[str, str]] | None:
    """``ranking`` as ``GET /api/search`` parameters (defaults left out); None when an
    option cannot be said in a URL (a loaded reranker object, an option unset to None)."""
    params: list[tuple[str, str]] = []
    for f in ranking_fields():
        value = getattr(ranking, f.name)
        if value == field_default(f):
            continue
        if isinstance(value, bool):
            params.append((f.name, "true" if value else "false"))
        elif isinstance(value, int | float | str):
            params.append((f.name, str(value)))
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            params.extend((f.name, v) for v in value)
        else:
            return None
    return params


def _result(data: dict[str, Any], store: Path) -> SearchResult:
    hits = [
        Hit(
            rank=h["rank"],
            score=h["score"],
            item_id=h["item_id"],
            modality=h["modality"],
            source=h["source"],
            locator=Locator.from_dict(h["locator"]),
            snippet=h["snippet"],
            signals=h["signals"],
            contributions=h.get("contributions", {}),
            metadata=h["metadata"],
            preview=str(store / h["preview_path"]) if h.get("preview_path") else None,
        )
        for h in data["hits"]
    ]
    return SearchResult(query=data["query"], hits=hits)


def search_via_server(
    collection: Path | None,
    store: str | Path | None,
    text: str,
    *,
    top: int,
    modality: list[str] | None,
    ranking: Ranking,
) -> SearchResult | None:
    """The result of a text search from the server running for this index, or None (no
    live server, or it failed: the caller searches locally)."""
    from polyseek.errors import PolyseekError
    from polyseek.location import locate

    try:
        _, store_path = locate(collection, store)
    except PolyseekError:
        return None  # the local search says what is wrong
    info = read_server_file(store_path)
    if info is None:
        return None
    extra = ranking_params(ranking)
    if extra is None:
        logger.debug("ranking options not expressible over REST: searching locally")
        return None
    params: list[tuple[str, str | int | float | bool | None]] = [("q", text), ("top", top)]
    params += [("modality", m) for m in modality or []]
    params += extra

    import httpx

    headers = {"X-API-Key": info.api_key} if info.api_key else {}
    try:
        with httpx.Client(base_url=info.url, headers=headers, trust_env=False) as client:
            health = client.get("api/health", timeout=HEALTH_TIMEOUT_S)
            if health.status_code != 200 or health.json().get("status") != "ok":
                logger.debug("server at %s is not healthy: %s", info.url, health.status_code)
                return None
            timeout = httpx.Timeout(SEARCH_TIMEOUT_S, connect=HEALTH_TIMEOUT_S)
            response = client.get("api/search", params=params, timeout=timeout)
            response.raise_for_status()
            result = _result(response.json(), store_path)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        logger.debug("server at %s did not answer (%s): searching locally", info.url, exc)
        return None
    logger.debug("searched through the server at %s", info.url)
    return result


__all__ = [
    "NO_SERVER_ENV",
    "SERVER_FILE",
    "ServerInfo",
    "connect_url",
    "read_server_file",
    "remove_server_file",
    "search_via_server",
    "server_disabled",
    "write_server_file",
]
