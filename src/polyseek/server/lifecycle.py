"""REST routes for the model lifecycle: add, upgrade, backfill and remove encoders.

``GET /api/encoders`` says each encoder's state and how far a backfill is (also in
``/api/status``); the backfill runs in a background thread of the server
(:class:`~polyseek.lifecycle.jobs.BackfillThread`) while searches go on.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from polyseek.engine import Engine
from polyseek.lifecycle import add_encoder, encoders_status, remove_encoder, upgrade_encoder
from polyseek.lifecycle.jobs import BackfillThread
from polyseek.server.errors import Conflict


class AddEncoderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spec: str = Field(min_length=1, max_length=1000, description="Encoder spec, e.g. clip:/dir")


class UpgradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old: str = Field(min_length=1, max_length=1000)
    new: str = Field(min_length=1, max_length=1000)
    sample: int = Field(5000, ge=10, le=100_000, description="Items embedded to fit the adapter")
    min_retention: float = Field(0.9, ge=0.0, le=1.0)
    keep_old: bool = False


class EncodersOut(BaseModel):
    encoders: list[dict[str, Any]]
    backfill_running: bool
    backfill_error: str | None = None
    upgrade: dict[str, Any] | None = None  # the report of the last upgrade


class _Backfills:
    """At most one background backfill per server."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.thread: BackfillThread | None = None
        self.upgrade: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.thread is not None and self.thread.running:
                return
            self.thread = self.engine.backfill_in_background()

    def out(self) -> EncodersOut:
        t = self.thread
        error = None if t is None or t.error is None else t.error.message
        return EncodersOut(
            encoders=encoders_status(self.engine.collection),
            backfill_running=bool(t and t.running),
            backfill_error=error,
            upgrade=self.upgrade,
        )


def lifecycle_routes(engine: Engine, read: Any, admin: Any) -> APIRouter:
    router = APIRouter()
    jobs = _Backfills(engine)

    @router.get("/api/encoders", response_model=EncodersOut, dependencies=[read], tags=["index"])
    def encoders() -> EncodersOut:
        """Each encoder: ready, backfilling (items done of all), or being upgraded."""
        return jobs.out()

    @router.post(
        "/api/encoders",
        response_model=EncodersOut,
        status_code=202,
        dependencies=[admin],
        tags=["index"],
    )
    def add(body: AddEncoderRequest) -> EncodersOut:
        """Add an encoder and backfill it in the background (search uses it meanwhile)."""
        add_encoder(engine.collection, body.spec)
        jobs.start()
        return jobs.out()

    @router.post(
        "/api/encoders/upgrade",
        response_model=EncodersOut,
        status_code=202,
        dependencies=[admin],
        tags=["index"],
    )
    def upgrade(body: UpgradeRequest) -> EncodersOut:
        """Fit the adapter (refused with 400 and nothing changed below ``min_retention``),
        then backfill NEW in the background and switch when it is complete."""
        if jobs.thread is not None and jobs.thread.running:
            raise Conflict("a backfill is running: wait for it before an upgrade")
        report = upgrade_encoder(
            engine.collection,
            body.old,
            body.new,
            sample=body.sample,
            min_retention=body.min_retention,
            keep_old=body.keep_old,
        )
        jobs.upgrade = report.to_dict()
        jobs.start()
        return jobs.out()

    @router.post(
        "/api/encoders/backfill",
        response_model=EncodersOut,
        status_code=202,
        dependencies=[admin],
        tags=["index"],
    )
    def resume() -> EncodersOut:
        """Resume pending backfills in the background."""
        jobs.start()
        return jobs.out()

    @router.delete(
        "/api/encoders", response_model=EncodersOut, dependencies=[admin], tags=["index"]
    )
    def remove(spec: Annotated[str, Query(min_length=1, max_length=1000)]) -> EncodersOut:
        """Drop an encoder and its vectors."""
        if jobs.thread is not None and jobs.thread.running:
            raise Conflict("a backfill is running: wait for it before removing an encoder")
        remove_encoder(engine.collection, spec)
        return jobs.out()

    return router


__all__ = ["lifecycle_routes"]
