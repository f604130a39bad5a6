"""Few-shot labels: a classifier fitted on a few labelled items' embeddings, applied to all.

Features: an example's (or item's) mean vector per encoder of the index, the encoders'
blocks side by side (a block of zeros where an item has no vector from that encoder: it
is classified on what it has). Two candidates, chosen by cross-validated accuracy
(stratified k-fold, k = min(5, smallest class); ties to the lower log-loss):

* ``prototype``: cosine to each class's mean example, as logits scaled by a temperature
  fitted on the held-out folds (the nearest-prototype rule of few-shot learning).
* ``logistic``: multinomial logistic regression (scikit-learn) per encoder block, on the
  examples having that block, ``C`` chosen by the same cross-validation; an item's logits
  sum over the blocks it has.

Both are linear in the features, so an item with several vector rows (passages,
keyframes) scores the mean of its rows' scores: every visible item is labelled from the
store's in-memory matrices in one product per encoder, at training time and after each
index run (:func:`relabel`). With one example per class nothing can be held out: the
prototype rule is used at a fixed temperature and no accuracy is claimed.

Probabilities are the softmax of the chosen model's logits; ``label_prob`` is the top one.
Saved beside the index: ``labels.json`` (the model, its cross-validation report) and
``labels.parquet`` (item id, label, label_prob; what ``--where label = ...`` reads).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from polyseek.errors import ConfigError, StoreError
from polyseek.labels.examples import Example, read_examples
from polyseek.search.facets import labels_path
from polyseek.store.base import Store

if TYPE_CHECKING:
    from polyseek.collection import Collection
    from polyseek.encoders.base import EncoderInfo

logger = logging.getLogger(__name__)

MODEL_FILE = "labels.json"
METHODS = ("auto", "prototype", "logistic")
SCALES = (1.0, 3.0, 10.0, 30.0, 100.0)  # prototype temperatures tried
C_VALUES = (0.1, 1.0, 10.0, 100.0)  # logistic regression strengths tried
ONE_SHOT_SCALE = 30.0
SEED = 0


@dataclass
class LabelModel:
    """A fitted linear labeller: per-encoder weights, biases, and how well it did."""

    classes: list[str]
    method: str
    weights: dict[str, np.ndarray]  # encoder key -> (classes, dim)
    bias: np.ndarray
    cv_accuracy: float | None = None
    cv_folds: int = 0
    confusion: list[list[int]] = field(default_factory=list)  # rows: true, cols: predicted
    candidates: dict[str, float] = field(default_factory=dict)  # method -> CV accuracy
    examples: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    trained_at: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)  # items labelled per class

    def to_dict(self, weights: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "classes": self.classes,
            "method": self.method,
            "cv_accuracy": self.cv_accuracy,
            "cv_folds": self.cv_folds,
            "confusion": self.confusion,
            "candidates": self.candidates,
            "examples": self.examples,
            "per_class": self.per_class,
            "trained_at": self.trained_at,
            "counts": self.counts,
        }
        if weights:
            out["weights"] = {k: v.tolist() for k, v in self.weights.items()}
            out["bias"] = self.bias.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelModel:
        return cls(
            classes=list(data["classes"]),
            method=data["method"],
            weights={k: np.asarray(v, np.float32) for k, v in data["weights"].items()},
            bias=np.asarray(data["bias"], np.float32),
            cv_accuracy=data.get("cv_accuracy"),
            cv_folds=data.get("cv_folds", 0),
            confusion=data.get("confusion", []),
            candidates=data.get("candidates", {}),
            examples=data.get("examples", 0),
            per_class=data.get("per_class", {}),
            trained_at=data.get("trained_at", 0.0),
            counts=data.get("counts", {}),
        )


# ---------------------------------------------------------------------------- features
def _blocks(store: Store) -> list[EncoderInfo]:
    return [e for e in store.manifest.encoders if e.kind != "late-interaction"]


def item_features(store: Store, item_ids: Sequence[str]) -> np.ndarray:
    """The mean vector of the given items' rows, per encoder, side by side (zeros where
    none of them has a vector from an encoder)."""
    parts = []
    for info in _blocks(store):
        view = store.vectors(info.key)
        rows = np.concatenate([view.rows_of(i) for i in item_ids] or [np.zeros(0, np.int64)])
        if len(rows):
            parts.append(view.matrix[rows].mean(axis=0))
        else:
            parts.append(np.zeros(info.dim, np.float32))
    return np.concatenate(parts).astype(np.float32)


def outside_features(collection: Collection, path: Path) -> np.ndarray:
    """Features of a file outside the index: read and embedded like a query would be."""
    from polyseek.ingest import load_file

    items = load_file(path, path.name)
    parts = []
    for info in _blocks(collection.store):
        enc = collection.encoder(info)
        vecs: list[np.ndarray] = []
        texts = [it.text for it in items if it.text.strip()]
        if info.kind == "text" and texts:
            vecs.append(enc.embed_documents(texts))
        images = [it.image for it in items if it.image is not None]
        if info.kind == "image-text" and images:
            vecs.append(enc.embed_images(images))
        parts.append(np.concatenate(vecs).mean(axis=0) if vecs else np.zeros(info.dim))
    return np.concatenate(parts).astype(np.float32)


def example_matrix(collection: Collection, examples: Sequence[Example]) -> np.ndarray:
    rows = []
    for e in examples:
        if e.outside is not None:
            rows.append(outside_features(collection, e.outside))
        else:
            rows.append(item_features(collection.store, e.item_ids))
    return np.vstack(rows)


# ---------------------------------------------------------------------------- fitting
def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 1e-12, n, 1.0)  # type: ignore[no-any-return]


def _prototypes(x: np.ndarray, y: np.ndarray, k: int, blocks: Sequence[int]) -> np.ndarray:
    """Class means, each encoder's block normalised on its own: an item with vectors from
    one encoder only (a text without a picture) is compared on that block, where every
    class's prototype has unit length, not pulled toward classes without that block."""
    means = np.vstack([x[y == c].mean(axis=0) for c in range(k)])
    out, start = [], 0
    for dim in blocks:
        out.append(_normalise(means[:, start : start + dim]))
        start += dim
    return np.hstack(out)


def _fit(
    method: str, x: np.ndarray, y: np.ndarray, k: int, param: float, blocks: Sequence[int]
) -> tuple[Any, Any]:
    """(weights (k, dim), bias (k,)) of one candidate with one setting."""
    if method == "prototype":
        return param * _prototypes(x, y, k, blocks), np.zeros(k, np.float32)
    # One logistic regression per encoder block, on the examples that have it, without an
    # intercept: an item's logits are the sum over the blocks it has. A block that only
    # one class's examples have (pictures among the examples of one class) cannot teach
    # "has a picture" = that class, which would pull every text-only item to the others.
    w = np.zeros((k, x.shape[1]), np.float64)
    start = 0
    for dim in blocks:
        part = x[:, start : start + dim]
        has = np.abs(part).sum(axis=1) > 0
        if len(set(y[has].tolist())) == k:
            w[:, start : start + dim] = _logistic(part[has], y[has], k, param)
        start += dim
    return w, np.zeros(k, np.float32)


def _logistic(x: np.ndarray, y: np.ndarray, k: int, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, max_iter=2000, fit_intercept=False)
    lr.fit(x, y)
    if k == 2:  # scikit-learn keeps one row for two classes: the softmax of (-w, w) / 2
        return np.vstack([-lr.coef_[0] / 2, lr.coef_[0] / 2])  # type: ignore[no-any-return]
    return lr.coef_  # type: ignore[no-any-return]


def _cv(
    method: str, x: np.ndarray, y: np.ndarray, k: int, folds: int, blocks: Sequence[int]
) -> tuple[float, float, float, np.ndarray]:
    """(accuracy, log-loss, best setting, held-out predictions) over stratified folds."""
    from sklearn.model_selection import StratifiedKFold

    params = SCALES if method == "prototype" else C_VALUES
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y))
    best: tuple[float, float, float, np.ndarray] | None = None
    for p in params:
        probs = np.zeros((len(y), k))
        for train, test in splits:
            w, b = _fit(method, x[train], y[train], k, p, blocks)
            probs[test] = _softmax(x[test] @ np.asarray(w).T + b)
        pred = probs.argmax(axis=1)
        acc = float((pred == y).mean())
        loss = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-9, 1)).mean())
        if best is None or (acc, -loss) > (best[0], -best[1]):
            best = (acc, loss, p, pred)
    assert best is not None
    return best


def fit_labels(
    x: np.ndarray,
    labels: Sequence[str],
    method: str = "auto",
    blocks: Sequence[int] | None = None,
) -> LabelModel:
    """Fit a labeller on features ``x`` (one row per example), choosing by cross-validation.

    ``blocks``: the widths of the encoders' parts of a feature row (default: one part).
    """
    blocks = list(blocks) if blocks else [x.shape[1]]
    if method not in METHODS:
        raise ConfigError(f"unknown label method {method!r}", hint=f"valid: {', '.join(METHODS)}")
    classes = sorted(set(labels))
    y = np.asarray([classes.index(v) for v in labels])
    k = len(classes)
    counts = np.bincount(y, minlength=k)
    folds = int(min(5, counts.min()))
    tried = ("prototype", "logistic") if method == "auto" else (method,)
    model = LabelModel(classes, "prototype", {}, np.zeros(k), examples=len(y))
    model.per_class = {c: int(n) for c, n in zip(classes, counts, strict=True)}
    if folds < 2:  # one example of some class: nothing to hold out
        chosen, param = "prototype", ONE_SHOT_SCALE
        if method == "logistic":
            chosen, param = "logistic", 1.0
    else:
        results = {m: _cv(m, x, y, k, folds, blocks) for m in tried}
        chosen = max(results, key=lambda m: (results[m][0], -results[m][1]))
        acc, _, param, pred = results[chosen]
        model.cv_accuracy, model.cv_folds = acc, folds
        model.candidates = {m: r[0] for m, r in results.items()}
        confusion = np.zeros((k, k), dtype=int)
        np.add.at(confusion, (y, pred), 1)
        model.confusion = confusion.tolist()
    w, b = _fit(chosen, x, y, k, param, blocks)
    model.method = chosen
    model.bias = np.asarray(b, np.float32)
    model.weights = {"": np.asarray(w, np.float32)}  # split per encoder by the caller
    return model


def _split(model: LabelModel, store: Store) -> None:
    w = model.weights.pop("")
    start = 0
    for info in _blocks(store):
        model.weights[info.key] = w[:, start : start + info.dim]
        start += info.dim


# ---------------------------------------------------------------------------- applying
def predict_all(store: Store, model: LabelModel) -> pa.Table:
    """(id, label, label_prob) of every visible item with a vector the model reads."""
    logits: dict[str, np.ndarray] = {}
    for key, w in model.weights.items():
        try:
            view = store.vectors(key)
        except KeyError:
            continue
        if len(view.ids) == 0:
            continue
        ids, inverse = np.unique(view.ids.astype(str), return_inverse=True)
        scores = view.matrix @ w.T
        sums = np.zeros((len(ids), len(model.classes)), np.float64)
        np.add.at(sums, inverse, scores)
        sums /= np.bincount(inverse, minlength=len(ids))[:, None]
        for i, row in zip(ids.tolist(), sums, strict=True):
            logits[i] = logits.get(i, 0.0) + row
    if not logits:
        return pa.table({"id": [], "label": [], "label_prob": []})
    names = sorted(logits)
    probs = _softmax(np.vstack([logits[i] for i in names]) + model.bias)
    best = probs.argmax(axis=1)
    return pa.table(
        {
            "id": pa.array(names, pa.string()),
            "label": pa.array([model.classes[j] for j in best], pa.string()),
            "label_prob": pa.array(probs[np.arange(len(names)), best], pa.float64()),
        }
    )


def model_path(store: Store) -> Path:
    return store.path / MODEL_FILE


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save(store: Store, model: LabelModel, table: pa.Table) -> None:
    model.counts = {}
    for v in table.column("label").to_pylist():
        model.counts[v] = model.counts.get(v, 0) + 1
    _write_atomic(labels_path(store), lambda p: pq.write_table(table, p))
    text = json.dumps(model.to_dict(weights=True))
    _write_atomic(model_path(store), lambda p: p.write_text(text, encoding="utf-8"))


def load_model(store: Store) -> LabelModel | None:
    path = model_path(store)
    if not path.is_file():
        return None
    try:
        return LabelModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"{path}: unreadable label model ({exc})",
            hint="train again with `polyseek label train LABELS` or `polyseek label remove`",
        ) from exc


def train(collection: Collection, spec: Path, method: str = "auto") -> LabelModel:
    """Read the examples, fit, label every item, save; the model with its CV report."""
    examples = read_examples(collection, spec)
    x = example_matrix(collection, examples)
    blocks = [info.dim for info in _blocks(collection.store)]
    model = fit_labels(x, [e.label for e in examples], method, blocks)
    _split(model, collection.store)
    model.trained_at = time.time()
    table = predict_all(collection.store, model)
    save(collection.store, model, table)
    logger.info("labelled %d items with %s (%s)", table.num_rows, model.classes, model.method)
    return model


def relabel(store: Store) -> int:
    """Label every item again with the saved model (after an index run); how many."""
    model = load_model(store)
    if model is None:
        return 0
    table = predict_all(store, model)
    save(store, model, table)
    return table.num_rows


def remove(store: Store) -> bool:
    """Forget the model and the labels; whether there were any."""
    found = False
    for path in (model_path(store), labels_path(store)):
        if path.is_file():
            path.unlink()
            found = True
    return found


__all__ = [
    "METHODS",
    "LabelModel",
    "fit_labels",
    "item_features",
    "load_model",
    "predict_all",
    "relabel",
    "remove",
    "train",
]
