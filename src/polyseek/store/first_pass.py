"""Which compressed first pass a search runs (``none``, ``truncate:N``, ``int8``, ``binary``).

Only the parsed choice, without numpy, so option declarations (the CLI's ``--help``) can
name it without loading the array code in :mod:`polyseek.store.quantized`.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyseek.errors import QueryError

FIRST_PASS_KINDS = ("none", "truncate:N", "int8", "binary")
DEFAULT_OVERSAMPLE = 10


@dataclass(frozen=True)
class FirstPass:
    """Which first pass to run and how many candidates (``k * oversample``) to rescore."""

    kind: str = "none"  # "none", "truncate", "int8" or "binary"
    dims: int = 0  # truncate only
    oversample: int = DEFAULT_OVERSAMPLE

    @classmethod
    def parse(cls, spec: str | FirstPass | None, oversample: int = DEFAULT_OVERSAMPLE) -> FirstPass:
        """``none`` / ``truncate:N`` / ``int8`` / ``binary`` -> a FirstPass (QueryError if bad)."""
        if isinstance(spec, FirstPass):
            return spec
        if oversample < 1:
            raise QueryError(f"oversample must be at least 1, got {oversample}")
        text = (spec or "none").strip().lower()
        valid = f"valid first passes: {', '.join(FIRST_PASS_KINDS)}"
        if text in ("none", "int8", "binary"):
            return cls(text, 0, oversample)
        name, sep, arg = text.partition(":")
        if name == "truncate" and sep:
            try:
                dims = int(arg)
            except ValueError:
                msg = f"bad first pass {spec!r}: {arg!r} is not a number"
                raise QueryError(msg, hint=valid) from None
            if dims < 1:
                raise QueryError(f"bad first pass {spec!r}: dimensions must be >= 1", hint=valid)
            return cls("truncate", dims, oversample)
        raise QueryError(f"unknown first pass {spec!r}", hint=valid)

    def for_dim(self, dim: int) -> FirstPass:
        """This plan for vectors of ``dim`` dimensions: ``truncate:N`` is capped at each
        encoder's dimension, so one with N or fewer has nothing to cut and is searched
        whole (MiniLM 384-d beside a 256-d CLIP under one ``truncate:300``)."""
        if self.kind == "truncate" and self.dims >= dim:
            return FirstPass("none", 0, self.oversample)
        return self

    @property
    def is_exact(self) -> bool:
        return self.kind == "none"

    @property
    def spec(self) -> str:
        return f"truncate:{self.dims}" if self.kind == "truncate" else self.kind


__all__ = ["DEFAULT_OVERSAMPLE", "FIRST_PASS_KINDS", "FirstPass"]
