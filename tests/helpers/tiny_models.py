"""Tiny, randomly initialised models saved to disk, for tests that need real loading code.

No network: tokenizers are built here from a byte-level alphabet (every text tokenizes,
character by character). Each builder is deterministic (fixed seed) and writes a directory
that the matching encoder backend loads as a local model:

    make_tiny_clip(path)       -> load_encoder(f"clip:{path}")       16-d, 32 px images
    make_tiny_siglip(path)     -> load_encoder(f"siglip:{path}")     16-d, 32 px images
    make_tiny_open_clip(path)  -> load_encoder(f"open_clip:{path}")  16-d (needs open_clip)

``fake_hub_cache`` lays such a directory out as a cached hub model, and ``sample_images``
makes small PIL images in assorted modes.

Build once per session (``tmp_path_factory``); each takes well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_DIM = 16
TINY_IMAGE_SIZE = 32
TINY_CONTEXT = 32
SEED = 0

# The name under which make_tiny_open_clip registers its architecture with open_clip, so
# that "open_clip:polyseek-tiny-vit@/path/weights.pt" works too.
TINY_OPEN_CLIP_ARCH = "polyseek-tiny-vit"


def _byte_alphabet() -> list[str]:
    """GPT-2 / CLIP byte-to-unicode alphabet: 256 printable characters, one per byte."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\xa1"), ord("\xac") + 1))
        + list(range(ord("\xae"), ord("\xff") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs, strict=True))]


def _tower(**extra: Any) -> dict[str, Any]:
    return {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        **extra,
    }


def make_tiny_clip(path: str | Path, seed: int = SEED) -> Path:
    """Save a tiny CLIPModel + CLIPProcessor (CLIPTokenizer, CLIPImageProcessor) to ``path``
    (another ``seed``: another random model of the same shape)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    path = Path(path)
    alphabet = _byte_alphabet()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for ch in alphabet:
        vocab[ch + "</w>"] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=TINY_CONTEXT)
    config = CLIPConfig(
        text_config=_tower(
            vocab_size=len(vocab),
            max_position_embeddings=TINY_CONTEXT,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=_tower(image_size=TINY_IMAGE_SIZE, patch_size=8),
        projection_dim=TINY_DIM,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CLIPModel(config)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": TINY_IMAGE_SIZE},
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
    )
    model.save_pretrained(path)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def make_tiny_siglip(path: str | Path) -> Path:
    """Save a tiny SiglipModel + SiglipProcessor to ``path``.

    Real SigLIP tokenizers are SentencePiece models; this one is a byte-level BPE with no
    merges in a fast tokenizer (``tokenizers``), appending ``</s>`` like SigLIP's.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import (
        PreTrainedTokenizerFast,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
        SiglipProcessor,
    )

    path = Path(path)
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for ch in _byte_alphabet():
        vocab[ch] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="</s>",
        pad_token="</s>",
        unk_token="<unk>",
        model_max_length=TINY_CONTEXT,
        model_input_names=["input_ids"],
    )
    config = SiglipConfig(
        text_config=_tower(
            vocab_size=len(vocab),
            max_position_embeddings=TINY_CONTEXT,
            bos_token_id=None,
            eos_token_id=1,
            pad_token_id=1,
            projection_size=TINY_DIM,
        ),
        # SigLIP's image embedding is the vision tower's pooled output: same width as the
        # text projection.
        vision_config=_tower(hidden_size=TINY_DIM, image_size=TINY_IMAGE_SIZE, patch_size=8),
    )
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = SiglipModel(config)
    image_processor = SiglipImageProcessor(
        size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}
    )
    model.save_pretrained(path)
    SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


TINY_OPEN_CLIP_CFG: dict[str, Any] = {
    "embed_dim": TINY_DIM,
    "vision_cfg": {
        "image_size": TINY_IMAGE_SIZE,
        "layers": 1,
        "width": 32,
        "head_width": 16,
        "patch_size": 8,
    },
    "text_cfg": {
        "context_length": TINY_CONTEXT,
        "vocab_size": 49408,  # open_clip's bundled SimpleTokenizer (no download)
        "width": 32,
        "heads": 2,
        "layers": 1,
    },
}


def make_tiny_open_clip(path: str | Path) -> Path:
    """Save a tiny open_clip model as a model directory (needs ``open_clip``).

    Writes ``open_clip_config.json`` (model + preprocess config), the weights as
    ``open_clip_model.safetensors`` and ``weights.pt`` (a plain state dict), and
    ``polyseek-tiny-vit.json`` (the bare model config), which it also registers with
    ``open_clip.add_model_config`` so that ``polyseek-tiny-vit@<weights>`` resolves.
    """
    import open_clip
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    arch_file = path / f"{TINY_OPEN_CLIP_ARCH}.json"
    arch_file.write_text(json.dumps(TINY_OPEN_CLIP_CFG, indent=2))
    config = {
        "model_cfg": TINY_OPEN_CLIP_CFG,
        "preprocess_cfg": {
            "mean": [0.48145466, 0.4578275, 0.40821073],
            "std": [0.26862954, 0.26130258, 0.27577711],
            "interpolation": "bicubic",
            "resize_mode": "shortest",
        },
    }
    (path / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = open_clip.CLIP(**TINY_OPEN_CLIP_CFG)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path / "open_clip_model.safetensors"))
    torch.save(state, path / "weights.pt")
    open_clip.add_model_config(arch_file)
    return path


def fake_hub_cache(hub_dir: Path, repo_id: str, files_from: Path, commit: str) -> Path:
    """Lay out the files of ``files_from`` as snapshot ``commit`` of hub model ``repo_id``.

    ``hub_dir`` is a Hugging Face hub cache (``$HF_HOME/hub``); ``refs/main`` points at the
    snapshot, as after ``huggingface-cli download``. Returns the snapshot directory.
    """
    import shutil

    repo_dir = Path(hub_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    shutil.copytree(files_from, snapshot)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


def sample_images(n: int = 4, size: tuple[int, int] = (48, 40)) -> list[Any]:
    """``n`` small, distinct PIL images in assorted modes (RGB, RGBA, L, P)."""
    from PIL import Image

    modes = ["RGB", "RGBA", "L", "P"]
    images = []
    for i in range(n):
        color = ((37 * i) % 256, (91 * i + 60) % 256, (53 * i + 120) % 256)
        image = Image.new("RGB", size, color)
        # A diagonal band so that images differ in structure, not only in colour.
        for x in range(size[0]):
            y = (x * (i + 1)) % size[1]
            image.putpixel((x, y), (255 - color[0], 255 - color[1], 255 - color[2]))
        mode = modes[i % len(modes)]
        images.append(image if mode == "RGB" else image.convert(mode))
    return images
