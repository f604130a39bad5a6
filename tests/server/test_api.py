"""The REST API against a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.conftest import SAMPLE
from tests.helpers.served import ADMIN_KEY, AUDIO_END, AUDIO_SOURCE, AUDIO_START, READ_KEY

PAPER = "papers/align-before-fuse-vision-and-language-representation-learning-with-momentum.md"
IMAGE = "images/pump-housing-exploded-view.png"


def png_bytes(size: tuple[int, int] = (40, 30), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def test_text_search_finds_the_paper_with_urls(client: httpx.Client) -> None:
    # modality=text: the tiny random CLIP also ranks pages for text queries (noise).
    params = {"q": "ALBEF momentum distillation", "top": 3, "modality": "text"}
    r = client.get("/api/search", params=params)
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits[0]["source"] == PAPER
    assert hits[0]["file_url"] == "/api/files/" + PAPER
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["signals"], "every hit explains its score"


def test_modality_and_source_filters(client: httpx.Client) -> None:
    r = client.get("/api/search", params={"q": "pump", "modality": "page", "top": 5})
    assert r.status_code == 200
    assert {h["modality"] for h in r.json()["hits"]} == {"page"}
    r = client.get("/api/search", params={"q": "contrastive", "source": "pdfs", "top": 5})
    hits = r.json()["hits"]
    assert hits and all(h["source"].startswith("pdfs/") for h in hits)


def test_image_query_returns_that_image_first(client: httpx.Client) -> None:
    data = (SAMPLE / IMAGE).read_bytes()
    r = client.post("/api/search", files={"image": ("q.png", data, "image/png")}, data={"top": "3"})
    assert r.status_code == 200, r.text
    top = r.json()["hits"][0]
    assert top["source"] == IMAGE and top["modality"] == "image"
    preview = client.get(top["preview_url"])
    assert preview.status_code == 200 and preview.content[:2] == b"\xff\xd8"  # a JPEG
    # Composed: the same image with a text modifier still works, weights validated.
    r = client.post(
        "/api/search",
        files={"image": ("q.png", data, "image/png")},
        data={"text": "in blue", "image_weight": "0.7"},
    )
    assert r.status_code == 200 and r.json()["query"]["image_weight"] == 0.7
    r = client.post(
        "/api/search", files={"image": ("q.png", data, "image/png")}, data={"image_weight": "2"}
    )
    assert r.status_code == 422 and "image_weight" in r.json()["error"]["message"]


def test_item_details_and_more_like_this(client: httpx.Client) -> None:
    params = {"q": "ALBEF", "top": 1, "modality": "text"}
    hit = client.get("/api/search", params=params).json()["hits"][0]
    item = client.get(f"/api/items/{hit['item_id']}").json()
    assert item["source"] == PAPER and "ALBEF" in item["text"]
    similar = client.get(f"/api/items/{hit['item_id']}/similar", params={"top": 4}).json()
    ids = [h["item_id"] for h in similar["hits"]]
    assert len(ids) == 4 and hit["item_id"] not in ids
    assert client.get("/api/items/nope").json()["error"]["status"] == 404


def test_original_file_supports_ranges(client: httpx.Client, served_root: Path) -> None:
    full = (served_root / AUDIO_SOURCE).read_bytes()
    r = client.get("/api/files/" + AUDIO_SOURCE, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 100-199/{len(full)}"
    assert r.content == full[100:200]
    r = client.get("/api/files/" + AUDIO_SOURCE, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == full[-10:]
    r = client.get("/api/files/" + AUDIO_SOURCE, headers={"Range": f"bytes={len(full) + 5}-"})
    assert r.status_code == 416
    assert client.get("/api/files/" + AUDIO_SOURCE).content == full


def test_timed_item_carries_its_moment(client: httpx.Client) -> None:
    r = client.get("/api/search", params={"q": "calibration tone", "modality": "audio"})
    hit = r.json()["hits"][0]
    assert hit["locator"]["start_s"] == AUDIO_START and hit["locator"]["end_s"] == AUDIO_END
    assert hit["locator_text"] == "00:00:02-00:00:04"


def test_status_and_ask(client: httpx.Client) -> None:
    st = client.get("/api/status").json()
    assert st["items"]["audio"] == 1 and st["items"]["image"] == 6
    assert st["index"]["state"] == "idle" and st["generator"] == "extractive"
    r = client.post("/api/ask", json={"question": "What does ALBEF align before fusing?"})
    assert r.status_code == 200, r.text
    ans = r.json()
    assert ans["answered"] and ans["sentences"]
    by_id = {e["id"]: e for e in ans["evidence"]}
    first = ans["sentences"][0]
    assert by_id[first["citations"][0]]["source"] == PAPER
    r = client.post("/api/ask", json={"question": "Who won the football world cup in 2014?"})
    assert r.json()["answered"] is False and r.json()["text"] == "No answer in the collection."


def test_errors_are_json_with_a_message(client: httpx.Client) -> None:
    r = client.get("/api/search", params={"q": ""})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("invalid request")
    r = client.post("/api/search", data={"top": "3"})
    assert r.status_code == 400 and "text query, an image" in r.json()["error"]["message"]
    r = client.post("/api/search", files={"image": ("x.png", b"not an image", "image/png")})
    assert r.status_code == 400 and "cannot read the uploaded image" in r.json()["error"]["message"]
    r = client.get("/api/search", params={"q": "x", "modality": "smell"})
    assert r.status_code == 422


def test_upload_limits(client: httpx.Client) -> None:
    big = b"\0" * (21 * 1024 * 1024)
    r = client.post("/api/search", files={"image": ("big.png", big, "image/png")})
    assert r.status_code == 413 and "over" in r.json()["error"]["message"]
    # Few bytes, many pixels: refused from the header, before decoding.
    bomb = png_bytes((8000, 6000), "white")
    r = client.post("/api/search", files={"image": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 413 and "8000x6000" in r.json()["error"]["message"]
    # A streamed (chunked) body without Content-Length is counted as it arrives.

    def chunks():
        yield (
            b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n"
        )
        for _ in range(22):
            yield b"\0" * (1024 * 1024)
        yield b"\r\n--x--\r\n"

    r = client.post(
        "/api/search",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 413 and "over" in r.json()["error"]["message"]


def test_keys_read_admin_cookie(server, client: httpx.Client) -> None:
    url = server.url
    assert httpx.get(url + "/api/status").status_code == 401
    r = httpx.get(url + "/api/status", headers={"X-API-Key": "wrong-key-0123456789"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "wrong API key"
    assert httpx.get(
        url + "/api/status", headers={"Authorization": f"Bearer {READ_KEY}"}
    ).is_success
    # The read key cannot change the index.
    r = client.post("/api/index", json={"all": True})
    assert r.status_code == 403 and "admin" in r.json()["error"]["message"]
    r = client.delete("/api/sources", params={"path": PAPER})
    assert r.status_code == 403
    # Media by the server's HttpOnly session cookie (for <img>/<video>), never a write by
    # cookie, and a key in a cookie counts for nothing.
    session = client.post("/api/session")
    assert "HttpOnly" in session.headers["set-cookie"]
    cookies = dict(session.cookies)
    assert httpx.get(url + "/api/files/" + PAPER, cookies=cookies).status_code == 200
    r = httpx.post(url + "/api/index", json={"all": True}, cookies=cookies)
    assert r.status_code == 401
    r = httpx.get(url + "/api/files/" + PAPER, cookies={"polyseek_key": ADMIN_KEY})
    assert r.status_code == 401
    assert httpx.get(url + "/api/health").json() == {"status": "ok", "auth": True}


def test_cors_is_off_by_default(client: httpx.Client) -> None:
    r = client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = client.options(
        "/api/search",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers


def test_search_stays_available_while_indexing(private) -> None:
    """Four clients search continuously while an index run adds papers, then removal."""
    root: Path = private.root
    new = sorted((SAMPLE / "papers").iterdir())[40:48]
    for p in new:
        (root / "papers" / p.name).write_bytes(p.read_bytes())
    admin = httpx.Client(base_url=private.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60)
    before = admin.get("/api/status").json()["sources"]
    statuses: list[int] = []
    during: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=private.url, headers={"X-API-Key": READ_KEY}, timeout=60) as c:
            while not stop.is_set():
                params = {"q": "ALBEF momentum distillation", "top": 5, "modality": "text"}
                r = c.get("/api/search", params=params)
                statuses.append(r.status_code)
                if r.status_code != 200 or r.json()["hits"][0]["source"] != PAPER:
                    errors.append(r.text[:200])
                if c.get("/api/index").json()["state"] == "running":
                    during.append(1)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    r = admin.post("/api/index", json={"all": True})
    assert r.status_code == 202 and r.json()["state"] == "running"
    assert admin.post("/api/index", json={"all": True}).status_code == 409  # one run at a time
    deadline = time.monotonic() + 120
    while admin.get("/api/index").json()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(60)
    job = admin.get("/api/index").json()
    assert job["state"] == "done", job
    assert job["report"]["added"] == len(new) and job["files_done"] >= len(new)
    assert not errors, errors[:3]
    assert len(statuses) >= 8 and set(statuses) == {200}
    assert during, "no search ran while the index run was going"
    assert admin.get("/api/status").json()["sources"] == before + len(new)
    # Added papers are searchable; removal (admin) makes them disappear.
    title = (root / "papers" / new[0].name).read_text().splitlines()[0].lstrip("# ")
    params = {"q": title, "top": 1, "modality": "text"}
    hits = admin.get("/api/search", params=params).json()["hits"]
    assert hits[0]["source"] == "papers/" + new[0].name
    r = admin.delete("/api/sources", params={"path": "papers/" + new[0].name})
    assert r.status_code == 200 and r.json() == {"removed": 1}
    hits = admin.get("/api/search", params={**params, "top": 3}).json()["hits"]
    assert all(h["source"] != "papers/" + new[0].name for h in hits)
    # Adding one file back through the sources route.
    r = admin.post("/api/sources", json={"paths": ["papers/" + new[0].name]})
    assert r.status_code == 202
    while admin.get("/api/index").json()["state"] == "running":
        time.sleep(0.2)
    assert admin.get("/api/index").json()["report"]["added"] == 1
    r = admin.post("/api/sources", json={"paths": ["../outside.md"]})
    assert r.status_code == 400
    # "." is the whole collection: refused without all=true, nothing removed.
    r = admin.delete("/api/sources", params={"path": "."})
    assert r.status_code == 400 and "would empty the index" in r.text
    assert admin.get("/api/status").json()["sources"] == before + len(new)
    admin.close()
