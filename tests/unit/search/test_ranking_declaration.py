"""Ranking options are declared once (search/base.py: Ranking) and every surface has them."""

from __future__ import annotations

import pytest
import typer.main
from fastapi.testclient import TestClient

from polyseek.cli.app import app
from polyseek.errors import QueryError
from polyseek.search.base import Query, Ranking, ranking_fields
from polyseek.search.cutoff import Cutoff

CLI_OPTIONS = {f.name for f in ranking_fields() if f.metadata["cli"]}
ALL_OPTIONS = {f.name for f in ranking_fields()}


def _command_options(name: str) -> set[str]:
    group = typer.main.get_command(app)
    return {p.name for p in group.commands[name].params if p.name}  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["search", "eval", "ask"])
def test_every_ranking_option_is_a_cli_option(command: str) -> None:
    assert CLI_OPTIONS <= _command_options(command)


def test_ranking_validates_itself() -> None:
    with pytest.raises(QueryError, match="unknown fusion 'max'"):
        Ranking(fusion="max")
    with pytest.raises(QueryError, match=r"lexical_weight must lie in \[0, 1\]"):
        Ranking(lexical_weight=2.0)
    with pytest.raises(QueryError, match="rerank_depth must be at least 1"):
        Ranking(rerank_depth=0)
    with pytest.raises(QueryError, match="dense or lexical"):
        Ranking(dense=False, lexical=False)
    with pytest.raises(QueryError, match="alternatives"):
        Ranking(first_pass="int8", exact=False)
    with pytest.raises(QueryError, match="unknown first pass"):
        Ranking(first_pass="int4")
    assert Ranking(cutoff="gap:0.3").cutoff == Cutoff("gap", 0.3)
    with pytest.raises(QueryError, match="unknown ranking option: lexicon"):
        Ranking.from_options({"lexicon": True})


def test_query_validates_itself() -> None:
    with pytest.raises(QueryError, match="empty"):
        Query(text="  ")
    with pytest.raises(QueryError, match="top must be at least 1"):
        Query(text="q", top=0)
    with pytest.raises(QueryError, match="lexical-only search needs query text"):
        Query(image="x.png", ranking=Ranking(dense=False, lexical=True))
    q = Query(text="q").with_ranking(fusion="rrf")
    assert q.describe() == {"top": 10, "text": "q", "lexical": True, "fusion": "rrf"}
    assert Query(text="q", ranking=Ranking(lexical=False)).describe()["lexical"] is False


def test_rest_schema_and_ui_list_every_option(tmp_path) -> None:
    from polyseek.engine import Engine
    from polyseek.server import create_app

    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text("a pump housing with four bolts\n", encoding="utf-8")
    engine = Engine.open(root, create=True)
    engine.index()
    client = TestClient(create_app(engine), base_url="http://127.0.0.1")
    spec = client.get("/openapi.json").json()
    get_params = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert ALL_OPTIONS <= get_params
    form = spec["paths"]["/api/search"]["post"]["requestBody"]["content"]
    schema_ref = form["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert ALL_OPTIONS <= set(spec["components"]["schemas"][schema_ref]["properties"])
    listed = client.get("/api/ranking").json()
    assert {o["name"] for o in listed} == ALL_OPTIONS
    assert next(o for o in listed if o["name"] == "fusion")["choices"] == ["zscore", "rrf"]
    # Options work, typos are refused, and rerankers need the server's consent.
    hit = client.get("/api/search", params={"q": "pump", "lexical": "true", "dense": "false"})
    assert hit.status_code == 200, hit.text
    assert set(hit.json()["hits"][0]["signals"]) == {"lexical"}
    assert client.get("/api/search", params={"q": "pump", "lexicl": "true"}).status_code == 422
    refused = client.get("/api/search", params={"q": "pump", "rerank": "cross-encoder:/x"})
    assert refused.status_code == 400 and "not enabled" in refused.json()["error"]["message"]
    posted = client.post("/api/search", data={"text": "pump", "lexical": "true", "top": "1"})
    assert posted.status_code == 200 and posted.json()["query"]["lexical"] is True
    asked = client.post("/api/ask", json={"question": "how many bolts?", "lexical": True})
    assert asked.status_code == 200, asked.text
