"""A tiny, randomly initialised CLAP model (audio-text) saved to disk, for loading tests.

Byte-level RoBERTa tokenizer without merges; a 2-stage HTSAT audio tower on 16 mel bins
and 2 s windows at 48 kHz. Its embeddings mean nothing; it proves ``clap:<dir>`` loads,
embeds sound and text into one space, and indexes offline.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.tiny_models import SEED, TINY_DIM, _byte_alphabet


def make_tiny_clap(path: str | Path) -> Path:
    import torch
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        RobertaTokenizer,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in _byte_alphabet():
        vocab[ch] = len(vocab)
    vocab["<mask>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = RobertaTokenizer(str(path / "vocab.json"), str(path / "merges.txt"))
    config = ClapConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 37,
            "max_position_embeddings": 64,
            "projection_dim": TINY_DIM,
            "pad_token_id": 1,
            "bos_token_id": 0,
            "eos_token_id": 2,
        },
        audio_config={
            "spec_size": 64,
            "num_mel_bins": 16,
            "patch_size": 4,
            "patch_stride": (4, 4),
            "hidden_size": 32,
            "patch_embeds_hidden_size": 16,
            "depths": [1, 1],
            "num_attention_heads": [2, 2],
            "window_size": 4,
            "projection_dim": TINY_DIM,
            "projection_hidden_size": 32,
            "enable_fusion": False,
        },
        projection_dim=TINY_DIM,
    )
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = ClapModel(config)
    features = ClapFeatureExtractor(
        feature_size=16, sampling_rate=48_000, max_length_s=2, truncation="rand_trunc"
    )
    model.save_pretrained(path)
    ClapProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(path)
    return path
