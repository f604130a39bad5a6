"""Few-shot labels: ``polyseek label train LABELS`` (see :mod:`polyseek.labels.model`)."""

from polyseek.labels.examples import Example, read_examples
from polyseek.labels.model import (
    METHODS,
    LabelModel,
    fit_labels,
    item_features,
    load_model,
    predict_all,
    relabel,
    remove,
    train,
)

__all__ = [
    "METHODS",
    "Example",
    "LabelModel",
    "fit_labels",
    "item_features",
    "load_model",
    "predict_all",
    "read_examples",
    "relabel",
    "remove",
    "train",
]
