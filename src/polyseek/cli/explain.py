"""``--explain``: each signal's part of a hit's score, as one line of small bars."""

from __future__ import annotations

from rich.markup import escape

from polyseek.types import Hit

BAR = 12  # characters of the longest bar


def explanation(hit: Hit) -> str:
    """``     = lexical +0.812 ████  minilm +0.301 █  calibration -0.020 ▏`` (Rich markup).

    Parts are listed largest first; their sum is the score (to rounding). A signal that
    could not score the item (no text, no picture) is absent, not a negative part.
    """
    parts = sorted(hit.contributions.items(), key=lambda kv: -abs(kv[1]))
    if not parts:
        return "     [dim](no explanation)[/]"
    biggest = max(abs(v) for _, v in parts) or 1.0
    shown = []
    for name, value in parts:
        width = round(BAR * abs(value) / biggest)
        bar = "█" * width if width else "▏"
        colour = "green" if value >= 0 else "red"
        shown.append(f"{escape(name)} {value:+.3f} [{colour}]{bar}[/]")
    total = sum(v for _, v in parts)
    return f"     [dim]= {total:.4f}:[/] " + "  ".join(shown)


__all__ = ["explanation"]
