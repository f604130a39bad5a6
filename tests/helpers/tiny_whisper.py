"""A tiny, randomly initialised Whisper model saved to disk, to test the real loading code.

Byte-level vocabulary (no merges) plus Whisper's special tokens; 16-wide, one layer each
side. Its transcripts are noise; it proves that ``whisper:<dir>`` loads and runs offline.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.tiny_models import SEED, _byte_alphabet

SPECIAL = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]


def make_tiny_whisper(path: str | Path) -> Path:
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = {ch: i for i, ch in enumerate(_byte_alphabet())}
    for token in SPECIAL:
        vocab[token] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    eos = "<|endoftext|>"
    tokenizer = WhisperTokenizer(
        str(path / "vocab.json"),
        str(path / "merges.txt"),
        unk_token=eos,
        bos_token=eos,
        eos_token=eos,
        pad_token=eos,
        additional_special_tokens=SPECIAL[1:],
    )
    config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=32,
        decoder_start_token_id=vocab["<|startoftranscript|>"],
        eos_token_id=vocab[eos],
        pad_token_id=vocab[eos],
        bos_token_id=vocab[eos],
    )
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        no_timestamps_token_id=vocab["<|notimestamps|>"],
    )
    model.save_pretrained(path)
    WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer
    ).save_pretrained(path)
    return path
