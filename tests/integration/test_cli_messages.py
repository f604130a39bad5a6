"""What the CLI says to a new user: errors, hints, listings and help that tell the truth
(issue 16, "Messages and docs that are wrong")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.cli import cli

runner = CliRunner()


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Two notes and a broken PDF, indexed in a real process: (folder, its output)."""
    root = tmp_path_factory.mktemp("messages") / "notes"
    root.mkdir()
    (root / "pumps.md").write_text("Pumps and valves\n\nA note on pump seals.\n")
    (root / "garden.txt").write_text("Gardening\n\nTomatoes grow in summer.\n")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "polyseek", "index", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # one file failed
    return root, done.stdout + done.stderr


def test_a_failed_file_is_printed_once(collection):
    _, output = collection
    assert output.count("broken.pdf") == 1, output
    assert "1 failed" in output


def test_missing_collection_folder_says_no_such_folder(tmp_path):
    code, _, err = cli("search", "x", "-c", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err and "index the folder first" not in err
    code, _, err = cli("status", "-c", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err
    code, _, err = cli("index", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err
    # An existing folder without an index still says how to make one.
    code, _, err = cli("search", "x", "-c", str(tmp_path))
    assert code == 2 and "polyseek index DIR" in err


def test_status_shows_the_whole_revision(collection):
    root, _ = collection
    code, out, err = cli("status", "-c", str(root))
    assert code == 0, err
    assert "==0.1.0" in out  # the package revision, not cut to "==0.1"


def test_models_marks_aliases_and_missing_backends(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "open_clip" else real(name)
    )
    code, out, _ = cli("models")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "alias of open_clip" in lines["open-clip"]
    assert "alias of st" in lines["sentence-transformers"]
    assert "not installed" in lines["open_clip"] and "polyseek[open-clip]" in lines["open_clip"]
    assert "alias" not in lines["minilm"] and "not installed" not in lines["minilm"]


def test_help_names_every_source_kind():
    code, out, _ = cli("--help")
    assert code == 0
    assert "video" in out and "audio" in out


def test_siglip_hint_names_siglip(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    code, _, err = cli("index", str(tmp_path), "-e", "siglip:google/siglip-not-cached-here")
    assert code == 2
    hint = " ".join(err.split())
    assert "siglip:/path/to/model" in hint and " clip:/path" not in hint


def test_modality_takes_comma_lists_and_repeats(collection):
    root, _ = collection
    for args in (["-m", "text,page"], ["-m", "text", "-m", "page"], ["-m", " text , image "]):
        code, out, err = cli("search", "pump seals", "-c", str(root), "--json", *args)
        assert code == 0, err
        assert '"pumps.md"' in out
    code, _, err = cli("search", "pump", "-c", str(root), "-m", "text,sound")
    assert code == 2 and "unknown modality 'sound'" in err


def test_text_without_an_image_is_refused(collection):
    root, _ = collection
    code, out, err = cli("search", "--text", "pump seals", "-c", str(root))
    assert code == 2 and out == ""
    assert "--text modifies an image query" in err and 'polyseek search "WORDS"' in err


# --------------------------------------------------------------------------- serve
def test_serve_messages_name_what_exists(collection, monkeypatch):
    import uvicorn

    root, _ = collection
    calls = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: calls.append(self.config))
    monkeypatch.setenv("POLYSEEK_API_KEY", "r" * 20)
    code, _, err = cli("serve", "-c", str(root), "--port", "0")
    assert code == 0, err
    assert calls and "CDN" not in err and "/docs" in err
    code, _, err = cli("serve", "-c", str(root), "--no-auth", "--host", "0.0.0.0")
    assert code == 2 and "--no-auth is only allowed on a loopback address" in err
    assert "--api-key" not in err and "--admin-key" not in err
    assert "POLYSEEK_API_KEY" in err


def test_serve_on_a_busy_port_says_so_before_making_keys(collection, monkeypatch):
    import uvicorn

    root, _ = collection
    monkeypatch.delenv("POLYSEEK_API_KEY", raising=False)
    monkeypatch.delenv("POLYSEEK_ADMIN_KEY", raising=False)
    monkeypatch.setattr(uvicorn.Server, "run", lambda *a, **kw: pytest.fail("uvicorn started"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = cli("serve", "-c", str(root), "--port", str(port))
    assert code == 2
    assert f"port {port} on 127.0.0.1 is in use" in err
    assert "key" not in (out + err).split("hint")[0] and "http://" not in err
