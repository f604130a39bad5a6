"""LanceDB's REST namespace client is registered unloaded, and loads on first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from polyseek.store.deferred import REST_CLIENT, defer_rest_namespace_client


def run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_opening_an_index_leaves_the_rest_client_unloaded(tmp_path) -> None:
    got = run(
        f"""
        import sys
        from polyseek.store.lancedb import LanceStore
        import lancedb
        db = lancedb.connect({str(tmp_path)!r})
        db.create_table("t", data=[{{"x": 1}}])
        assert db.open_table("t").count_rows() == 1
        client = sys.modules[{REST_CLIENT!r}]
        print("__getattr__" in vars(client), "lance_namespace_urllib3_client.api" in sys.modules)
        """
    )
    assert got == "True False"


def test_first_use_runs_the_real_package_body() -> None:
    got = run(
        f"""
        import sys
        import polyseek.store
        from {REST_CLIENT} import ApiClient, TableApi
        client = sys.modules[{REST_CLIENT!r}]
        print(ApiClient.__name__, TableApi.__name__, "__getattr__" in vars(client),
              client.__version__ != "")
        """
    )
    assert got == "ApiClient TableApi False True"


def test_nothing_is_done_for_a_loaded_or_missing_package() -> None:
    assert defer_rest_namespace_client("json") is False  # already imported
    assert defer_rest_namespace_client("no_such_package_polyseek") is False
    assert "no_such_package_polyseek" not in sys.modules
