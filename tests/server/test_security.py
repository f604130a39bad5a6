"""Media routes serve only the collection's own files; no-auth only on loopback."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from polyseek.errors import ConfigError
from polyseek.server import ServerSettings
from tests.helpers.served import READ_KEY, Server

PAPER = "papers/align-before-fuse-vision-and-language-representation-learning-with-momentum.md"


def raw_get(server: Server, target: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("GET", target, skip_accept_encoding=True)
    conn.putheader("X-API-Key", READ_KEY)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


@pytest.mark.parametrize(
    "target",
    [
        "/api/files/../../../../etc/passwd",
        "/api/files/papers/../../../../etc/passwd",
        "/api/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/api/files/papers%2f..%2f..%2f..%2fetc%2fpasswd",
        "/api/files/%252e%252e/%252e%252e/etc/passwd",
        "/api/files/..%5c..%5cetc%5cpasswd",
        "/api/files//etc/passwd",
        "/api/files/%2fetc%2fpasswd",
        "/api/files/papers/./x.md",
        "/api/files/papers/x.md%00.png",
        "/api/files/.polyseek/manifest.json",
        "/api/files/.polyseek/db/sources.lance",
        "/api/files/papers",
        "/api/files/papers/not-indexed.md",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_no_file_outside_the_collection(server: Server, target: str) -> None:
    status, body = raw_get(server, target)
    assert 400 <= status < 500, (target, status)
    assert b"root:" not in body and b"collection_root" not in body


def test_indexed_file_is_served(server: Server, served_root: Path) -> None:
    status, body = raw_get(server, "/api/files/" + PAPER)
    assert status == 200 and body == (served_root / PAPER).read_bytes()


def test_symlink_out_of_the_collection_is_refused(private, tmp_path: Path) -> None:
    """A source replaced by a link to a file outside the collection after indexing."""
    secret = tmp_path / "secret.md"
    secret.write_text("top secret")
    victim = private.root / PAPER
    victim.unlink()
    os.symlink(secret, victim)
    r = httpx.get(private.url + "/api/files/" + PAPER, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 403 and "outside the collection" in r.json()["error"]["message"]
    assert b"top secret" not in r.content


def test_preview_route_only_serves_previews(server: Server) -> None:
    status, _ = raw_get(server, "/api/items/..%2f..%2fmanifest.json/preview")
    assert status == 404


def test_no_auth_only_on_loopback() -> None:
    ServerSettings(no_auth=True, host="127.0.0.1")
    ServerSettings(no_auth=True, host="::1")
    for host in ("0.0.0.0", "192.168.1.5", "example.com", "::"):
        with pytest.raises(ConfigError, match="only allowed on a loopback"):
            ServerSettings(no_auth=True, host=host)
    with pytest.raises(ConfigError, match="needs an API key"):
        ServerSettings(host="127.0.0.1")
    with pytest.raises(ConfigError, match="at least 16"):
        ServerSettings(api_key="short")


def test_serve_cli_refuses_no_auth_on_a_public_address(served_root: Path) -> None:
    from polyseek.cli.app import app

    result = CliRunner().invoke(
        app, ["serve", "-c", str(served_root), "--no-auth", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2
    assert "only allowed on a loopback" in result.stderr


def test_no_auth_server_rejects_foreign_host_headers(served_root: Path) -> None:
    """Without keys, a DNS-rebinding page (Host: evil.example) gets nothing."""
    srv = Server(served_root, "--no-auth")
    try:
        assert httpx.get(srv.url + "/api/status").status_code == 200
        r = httpx.get(srv.url + "/api/status", headers={"Host": "evil.example"})
        assert r.status_code == 403
    finally:
        srv.stop()
