"""Headless Debian Chromium driven by Playwright (the system browser, never a download)."""

from __future__ import annotations

import shutil
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

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Server:
    srv = shared_server(tmp_path_factory, request)
    # The first search loads the encoders (many seconds on a busy machine): once here, so
    # that no browser step's timeout includes it.
    warm = httpx.get(
        f"{srv.url}/api/search",
        params={"q": "warm up", "top": 1},
        headers={"X-API-Key": READ_KEY},
        timeout=300,
    )
    assert warm.status_code == 200, warm.text
    return srv


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared served collection's folder (tests must not change it)."""
    return shared_collection(tmp_path_factory)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def served_root_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Server]]:
    """A keyed server over a private copy of the collection (tests may change it)."""
    root = shared_collection(tmp_path_factory)
    copy = copy_collection(root, tmp_path_factory.mktemp("e2e-private") / "collection")
    srv = Server(copy, env=KEYS_ENV)
    yield copy, srv
    srv.stop()
