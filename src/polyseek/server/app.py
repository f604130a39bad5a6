"""``create_app(engine, settings)``: the REST API and the web UI over one :class:`Engine`."""

# No `from __future__ import annotations`: FastAPI reads the route annotations, which
# refer to this module's closure variables (settings).
import asyncio
import io
import logging
import secrets
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polyseek.engine import Engine
from polyseek.errors import PolyseekError, QueryError
from polyseek.rag import Answer, ask, load_generator
from polyseek.search.base import Ranking
from polyseek.search.filters import all_of, under_folder
from polyseek.search.snippets import content_words
from polyseek.server import schemas as s
from polyseek.server.errors import (
    NotFound,
    PayloadTooLarge,
    UnprocessableQuery,
    install_error_handlers,
)
from polyseek.server.jobs import IndexJobs
from polyseek.server.labels import label_routes
from polyseek.server.lifecycle import lifecycle_routes
from polyseek.server.schemas import ErrorOut
from polyseek.server.security import (
    MEDIA_COOKIE,
    Level,
    check_access,
    collection_file,
    media_cookie,
    store_media_file,
)
from polyseek.server.settings import ServerSettings
from polyseek.types import Locator, SearchResult
from polyseek.types import item_id as item_id_of

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 408, 409, 413, 415, 422)
}


class _BodyLimit:
    """Reject request bodies over ``limit`` bytes with 413, declared or streamed, and
    bodies that stop arriving for ``timeout`` seconds (shorter than declared) with 408."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _send_413(send, self.limit)
            return
        seen = 0
        refused = False
        body_done = False

        async def limited() -> Message:
            # Past the limit: answer 413 at once and tell the app the client is gone.
            nonlocal seen, refused, body_done
            if refused:
                return {"type": "http.disconnect"}
            if body_done:  # e.g. a streamed file waiting for the client to leave
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:
                refused = True
                await _send_error(
                    send,
                    408,
                    f"the request body stopped arriving for "
                    f"{self.timeout:.0f} s (shorter than its Content-Length?)",
                )
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    await _send_413(send, self.limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:  # once the 413 is out, whatever the app answers is dropped
                await send(message)

        await self.app(scope, limited, guarded)


async def _send_413(send: Send, limit: int) -> None:
    await _send_error(send, 413, f"the request body is over {limit} bytes")


async def _send_error(send: Send, status: int, message: str, hint: str | None = None) -> None:
    import json

    from polyseek.server.errors import error_body

    body = json.dumps(error_body(status, message, hint)).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    if status == 401:
        headers.append((b"www-authenticate", b"ApiKey"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _AccessGuard:
    """Check a route's key (and the request's origin) before its body is read.

    FastAPI parses a JSON body before it runs a route's dependencies, so a malformed body
    was answered 422 to a client without a key. The guard finds the route a request is
    for, takes the level its access dependency declares, and checks it first.
    """

    def __init__(self, app: ASGIApp, api: FastAPI, levels: Any, check: Any) -> None:
        self.app = app
        self.api = api
        self.levels = levels  # () -> [(route, level)], filled once the routes exist
        self.check = check  # (request, level) -> None, raises an ApiError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            level = self._level(scope)
            if level is not None:
                try:
                    self.check(Request(scope), level)
                except PolyseekError as exc:
                    from polyseek.server.errors import status_of

                    await _send_error(send, status_of(exc), exc.message, exc.hint)
                    return
        await self.app(scope, receive, send)

    def _level(self, scope: Scope) -> Level | None:
        for route, level in self.levels():
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return level  # type: ignore[no-any-return]
        return None


def create_app(engine: Engine, settings: ServerSettings | None = None) -> FastAPI:
    """The API and web UI for ``engine``. Without ``settings``: loopback, no auth."""
    settings = settings or ServerSettings(no_auth=True)
    # /docs and /redoc load Swagger UI / ReDoc from files in the fastapi-offline package:
    # FastAPI's own pages fetch them from a CDN, which an offline machine cannot reach.
    app = FastAPIOffline(
        title="polyseek",
        summary="Search a multimodal collection by text or image, and ask it questions.",
        version="1",
        responses=ERRORS,
        dependencies=[_no_unknown_query()],
    )
    install_error_handlers(app)
    media_token = secrets.token_urlsafe(32)  # the media cookie of this run (not a key)

    def check(request: Request, level: Level) -> None:
        check_access(settings, request, level, media_token)

    levels: list[tuple[Any, Level]] = []
    _add_middleware(app, settings, levels, check)
    jobs = IndexJobs(engine)
    # Encoders (tokenizers) are not safe to share between threads: one search at a time.
    engine_lock = threading.Lock()
    generator = load_generator(settings.generator, base_url=settings.generator_base_url)
    app.state.engine, app.state.settings, app.state.jobs = engine, settings, jobs

    def access(level: Level) -> Any:
        def dependency(request: Request) -> None:
            check(request, level)

        return Depends(dependency)

    read, admin = access("read"), access("admin")
    ctx = _Context(engine, settings, jobs, engine_lock, generator, read, admin)
    routers = [
        routes(ctx)
        for routes in (_search_routes, _item_routes, _media_routes, _index_routes, _ask_routes)
    ]
    routers.append(label_routes(engine, read))
    routers.append(lifecycle_routes(engine, read, admin))  # polyseek.server.lifecycle
    for router in routers:
        app.include_router(router)

    @app.post("/api/session", response_model=s.SessionOut, dependencies=[read], tags=["misc"])
    def session() -> JSONResponse:
        """Set the media cookie the web UI's ``<img>``/``<video>`` need (HttpOnly, read only).

        The cookie holds a random token of this server run, never a key.
        """
        body = s.SessionOut(media_cookie=MEDIA_COOKIE).model_dump()
        return JSONResponse(body, headers={"Set-Cookie": media_cookie(media_token)})

    for route in [r for router in routers for r in router.routes] + list(app.routes):
        deps = getattr(route, "dependencies", [])
        if any(d is admin for d in deps):
            levels.append((route, "admin"))
        elif any(d is read for d in deps):
            levels.append((route, "read"))

    @app.get("/api/health", response_model=s.HealthOut, tags=["misc"])
    def health() -> s.HealthOut:
        """Liveness; says whether keys are required."""
        return s.HealthOut(status="ok", auth=not settings.no_auth)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def ui() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _add_middleware(
    app: FastAPI,
    settings: ServerSettings,
    levels: list[tuple[Any, Level]],
    check: Any,
) -> None:
    """Access levels per route (``levels`` is filled once the routes exist), the body
    limit, and CORS when origins are configured."""
    app.add_middleware(_AccessGuard, api=app, levels=lambda: levels, check=check)
    app.add_middleware(
        _BodyLimit, limit=settings.max_upload_bytes + 64 * 1024, timeout=settings.body_timeout_s
    )
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type", "Authorization", "Range"],
        )


@dataclass(frozen=True)
class _Context:
    """What the route groups share: the engine, settings, jobs, locks and access checks."""

    engine: Engine
    settings: ServerSettings
    jobs: IndexJobs
    engine_lock: threading.Lock  # encoders (tokenizers) are not thread-safe
    generator: Any
    read: Any  # Depends(...) for read-only routes
    admin: Any  # Depends(...) for routes that change the index


def _stored(engine: Engine, item_id: str) -> Any:
    item = engine.collection.item(item_id)
    if item is None:
        raise NotFound(f"no item {item_id!r} in the index")
    return item


def _search_routes(ctx: _Context) -> APIRouter:
    """Search by text, by an uploaded image, or by both, with every ranking option."""
    engine, settings, read = ctx.engine, ctx.settings, ctx.read
    engine_lock = ctx.engine_lock
    router = APIRouter()
    SearchParams, SearchForm = s.search_models(settings.max_top)  # noqa: N806 (classes)

    def run_search(text: str | None, image: Any, params: Any, image_weight: float) -> s.SearchOut:
        top, source = params.top, params.source
        ranking = _ranking(params, settings)
        if source:  # a path prefix: a filter inside the store, so `top` hits still come back
            where = all_of(under_folder(source), ranking.where)
            ranking = Ranking.from_options({"where": where}, ranking)
        with engine_lock:
            result = engine.search(
                text,
                image=image,
                top=top,
                modality=list(params.modality or []) or None,
                image_weight=image_weight,
                ranking=ranking,
            )
        return _search_out(result, source, top, engine.store.path)

    @router.get("/api/search", response_model=s.SearchOut, dependencies=[read], tags=["search"])
    def search_get(params: Annotated[SearchParams, Query()]) -> s.SearchOut:  # type: ignore[valid-type]
        """Search by text. Every ranking option is a query parameter (see /api/ranking)."""
        return run_search(params.q, None, params, 0.5)  # type: ignore[attr-defined]

    # The form carries a file: declare it multipart (FastAPI infers urlencoded for a model).
    multipart = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"$ref": "#/components/schemas/SearchForm"}}
            },
        }
    }

    @router.post(
        "/api/search",
        response_model=s.SearchOut,
        dependencies=[read],
        tags=["search"],
        openapi_extra=multipart,
    )
    def search_post(form: Annotated[SearchForm, Form()]) -> s.SearchOut:  # type: ignore[valid-type]
        """Search by text, by an uploaded image or audio/video clip, or by both (composed)."""
        image, clip = _upload(form.image), _upload(form.clip)  # type: ignore[attr-defined]
        text = form.text  # type: ignore[attr-defined]
        words = text if text and text.strip() else None
        weight = form.image_weight  # type: ignore[attr-defined]
        if image is not None and clip is not None:
            raise QueryError("give an image or a clip, not both")
        if clip is not None:
            with _saved_clip(clip, settings) as path:
                out = run_search(words, path, form, weight)
            out.query.pop("image", None)  # the temporary file's path: the client's name
            out.query["clip"] = clip.filename
            return out
        pil = _read_image(image, settings) if image is not None else None
        if pil is None and words is None:
            raise QueryError("give a text query, an image or clip, or both")
        return run_search(words, pil, form, weight)

    @router.get(
        "/api/ranking",
        response_model=list[s.RankingOptionOut],
        dependencies=[read],
        tags=["search"],
    )
    def ranking_options() -> list[s.RankingOptionOut]:
        """The ranking options every search accepts: name, type, default, help, bounds."""
        return s.ranking_options_out()

    return router


def _item_routes(ctx: _Context) -> APIRouter:
    """Item details and similar items."""
    engine, settings, read = ctx.engine, ctx.settings, ctx.read
    engine_lock = ctx.engine_lock
    router = APIRouter()

    @router.get(
        "/api/items/{item_id}", response_model=s.ItemOut, dependencies=[read], tags=["items"]
    )
    def item_details(item_id: str) -> s.ItemOut:
        """An item with its full text and where to fetch its preview and file."""
        item = _stored(engine, item_id)
        page_preview = None
        if item.locator.region is not None and item.locator.page is not None:
            page = engine.collection.item(item_id_of(item.source, Locator(page=item.locator.page)))
            if page is not None and page.preview:
                page_preview = s.preview_url(page.id)
        return s.ItemOut(
            item_id=item.id,
            modality=item.modality,
            source=item.source,
            locator=s.LocatorOut(**item.locator.to_dict()),
            locator_text=str(item.locator),
            text=item.text,
            metadata=item.metadata,
            preview_url=s.preview_url(item.id) if item.preview else None,
            file_url=s.file_url(item.source),
            page_preview_url=page_preview,
        )

    @router.get(
        "/api/items/{item_id}/similar",
        response_model=s.SearchOut,
        dependencies=[read],
        tags=["items"],
    )
    def more_like_this(
        item_id: str, top: Annotated[int, Query(ge=1, le=settings.max_top)] = 10
    ) -> s.SearchOut:
        """Items like this one: by its image when an image-text encoder exists, else its text."""
        item = _stored(engine, item_id)
        has_image_encoder = any(i.kind == "image-text" for i in engine.encoder_infos)
        image = engine.preview_file(item) if has_image_encoder else None
        text = None if image is not None else (item.text[:2000].strip() or None)
        if image is None and text is None:
            raise QueryError(f"item {item_id} has neither text nor an image to search with")
        with engine_lock:
            result = engine.search(text, image=image, top=top + 1)
        out = _search_out(result, None, top + 1, engine.store.path)
        hits = [h for h in out.hits if h.item_id != item_id][:top]
        for rank, h in enumerate(hits, 1):
            h.rank = rank
        return s.SearchOut(query={"similar_to": item_id, "top": top}, hits=hits)

    return router


def _media_routes(ctx: _Context) -> APIRouter:
    """Previews and original files (only files that belong to the collection)."""
    engine, read = ctx.engine, ctx.read
    router = APIRouter()

    @router.get(
        "/api/items/{item_id}/preview",
        response_class=FileResponse,
        dependencies=[read],
        tags=["items"],
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    def item_preview(item_id: str) -> FileResponse:
        """The stored thumbnail or page render of an item (JPEG)."""
        item = _stored(engine, item_id)
        if not item.preview:
            raise NotFound(f"item {item_id} has no preview")
        path = store_media_file(engine.store.media_dir, engine.store.path, item.preview)
        return FileResponse(path, media_type="image/jpeg", headers=_private_cache())

    @router.get(
        "/api/files/{path:path}",
        response_class=FileResponse,
        dependencies=[read],
        tags=["items"],
        responses={
            200: {"content": {"application/octet-stream": {}}},
            206: {"description": "Range"},
        },
    )
    def original_file(path: str) -> FileResponse:
        """An original source file; honours ``Range`` so players can seek."""
        known = {p for p, r in engine.store.sources().items() if r.status == "ok"}
        real = collection_file(engine.root, known, path, store_dir=engine.store.path)
        return FileResponse(real, headers=_private_cache(), content_disposition_type="inline")

    return router


def _index_routes(ctx: _Context) -> APIRouter:
    """Index status and runs; adding and removing sources."""
    engine, settings, read, admin = ctx.engine, ctx.settings, ctx.read, ctx.admin
    jobs = ctx.jobs
    router = APIRouter()

    @router.get("/api/status", response_model=s.StatusOut, dependencies=[read], tags=["index"])
    def status() -> s.StatusOut:
        """What is indexed, with which encoders, which files failed, and the index run."""
        st = engine.status()
        return s.StatusOut(
            root=st.root,
            encoders=st.encoders,
            sources=st.sources,
            failed=[s.FailedSource(path=p, reason=r) for p, r in st.failed],
            items=st.items,
            disk_bytes=st.disk_bytes,
            index=s.JobOut(**jobs.state()),
            generator=settings.generator,
        )

    @router.get("/api/index", response_model=s.JobOut, dependencies=[read], tags=["index"])
    def index_state() -> s.JobOut:
        """The current or last index run, with progress."""
        return s.JobOut(**jobs.state())

    @router.post(
        "/api/index", response_model=s.JobOut, status_code=202, dependencies=[admin], tags=["index"]
    )
    def start_index(body: s.IndexRequest) -> s.JobOut:
        """Start an index run in the background (409 if one is going).

        ``{"all": true}`` indexes the whole collection, ``{"paths": [...]}`` those files
        and folders only: a full run is never what an empty request means.
        """
        for p in body.paths or []:
            _check_inside(engine.root, p)
        return s.JobOut(**jobs.start(body.paths))

    @router.post(
        "/api/sources",
        response_model=s.JobOut,
        status_code=202,
        dependencies=[admin],
        tags=["index"],
    )
    def add_sources(body: s.SourcesRequest) -> s.JobOut:
        """Index these files or folders of the collection (in the background)."""
        for p in body.paths:
            _check_inside(engine.root, p)
        return s.JobOut(**jobs.start(body.paths))

    @router.delete(
        "/api/sources", response_model=s.RemovedOut, dependencies=[admin], tags=["index"]
    )
    def remove_sources(
        path: Annotated[str, Query(min_length=1, max_length=1000)],
        all: Annotated[bool, Query(description="Allow the whole collection (.)")] = False,  # noqa: A002
    ) -> s.RemovedOut:
        """Forget a file, or every file under a folder (files stay on disk).

        The collection itself (``.``) empties the index and needs ``all=true``.
        """
        _check_inside(engine.root, path)
        return s.RemovedOut(removed=engine.remove(engine.root / path, everything=all))

    return router


def _ask_routes(ctx: _Context) -> APIRouter:
    """Answers with citations."""
    engine, settings, read = ctx.engine, ctx.settings, ctx.read
    engine_lock, generator = ctx.engine_lock, ctx.generator
    router = APIRouter()

    @router.post("/api/ask", response_model=s.AnswerOut, dependencies=[read], tags=["ask"])
    def ask_route(body: s.AskRequest) -> s.AnswerOut:  # type: ignore[valid-type]
        """Answer a question from the collection, citing evidence on every sentence."""
        answer = ask(
            engine,
            body.question,  # type: ignore[attr-defined]
            top=body.top,  # type: ignore[attr-defined]
            ranking=_ranking(body, settings),
            generator=generator,
            threshold=settings.answer_threshold,
            lock=engine_lock,
        )
        return _answer_out(answer)

    return router


def _ranking(params: Any, settings: ServerSettings) -> Ranking:
    """The ranking a request asks for; a reranker only if the server enabled it."""
    r = s.ranking_from(params)
    if isinstance(r.rerank, str) and r.rerank not in settings.rerankers:
        raise QueryError(
            f"reranker {r.rerank!r} is not enabled on this server",
            hint=f"enabled: {', '.join(settings.rerankers)} "
            "(start the server with --rerank SPEC to enable another)",
        )
    return r


def _no_unknown_query() -> Any:
    """A dependency for every route: a misspelt query parameter is refused (422), not
    ignored (FastAPI ignores what a route does not declare). The declared names come
    from the OpenAPI schema, so they are exactly what the docs list."""
    known: dict[tuple[str, str], frozenset[str]] = {}

    def no_unknown_query(request: Request) -> None:
        if not known:
            known.update(_query_parameters(request.app.openapi()))
        route = request.scope.get("route")
        method = "GET" if request.method == "HEAD" else request.method
        allowed = known.get((method, getattr(route, "path_format", "")))
        unknown = sorted(set(request.query_params) - allowed) if allowed is not None else []
        if unknown:
            raise UnprocessableQuery(
                f"unknown query parameter{'s' if len(unknown) > 1 else ''}: "
                + ", ".join(repr(u) for u in unknown),
                hint="valid: " + (", ".join(sorted(allowed or ())) or "none on this route"),
            )

    return Depends(no_unknown_query)


def _query_parameters(spec: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """(METHOD, path) -> the query parameters the OpenAPI schema declares for it."""
    out = {}
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
            out[(method.upper(), path)] = frozenset(names)
    return out


def _private_cache() -> dict[str, str]:
    return {"Cache-Control": "private, max-age=300"}


def _check_inside(root: Path, rel: str) -> None:
    from polyseek.server.security import BadPath

    if not rel.strip():
        raise BadPath("an empty path names no file", hint="give '.' for the whole collection")
    if "\x00" in rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise BadPath(f"give a path relative to the collection, without '..': {rel!r}")
    if any(len(part.encode()) > 255 for part in Path(rel).parts) or len(rel.encode()) > 4000:
        raise BadPath(f"path too long (a name over 255 bytes): {rel[:60]!r}...")
    if not (root / rel).resolve().is_relative_to(root.resolve()):
        raise BadPath(f"{rel}: leads outside the collection")


def _search_out(
    result: SearchResult, source: str | None, top: int, store: Path | None = None
) -> s.SearchOut:
    out = [s.hit_out(h, store) for h in result.hits[:top]]
    for rank, h in enumerate(out, 1):
        h.rank = rank
    query = dict(result.query)
    if source:
        query["source"] = source
    query["top"] = top
    return s.SearchOut(query=query, hits=out, terms=content_words(query.get("text")))


def _upload(file: UploadFile | None) -> UploadFile | None:
    """A form's file field, or None when the browser sent it empty (no file chosen)."""
    return file if file is not None and file.filename else None


def _read_upload(upload: UploadFile, what: str, settings: ServerSettings) -> bytes:
    data = upload.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the {what} is over {settings.max_upload_bytes} bytes")
    if not data:
        raise QueryError(f"the uploaded {what} is empty")
    return data


# A clip named without a media extension (a pasted blob): its declared type says which.
_CLIP_TYPES = {
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/mp4": ".m4a",
}


def _clip_suffix(upload: UploadFile) -> str:
    from polyseek.ingest.detect import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

    accepted = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in accepted:
        suffix = _CLIP_TYPES.get((upload.content_type or "").split(";")[0].strip(), "")
    if not suffix:
        raise QueryError(
            f"the clip {upload.filename!r} is not an audio or video file",
            hint=f"accepted: {', '.join(sorted(accepted))}; send a picture as `image`",
        )
    return suffix


@contextmanager
def _saved_clip(upload: UploadFile, settings: ServerSettings) -> Iterator[Path]:
    """The uploaded clip as a temporary file (the decoder reads files), removed after."""
    suffix = _clip_suffix(upload)
    data = _read_upload(upload, "clip", settings)
    with tempfile.TemporaryDirectory(prefix="polyseek-clip-") as tmp:
        path = Path(tmp) / f"query{suffix}"
        path.write_bytes(data)
        yield path


def _read_image(upload: UploadFile, settings: ServerSettings) -> Any:
    from PIL import Image, UnidentifiedImageError

    data = _read_upload(upload, "image", settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > settings.max_image_pixels:
                raise PayloadTooLarge(
                    f"the image is {w}x{h} pixels, over the limit of {settings.max_image_pixels}"
                )
            img.load()
            return img  # prepared (orientation, RGB) as indexed images are, by the embedder
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise PayloadTooLarge(f"the image is too large to decode: {exc}") from exc
    except UnidentifiedImageError as exc:  # its message names a BytesIO: not the user's
        raise QueryError(
            f"cannot read the uploaded image {upload.filename!r}: not a picture format "
            "this server reads (PNG, JPEG, WebP, GIF, BMP, TIFF)",
            hint="send an audio or video clip as the `clip` field",
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise QueryError(f"cannot read the uploaded image {upload.filename!r}: {exc}") from exc


def _answer_out(answer: Answer) -> s.AnswerOut:
    def sentence(x: Any) -> s.SentenceOut:
        return s.SentenceOut(**x.to_dict())

    return s.AnswerOut(
        question=answer.question,
        answered=answer.answered,
        text=answer.text,
        method=answer.method,
        sentences=[sentence(x) for x in answer.sentences],
        evidence=[
            s.EvidenceOut(
                id=e.id,
                item_id=e.item_id,
                source=e.source,
                modality=e.modality,
                locator=s.LocatorOut(**e.locator.to_dict()),
                locator_text=str(e.locator),
                score=e.score,
                file_url=s.file_url(e.source),
            )
            for e in answer.evidence
        ],
        dropped=[sentence(x) for x in answer.dropped],
        dropped_count=len(answer.dropped),
        flagged=[sentence(x) for x in answer.flagged],
        terms=content_words(answer.question),
    )
