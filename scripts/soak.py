"""Soak test: repeat the probe families of issue 15 and print a table of counts.

    .venv/bin/python scripts/soak.py [--rounds N] [--only FAMILY ...] [--seed S]

Families (each case counts once; "lost" counts committed files missing afterwards):

* ``corruption``  every damage case of tests/helpers/damage.py, ``rounds`` times with
  different bytes: check must notice, repair must succeed, search must equal a clean index;
* ``sigkill``     SIGKILL ``polyseek index`` after a random commit, then re-run: the index
  must equal a clean one (nothing lost, nothing twice);
* ``hostile``     files made by mutating good ones (truncation, bit flips, splices, zeroed
  spans) of every kind: loading must give items or an IngestError with a plain reason,
  never another exception or a raw Python error text;
* ``concurrent``  a writer process indexes while reader threads search and a second
  writer tries to start: readers never fail, the second writer is refused cleanly;
* ``requests``    fuzzed REST requests (methods, paths, bodies, headers, origins) against
  the app in-process: never a 5xx, never a write without the admin key;
* ``diskfull``    a first index and an update on a small tmpfs (needs ``unshare -m``):
  a clean exit naming the store, and an index that still reads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

SAMPLE = REPO / "examples" / "sample-collection"
QUERIES = ("vision language model", "masked modeling", "speech recognition")


@dataclass
class Tally:
    family: str
    cases: int = 0
    failures: int = 0
    lost: int = 0
    seconds: float = 0.0
    note: str = ""

    def fail(self, what: str) -> None:
        self.failures += 1
        print(f"  FAIL {self.family}: {what}", flush=True)


def make_collection(dest: Path, n_papers: int) -> Path:
    (dest / "papers").mkdir(parents=True, exist_ok=True)
    for p in sorted((SAMPLE / "papers").iterdir())[:n_papers]:
        shutil.copy2(p, dest / "papers" / p.name)
    shutil.copytree(SAMPLE / "images", dest / "images", dirs_exist_ok=True)
    return dest


def results(root: Path, store: Path) -> list[list[tuple[str, float]]]:
    from polyseek.engine import Engine

    engine = Engine.open(root, store=store)
    out = []
    for q in QUERIES:
        for lexical in (False, True):
            hits = engine.search(q, top=8, lexical=lexical).hits
            out.append([(h.item_id, round(h.score, 5)) for h in hits])
    return out


def visible(store: Path) -> dict[str, str]:
    from polyseek.store.lancedb import LanceStore

    st = LanceStore.open(store)
    return {i: it.source for i, it in st.get_items(st.row_ids("items")).items()}


# --------------------------------------------------------------------------- families
def corruption(work: Path, rounds: int, rng: random.Random) -> Tally:
    from polyseek.engine import Engine
    from polyseek.maintenance import check_index, repair_index
    from tests.helpers.damage import CASES

    t = Tally("corruption")
    root = make_collection(work / "collection", 12)
    clean = work / "clean"
    Engine.open(root, store=clean, create=True).index()
    expected, items = results(root, clean), visible(clean)
    for r in range(rounds):
        for name, damage in CASES.items():
            t.cases += 1
            store = work / f"store-{r}"
            shutil.rmtree(store, ignore_errors=True)
            shutil.copytree(clean, store)
            damage(store, random.Random(rng.random()))
            try:
                if check_index(root, store=store).ok:
                    t.fail(f"{name}: check did not notice")
                if not repair_index(root, store=store).ok:
                    t.fail(f"{name}: repair did not end intact")
                if results(root, store) != expected:
                    t.fail(f"{name}: results differ from a clean index")
                t.lost += len(set(items) - set(visible(store)))
            except Exception as exc:  # noqa: BLE001 - counted, and the soak goes on
                t.fail(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
    t.note = f"{len(CASES)} damage kinds"
    return t


def sigkill(work: Path, rounds: int, rng: random.Random) -> Tally:
    from polyseek.engine import Engine

    t = Tally("sigkill")
    root = make_collection(work / "collection", 30)
    reference = work / "reference"
    Engine.open(root, store=reference, create=True).index()
    expected = visible(reference)
    for r in range(rounds):
        store = work / f"killed-{r}"
        for _ in range(3):
            t.cases += 1
            cmd = [sys.executable, "-m", "polyseek", "-v", "index", str(root)]
            proc = subprocess.Popen(
                [*cmd, "--store", str(store), "--batch-files", "3"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            wanted, seen = rng.randint(1, 6), 0
            assert proc.stderr is not None
            for line in proc.stderr:
                seen += "committed" in line
                if seen >= wanted:
                    time.sleep(rng.uniform(0, 0.2))
                    proc.send_signal(signal.SIGKILL)
                    break
            proc.wait(120)
            proc.stderr.close()
        report = Engine.open(root, store=store).index()
        got = visible(store)
        t.lost += len(set(expected) - set(got))
        if report.failed or got != expected:
            t.fail(f"round {r}: {len(got)} items, expected {len(expected)}")
    return t


_RAW = ("Traceback", "NoneType", "AttributeError", "TypeError", "KeyError", "IndexError")


def _mutate(data: bytes, rng: random.Random) -> bytes:
    how = rng.choice(["truncate", "flip", "splice", "zero", "duplicate"])
    b = bytearray(data)
    if how == "truncate" or len(b) < 16:
        return bytes(b[: rng.randint(0, max(len(b) - 1, 0))])
    if how == "flip":
        for _ in range(rng.randint(1, 64)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif how == "zero":
        i = rng.randrange(len(b))
        b[i : i + rng.randint(1, 4096)] = bytes(min(4096, len(b) - i))
    elif how == "splice":
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        b[i:i] = b[j : j + rng.randint(1, 2048)]
    else:
        i = rng.randrange(len(b))
        b = b[:i] + b[i:] + b[i:]
    return bytes(b)


def _seeds(work: Path) -> list[Path]:
    from tests.helpers.media import Scene, make_video, write_srt

    seeds = [
        next((SAMPLE / "papers").iterdir()),
        *sorted((SAMPLE / "images").iterdir())[:2],
        *sorted((SAMPLE / "pdfs").iterdir())[:2],
    ]
    html = work / "seed.html"
    html.write_text("<html><title>T</title><body><p>pump &amp; housing</p></body></html>")
    wav = work / "seed.wav"
    import wave

    import numpy as np

    pcm = (0.2 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())
    video = work / "seed.mp4"
    make_video(video, [Scene(1.0, (200, 30, 30), "square")], audio=False)
    srt = work / "seed.srt"
    write_srt(srt, [(0.1, 0.9, "hello there")])
    return [*seeds, html, wav, video, srt]


def hostile(work: Path, rounds: int, rng: random.Random) -> Tally:
    from polyseek.errors import IngestError, PolyseekError
    from polyseek.ingest import IngestOptions, load_file
    from polyseek.ingest.subtitles import read_subtitles

    t = Tally("hostile")
    options = IngestOptions(asr="none", ocr=False)
    seeds = _seeds(work)
    out = work / "mutants"
    out.mkdir()
    for r in range(rounds * 20):
        for seed in seeds:
            t.cases += 1
            path = out / f"m{r}{seed.suffix}"
            path.write_bytes(_mutate(seed.read_bytes(), rng))
            try:
                if seed.suffix == ".srt":
                    read_subtitles(path)
                else:
                    load_file(path, path.name, options)
            except IngestError as exc:
                if any(m in exc.reason for m in _RAW):
                    t.fail(f"{seed.suffix}: raw reason {exc.reason[:160]}")
            except PolyseekError:
                pass
            except Exception as exc:  # noqa: BLE001
                t.fail(f"{seed.suffix}: {type(exc).__name__}: {str(exc)[:160]}")
            path.unlink(missing_ok=True)
    t.note = f"{len(seeds)} seed kinds"
    return t


def concurrent(work: Path, rounds: int, rng: random.Random) -> Tally:
    from polyseek.engine import Engine
    from polyseek.errors import StoreError
    from polyseek.maintenance import check_index

    t = Tally("concurrent")
    root = make_collection(work / "collection", 10)
    Engine.open(root, create=True).index()
    extra = sorted((SAMPLE / "papers").iterdir())[60 : 60 + 30]
    for r in range(rounds):
        for p in extra[r % 3 :: 3]:
            shutil.copy2(p, root / "papers" / p.name)
        writer = subprocess.Popen(
            [sys.executable, "-m", "polyseek", "index", str(root), "--batch-files", "2"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        errors: list[str] = []
        stop = threading.Event()

        def read(stop: threading.Event = stop, errors: list[str] = errors) -> None:
            engine = Engine.open(root)
            while not stop.is_set():
                try:
                    engine.search(rng.choice(QUERIES), top=5, lexical=True)
                    t.cases += 1
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"{type(exc).__name__}: {exc}")

        readers = [threading.Thread(target=read) for _ in range(3)]
        for th in readers:
            th.start()
        time.sleep(1.0)
        second = Engine.open(root)
        try:
            second.index()
        except StoreError as exc:
            if "another process" not in exc.message:
                errors.append(exc.message)
        t.cases += 1
        writer.wait(300)
        stop.set()
        for th in readers:
            th.join()
        for e in errors:
            t.fail(e[:200])
        if not check_index(root).ok:
            t.fail(f"round {r}: check after the run found problems")
        for p in extra[r % 3 :: 3]:
            (root / "papers" / p.name).unlink()
    return t


def requests(work: Path, rounds: int, rng: random.Random) -> Tally:
    from fastapi.testclient import TestClient

    from polyseek.engine import Engine
    from polyseek.server import ServerSettings, create_app

    t = Tally("requests")
    root = make_collection(work / "collection", 5)
    engine = Engine.open(root, create=True)
    engine.index()
    read, admin = "r" * 20, "a" * 20
    app = create_app(engine, ServerSettings(api_key=read, admin_key=admin))
    client = TestClient(app, base_url="http://127.0.0.1:8080", raise_server_exceptions=False)
    paths = [
        "/api/search",
        "/api/index",
        "/api/sources",
        "/api/status",
        "/api/items/x",
        "/api/items/x/similar",
        "/api/files/papers",
        "/api/files/%2e%2e/etc/passwd",
        "/api/ask",
        "/api/session",
        "/api/ranking",
    ]
    bodies = [b"", b"{", b"{}", b'{"all": true}', b'{"paths": []}', b'{"paths": [""]}', b"\xff"]
    bodies += [b'{"paths": ["' + b"a" * 300 + b'"]}', b'{"question": "x", "top": 1}', b"null"]
    for _ in range(rounds * 100):
        before = set(engine.store.sources())
        t.cases += 1
        method = rng.choice(["GET", "POST", "DELETE", "PUT", "HEAD"])
        headers = {}
        key = rng.choice([None, read, admin, "wrong" * 4])
        if key:
            headers["X-API-Key"] = key
        if rng.random() < 0.3:
            headers["Origin"] = rng.choice(["http://evil.example", "http://127.0.0.1:8080"])
        headers["Content-Type"] = rng.choice(
            ["application/json", "text/plain", "application/x-www-form-urlencoded"]
        )
        params = {"q": rng.choice(["pump", "", "x" * 3000]), "path": rng.choice(["papers", "."])}
        r = client.request(
            method, rng.choice(paths), content=rng.choice(bodies), headers=headers, params=params
        )
        if r.status_code >= 500:
            t.fail(f"{method} -> {r.status_code} {r.text[:120]}")
        wrote = r.status_code in (200, 202) and method in ("POST", "DELETE")
        if wrote and key != admin and "search" not in r.url.path and "ask" not in r.url.path:
            if "session" not in r.url.path:
                t.fail(f"{method} {r.url.path} changed state without the admin key")
        app.state.jobs.wait(60)
        gone = before - set(engine.store.sources())
        if gone and key != admin:  # the admin key may remove sources; nothing else may
            t.lost += len(gone)
            t.fail(f"{method} {r.url.path} without the admin key removed {len(gone)} sources")
        if gone:  # put them back, so later requests have something to lose
            engine.index()
    t.note = "in-process app, keys on"
    return t


def diskfull(work: Path, rounds: int, rng: random.Random) -> Tally:
    t = Tally("diskfull")
    if shutil.which("unshare") is None:
        t.note = "skipped: no unshare"
        return t
    test = REPO / "tests" / "integration" / "test_disk_full.py"
    for _ in range(rounds):
        t.cases += 2
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            t.fail(proc.stdout[-400:])
    t.note = "first index + update on tmpfs"
    return t


FAMILIES: dict[str, Callable[[Path, int, random.Random], Tally]] = {
    "corruption": corruption,
    "sigkill": sigkill,
    "hostile": hostile,
    "concurrent": concurrent,
    "requests": requests,
    "diskfull": diskfull,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--only", nargs="*", choices=sorted(FAMILIES))
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tallies = []
    for name in args.only or list(FAMILIES):
        print(f"== {name}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"soak-{name}-") as tmp:
            started = time.perf_counter()
            tally = FAMILIES[name](Path(tmp), args.rounds, rng)
            tally.seconds = time.perf_counter() - started
        tallies.append(tally)
    print()
    print(f"| {'family':<11} | {'cases':>6} | {'failures':>8} | {'lost':>4} | {'s':>5} | note |")
    print(f"|{'-' * 13}|{'-' * 8}|{'-' * 10}|{'-' * 6}|{'-' * 7}|------|")
    for t in tallies:
        print(
            f"| {t.family:<11} | {t.cases:>6} | {t.failures:>8} | {t.lost:>4} | "
            f"{t.seconds:>5.0f} | {t.note} |"
        )
    if args.json:
        args.json.write_text(json.dumps([t.__dict__ for t in tallies], indent=2))
    sys.exit(1 if any(t.failures or t.lost for t in tallies) else 0)


if __name__ == "__main__":
    main()
