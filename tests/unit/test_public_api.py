"""The public API is what ``polyseek.__all__`` lists, and nothing public is left out."""

from __future__ import annotations

import polyseek


def test_all_names_exist_once():
    for name in polyseek.__all__:
        assert hasattr(polyseek, name), name
    assert len(set(polyseek.__all__)) == len(polyseek.__all__)


def test_no_unlisted_public_members():
    public = {
        name
        for name, value in vars(polyseek).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("polyseek")
    }
    assert public <= set(polyseek.__all__), public - set(polyseek.__all__)


def test_every_error_derives_from_one_base():
    errors = [getattr(polyseek, n) for n in polyseek.__all__ if n.endswith("Error")]
    assert errors and all(issubclass(e, polyseek.PolyseekError) for e in errors)
