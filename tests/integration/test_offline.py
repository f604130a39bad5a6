"""With every hub blocked and no cache, the default install indexes and searches."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import copy_small_collection


def test_index_and_search_with_the_network_blocked(tmp_path):
    root = copy_small_collection(tmp_path / "c", n_papers=5)
    hf_home = tmp_path / "hf-home"
    hf_home.mkdir()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "SENTENCE_TRANSFORMERS_HOME": str(hf_home / "st"),
        # Anything that still tried the network would hit a closed port.
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "polyseek", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    indexed = run("index", str(root), "--json")
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["added"] > 5
    found = run("search", "pump maintenance manual torque", "-c", str(root), "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["source"].startswith("pdfs/")
    # A hub model is refused at once with a clear message, not after a long timeout.
    refused = run(
        "index", str(tmp_path / "c"), "--rebuild", "-e", "clip:openai/clip-vit-base-patch32"
    )
    assert refused.returncode == 2
    assert "openai/clip-vit-base-patch32" in refused.stderr
    assert not any(hf_home.rglob("*")), "something was downloaded or cached"
    # ... and the refused rebuild left the existing index alone.
    again = run("search", "pump maintenance manual torque", "-c", str(root), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["hits"]
