"""Loading a model through polyseek prints nothing: no "Loading weights" bars from
transformers, no hub download bars, no "falls back to the PIL processor" notes.

Run in a fresh interpreter, so that transformers is imported inside polyseek's loaders
exactly as in a user's first ``Engine.open`` (a warm test process would hide that case).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.tiny_models import make_tiny_clip
from tests.helpers.tiny_rerankers import make_tiny_cross_encoder
from tests.helpers.tiny_whisper import make_tiny_whisper

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow  # one interpreter importing torch and transformers (~10 s)


def test_loading_tiny_models_prints_nothing_to_stderr(tmp_path: Path) -> None:
    clip = make_tiny_clip(tmp_path / "clip")
    reranker = make_tiny_cross_encoder(tmp_path / "ce")
    whisper = make_tiny_whisper(tmp_path / "whisper")
    script = textwrap.dedent(
        f"""
        import transformers.utils.logging as tf_logging  # an application's own import
        from huggingface_hub import utils as hub_utils
        from polyseek.asr import load_transcriber
        from polyseek.encoders import load_encoder
        from polyseek.rerank import load_reranker

        load_encoder("clip:{clip}")
        load_reranker("cross-encoder:{reranker}")
        load_transcriber("whisper:{whisper}")
        # The application's settings are back as they were.
        print(tf_logging.is_progress_bar_enabled(), tf_logging.get_verbosity(),
              hub_utils.are_progress_bars_disabled())
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "POLYSEEK_CACHE": str(tmp_path / "cache"),  # the ONNX export runs too
    }
    env.pop("TRANSFORMERS_VERBOSITY", None)
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.split() == ["True", "30", "False"]
