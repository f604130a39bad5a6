"""API keys, loopback-only no-auth mode, and serving only files inside the collection."""

from __future__ import annotations

import hmac
from pathlib import Path, PurePosixPath
from typing import Literal

from fastapi import Request

from polyseek.server.errors import (
    ApiError,
    Forbidden,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
)
from polyseek.server.settings import ServerSettings, is_loopback

Level = Literal["read", "admin"]
KEY_HEADER = "X-API-Key"
MEDIA_COOKIE = "polyseek_media"
SAFE_METHODS = ("GET", "HEAD")


def presented_key(request: Request) -> str | None:
    """The key sent with a request: the ``X-API-Key`` header or a bearer token.

    Keys never travel in cookies: cookies are not separated by port, so any other web
    app on the same host would receive them. ``<img>``/``<video>`` (which cannot send
    headers) use the media cookie instead (:func:`media_cookie`).
    """
    key = request.headers.get(KEY_HEADER)
    if key:
        return key
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


def _matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def media_cookie(token: str) -> str:
    """The ``Set-Cookie`` value of the media cookie: HttpOnly, SameSite=Strict, API only.

    Its value is a random token of this server run, not a key: it allows reads (GET and
    HEAD) and nothing else, so the admin key is never what a browser keeps.
    """
    return f"{MEDIA_COOKIE}={token}; Path=/api/; HttpOnly; SameSite=Strict; Max-Age=43200"


def check_access(
    settings: ServerSettings, request: Request, level: Level, media_token: str | None = None
) -> None:
    """Refuse a request without the key its route needs (read or admin).

    Requests that change anything must come from the server's own pages or from a
    non-browser client, in every auth mode (:func:`check_origin`).
    """
    if request.method not in SAFE_METHODS:
        check_origin(settings, request)
    if level == "admin" and request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            # A browser sends other types cross-site without asking first (no preflight).
            raise UnsupportedMediaType(
                f"this route takes a JSON body (Content-Type: application/json), not {kind!r}"
            )
    if settings.no_auth:
        check_loopback_host(request)
        return
    key = presented_key(request)
    if not key:
        cookie = request.cookies.get(MEDIA_COOKIE) if request.method in SAFE_METHODS else None
        if cookie and level == "read" and _matches(cookie, media_token):
            return
        raise Unauthorized(f"this route needs an API key in the {KEY_HEADER} header")
    if _matches(key, settings.admin_key):
        return
    if _matches(key, settings.api_key):
        if level == "admin":
            raise Forbidden("this route needs the admin key; the read-only key was given")
        return
    raise Unauthorized("wrong API key")


def own_origin(request: Request) -> str:
    """``scheme://host[:port]`` the request was addressed to (its Host header)."""
    return f"{request.url.scheme}://{request.headers.get('host', '')}".lower()


def check_origin(settings: ServerSettings, request: Request) -> None:
    """Refuse a cross-site request that could change state (CSRF), whatever the auth mode.

    A browser names the page that sent a request in ``Origin`` (and ``Sec-Fetch-Site``);
    only the server's own origin and the ``--cors-origin`` ones may send non-GET requests.
    Clients that are not browsers send neither header and are not affected.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        allowed = {own_origin(request), *(o.lower().rstrip("/") for o in settings.cors_origins)}
        if origin.lower().rstrip("/") not in allowed:
            raise Forbidden(
                f"cross-site request refused: a page of {origin} may not send "
                f"{request.method} requests to this server",
                hint="start the server with --cors-origin ORIGIN to allow a web app",
            )
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden(f"cross-site request refused (Sec-Fetch-Site: {site})")


def check_loopback_host(request: Request) -> None:
    """Without keys, answer only requests addressed to a loopback name (no DNS rebinding)."""
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    if not is_loopback(name):
        raise Forbidden(f"a server without keys answers only requests to localhost, not {host!r}")


class BadPath(ApiError):
    status = 400


def collection_file(root: Path, known: set[str], rel: str, store_dir: Path | None = None) -> Path:
    """The file ``rel`` of the collection, if it is an indexed source inside ``root``.

    Rejects absolute paths, ``..`` and ``.`` parts, backslashes, NUL bytes, files that
    are not indexed sources, and links that lead out of the collection, into the index
    (``store_dir``) or to a hidden file: what is served is what was indexed.
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
    inside = real.relative_to(root_real).parts
    if any(part.startswith(".") for part in inside) or (
        store_dir is not None and real.is_relative_to(store_dir.resolve())
    ):
        raise Forbidden(f"{rel}: leads to a hidden file or into the index")
    if not real.is_file():
        raise NotFound(f"{rel}: not a file")
    return real


def store_media_file(media_dir: Path, store_dir: Path, rel: str) -> Path:
    """A stored preview (``rel`` relative to the store), only inside the media folder."""
    real = (store_dir / rel).resolve()
    if not real.is_relative_to(media_dir.resolve()) or not real.is_file():
        raise NotFound("no preview stored for this item")
    return real
