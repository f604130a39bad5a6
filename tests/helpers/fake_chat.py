"""An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 whose reply a test writes.

The boundary fake for generator tests: ``FakeChat(reply)`` calls ``reply(prompt)`` with
the last user turn's text and answers with what it returns. Requests are kept.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeChat:
    def __init__(self, reply: Callable[[str], str]) -> None:
        self.reply = reply
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                text = fake.reply(user_text(body["messages"][-1]))
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": text}}]}
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

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def user_text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return " ".join(p["text"] for p in content if p["type"] == "text")


def evidence_blocks(prompt: str) -> dict[int, str]:
    """The numbered evidence of a prompt: id -> its text (one line per block)."""
    return {int(n): body for n, body in re.findall(r"\[(\d+)\] [^\n]*\n([^\n]*)", prompt)}


def block_with(prompt: str, words: str) -> int:
    """The id of the first evidence block containing ``words``."""
    return next(n for n, body in evidence_blocks(prompt).items() if words in body)
