"""API keys, loopback-only no-auth mode, and serving only files inside the collection."""

from __future__ import annotations

import hmac
from pathlib import Path, PurePosixPath
from typing import Literal

from fastapi import Request

from polyseek.server.errors import ApiError, Forbidden, NotFound, Unauthorized
from polyseek.server.settings import ServerSettings, is_loopback

Level = Literal["read", "admin"]
KEY_HEADER = "X-API-Key"
KEY_COOKIE = "polyseek_key"
SAFE_METHODS = ("GET", "HEAD")


def presented_key(request: Request) -> str | None:
    """The key sent with a request: the header, a bearer token, or (for reads) the cookie.

    The cookie lets ``<img>``/``<video>`` fetch media; it is not accepted for writes,
    so another site cannot make a browser change the index (CSRF).
    """
    key = request.headers.get(KEY_HEADER)
    if key:
        return key
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    if request.method in SAFE_METHODS:
        return request.cookies.get(KEY_COOKIE) or None
    return None


def _matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def check_access(settings: ServerSettings, request: Request, level: Level) -> None:
    if settings.no_auth:
        check_loopback_host(request)
        return
    key = presented_key(request)
    if not key:
        raise Unauthorized(f"this route needs an API key in the {KEY_HEADER} header")
    if _matches(key, settings.admin_key):
        return
    if _matches(key, settings.api_key):
        if level == "admin":
            raise Forbidden("this route needs the admin key; the read-only key was given")
        return
    raise Unauthorized("wrong API key")


def check_loopback_host(request: Request) -> None:
    """Without keys, answer only requests addressed to a loopback name (no DNS rebinding)."""
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    if not is_loopback(name):
        raise Forbidden(f"a server without keys answers only requests to localhost, not {host!r}")


class BadPath(ApiError):
    status = 400


def collection_file(root: Path, known: set[str], rel: str) -> Path:
    """The file ``rel`` of the collection, if it is an indexed source inside ``root``.

    Rejects absolute paths, ``..`` and ``.`` parts, backslashes, NUL bytes, files that
    are not indexed sources, and symlinks that lead out of the collection.
    """
    if not rel or "\x00" in rel or "\\" in rel or PurePosixPath(rel).is_absolute():
        raise BadPath(f"not a collection-relative path: {rel!r}")
    if any(part in ("", ".", "..") for part in rel.split("/")):
        raise BadPath(f"path parts '.', '..' and empty ones are not allowed: {rel!r}")
    if rel not in known:
        raise NotFound(f"{rel}: not a file of this collection")
    root_real = root.resolve()
    try:
        real = (root / rel).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise NotFound(f"{rel}: the file is gone from disk") from exc
    if not real.is_relative_to(root_real):
        raise Forbidden(f"{rel}: leads outside the collection")
    if not real.is_file():
        raise NotFound(f"{rel}: not a file")
    return real


def store_media_file(media_dir: Path, store_dir: Path, rel: str) -> Path:
    """A stored preview (``rel`` relative to the store), only inside the media folder."""
    real = (store_dir / rel).resolve()
    if not real.is_relative_to(media_dir.resolve()) or not real.is_file():
        raise NotFound("no preview stored for this item")
    return real
