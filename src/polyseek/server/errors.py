"""The one place where exceptions become HTTP status codes and JSON error bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from polyseek.errors import (
    CollectionNotFoundError,
    ConfigError,
    DamagedIndexError,
    DiskFullError,
    EncoderError,
    EncoderMismatchError,
    PolyseekError,
    QueryError,
    StoreError,
)
from polyseek.rag.generators import GeneratorError

logger = logging.getLogger(__name__)


class ApiError(PolyseekError):
    """Errors raised by the REST layer itself."""

    status = 400


class NotFound(ApiError):
    status = 404


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class PayloadTooLarge(ApiError):
    status = 413


class Conflict(ApiError):
    status = 409


class RequestTimeout(ApiError):
    status = 408


class UnsupportedMediaType(ApiError):
    status = 415


class UnprocessableQuery(ApiError):
    """A request the schema refuses that FastAPI would let through (an unknown parameter)."""

    status = 422


# Most specific first: the first matching class decides.
STATUS: list[tuple[type[BaseException], int]] = [
    (CollectionNotFoundError, 404),
    (DamagedIndexError, 503),  # the index needs `polyseek repair` (the hint says so)
    (DiskFullError, 507),
    (StoreError, 409),  # the index is being written by another process
    (EncoderMismatchError, 409),
    (QueryError, 400),
    (ConfigError, 400),
    (GeneratorError, 502),
    (EncoderError, 500),
]


def status_of(exc: BaseException) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def error_body(status: int, message: str, hint: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"error": {"status": status, "message": message}}
    if hint:
        body["error"]["hint"] = hint  # type: ignore[index]
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PolyseekError)
    async def _polyseek(request: Request, exc: PolyseekError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        headers = {"WWW-Authenticate": "ApiKey"} if status == 401 else None
        return JSONResponse(error_body(status, exc.message, exc.hint), status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return JSONResponse(error_body(422, "invalid request: " + "; ".join(parts)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)), exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s crashed", request.method, request.url.path)
        return JSONResponse(error_body(500, f"internal error: {type(exc).__name__}"), 500)
