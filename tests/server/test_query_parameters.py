"""Every ranking option is a REST parameter, from the one declaration (search/base.py),
and a misspelt parameter is refused with 422 on every route, not silently ignored."""

from __future__ import annotations

import httpx

from polyseek.search.base import field_default, ranking_fields

OPTIONS = {f.name: field_default(f) for f in ranking_fields()}


def test_every_ranking_option_is_accepted(client: httpx.Client) -> None:
    listed = client.get("/api/ranking").json()
    assert {o["name"] for o in listed} == set(OPTIONS)
    assert {"lexical", "calibrate", "rerank", "cutoff", "first_pass"} <= set(OPTIONS)
    asked = {"lexical": "false", "calibrate": "true", "cutoff": "gap:0.3", "first_pass": "int8"}
    r = client.get("/api/search", params={"q": "pump housing", **asked})
    assert r.status_code == 200, r.text
    query = r.json()["query"]
    assert (
        query["lexical"] is False
        and query["calibrate"] == OPTIONS["calibration"]
        and "cutoff" in query
    )
    assert query["first_pass"] == "int8"
    r = client.post("/api/search", data={"text": "pump housing", **asked})
    assert r.status_code == 200, r.text


def test_unknown_parameters_are_refused_everywhere(client: httpx.Client) -> None:
    hit = client.get("/api/search", params={"q": "pump", "top": 1}).json()["hits"][0]
    item = hit["item_id"]
    for url, typo, valid in [
        ("/api/search?q=pump", "lexicl", "lexical"),
        (f"/api/items/{item}/similar", "tpo", "top"),
        (f"/api/items/{item}", "x", "none"),
        (hit["file_url"], "download", "none"),
        ("/api/status", "verbose", "none"),
        ("/api/ranking", "all", "none"),
    ]:
        r = client.get(url, params={typo: "1"})
        err = r.json()["error"]
        assert r.status_code == 422 and f"unknown query parameter: '{typo}'" in err["message"]
        assert valid in err["hint"], (url, err)
    r = client.post("/api/search", data={"text": "pump", "lexicl": "true"})
    assert r.status_code == 422 and "lexicl" in r.json()["error"]["message"]
    r = client.post("/api/ask", json={"question": "what pump?", "lexicl": True})
    assert r.status_code == 422 and "lexicl" in r.json()["error"]["message"]
