"""A backfill in a background thread, on its own handles of the same index.

The thread opens its own :class:`~polyseek.collection.Collection` on the store (own table
handles, as the server's index runs do); encoders are loaded once per process, so it
embeds with the models searches use, each call under the encoder's lock. Searches see
each batch once it is written.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from polyseek.errors import PolyseekError
from polyseek.lifecycle.backfill import BackfillProgress
from polyseek.lifecycle.manage import backfill

if TYPE_CHECKING:
    from polyseek.collection import Collection
    from polyseek.lifecycle.backfill import BatchCallback

logger = logging.getLogger(__name__)


class BackfillThread:
    """``start()``, then ``progress`` / ``running`` / ``join()``; ``stop()`` ends it after the
    batch in hand (a later :func:`~polyseek.lifecycle.backfill` carries on)."""

    def __init__(
        self, collection: Collection, spec: str | None = None, batch_items: int | None = None
    ) -> None:
        self.collection = collection
        self.spec = spec
        self.batch_items = batch_items
        self.result: list[BackfillProgress] | None = None
        self.error: PolyseekError | None = None
        self._progress: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="polyseek-backfill", daemon=True)

    def start(self) -> BackfillThread:
        self._thread.start()
        return self

    def _callback(self, spec: str) -> BatchCallback:
        def report(done: int, total: int) -> None:
            self._progress[spec] = (done, total)

        return report

    def _run(self) -> None:
        from polyseek.collection import Collection

        try:
            own = Collection.open(store=self.collection.store.path)
            self.result = backfill(
                own,
                self.spec,
                on_batch=self._callback,
                should_stop=self._stop.is_set,
                batch_items=self.batch_items,
            )
        except PolyseekError as exc:
            logger.error("background backfill failed: %s", exc.message)
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def progress(self) -> list[BackfillProgress]:
        return [BackfillProgress(s, d, t) for s, (d, t) in sorted(self._progress.items())]

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> list[BackfillProgress] | None:
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.result


__all__ = ["BackfillThread"]
