"""`polyseek search` through a running `polyseek serve` (issue 12: warm queries).

One real server (a subprocess, auth on) over a small indexed collection; the CLI runs in
process. A search that must go through the server is run with ``Engine.open`` made to
fail, so passing proves no local search happened.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.cli.warm import SERVER_FILE, read_server_file
from polyseek.engine import Engine

runner = CliRunner()
KEY = "warm-read-key-0123456789"
QUERIES = [["neural retrieval"], ["graph", "--top", "3", "--lexical"], ["protein", "-m", "text"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Iterator[Path]:
    """A collection of a few papers, indexed, with `polyseek serve` running over it."""
    root = tmp_path_factory.mktemp("warm") / "collection"
    (root / "papers").mkdir(parents=True)
    for p in sorted((sample_dir / "papers").iterdir())[:8]:
        shutil.copy2(p, root / "papers" / p.name)
    _cli("index", str(root))
    port = _free_port()
    env = {**os.environ, "POLYSEEK_API_KEY": KEY}
    env.pop("POLYSEEK_ADMIN_KEY", None)
    log = root.parent / "serve.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "polyseek", "serve", "-c", str(root), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 180
        while read_server_file(root / ".polyseek") is None:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield root
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert not (root / ".polyseek" / SERVER_FILE).exists(), "serve.json left after shutdown"


@pytest.fixture
def no_local(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> Engine:
        raise AssertionError("searched locally")

    monkeypatch.setattr(Engine, "open", refuse)


def test_server_file_is_private_and_carries_the_read_key(served: Path) -> None:
    path = served / ".polyseek" / SERVER_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["api_key"] == KEY
    assert httpx.get(data["url"] + "api/health", timeout=5).json()["auth"] is True


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_search_through_server_prints_what_a_local_search_prints(
    served: Path, as_json: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = ["--json"] if as_json else []
    local = [_cli("search", *q, "-c", str(served), "--no-server", *extra) for q in QUERIES]
    monkeypatch.setattr(Engine, "open", lambda *a, **k: pytest.fail("searched locally"))
    warm = [_cli("search", *q, "-c", str(served), *extra) for q in QUERIES]
    assert warm == local
    assert all(out.strip() and "no results" not in out for out in warm)


def test_the_key_from_the_file_is_what_authorises(served: Path, no_local: None) -> None:
    # No key in the environment of the CLI: only the file's key lets the server answer.
    assert "POLYSEEK_API_KEY" not in os.environ
    assert httpx.get(
        json.loads((served / ".polyseek" / SERVER_FILE).read_text())["url"] + "api/search",
        params={"q": "graph"},
        timeout=30,
    ).status_code in (401, 403)
    assert _cli("search", "graph", "-c", str(served)).strip()


def local_opens(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A list that grows by one whenever the CLI opens the index itself (a local search)."""
    opened: list[object] = []
    real = Engine.open

    def spy(*args: object, **kwargs: object) -> Engine:
        opened.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "open", spy)
    return opened


def test_no_server_flag_and_env_search_locally(
    served: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = local_opens(monkeypatch)
    _cli("search", "graph", "-c", str(served), "--no-server")
    assert len(opened) == 1
    monkeypatch.setenv("POLYSEEK_NO_SERVER", "1")
    _cli("search", "graph", "-c", str(served))
    assert len(opened) == 2
    monkeypatch.setenv("POLYSEEK_NO_SERVER", "0")
    _cli("search", "graph", "-c", str(served))
    assert len(opened) == 2  # "0" is not an opt-out: the server answered


def test_a_stale_server_file_is_ignored(
    served: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of the index whose serve.json names a dead pid (the URL still answers)."""
    store = tmp_path / "store"
    shutil.copytree(served / ".polyseek", store)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = store / SERVER_FILE
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "pid": dead.pid}))
    path.chmod(0o600)
    assert read_server_file(store) is None
    opened = local_opens(monkeypatch)
    out = _cli("search", "graph", "-c", str(served), "--store", str(store))
    assert opened and out.strip()


def test_an_unanswering_server_falls_back_quietly(served: Path, tmp_path: Path) -> None:
    """A live pid (this process) but nothing listening: a local search, no error shown."""
    store = tmp_path / "store"
    shutil.copytree(served / ".polyseek", store)
    path = store / SERVER_FILE
    url = f"http://127.0.0.1:{_free_port()}/"
    path.write_text(json.dumps({"url": url, "pid": os.getpid(), "api_key": None}))
    path.chmod(0o600)
    local = _cli("search", "graph", "-c", str(served), "--no-server")
    assert _cli("search", "graph", "-c", str(served), "--store", str(store)) == local
