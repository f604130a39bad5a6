"""Answers with citations: retrieve, (rerank), answer extractively or with a generator."""

from polyseek.rag.ask import ask
from polyseek.rag.base import (
    NO_ANSWER,
    Answer,
    AnswerSentence,
    ChatMessage,
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

__all__ = [
    "NO_ANSWER",
    "Answer",
    "AnswerSentence",
    "ChatMessage",
    "Evidence",
    "ExtractiveAnswerer",
    "FewShotExample",
    "GenerativeAnswerer",
    "Generator",
    "GeneratorError",
    "OpenAIChatGenerator",
    "TransformersGenerator",
    "ask",
    "load_generator",
]
