"""Browser-facing defences of the REST API, in-process (issue 15, items 5, 6, 8, 11):
cross-site writes are refused in every auth mode, keys are checked before a body is
parsed, the media cookie is HttpOnly and holds no key, paths are validated."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from polyseek.engine import Engine
from polyseek.server import ServerSettings, create_app
from polyseek.server.app import _BodyLimit
from polyseek.server.errors import ApiError
from polyseek.server.security import MEDIA_COOKIE, collection_file
from tests.conftest import SAMPLE
from tests.helpers.served import ADMIN_KEY, READ_KEY

URL = "http://127.0.0.1:8080"
EVIL = {"Origin": "http://evil.example"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("csrf") / "collection"
    (root / "papers").mkdir(parents=True)
    for p in sorted((SAMPLE / "papers").iterdir())[:3]:
        shutil.copy2(p, root / "papers" / p.name)
    engine = Engine.open(root, create=True)
    engine.index()
    return engine


def client(engine: Engine, **settings: object) -> TestClient:
    app = create_app(engine, ServerSettings(**settings))  # type: ignore[arg-type]
    return TestClient(app, base_url=URL)


def paper(engine: Engine) -> str:
    return sorted(engine.store.sources())[0]


@pytest.mark.parametrize("auth", [{"no_auth": True}, {"api_key": READ_KEY, "admin_key": ADMIN_KEY}])
def test_cross_site_writes_are_refused_in_every_mode(engine: Engine, auth: dict) -> None:
    c = client(engine, **auth)
    key = {} if auth.get("no_auth") else {"X-API-Key": ADMIN_KEY}
    # What any web page can send without a preflight: an empty or text/plain body.
    for headers in ({**EVIL}, {**EVIL, "Content-Type": "text/plain"}):
        r = c.post("/api/index", content=b"", headers={**headers, **key})
        assert r.status_code == 403 and "cross-site" in r.json()["error"]["message"]
    r = c.post("/api/index", content=b"", headers={"Sec-Fetch-Site": "same-site", **key})
    assert r.status_code == 403
    r = c.delete("/api/sources", params={"path": paper(engine)}, headers={**EVIL, **key})
    assert r.status_code == 403
    # Without Origin (curl, scripts) a JSON body is still required for a POST.
    r = c.post("/api/index", content=b"", headers={"Content-Type": "text/plain", **key})
    assert r.status_code == 415
    assert c.get("/api/status", headers={**EVIL, **key}).status_code == 200  # reads are fine
    assert engine.collection.store.sources()  # nothing ran, nothing was removed


def test_a_full_run_must_be_asked_for(engine: Engine) -> None:
    c = client(engine, no_auth=True)
    for body in ({}, {"paths": []}, {"paths": None}, {"paths": ["x"], "all": True}):
        r = c.post("/api/index", json=body)
        assert r.status_code == 422, (body, r.text)
    r = c.post("/api/index", json={"all": True}, headers={"Origin": URL})
    assert r.status_code == 202
    c.app.state.jobs.wait(120)  # type: ignore[attr-defined]
    assert c.get("/api/index").json()["state"] == "done"


def test_the_key_is_checked_before_the_body_is_parsed(engine: Engine) -> None:
    c = client(engine, api_key=READ_KEY, admin_key=ADMIN_KEY)
    bodies = [b"{", b'{"paths": [', b"\xff\xfe", b"null", b'{"paths": "x"}', b"[]"]
    for body in bodies:
        headers = {"Content-Type": "application/json"}
        for route in ("/api/index", "/api/sources"):
            assert c.post(route, content=body, headers=headers).status_code == 401, body
            r = c.post(route, content=body, headers={**headers, "X-API-Key": READ_KEY})
            assert r.status_code == 403, body
            r = c.post(route, content=body, headers={**headers, "X-API-Key": ADMIN_KEY})
            assert r.status_code == 422, body


def test_media_cookie_is_httponly_strict_and_not_a_key(engine: Engine) -> None:
    c = client(engine, api_key=READ_KEY, admin_key=ADMIN_KEY)
    r = c.post("/api/session", headers={"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token not in (READ_KEY, ADMIN_KEY)
    fresh = client(engine, api_key=READ_KEY, admin_key=ADMIN_KEY)
    fresh.cookies.set(MEDIA_COOKIE, token)
    # The session belongs to the server run that made it.
    assert fresh.get("/api/files/" + paper(engine)).status_code == 401
    c.cookies.set(MEDIA_COOKIE, token)
    assert c.get("/api/files/" + paper(engine)).status_code == 200
    assert c.get("/api/status").status_code == 200
    r = c.post("/api/index", json={"all": True})
    assert r.status_code == 401  # a cookie never writes
    c.cookies.clear()
    c.cookies.set("polyseek_key", ADMIN_KEY)  # the old script-readable key cookie
    assert c.get("/api/files/" + paper(engine)).status_code == 401


def test_folders_are_indexed_and_empty_or_long_paths_refused(engine: Engine, tmp_path) -> None:
    c = client(engine, no_auth=True)
    root = engine.root
    extra = root / "more"
    extra.mkdir(exist_ok=True)
    for p in sorted((SAMPLE / "papers").iterdir())[10:12]:
        shutil.copy2(p, extra / p.name)
    r = c.post("/api/sources", json={"paths": ["more"]})
    assert r.status_code == 202, r.text
    c.app.state.jobs.wait(120)  # type: ignore[attr-defined]
    job = c.get("/api/index").json()
    assert job["state"] == "done" and job["report"]["added"] == 2, job
    assert job["report"]["failed"] == []
    for bad in ("", "   ", "a" * 300, "more/" + "b" * 256 + ".md"):
        r = c.post("/api/sources", json={"paths": [bad]})
        assert r.status_code == 400, (bad[:20], r.text)
    # A link to a folder names the link: deleting it leaves the folder's sources alone.
    os.symlink(extra, root / "link-to-more")
    r = c.delete("/api/sources", params={"path": "link-to-more"})
    assert r.status_code == 400 and "nothing indexed" in r.json()["error"]["message"]
    assert sum(p.startswith("more/") for p in engine.store.sources()) == 2
    assert c.delete("/api/sources", params={"path": "more"}).json() == {"removed": 2}
    shutil.rmtree(extra)
    (root / "link-to-more").unlink()


def test_files_route_serves_no_hidden_file_or_index_file_through_a_link(tmp_path: Path) -> None:
    root = tmp_path / "c"
    (root / ".polyseek").mkdir(parents=True)
    (root / ".polyseek" / "manifest.json").write_text("{}")
    (root / ".secret.md").write_text("secret")
    os.symlink(root / ".secret.md", root / "a.md")
    os.symlink(root / ".polyseek" / "manifest.json", root / "b.md")
    for rel in ("a.md", "b.md"):
        with pytest.raises(ApiError, match="hidden file or into the index"):
            collection_file(root, {rel}, rel, store_dir=root / ".polyseek")


def test_a_body_shorter_than_declared_times_out() -> None:
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:
        await receive()  # waits for a body that never comes
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive() -> dict:
        await asyncio.sleep(3600)
        return {}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"100")]}
    asyncio.run(_BodyLimit(app, limit=1000, timeout=0.2)(scope, receive, send))
    assert sent[0]["status"] == 408 and len(sent) == 2  # the app's late answer is dropped
