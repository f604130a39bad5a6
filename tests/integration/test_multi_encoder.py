"""A collection embedded by a text encoder and an image-text encoder at once.

The image-text encoder is a tiny random CLIP saved by the test and loaded through the
same `clip:<dir>` path users take; random weights still map an image to itself, so an
image query must return that very image first.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.encoders import clear_encoder_cache
from polyseek.engine import Engine
from polyseek.errors import EncoderMismatchError
from polyseek.search.base import Query, Ranking
from tests.conftest import copy_small_collection
from tests.helpers.tiny_models import make_tiny_clip

runner = CliRunner()


@pytest.fixture(scope="module")
def two_encoder_collection(tmp_path_factory):
    base = tmp_path_factory.mktemp("multi")
    clip_dir = make_tiny_clip(base / "tiny-clip")
    root = copy_small_collection(base / "c", n_papers=8)
    result = runner.invoke(
        app, ["index", str(root), "-e", "minilm", "-e", f"clip:{clip_dir}", "--json"]
    )
    assert result.exit_code == 0, result.output
    return root, clip_dir


def test_both_encoders_recorded(two_encoder_collection):
    root, clip_dir = two_encoder_collection
    st = Engine.open(root).status()
    kinds = {e["spec"]: e["kind"] for e in st.encoders}
    assert kinds == {"minilm": "text", f"clip:{clip_dir}": "image-text"}


def test_image_query_finds_the_same_image(two_encoder_collection, sample_dir):
    root, _ = two_encoder_collection
    image = root / "images" / "pump-room-sign.jpg"
    args = ["search", "--image", str(image), "-c", str(root), "--json"]
    result = runner.invoke(app, [*args, "--no-calibrate"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert hits[0]["source"] == "images/pump-room-sign.jpg"
    assert hits[0]["score"] == pytest.approx(1.0, abs=0.02)  # raw cosine with itself
    # By default (the collection mixes modalities) scores are calibrated; an image query
    # reaches text items too, through the image-text encoder's text tower.
    default = json.loads(runner.invoke(app, args).stdout)["hits"]
    assert default[0]["source"] == "images/pump-room-sign.jpg"
    assert "text" in {h.modality for h in runner_hits(root, image, top=40)}


def runner_hits(root, image, top: int):  # type: ignore[no-untyped-def]
    return Engine.open(root).search(image=image, top=top).hits


def test_text_query_merges_both_encoders(two_encoder_collection):
    root, clip_dir = two_encoder_collection
    res = Engine.open(root).search("pump housing bolts torque", top=20)
    signals = set().union(*(h.signals for h in res.hits))
    assert signals == {"minilm", f"clip:{clip_dir}", "lexical"}
    # For a text query the image-text encoder scores the items with a picture only.
    clip = f"clip:{clip_dir}"
    assert {h.modality for h in res.hits if clip in h.signals} <= {"image", "page", "video"}
    assert [h.rank for h in res.hits] == list(range(1, len(res.hits) + 1))
    scores = [h.score for h in res.hits]
    assert scores == sorted(scores, reverse=True)


def test_one_truncate_first_pass_serves_encoders_of_any_dimension(two_encoder_collection):
    # The README's example: truncate:128 beside an image-text encoder of fewer dimensions
    # (the tiny CLIP's), which is searched whole instead of refusing the query.
    root, clip_dir = two_encoder_collection
    engine = Engine.open(root)
    dims = {info.spec: info.dim for info in engine.encoder_infos}
    assert dims[f"clip:{clip_dir}"] <= 128 < dims["minilm"]
    res = engine.search("pump housing", top=5, first_pass="truncate:128", oversample=30)
    assert res.hits and f"clip:{clip_dir}" in set().union(*(h.signals for h in res.hits))


def test_composed_query_weights_image_and_text(two_encoder_collection):
    root, clip_dir = two_encoder_collection
    engine = Engine.open(root)
    image = root / "images" / "pump-housing-exploded-view.png"
    spec = f"clip:{clip_dir}"

    def ranking(**kw):
        q = Query(top=10, ranking=Ranking(encoders=(spec,)), **kw)
        return [(h.item_id, round(h.score, 5)) for h in engine.search_batch([q])[0].hits]

    image_only = ranking(image=image)
    text_only = ranking(text="in blue")
    assert ranking(image=image, text="in blue", image_weight=1.0) == image_only
    assert ranking(image=image, text="in blue", image_weight=0.0) == text_only
    mixed = ranking(image=image, text="in blue", image_weight=0.5)
    assert mixed not in (image_only, text_only)
    res = engine.search("in blue", image=image, image_weight=0.7)
    assert res.query["image_weight"] == 0.7
    assert all(set(h.signals) == {spec} for h in res.hits)  # text encoder not used


def test_changed_model_is_refused(tmp_path):
    import torch
    from transformers import CLIPModel

    clip_dir = make_tiny_clip(tmp_path / "clip")
    root = copy_small_collection(tmp_path / "c", n_papers=1)
    Engine.open(root, encoders=["minilm", f"clip:{clip_dir}"], create=True).index()
    model = CLIPModel.from_pretrained(clip_dir)
    with torch.no_grad():
        model.visual_projection.weight.add_(1.0)
    model.save_pretrained(clip_dir)
    clear_encoder_cache()
    with pytest.raises(EncoderMismatchError, match="revision") as err:
        Engine.open(root).search("pump")
    assert "--rebuild" in str(err.value)
