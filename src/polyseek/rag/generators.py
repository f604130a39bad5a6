"""Generators: any OpenAI-compatible chat endpoint, and local transformers models."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyseek.errors import ConfigError, PolyseekError
from polyseek.hub import loading_model
from polyseek.rag.base import ChatMessage, Generator
from polyseek.registry import Registry

logger = logging.getLogger(__name__)


class GeneratorError(PolyseekError):
    """A generator could not be loaded or did not answer."""


def _data_url(path: Path) -> str:
    mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


class OpenAIChatGenerator:
    """``POST {base_url}/chat/completions`` (vLLM, Ollama, llama.cpp server, OpenAI...).

    Images of the evidence go into the user turn as ``image_url`` data URLs.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_tokens: int = 512,
        send_images: bool = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"base URL {base_url!r} of the chat endpoint must start with http:// or https://"
            )
        self.name = f"openai:{model}"
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.send_images = send_images

    def _content(self, m: ChatMessage) -> str | list[dict[str, Any]]:
        if not (self.send_images and m.images):
            return m.text
        parts: list[dict[str, Any]] = [{"type": "text", "text": m.text}]
        parts += [{"type": "image_url", "image_url": {"url": _data_url(p)}} for p in m.images]
        return parts

    def generate(self, messages: list[ChatMessage]) -> str:
        import httpx

        body = {
            "model": self.model,
            "messages": [{"role": m.role, "content": self._content(m)} for m in messages],
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"
        try:
            resp = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise GeneratorError(
                f"chat endpoint {url} did not answer: {exc}",
                hint="check --base-url and that the server (vLLM, Ollama, ...) is running",
            ) from exc
        if resp.status_code != 200:
            raise GeneratorError(
                f"chat endpoint {url} returned {resp.status_code}: {resp.text[:300]}"
            )
        try:
            return str(resp.json()["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(
                f"chat endpoint {url} sent an unexpected body: {resp.text[:300]}"
            ) from exc


class TransformersGenerator:
    """A local model loaded with transformers (a folder, or a hub name in the local cache).

    Vision-language models (any architecture transformers maps to
    ``AutoModelForImageTextToText``: LLaVA, Qwen2-VL, Idefics...) get the evidence images
    (page renders, thumbnails, keyframes: at most ``max_images``) in the prompt; causal
    language models get the text only. The prompt uses the chat template when there is
    one, else plain ``role: text`` turns.
    """

    def __init__(self, model: str, *, max_new_tokens: int = 256, max_images: int = 4) -> None:
        from transformers import AutoConfig

        self.name = f"transformers:{model}"
        self.max_new_tokens = max_new_tokens
        self.max_images = max_images
        self.images_sent = 0  # images in the last prompt
        try:
            config = AutoConfig.from_pretrained(model)
            self.vision = _is_vision_language(config.model_type)
            if self.vision:
                from transformers import AutoModelForImageTextToText, AutoProcessor

                self.processor = AutoProcessor.from_pretrained(model)
                self.tokenizer = self.processor.tokenizer
                self.model = AutoModelForImageTextToText.from_pretrained(model)
            else:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                self.tokenizer = AutoTokenizer.from_pretrained(model)
                self.model = AutoModelForCausalLM.from_pretrained(model)
        except (OSError, ValueError, KeyError) as exc:
            raise GeneratorError(
                f"cannot load the generator {model!r}: {exc}",
                hint="give a local folder with a causal LM or a vision-language model and its "
                "tokenizer/processor, or a hub name that is already in the local cache",
            ) from exc
        self.model.eval()

    def _template(self) -> Any:
        return self.processor if self.vision else self.tokenizer

    def _prompt(self, messages: list[ChatMessage], images: list[Path]) -> str:
        turns: list[dict[str, Any]] = []
        for m in messages:
            if self.vision:
                parts: list[dict[str, Any]] = [{"type": "image"} for p in m.images if p in images]
                turns.append(
                    {"role": m.role, "content": [*parts, {"type": "text", "text": m.text}]}
                )
            else:
                turns.append({"role": m.role, "content": m.text})
        template = self._template()
        if getattr(template, "chat_template", None):
            return str(
                template.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            )
        if self.vision:
            raise GeneratorError(f"{self.name}: the processor has no chat template")
        return "\n\n".join(f"{t['role']}: {t['content']}" for t in turns) + "\n\nassistant:"

    def generate(self, messages: list[ChatMessage]) -> str:
        import torch

        images = [p for m in messages for p in m.images][: self.max_images] if self.vision else []
        prompt = self._prompt(messages, images)
        if self.vision:
            from PIL import Image

            pixels = []
            for p in images:
                with Image.open(p) as img:
                    pixels.append(img.convert("RGB"))
            enc = self.processor(text=prompt, images=pixels or None, return_tensors="pt")
        else:
            enc = self.tokenizer(prompt, return_tensors="pt")
            limit = getattr(self.model.config, "max_position_embeddings", None)
            if limit and enc["input_ids"].shape[1] + self.max_new_tokens > limit:
                keep = max(1, limit - self.max_new_tokens)
                logger.warning(
                    "prompt of %d tokens cut to its last %d", enc["input_ids"].shape[1], keep
                )
                enc = {k: v[:, -keep:] for k, v in enc.items()}
        self.images_sent = len(images)
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(  # type: ignore[misc,operator]
                **enc, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad
            )
        new_tokens = out[0, enc["input_ids"].shape[1] :]
        return str(self.tokenizer.decode(new_tokens, skip_special_tokens=True))


def _is_vision_language(model_type: str) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


GeneratorFactory = Callable[..., Generator]
"""``(model, *, base_url=None, api_key=None) -> Generator``."""

GENERATORS: Registry[GeneratorFactory] = Registry("generator")


@GENERATORS.register("openai")
def openai_generator(
    model: str, *, base_url: str | None = None, api_key: str | None = None
) -> OpenAIChatGenerator:
    """``openai:MODEL``: the endpoint's base URL from ``base_url``,
    ``$POLYSEEK_OPENAI_BASE_URL`` or ``$OPENAI_BASE_URL``; its key from ``api_key`` or
    ``$OPENAI_API_KEY``."""
    url = (
        base_url or os.environ.get("POLYSEEK_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    )
    if not url:
        raise ConfigError(
            f"generator 'openai:{model}' needs the endpoint's base URL",
            hint="pass --base-url http://host:port/v1 or set $POLYSEEK_OPENAI_BASE_URL",
        )
    return OpenAIChatGenerator(model, url, api_key or os.environ.get("OPENAI_API_KEY"))


@GENERATORS.register("transformers")
def transformers_generator(model: str, **_: Any) -> TransformersGenerator:
    """``transformers:PATH``: a local causal or vision-language model."""
    return TransformersGenerator(model)


EXTRACTIVE = "extractive"
GENERATOR_KINDS = (EXTRACTIVE, "openai:MODEL", "transformers:PATH")


def load_generator(
    spec: str, *, base_url: str | None = None, api_key: str | None = None
) -> Generator | None:
    """``extractive`` -> None (no generator); otherwise ``KIND:MODEL`` from :data:`GENERATORS`."""
    if spec == EXTRACTIVE:
        return None
    kind, _, model = spec.partition(":")
    if not model or kind not in GENERATORS:
        raise ConfigError(
            f"unknown generator {spec!r}", hint=f"valid forms: {', '.join(GENERATOR_KINDS)}"
        )
    factory = GENERATORS.resolve(kind)
    with loading_model(spec):
        return factory(model, base_url=base_url, api_key=api_key)
