"""The README's usage examples run as written, against the bundled sample collection.

Every fenced ``bash`` and ``python`` block of the "Usage" section is extracted and run
in order: shell lines through the CLI (in-process), Python blocks statement by statement
in one namespace (so a later block can use the ``engine`` of an earlier one). Full-line
comments right after a command are its documented output and must appear in what it
prints; a ``print(...)  # {...}`` comment must equal what is printed. Placeholders are
mapped to the sample collection (``~/archive``) or to small files made here; examples
that need a model or a service this machine cannot have are skipped, each for the reason
listed in ``SKIPPED`` (the test fails when a README line matches no rule, so a new
example is either run or given a reason).
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE
from tests.helpers.cli import cli
from tests.helpers.media import Scene, make_video

pytestmark = pytest.mark.slow  # indexes the sample collection once (OCR of scans and images)

README = REPO / "README.md"

# Substring of a command -> why it is not run here.
SKIPPED = {
    "clip:openai/": "downloads a CLIP model from the hub (no network in tests)",
    "clip:/models/": "needs a CLIP checkpoint at /models (not on this machine)",
    "--generator openai:": "needs an OpenAI-compatible endpoint on :11434",
    "--generator transformers:/models/": "needs a local generative model at /models",
    "polyseek serve": "starts a long-running server (tests/server covers it)",
    "export POLYSEEK_API_KEY=...": "sets server keys (for `serve`, skipped)",
    "eval mbeir DIR": "DIR stands for the user's M-BEIR data and CLIP checkpoint",
    "cross-encoder:DIR": "DIR stands for a local cross-encoder checkpoint",
    '"where the speaker explains the budget"': "searches the ~/talks index made by the "
    "skipped command above it (its output line is an illustration)",
    "s3://bucket/": "needs a real S3 bucket (tests/integration/test_object_store.py uses "
    "moto's server on 127.0.0.1)",
    "--ray auto": "joins a running Ray cluster (tests/integration/test_ray_ingest.py starts one)",
    "st:/models/": "needs a sentence-transformers checkpoint at /models (not on this machine)",
    "polyseek label ": "needs the user's labels.csv of examples "
    "(tests/integration/test_labels.py trains on real ones)",
}

# Each `eval beir` of the 206 papers takes 20-100 s (three of them, then `compare` of two):
# over this test's budget. tests/integration/test_eval_cli.py runs `eval` and `compare`
# on smaller data; POLYSEEK_README_EVAL=1 runs these examples here too.
if not os.environ.get("POLYSEEK_README_EVAL"):
    SKIPPED |= {
        "polyseek eval ": "indexes a whole eval sample (set POLYSEEK_README_EVAL=1 to run)",
        "polyseek compare ": "compares the results of the skipped `eval` runs above",
    }

# Placeholder paths of the examples -> what they stand for here.
PLACEHOLDERS = {
    "~/archive/old-scans": "~/archive/images/receipt-spare-parts.jpg",  # "a file or folder"
    "~/archive": "{archive}",
}
# Commands that find the index above the working directory (run inside ~/archive).
FINDS_INDEX = (
    "search",
    "ask",
    "status",
    "remove",
    "check",
    "repair",
    "models",
    "encoders",
    "label",
)

# Commands the README says need something the default index lacks: they must refuse
# clearly (exit code 2, a message naming what is missing), not crash.
REFUSED = {
    "--image photo.jpg": r"image-text encoder|no encoder .* images|cannot embed images",
    "--image slide.png": r"image-text encoder|no encoder .* images|cannot embed images",
    "--video clip.mp4": r"image-text encoder|no encoder .* images|cannot embed images",
}


@dataclass
class Example:
    kind: str  # "bash" or "python"
    code: str
    expected: list[str]  # documented output lines (bash)


def usage_examples(text: str) -> list[Example]:
    usage = text[text.index("## Usage") : text.index("## Development")]
    examples: list[Example] = []
    for match in re.finditer(r"```(bash|python)\n(.*?)```", usage, re.S):
        kind, body = match.group(1), match.group(2)
        if kind == "python":
            examples.append(Example(kind, body, []))
            continue
        body = body.replace("\\\n", " ")
        for line in body.splitlines():
            if line.startswith("#"):
                if examples and examples[-1].kind == "bash":
                    examples[-1].expected.append(line[1:].strip())
            elif line.strip():
                examples.append(Example(kind, line.strip(), []))
    return examples


def strip_comment(line: str) -> str:
    """A shell line without its trailing ``# comment`` (quotes respected by shlex)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return shlex.join(list(lexer))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with ``examples/`` copied (the README's relative paths) and
    the small files its placeholders name."""
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(SAMPLE, work / "examples" / "sample-collection")
    shutil.copytree(REPO / "examples" / "eval", work / "examples" / "eval")
    shutil.copy(SAMPLE / "images" / "pump-room-sign.jpg", work / "photo.jpg")
    shutil.copy(SAMPLE / "images" / "slide-contrastive-pretraining.png", work / "slide.png")
    make_video(work / "clip.mp4", [Scene(2, (200, 30, 30))], audio=False)
    return work


def run_shell(line: str, work: Path, archive: Path) -> tuple[int, str]:
    for placeholder, real in PLACEHOLDERS.items():
        line = line.replace(placeholder, real)
    command = strip_comment(line.replace("{archive}", str(archive)))
    args = shlex.split(command)
    assert args[0] == "polyseek", f"not a polyseek command: {line}"
    code, out, err = cli(*args[1:])
    return code, out + err


def run_python(code: str, namespace: dict[str, object]) -> None:
    tree = ast.parse(code)
    lines = code.splitlines()
    for node in tree.body:
        source = ast.get_source_segment(code, node) or ""
        reason = next((why for key, why in SKIPPED.items() if key in source), None)
        if reason:
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(ast.Module([node], []), "<README example>", "exec"), namespace)  # noqa: S102
        comment = lines[node.end_lineno - 1].partition("#")[2].strip()  # type: ignore[operator]
        if source.startswith("print(") and comment.startswith("{"):
            assert buf.getvalue().strip() == comment, f"README says {comment} for {source}"


def test_readme_usage_examples_run_as_written(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    archive = workspace / "examples" / "sample-collection"
    examples = usage_examples(README.read_text(encoding="utf-8"))
    assert len(examples) > 20
    namespace: dict[str, object] = {}
    ran, skipped, failures = 0, [], []
    timings: list[tuple[float, str]] = []
    for ex in examples:
        if ex.kind == "python":
            monkeypatch.chdir(workspace)  # its paths are relative to a clone's top folder
            run_python(ex.code, namespace)
            ran += 1
            continue
        reason = next((why for key, why in SKIPPED.items() if key in ex.code), None)
        if reason:
            skipped.append((ex.code, reason))
            continue
        verb = shlex.split(strip_comment(ex.code))[1]
        finds = verb in FINDS_INDEX and " -c " not in ex.code
        monkeypatch.chdir(archive if finds else workspace)
        started = time.perf_counter()
        code, output = run_shell(ex.code, workspace, archive)
        timings.append((time.perf_counter() - started, ex.code[:70]))
        ran += 1
        refusal = next((rx for key, rx in REFUSED.items() if key in ex.code), None)
        if refusal:
            if code != 2 or not re.search(refusal, output, re.I):
                failures.append(f"{ex.code}: expected a clear refusal, got {code}: {output}")
            continue
        if code != 0:
            failures.append(f"{ex.code}: exit code {code}: {output[-800:]}")
            continue
        missing = [line for line in ex.expected if line and line not in output]
        if missing:
            failures.append(f"{ex.code}: the README shows {missing}, it printed {output[-800:]}")
    print("\n".join(f"{s:6.1f} s  {c}" for s, c in sorted(timings, reverse=True)))
    assert not failures, "\n\n".join(failures)
    assert ran >= 15 and len(skipped) <= 26, skipped
