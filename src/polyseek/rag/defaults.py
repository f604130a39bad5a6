"""Default thresholds of ``ask``, without imports, so the CLI can show them in ``--help``."""

DEFAULT_THRESHOLD = 1.12
"""Below this score no sentence answers: the middle of the thresholds (0.98-1.26) that keep
both accuracy and abstention >= 0.80 on the DEV questions of ``benchmarks/answers.py``,
with the default weights and 8 evidence items."""

DEFAULT_SUPPORT = 0.55
"""Support a generated sentence needs from a sentence of the evidence it cites."""

__all__ = ["DEFAULT_SUPPORT", "DEFAULT_THRESHOLD"]
