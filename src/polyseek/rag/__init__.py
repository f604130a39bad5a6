"""Answers with citations: retrieve, (rerank), answer extractively or with a generator.

Answers are quoted and checked at sentence grain: every answer sentence's ``spans`` are
the evidence sentences that support it (:class:`CitedSpan`, each with its own locator).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyseek.rag.ask import ask
    from polyseek.rag.base import (
        NO_ANSWER,
        Answer,
        AnswerSentence,
        ChatMessage,
        CitedSpan,
        Evidence,
        FewShotExample,
        Generator,
    )
    from polyseek.rag.defaults import DEFAULT_SUPPORT, DEFAULT_THRESHOLD
    from polyseek.rag.extractive import ExtractiveAnswerer
    from polyseek.rag.generative import GenerativeAnswerer
    from polyseek.rag.generators import (
        GeneratorError,
        OpenAIChatGenerator,
        TransformersGenerator,
        load_generator,
    )
    from polyseek.rag.scoring import SentenceScorer, Weights
    from polyseek.rag.support import NliModel, SupportChecker

# Imported on first use: the CLI names ``ask``'s defaults in ``--help`` without loading
# numpy, the encoders or the generators.
_EXPORTS = {
    "Answer": "polyseek.rag.base",
    "AnswerSentence": "polyseek.rag.base",
    "ChatMessage": "polyseek.rag.base",
    "CitedSpan": "polyseek.rag.base",
    "DEFAULT_SUPPORT": "polyseek.rag.defaults",
    "DEFAULT_THRESHOLD": "polyseek.rag.defaults",
    "Evidence": "polyseek.rag.base",
    "ExtractiveAnswerer": "polyseek.rag.extractive",
    "FewShotExample": "polyseek.rag.base",
    "GenerativeAnswerer": "polyseek.rag.generative",
    "Generator": "polyseek.rag.base",
    "GeneratorError": "polyseek.rag.generators",
    "NO_ANSWER": "polyseek.rag.base",
    "NliModel": "polyseek.rag.support",
    "OpenAIChatGenerator": "polyseek.rag.generators",
    "SentenceScorer": "polyseek.rag.scoring",
    "SupportChecker": "polyseek.rag.support",
    "TransformersGenerator": "polyseek.rag.generators",
    "Weights": "polyseek.rag.scoring",
    "ask": "polyseek.rag.ask",
    "load_generator": "polyseek.rag.generators",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_SUPPORT",
    "DEFAULT_THRESHOLD",
    "NO_ANSWER",
    "Answer",
    "AnswerSentence",
    "ChatMessage",
    "CitedSpan",
    "Evidence",
    "ExtractiveAnswerer",
    "FewShotExample",
    "GenerativeAnswerer",
    "Generator",
    "GeneratorError",
    "NliModel",
    "OpenAIChatGenerator",
    "SentenceScorer",
    "SupportChecker",
    "TransformersGenerator",
    "Weights",
    "ask",
    "load_generator",
]
