"""``GET /api/labels``: the few-shot labeller of the index (``polyseek label show``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from polyseek.engine import Engine
from polyseek.server.errors import NotFound


class LabelsOut(BaseModel):
    classes: list[str]
    method: str = Field(description="prototype or logistic (chosen by cross-validation)")
    cv_accuracy: float | None = Field(description="Cross-validated accuracy (None: 1-shot)")
    cv_folds: int
    confusion: list[list[int]] = Field(description="Rows: true class, columns: predicted")
    candidates: dict[str, float] = Field(description="Each method's cross-validated accuracy")
    examples: int
    per_class: dict[str, int]
    trained_at: float
    counts: dict[str, int] = Field(description="Items labelled per class")


def label_routes(engine: Engine, read: Any) -> APIRouter:
    router = APIRouter()

    @router.get("/api/labels", response_model=LabelsOut, dependencies=[read], tags=["labels"])
    def labels() -> LabelsOut:
        """The labeller: classes, method, cross-validated accuracy and confusion, counts.
        Filter searches by label with ``where=label = 'x' AND label_prob > 0.8``."""
        model = engine.label_model()
        if model is None:
            raise NotFound("no labels yet", hint="train some: polyseek label train LABELS")
        return LabelsOut(**model.to_dict())

    return router


__all__ = ["LabelsOut", "label_routes"]
