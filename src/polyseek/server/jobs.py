"""Index runs in a background thread while the server keeps answering searches.

The run opens its own :class:`Engine` on the same store (own table handles); readers
see each batch once it is committed (the store's generation protocol). Encoders are
loaded once per process, so the run embeds with the same models the searches use: one
copy in memory, and every embedding call holds the encoder's own lock
(:class:`polyseek.encoders.base.Encoder`), so the two take turns instead of sharing a
tokenizer at the same time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyseek.engine import Engine
from polyseek.errors import PolyseekError
from polyseek.indexing import Progress
from polyseek.server.errors import Conflict

logger = logging.getLogger(__name__)


@dataclass
class JobState:
    state: str = "idle"  # idle | running | done | failed
    paths: list[str] | None = None
    total_files: int = 0
    files_done: int = 0
    items: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "paths": self.paths,
            "total_files": self.total_files,
            "files_done": self.files_done,
            "items": self.items,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "report": self.report,
            "error": self.error,
            "runs": self.runs,
        }


@dataclass
class _JobProgress(Progress):
    state: JobState
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, total_files: int) -> None:
        with self.lock:
            self.state.total_files = total_files

    def advance(self, files: int, items: int) -> None:
        with self.lock:
            self.state.files_done += files
            self.state.items += items


class IndexJobs:
    """At most one index run at a time, in a daemon thread; its state is readable any time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._state = JobState()
        self._thread: threading.Thread | None = None

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._state.to_dict()

    def start(self, paths: Sequence[str] | None = None) -> dict[str, Any]:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise Conflict("an index run is already going", hint="poll GET /api/index")
            runs = self._state.runs + 1
            self._state = JobState(
                state="running", paths=list(paths) if paths else None, started_at=time.time()
            )
            self._state.runs = runs
            self._thread = threading.Thread(
                target=self._run,
                args=(list(paths) if paths else None,),
                daemon=True,
                name="polyseek-index",
            )
            self._thread.start()
            return self._state.to_dict()

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, paths: list[str] | None) -> None:
        state = self._state
        try:
            # A second engine: its own table handles; the encoders are the process-wide
            # ones, whose calls take turns on each encoder's lock.
            worker = Engine.open(self.engine.root, store=self.engine.store.location)
            files = [Path(self.engine.root) / p for p in paths] if paths else None
            report = worker.index(files, progress=_JobProgress(state))
            with self._lock:
                state.report = report.to_dict()
                state.state = "done"
        except PolyseekError as exc:
            logger.warning("index run failed: %s", exc)
            with self._lock:
                state.state, state.error = "failed", exc.message
        except Exception as exc:  # a crash must show in the status, not kill the server
            logger.exception("index run crashed")
            with self._lock:
                state.state, state.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                state.finished_at = time.time()
