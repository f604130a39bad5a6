"""A real ``polyseek serve`` process on 127.0.0.1 over the shared served collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.served import (
    KEYS_ENV,
    READ_KEY,
    Server,
    copy_collection,
    shared_collection,
    shared_server,
)


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_collection(tmp_path_factory)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Server:
    """Keys on: READ_KEY reads, ADMIN_KEY also writes. Tests must not change its index."""
    return shared_server(tmp_path_factory, request)


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-API-Key": READ_KEY}, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def private(served_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A keyed server over a private copy of the collection, for tests that change it."""
    root = copy_collection(served_root, tmp_path_factory.mktemp("private") / "collection")
    srv = Server(root, env=KEYS_ENV)
    srv.root = root  # type: ignore[attr-defined]
    yield srv
    srv.stop()
