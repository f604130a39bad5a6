"""Prompt-and-rerank through an OpenAI-compatible endpoint, against a local test server.

The server is the boundary being faked: it answers like vLLM / Ollama would, with
log-probabilities for "yes"/"no" derived from the prompt, and records what it got.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from polyseek.errors import QueryError
from polyseek.rerank import Candidate, load_reranker
from polyseek.rerank.mllm import EndpointReranker, yes_probability


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict] = []
    mode = "logprobs"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        if type(self).mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model not loaded")
            return
        prompt = body["messages"][0]["content"][0]["text"]
        relevant = "torque" in prompt.split("Candidate")[1]
        p_yes = 0.9 if relevant else 0.2
        if type(self).mode == "logprobs":
            choice = {
                "message": {"role": "assistant", "content": "yes" if relevant else "no"},
                "logprobs": {
                    "content": [
                        {
                            "token": "yes",
                            "logprob": math.log(p_yes),
                            "top_logprobs": [
                                {"token": "yes", "logprob": math.log(p_yes)},
                                {"token": "no", "logprob": math.log(1 - p_yes)},
                            ],
                        }
                    ]
                },
            }
        else:  # a server without log-probabilities: only the answer text
            choice = {"message": {"role": "assistant", "content": "Yes." if relevant else "No"}}
        data = json.dumps({"choices": [choice]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    _Handler.requests = []
    _Handler.mode = "logprobs"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def candidates(tmp_path):
    from PIL import Image

    img = tmp_path / "fig.jpg"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(img)
    return [
        Candidate("a", "text", "the filter is replaced every six months"),
        Candidate("b", "image", "torque table for the housing bolts", image_path=img),
    ]


def test_scores_from_logprobs_and_images_sent(server, tmp_path):
    reranker = load_reranker(f"mllm-endpoint:tiny-vlm@{server}")
    assert isinstance(reranker, EndpointReranker)
    scores = reranker.score("what torque for the bolts?", candidates(tmp_path))
    assert scores == pytest.approx([0.2, 0.9])
    first, second = _Handler.requests
    assert first["path"] == "/v1/chat/completions" and first["model"] == "tiny-vlm"
    assert [p["type"] for p in first["messages"][0]["content"]] == ["text"]
    image_part = second["messages"][0]["content"][1]
    assert image_part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert "what torque for the bolts?" in second["messages"][0]["content"][0]["text"]


def test_falls_back_to_the_answer_text(server, tmp_path):
    _Handler.mode = "text"
    reranker = EndpointReranker(server, "m", api_key="secret")
    assert reranker.score("torque?", candidates(tmp_path)) == [0.0, 1.0]
    assert _Handler.requests[0]["auth"] == "Bearer secret"


def test_server_errors_are_query_errors(server, tmp_path):
    _Handler.mode = "error"
    with pytest.raises(QueryError, match="answered 500: model not loaded"):
        EndpointReranker(server, "m").score("q", candidates(tmp_path))
    with pytest.raises(QueryError, match="unreachable"):
        EndpointReranker("http://127.0.0.1:9/v1", "m", timeout=2).score("q", candidates(tmp_path))


def test_yes_probability_normalises_over_yes_and_no():
    choice = {
        "logprobs": {
            "content": [
                {
                    "token": "Yes",
                    "top_logprobs": [
                        {"token": " Yes", "logprob": math.log(0.3)},
                        {"token": "no", "logprob": math.log(0.1)},
                        {"token": "maybe", "logprob": math.log(0.6)},
                    ],
                }
            ]
        }
    }
    assert yes_probability(choice) == pytest.approx(0.75)
