"""``polyseek label train | show | remove``: few-shot labels usable in ``--where``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from polyseek.cli.options import CollectionOpt, JsonOpt, StoreOpt, out

if TYPE_CHECKING:
    from polyseek.labels import LabelModel

METHODS = ("auto", "prototype", "logistic")  # polyseek.labels.METHODS (imported lazily)

label_app = typer.Typer(
    help="Few-shot labels: fit a classifier on a few labelled examples, label every item "
    "(usable as --where \"label = 'x' AND label_prob > 0.8\").",
    no_args_is_help=True,
)


def print_model(model: LabelModel, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(model.to_dict()))
        return
    shown = ", ".join(f"{escape(c)} ({model.per_class.get(c, 0)})" for c in model.classes)
    out.print(f"classes     {shown}\nmethod      {model.method}")
    if model.cv_accuracy is None:
        out.print("accuracy    not cross-validated (a class has a single example)")
    else:
        tried = ", ".join(f"{m} {a:.3f}" for m, a in model.candidates.items())
        out.print(
            f"accuracy    {model.cv_accuracy:.3f} ({model.cv_folds}-fold cross-validation; {tried})"
        )
        table = Table("true \\ predicted", *model.classes, title="cross-validated confusion")
        for c, row in zip(model.classes, model.confusion, strict=True):
            table.add_row(c, *(str(n) for n in row))
        out.print(table)
    counts = ", ".join(f"{escape(c)} {n}" for c, n in sorted(model.counts.items()))
    out.print(f"labelled    {counts or 'nothing'}")


@label_app.command("train")
def train_command(
    labels: Annotated[
        Path,
        typer.Argument(
            help="A CSV of 'path_or_item_id,label' lines, or a folder with one sub-folder "
            "per class holding example files."
        ),
    ],
    method: Annotated[
        str, typer.Option(help=f"Classifier: {', '.join(METHODS)} (auto: by cross-validation).")
    ] = "auto",
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a labeller on the examples, label every item, print its cross-validated accuracy."""
    from polyseek.engine import Engine

    model = Engine.open(collection, store=store).train_labels(labels, method=method)
    print_model(model, as_json)


@label_app.command("show")
def show_command(
    collection: CollectionOpt = None, store: StoreOpt = None, as_json: JsonOpt = False
) -> None:
    """Show the labeller: classes, method, accuracy, confusion table, items per label."""
    from polyseek.engine import Engine
    from polyseek.errors import PolyseekError

    model = Engine.open(collection, store=store).label_model()
    if model is None:
        raise PolyseekError("no labels yet", hint="train some: polyseek label train LABELS")
    print_model(model, as_json)


@label_app.command("remove")
def remove_command(collection: CollectionOpt = None, store: StoreOpt = None) -> None:
    """Forget the labeller and every item's label."""
    from polyseek.engine import Engine

    found = Engine.open(collection, store=store).remove_labels()
    out.print("labels removed" if found else "there were no labels")
