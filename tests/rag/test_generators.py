"""Generated answers: a local OpenAI-compatible test server (the boundary fake) and a
tiny random transformers model saved by the test; both post-checked for real."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from polyseek.rag import (
    FewShotExample,
    GeneratorError,
    OpenAIChatGenerator,
    TransformersGenerator,
    ask,
    load_generator,
)
from polyseek.rag.generative import build_messages, parse_sentences

QUESTION = "How much multimodal data is M^2IXT tuned on?"
UNSUPPORTED = "The moon is made of green cheese and orbits Jupiter every Tuesday."


class FakeChat:
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 with canned replies.

    The reply cites the evidence block that mentions M^2IXT for the supported sentence
    and the same block for an invented one, which the post-check must drop.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.supported = ""
        self.headers: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                reply = fake.reply(body)
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": reply}}]}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def user_text(message: dict) -> str:
        content = message["content"]
        if isinstance(content, str):
            return content
        return " ".join(p["text"] for p in content if p["type"] == "text")

    def reply(self, body: dict) -> str:
        prompt = self.user_text(body["messages"][-1])
        if "filter cartridge" in prompt.split("Question:")[-1]:
            block = re.search(r"\[(\d+)\] manuals/[^\n]*\n[^\[]*500 operating hours", prompt)
            n = block.group(1) if block else "99"
            return f"Replace the intake filter cartridge every 500 operating hours [{n}]."
        blocks = re.findall(r"\[(\d+)\] [^\n]*\n([^\n]*)", prompt)
        n, text = next((i, t) for i, t in blocks if "M^2IXT" in t)
        # A sentence of that evidence, reworded a little, then an invented one.
        quoted = next(x for x in re.split(r"(?<=\.) ", text) if "M^2IXT" in x)
        self.supported = "In short, " + quoted[0].lower() + quoted[1:]
        return f"{self.supported} [{n}] {UNSUPPORTED} [{n}]"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat()
    yield fake
    fake.close()


def test_endpoint_answer_is_post_checked(listings_engine, chat: FakeChat) -> None:
    gen = OpenAIChatGenerator("test-model", chat.url, api_key="sk-test")
    examples = [
        FakeExample("What loss does CLIP use?", "A contrastive loss [1]."),
        FakeExample("How do you bake bread?", "NO_ANSWER"),
        FakeExample("What does Flamingo bridge?", "Vision-only and language-only models [2]."),
    ]
    answer = ask(listings_engine, QUESTION, generator=gen, examples=examples)
    assert answer.method == "openai:test-model"
    assert answer.answered
    assert [s.text for s in answer.sentences] == [chat.supported]
    assert answer.sentences[0].supported and answer.sentences[0].support >= 0.6
    assert [s.text for s in answer.dropped] == [UNSUPPORTED]
    assert answer.dropped[0].support < 0.6
    cited = answer.cited()[0]
    assert "M^2IXT" in cited.text
    # What the endpoint received: the rules, few-shot turns, numbered evidence, the key.
    body = chat.requests[-1]
    assert body["model"] == "test-model" and body["temperature"] == 0
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] == "system" and "square brackets" in body["messages"][0]["content"]
    assert roles[1:5] == ["user", "assistant", "user", "assistant"]  # the 2 closest examples
    assert "How do you bake bread?" not in json.dumps(body["messages"][1:5])
    assert "[1] listings/" in FakeChat.user_text(body["messages"][-1])
    assert chat.headers[-1]["Authorization"] == "Bearer sk-test"


def test_flag_policy_keeps_unsupported_sentences_marked(listings_engine, chat) -> None:
    gen = OpenAIChatGenerator("test-model", chat.url)
    answer = ask(listings_engine, QUESTION, generator=gen, policy="flag")
    assert [s.supported for s in answer.sentences] == [True, False]
    assert [s.text for s in answer.flagged] == [UNSUPPORTED] and answer.dropped == []


def test_page_evidence_goes_as_images(listings_engine, chat) -> None:
    gen = load_generator("openai:vlm", base_url=chat.url)
    answer = ask(
        listings_engine, "How often should the intake filter cartridge be replaced?", generator=gen
    )
    last = chat.requests[-1]["messages"][-1]
    assert isinstance(last["content"], list)
    images = [p for p in last["content"] if p["type"] == "image_url"]
    assert images and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert answer.answered, answer.to_dict()
    assert answer.cited()[0].source == "manuals/p200-pump-maintenance-manual.pdf"


def test_weak_evidence_does_not_call_the_generator(listings_engine, chat) -> None:
    gen = OpenAIChatGenerator("test-model", chat.url)
    answer = ask(listings_engine, "What is the capital of France?", generator=gen)
    assert not answer.answered and chat.requests == []


def test_endpoint_failures_are_clear(listings_engine) -> None:
    gen = OpenAIChatGenerator("m", "http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(GeneratorError, match="did not answer"):
        ask(listings_engine, QUESTION, generator=gen)
    with pytest.raises(Exception, match="base URL"):
        load_generator("openai:m")


def test_parse_sentences() -> None:
    parsed = parse_sentences("A is B [1]. C is D [2, 3]. E is F.\n[4]\nNO citation here")
    assert parsed == [
        ("A is B.", (1,)),
        ("C is D.", (2, 3)),
        ("E is F.", (4,)),
        ("NO citation here", ()),
    ]


def FakeExample(q: str, a: str) -> FewShotExample:  # noqa: N802
    return FewShotExample(q, a)


def make_tiny_causal_lm(path: Path) -> Path:
    """A random 2-layer GPT-2 with a byte-level tokenizer (every text encodes)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

    from tests.helpers.tiny_models import _byte_alphabet

    vocab = {ch: i for i, ch in enumerate(_byte_alphabet())}
    eos = "<|endoftext|>"
    vocab[eos] = len(vocab)
    tok = GPT2Tokenizer(vocab=vocab, merges=[], unk_token=eos, bos_token=eos, eos_token=eos)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=512,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=len(vocab) - 1,
        eos_token_id=len(vocab) - 1,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    return path


def test_local_transformers_generator(listings_engine, tmp_path: Path) -> None:
    model_dir = make_tiny_causal_lm(tmp_path / "tiny-gpt2")
    gen = load_generator(f"transformers:{model_dir}")
    assert isinstance(gen, TransformersGenerator)
    gen.max_new_tokens = 48
    reply = gen.generate(build_messages(QUESTION, []))
    assert isinstance(reply, str) and reply.strip()
    answer = ask(listings_engine, QUESTION, generator=gen)
    assert answer.method == f"transformers:{model_dir}"
    # A random model cites nothing that supports it: every sentence is dropped and the
    # answer says there is none, instead of passing the babble on.
    assert answer.sentences == [] and not answer.answered
    assert answer.dropped and all(not s.supported for s in answer.dropped)


def test_local_generator_load_failure(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="cannot load the generator"):
        TransformersGenerator(str(tmp_path / "missing"))


def make_tiny_llava(path: Path) -> Path:
    """A random LLaVA (tiny CLIP vision tower + tiny Llama) with a byte-level processor."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        GPT2Tokenizer,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    from tests.helpers.tiny_models import _byte_alphabet

    path.mkdir(parents=True, exist_ok=True)
    vocab = {ch: i for i, ch in enumerate(_byte_alphabet())}
    eos = "<|endoftext|>"
    vocab[eos] = len(vocab)
    tok = GPT2Tokenizer(vocab=vocab, merges=[], unk_token=eos, bos_token=eos, eos_token=eos)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    template = (
        "{% for m in messages %}{{ m['role'] }}: {% if m['content'] is string %}"
        "{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}"
        "<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=template,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    small = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2}
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**small, num_attention_heads=2, image_size=32, patch_size=8),
        text_config=LlamaConfig(
            **small,
            vocab_size=len(tok),
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=8192,
            bos_token_id=vocab[eos],
            eos_token_id=vocab[eos],
            pad_token_id=vocab[eos],
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


def test_local_vision_language_generator_sees_page_images(listings_engine, tmp_path) -> None:
    model_dir = make_tiny_llava(tmp_path / "tiny-llava")
    gen = load_generator(f"transformers:{model_dir}")
    assert isinstance(gen, TransformersGenerator) and gen.vision
    gen.max_new_tokens = 16
    question = "How often should the intake filter cartridge be replaced?"
    answer = ask(listings_engine, question, generator=gen)
    assert gen.images_sent >= 1  # the manual's page renders went into the prompt
    assert answer.method == f"transformers:{model_dir}"
    assert not answer.answered and answer.sentences == []  # random babble never passes
