"""Encoders are shared process-wide, so their embedding calls take turns on a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polyseek.encoders.base import Encoder, EncoderInfo
from polyseek.engine import Engine
from polyseek.server.jobs import IndexJobs


class SlowEncoder(Encoder):
    """Records whether two of its calls ever ran at the same time (a stand-in model)."""

    def __init__(self) -> None:
        self.info = EncoderInfo("slow", "text", "r", 4)
        self.inside = 0
        self.overlaps = 0

    def _work(self, n: int) -> np.ndarray:
        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        time.sleep(0.01)
        self.inside -= 1
        return np.ones((n, 4), np.float32) / 2

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._work(len(texts))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_queries(texts)  # re-entrant: the lock is held already


def test_concurrent_calls_of_one_encoder_take_turns() -> None:
    enc = SlowEncoder()
    threads = [
        threading.Thread(target=lambda: [enc.embed_documents(["a"]) for _ in range(5)])
        for _ in range(4)
    ] + [threading.Thread(target=lambda: [enc.embed_queries(["q"]) for _ in range(5)])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert enc.overlaps == 0


def test_the_background_index_run_shares_the_serving_models(small_collection: Path) -> None:
    """What server/jobs.py says: one model in memory, used by searches and the index run."""
    engine = Engine.open(small_collection, create=True)
    engine.index()
    info = engine.encoder_infos[0]
    serving = engine.encoder(info)
    jobs = IndexJobs(engine)
    jobs.start()
    searched = 0
    while jobs.state()["state"] == "running":
        assert engine.search("pump housing", top=3).hits  # meanwhile, searches keep working
        searched += 1
    jobs.wait()
    assert jobs.state()["state"] == "done", jobs.state()
    worker = Engine.open(small_collection)
    assert worker.encoder(info) is serving
    assert searched >= 1
