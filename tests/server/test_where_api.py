"""REST: ``where`` filters inside the store, the source prefix, phrases and explanations."""

from __future__ import annotations

import re

import httpx

from tests.helpers.cli import cli


def _sum_ok(hit: dict) -> bool:
    return abs(sum(hit["contributions"].values()) - hit["score"]) < 1e-6


def test_where_filters_before_ranking(client: httpx.Client) -> None:
    params = {"q": "contrastive learning", "top": 6, "where": "source GLOB 'pdfs/*'"}
    r = client.get("/api/search", params=params)
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert len(hits) == 6 and all(h["source"].startswith("pdfs/") for h in hits)
    assert r.json()["query"]["where"] == "source GLOB 'pdfs/*'"
    form = {"text": "pump", "top": "4", "where": "modality = 'image' AND width > 10"}
    r = client.post("/api/search", data=form)
    assert r.status_code == 200, r.text
    assert [h["modality"] for h in r.json()["hits"]] == ["image"] * 4


def test_source_prefix_returns_a_full_page_of_hits(client: httpx.Client) -> None:
    """It used to filter after ranking and could return fewer than `top`."""
    r = client.get("/api/search", params={"q": "pump housing", "source": "papers", "top": 8})
    hits = r.json()["hits"]
    assert len(hits) == 8 and all(h["source"].startswith("papers/") for h in hits)
    assert [h["rank"] for h in hits] == list(range(1, 9))
    both = {"q": "pump", "source": "pdfs/", "where": "page = 2", "top": 3}
    hits = client.get("/api/search", params=both).json()["hits"]
    assert hits and all(h["source"].startswith("pdfs/") and h["locator"]["page"] == 2 for h in hits)


def test_bad_where_is_a_400_naming_the_field(client: httpx.Client) -> None:
    r = client.get("/api/search", params={"q": "pump", "where": "colour = 'red'"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert "unknown field 'colour'" in error["message"]
    assert "modality" in error["hint"] and "label_prob" in error["hint"]
    r = client.post("/api/ask", json={"question": "what torque?", "where": "size >"})
    assert r.status_code == 400 and "expected a value for size" in r.json()["error"]["message"]


def test_ask_evidence_respects_where(client: httpx.Client) -> None:
    body = {"question": "What torque for the housing bolts?", "where": "modality = 'image'"}
    r = client.post("/api/ask", json=body)
    assert r.status_code == 200, r.text
    assert all(e["modality"] == "image" for e in r.json()["evidence"])


def test_hits_carry_contributions_summing_to_the_score(client: httpx.Client) -> None:
    for params in ({"q": "pump housing"}, {"q": "pump housing", "fusion": "rrf"}):
        hits = client.get("/api/search", params={**params, "top": 6}).json()["hits"]
        assert hits and all(h["contributions"] and _sum_ok(h) for h in hits)


def test_quoted_phrase_over_rest(client: httpx.Client) -> None:
    hits = client.get("/api/search", params={"q": '"housing bolts"', "top": 10}).json()["hits"]
    assert hits
    assert client.get("/api/search", params={"q": '"bolts housing"'}).json()["hits"] == []


def test_cli_through_the_server_keeps_filters_and_explanations(server, served_root) -> None:  # noqa: ANN001
    """`polyseek search` asks the running server: --where reaches it, --explain still shows."""
    code, out, _ = cli(
        "search", "pump", "-c", str(served_root), "--where", "modality = 'page'",
        "--explain", "-k", "2",
    )  # fmt: skip
    assert code == 0, out
    assert len(re.findall(r"^ *\d+\. -?\d+\.\d+ page ", out, re.MULTILINE)) == 2
    assert len(re.findall(r"= -?\d+\.\d{4}: ", out)) == 2  # one explanation per hit
