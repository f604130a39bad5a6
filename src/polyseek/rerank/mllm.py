"""Multimodal-LLM reranking (prompt-and-rerank): ask a vision-language model whether each
candidate answers the query, and score it by the model's confidence in "yes".

:class:`EndpointReranker` talks to any OpenAI-compatible chat-completions server (vLLM,
Ollama, llama.cpp server, a hosted API) and sends candidate images as data URLs. The
score is P("yes") from the returned log-probabilities when the server gives them,
otherwise 1.0 / 0.0 read from the answer text.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyseek.errors import ConfigError, QueryError
from polyseek.rerank.base import Candidate, Reranker

logger = logging.getLogger(__name__)

PROMPT = (
    "You judge search results.\nQuery: {query}\nCandidate ({modality}): {text}\n"
    "Does this candidate answer the query? Answer with one word: yes or no."
)
MAX_TEXT_CHARS = 1500


def build_prompt(query: str, candidate: Candidate) -> str:
    text = " ".join(candidate.text.split())[:MAX_TEXT_CHARS] or "(no text; see the image)"
    return PROMPT.format(query=query, modality=candidate.modality, text=text)


def _data_url(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
    return f"data:{mime};base64,{data}"


def yes_probability(choice: dict[str, Any]) -> float:
    """P(yes) from a chat-completions choice: log-probabilities if present, else the text."""
    content = (choice.get("logprobs") or {}).get("content") or []
    if content:
        yes = no = 0.0
        for entry in content[0].get("top_logprobs") or [content[0]]:
            token = str(entry.get("token", "")).strip().lower()
            p = math.exp(float(entry.get("logprob", -math.inf)))
            if token == "yes":
                yes += p
            elif token == "no":
                no += p
        if yes + no > 0:
            return yes / (yes + no)
    text = str((choice.get("message") or {}).get("content") or "").strip().lower()
    return 1.0 if text.startswith("yes") else 0.0


class EndpointReranker(Reranker):
    """Prompt-and-rerank through an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        send_images: bool = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint URL must start with http:// or https://, got {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.send_images = send_images
        self.name = f"mllm-endpoint:{model}"

    def _request(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise QueryError(f"reranker endpoint {self.url} answered {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise QueryError(
                f"reranker endpoint {self.url} unreachable: {exc}",
                hint="start the server, or check the URL (e.g. http://localhost:8000/v1)",
            ) from exc
        except ValueError as exc:
            raise QueryError(f"reranker endpoint {self.url} sent invalid JSON ({exc})") from exc

    def _message(self, query: str, candidate: Candidate) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [{"type": "text", "text": build_prompt(query, candidate)}]
        if self.send_images and candidate.image_path is not None and candidate.image_path.is_file():
            parts.append(
                {"type": "image_url", "image_url": {"url": _data_url(candidate.image_path)}}
            )
        return [{"role": "user", "content": parts}]

    def score(self, query: str, candidates: Sequence[Candidate]) -> list[float]:
        scores = []
        for candidate in candidates:
            body = {
                "model": self.model,
                "messages": self._message(query, candidate),
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": True,
                "top_logprobs": 5,
            }
            data = self._request(body)
            try:
                choice = data["choices"][0]
            except (KeyError, IndexError, TypeError) as exc:
                raise QueryError(f"reranker endpoint {self.url}: no choices in the answer") from exc
            scores.append(yes_probability(choice))
        return scores


def endpoint_reranker(model: str) -> EndpointReranker:
    """``MODEL@http://host:port/v1`` (the ``mllm-endpoint:`` spec) -> an EndpointReranker."""
    name, at, url = model.partition("@")
    if not at or not name or not url:
        raise ConfigError(
            f"bad reranker spec 'mllm-endpoint:{model}'",
            hint="write mllm-endpoint:MODEL@http://host:port/v1",
        )
    return EndpointReranker(url, name)


class TransformersVLMReranker(Reranker):
    """Prompt-and-rerank with a local transformers vision-language model.

    The model (hub name in the local cache, or a folder) is loaded with
    ``AutoModelForImageTextToText`` and ``AutoProcessor``; the processor's chat template
    builds the prompt. The score is P("yes") against P("no") at the first answer token.
    """

    def __init__(self, model: str, *, max_text_chars: int = MAX_TEXT_CHARS) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.name = f"mllm:{model}"
        local = Path(model).expanduser()
        source = str(local) if local.is_dir() else model
        try:
            self.processor: Any = AutoProcessor.from_pretrained(source)
            self.model: Any = AutoModelForImageTextToText.from_pretrained(
                source, dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            from polyseek.errors import EncoderError

            raise EncoderError(
                f"cannot load the vision-language model {model!r}: {exc}",
                hint="give a local folder or a hub name in the local cache (no model hub here)",
            ) from exc
        self.model.eval()
        tok = self.processor.tokenizer
        self._yes = tok.encode("yes", add_special_tokens=False)[0]
        self._no = tok.encode("no", add_special_tokens=False)[0]
        if self._yes == self._no:
            from polyseek.errors import EncoderError

            raise EncoderError(f"{model!r}: 'yes' and 'no' map to the same token")
        self.max_text_chars = max_text_chars

    def _inputs(self, query: str, candidate: Candidate) -> Any:
        from PIL import Image

        content: list[dict[str, Any]] = []
        images = []
        if candidate.image_path is not None and candidate.image_path.is_file():
            with Image.open(candidate.image_path) as img:
                images.append(img.convert("RGB"))
            content.append({"type": "image"})
        content.append({"type": "text", "text": build_prompt(query, candidate)})
        prompt = self.processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True
        )
        return self.processor(
            text=prompt, images=images or None, return_tensors="pt", add_special_tokens=False
        )

    def score(self, query: str, candidates: Sequence[Candidate]) -> list[float]:
        import torch

        scores = []
        with torch.inference_mode():
            for candidate in candidates:
                logits = self.model(**self._inputs(query, candidate)).logits[0, -1]
                pair = torch.stack([logits[self._yes], logits[self._no]]).float()
                scores.append(float(torch.softmax(pair, dim=0)[0]))
        return scores
