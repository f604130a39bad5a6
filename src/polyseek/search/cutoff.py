"""Adaptive cut-off: return fewer results rather than irrelevant ones.

Two rules, both applied to a ranked list's final scores (best first):

* ``relative``: keep hits whose score, min-max normalised over the candidate list, is at
  least ``threshold`` (1.0 keeps only the best; 0.0 keeps everything).
* ``gap``: cut at the largest drop between neighbouring scores when that drop is at least
  ``threshold`` times the list's score range (a cliff between matches and the rest).

Off by default; at least ``min_hits`` results are always kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from polyseek.errors import ConfigError

CutoffMode = Literal["relative", "gap"]
CUTOFF_MODES: tuple[CutoffMode, ...] = ("relative", "gap")


@dataclass(frozen=True)
class Cutoff:
    mode: CutoffMode = "relative"
    threshold: float = 0.5
    min_hits: int = 1

    def __post_init__(self) -> None:
        if self.mode not in CUTOFF_MODES:
            raise ConfigError(
                f"unknown cut-off mode {self.mode!r}",
                hint=f"valid modes: {', '.join(CUTOFF_MODES)}",
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"cut-off threshold must lie in [0, 1], got {self.threshold}")
        if self.min_hits < 1:
            raise ConfigError(f"cut-off min_hits must be at least 1, got {self.min_hits}")

    @classmethod
    def parse(cls, text: str) -> Cutoff:
        """``"relative:0.6"`` or ``"gap:0.3"`` (the CLI form)."""
        mode, sep, value = text.partition(":")
        try:
            threshold = float(value) if sep else 0.5
        except ValueError as exc:
            raise ConfigError(
                f"bad cut-off {text!r}", hint="write MODE:THRESHOLD, e.g. relative:0.6 or gap:0.3"
            ) from exc
        return cls(mode=mode, threshold=threshold)  # type: ignore[arg-type]

    def keep(self, scores: Sequence[float]) -> int:
        """How many of the (descending) ``scores`` to keep."""
        n = len(scores)
        if n <= self.min_hits:
            return n
        span = scores[0] - scores[-1]
        if span <= 0:
            return n
        if self.mode == "relative":
            kept = sum(1 for s in scores if (s - scores[-1]) / span >= self.threshold)
            return max(self.min_hits, kept)
        gaps = [scores[i] - scores[i + 1] for i in range(n - 1)]
        best = max(range(n - 1), key=lambda i: (gaps[i], -i))
        if gaps[best] >= self.threshold * span:
            return max(self.min_hits, best + 1)
        return n

    def describe(self) -> str:
        return f"{self.mode}:{self.threshold:g}"


__all__ = ["CUTOFF_MODES", "Cutoff", "CutoffMode"]
