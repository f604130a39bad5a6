"""Tiny, randomly initialised ColPali and ColQwen2 retrieval models saved to disk.

No network and no real weights: each builder makes a byte-level BPE tokenizer (no merges,
every text tokenizes) with the special tokens its architecture's processor needs, wraps it
as a fast tokenizer, builds the retrieval model from a tiny config with a fixed seed, and
writes model + processor with ``save_pretrained``. The directory loads through the real
loading code: ``load_encoder(f"colpali:{path}")``.

    make_tiny_colpali(path)   PaliGemma (SigLIP + Gemma): 64 px pages, 16 x 16 patches, so a
                              page has 256 image tokens + the prompt's (more than 64: pooled)
    make_tiny_colqwen2(path)  Qwen2-VL: 4 px patches merged 2 x 2; a 128 x 96 page has 192
                              image tokens, a 32 x 32 one 16 (fewer than 64: not pooled)

Both embed into TINY_COLPALI_DIM dimensions; each takes about a second to build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.tiny_models import _byte_alphabet

TINY_COLPALI_DIM = 16
TINY_PAGE_SIZE = 64  # the tiny ColPali's input resolution (pixels)
TINY_PATCH = 4
SEED = 0

_QWEN_SPECIALS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def _byte_bpe(specials: dict[str, int] | None = None, extra: tuple[str, ...] = ()) -> Any:
    """A ``tokenizers`` byte-level BPE without merges: ``specials`` first, then 256 bytes,
    then ``extra`` special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = dict(specials or {"<unk>": 0})
    for ch in _byte_alphabet():
        vocab[ch] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    if extra:
        backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in extra])
    return backend


def _layers(**extra: Any) -> dict[str, Any]:
    return {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, **extra}


def make_tiny_colpali(path: str | Path) -> Path:
    """Save a tiny ColPaliForRetrieval + ColPaliProcessor (SigLIP image processor)."""
    import torch
    from transformers import (
        ColPaliConfig,
        ColPaliForRetrieval,
        ColPaliProcessor,
        PaliGemmaConfig,
        PreTrainedTokenizerFast,
        SiglipImageProcessorPil,
    )

    path = Path(path)
    backend = _byte_bpe({"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3})
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=1024,
    )
    patches = (TINY_PAGE_SIZE // TINY_PATCH) ** 2
    image_processor = SiglipImageProcessorPil(
        size={"height": TINY_PAGE_SIZE, "width": TINY_PAGE_SIZE}, image_seq_length=patches
    )
    # The processor adds <image> and PaliGemma's 1152 location/segment tokens.
    processor = ColPaliProcessor(image_processor=image_processor, tokenizer=tokenizer)
    vocab = len(processor.tokenizer)
    config = ColPaliConfig(
        vlm_config=PaliGemmaConfig(
            vision_config=_layers(
                model_type="siglip_vision_model",
                num_attention_heads=2,
                image_size=TINY_PAGE_SIZE,
                patch_size=TINY_PATCH,
                vision_use_head=False,
            ),
            text_config=_layers(
                model_type="gemma",
                num_attention_heads=2,
                num_key_value_heads=1,
                head_dim=16,
                vocab_size=vocab,
            ),
            image_token_index=processor.image_token_id,
            vocab_size=vocab,
            projection_dim=32,
            hidden_size=32,
        ),
        embedding_dim=TINY_COLPALI_DIM,
    )
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = ColPaliForRetrieval(config)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def make_tiny_colqwen2(path: str | Path) -> Path:
    """Save a tiny ColQwen2ForRetrieval + ColQwen2Processor (Qwen2-VL image processor)."""
    import torch
    from transformers import (
        ColQwen2Config,
        ColQwen2ForRetrieval,
        ColQwen2Processor,
        PreTrainedTokenizerFast,
        Qwen2VLConfig,
        Qwen2VLImageProcessorPil,
    )

    path = Path(path)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_byte_bpe(extra=_QWEN_SPECIALS),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        model_max_length=4096,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIALS}
    factor = TINY_PATCH * 2  # patch size x spatial merge
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=TINY_PATCH,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=factor * factor * 4,
        max_pixels=factor * factor * 256,
    )
    processor = ColQwen2Processor(image_processor=image_processor, tokenizer=tokenizer)
    config = ColQwen2Config(
        vlm_config=Qwen2VLConfig(
            text_config=_layers(
                num_attention_heads=2,
                num_key_value_heads=1,
                vocab_size=len(tokenizer),
                # Multimodal rotary sections must add up to half a head (32 / 2 / 2).
                rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3]},
                bos_token_id=None,
                eos_token_id=ids["<|im_end|>"],
                pad_token_id=ids["<|endoftext|>"],
            ),
            vision_config={
                "depth": 2,
                "embed_dim": 32,
                "hidden_size": 32,
                "num_heads": 2,
                "mlp_ratio": 2,
                "patch_size": TINY_PATCH,
                "spatial_merge_size": 2,
                "temporal_patch_size": 2,
            },
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
        ),
        embedding_dim=TINY_COLPALI_DIM,
    )
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = ColQwen2ForRetrieval(config)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def page_images(n: int = 4, size: tuple[int, int] = (128, 96)) -> list[Any]:
    """``n`` distinct page-like pictures: white with dark 'text lines' at varying places."""
    from PIL import Image, ImageDraw

    pages = []
    for i in range(n):
        page = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(page)
        for line in range(3 + i % 3):
            y = 8 + line * (10 + i)
            if y + 4 < size[1]:
                width = size[0] - 16 - (i * 13 + line * 7) % (size[0] // 2)
                shade = (30 * i) % 120
                draw.rectangle([8, y, 8 + width, y + 4], fill=(shade, shade, shade))
        w, h = size
        draw.ellipse([w - 30 - 5 * i, h - 30, w - 10, h - 10], fill=(200, 40 * i % 255, 0))
        pages.append(page)
    return pages
