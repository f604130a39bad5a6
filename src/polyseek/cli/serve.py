"""`polyseek serve`: the REST API and web UI over one collection."""

from __future__ import annotations

import errno
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from polyseek.cli.options import CollectionOpt, StorageOpt, StoreOpt, err
from polyseek.cli.warm import (
    SERVER_FILE,
    ServerInfo,
    connect_url,
    remove_server_file,
    write_server_file,
)
from polyseek.errors import ConfigError
from polyseek.store.uri import parse_storage_options

logger = logging.getLogger(__name__)


def check_port(host: str, port: int) -> None:
    """Raise :class:`ConfigError` when ``port`` on ``host`` cannot be bound (in use, or not
    an address of this machine), before keys are made and printed.

    Binds as uvicorn will (``SO_REUSEADDR``), so a port left in TIME_WAIT still passes.
    """
    if port == 0:
        return  # the system picks a free port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot bind to {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is in use",
                    hint="stop the other server, or give another --port",
                ) from None
            raise ConfigError(
                f"cannot bind to port {port} on {host}: {exc.strerror or exc}"
            ) from None


def serve(
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    storage_option: StorageOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8080,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No API keys (only allowed on a loopback host).")
    ] = False,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin", help="Allow this browser origin (repeatable; off by default)."
        ),
    ] = None,
    generator: Annotated[
        str,
        typer.Option(help="Answers: extractive, openai:MODEL or transformers:PATH."),
    ] = "extractive",
    base_url: Annotated[
        str | None, typer.Option(help="Base URL of an OpenAI-compatible endpoint (…/v1).")
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(min=0.01, help="Upload size limit.")] = 20.0,
    rerank: Annotated[
        list[str] | None,
        typer.Option(
            "--rerank",
            help="A reranker requests may ask for (repeatable; late:minilm is always enabled).",
        ),
    ] = None,
) -> None:
    """Serve the REST API (schema at /openapi.json) and the web UI for a collection.

    Keys come from $POLYSEEK_API_KEY (read) and $POLYSEEK_ADMIN_KEY (admin). With
    neither and no --no-auth, random keys are made for the run: the URL printed carries
    the read key, the admin key is printed apart.
    """
    import uvicorn

    from polyseek.engine import Engine
    from polyseek.server import ServerSettings, create_app

    generated = None
    if not no_auth and not (
        os.environ.get("POLYSEEK_API_KEY") or os.environ.get("POLYSEEK_ADMIN_KEY")
    ):
        # Browsing gets the read key; the admin key is shown apart, for when it is asked.
        generated = (secrets.token_urlsafe(24), secrets.token_urlsafe(24))
    settings = ServerSettings.from_env(
        host=host,
        port=port,
        no_auth=no_auth,
        api_key=generated[0] if generated else None,
        admin_key=generated[1] if generated else None,
        cors_origins=tuple(cors_origin or ()),
        generator=generator,
        generator_base_url=base_url,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        rerankers=tuple(dict.fromkeys(["late:minilm", *(rerank or [])])),
    )
    check_port(host, port)
    engine = Engine.open(
        collection, store=store, storage_options=parse_storage_options(storage_option)
    )
    app = create_app(engine, settings)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if generated:
        err.print(f"read key (this run only): {generated[0]}")
        err.print(f"admin key (this run only; paste it in the UI to re-index): {generated[1]}")
        url += f"#key={generated[0]}"
    err.print(f"serving {Path(engine.root)} at [bold]{url}[/]")
    err.print("OpenAPI schema: /openapi.json; interactive docs: /docs (works offline)")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    _announced_server(config, Path(engine.store.path), settings.api_key).run()


def _announced_server(config: Any, store: Path, api_key: str | None) -> Any:
    """A uvicorn server that keeps ``<store>/serve.json`` while it listens (with the port
    it really bound), so that ``polyseek search`` can ask it (:mod:`polyseek.cli.warm`)."""
    import uvicorn

    pid = os.getpid()

    class AnnouncedServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.should_exit or not self.servers:
                return
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            info = ServerInfo(connect_url(str(host), int(port)), pid, api_key)
            try:
                write_server_file(store, info)
            except OSError as exc:  # a read-only index still serves; searches stay local
                logger.warning("cannot write %s: %s", store / SERVER_FILE, exc)

        async def shutdown(self, sockets: Any = None) -> None:
            remove_server_file(store, pid)  # first: new searches go local while we drain
            await super().shutdown(sockets)

        def run(self, sockets: Any = None) -> None:
            try:
                super().run(sockets)
            finally:
                remove_server_file(store, pid)

    return AnnouncedServer(config)
