"""Answers with citations: retrieve, (rerank), answer extractively or with a generator.

Answers are quoted and checked at sentence grain: every answer sentence's ``spans`` are
the evidence sentences that support it (:class:`CitedSpan`, each with its own locator).
"""

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
from polyseek.rag.extractive import ExtractiveAnswerer
from polyseek.rag.generative import GenerativeAnswerer
from polyseek.rag.generators import (
    GeneratorError,
    OpenAIChatGenerator,
    TransformersGenerator,
    load_generator,
)
from polyseek.rag.scoring import DEFAULT_THRESHOLD, SentenceScorer, Weights
from polyseek.rag.support import DEFAULT_SUPPORT, NliModel, SupportChecker

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
