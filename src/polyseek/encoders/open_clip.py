"""open_clip image-text encoders (optional extra: ``pip install 'polyseek[open-clip]'``).

Model references (after ``open_clip:``):

* ``ARCH/TAG``: a built-in architecture and pretrained tag, e.g. ``ViT-B-32/laion2b_s34b_b79k``
  (``python -c "import open_clip; print(open_clip.list_pretrained())"`` lists them);
* ``hf-hub:org/name``: an open_clip model on the Hugging Face hub;
* ``ARCH@/path/to/checkpoint.pt``: a built-in (or ``open_clip.add_model_config``-registered)
  architecture with local weights (``.pt``, ``.bin``, ``.pth`` or ``.safetensors``);
* ``/path/to/dir`` or ``local-dir:/path/to/dir``: a directory with ``open_clip_config.json``
  (``{"model_cfg": ..., "preprocess_cfg": ...}``) and the weights, the layout that
  ``open_clip.push_to_hf_hub`` writes.

Weights already in the local caches are loaded without touching the network; others are
downloaded only when that can work (see :mod:`polyseek.hub`).

The image tower runs on ONNX Runtime in int8 when its export matched the eager model on
calibration images, exactly as for the transformers encoder
(:mod:`polyseek.encoders.onnx_image`); ``POLYSEEK_ONNX=0`` keeps it on PyTorch.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek import hub
from polyseek.deps import require
from polyseek.encoders._onnx import onnx_mode, package_version
from polyseek.encoders._util import TwoTowerEncoder, as_float32_rows
from polyseek.encoders.base import EncoderInfo
from polyseek.encoders.onnx_image import (
    ImageRuntime,
    OnnxImageTower,
    TowerSource,
    load_image_tower,
)
from polyseek.errors import ConfigError, EncoderError, PolyseekError

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'polyseek[open-clip]'"
DEFAULT_MODEL = "ViT-B-32/laion2b_s34b_b79k"
CONFIG_NAME = "open_clip_config.json"
HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"
_WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.pth", "*.pt")
_HF_DEFAULT_WEIGHTS = "open_clip_pytorch_model.bin"
_FORMATS = (
    "ARCH/TAG (e.g. ViT-B-32/laion2b_s34b_b79k), hf-hub:org/name, ARCH@/path/to/weights.pt, "
    "or a directory with open_clip_config.json and weights"
)


def import_open_clip() -> ModuleType:
    """``import open_clip``, or :class:`MissingDependencyError` with the install hint."""
    return require("open_clip", hint=INSTALL_HINT, feature="the open_clip encoder")


@dataclass(frozen=True)
class _Plan:
    """How to call open_clip for one model reference."""

    model_name: str  # what create_model_and_transforms gets
    tokenizer_name: str  # what get_tokenizer gets
    pretrained: str | None = None  # a tag or a weights file (only without a schema)
    local: bool = True  # everything is on disk: load with the hub switched off
    revision: str | None = None
    hub_repo: str | None = None  # for the revision after a download
    kwargs: dict[str, Any] = field(default_factory=dict)


def _has_weights(directory: Path) -> bool:
    return any(any(directory.glob(pattern)) for pattern in _WEIGHT_GLOBS)


def _plan_local_dir(path: Path, ref: str) -> _Plan:
    if not path.is_dir():
        raise EncoderError(f"open_clip model directory {str(path)!r} does not exist")
    if not (path / CONFIG_NAME).is_file():
        raise EncoderError(
            f"{str(path)!r} has no {CONFIG_NAME}",
            hint=f"an open_clip model directory holds {CONFIG_NAME} "
            '({"model_cfg": {...}, "preprocess_cfg": {...}}) and the weights; '
            "for a bare checkpoint use ARCH@/path/to/weights.pt",
        )
    if not _has_weights(path):
        raise EncoderError(
            f"{str(path)!r} has {CONFIG_NAME} but no weights (*.safetensors, *.bin, *.pth)",
        )
    name = LOCAL_DIR_PREFIX + str(path)
    return _Plan(name, name, revision=hub.fingerprint(path))


def _plan_hf_hub(repo: str) -> _Plan:
    if not repo:
        raise ConfigError("empty hub name after 'hf-hub:'", hint=f"valid forms: {_FORMATS}")
    snapshot = hub.cached_snapshot(repo)
    if snapshot is not None and (snapshot / CONFIG_NAME).is_file() and _has_weights(snapshot):
        logger.debug("using cached snapshot %s for hf-hub:%s", snapshot, repo)
        name = LOCAL_DIR_PREFIX + str(snapshot)
        return _Plan(name, name, revision=f"{repo}@{snapshot.name}")
    hub.ensure_downloadable(repo, backend="open_clip")
    name = HF_HUB_PREFIX + repo
    return _Plan(
        name, name, local=False, hub_repo=repo, kwargs={"cache_dir": str(hub.hub_cache_dir())}
    )


def _check_arch(open_clip: ModuleType, arch: str, ref: str) -> None:
    if arch not in open_clip.list_models():
        raise _unknown_arch(open_clip, arch, ref)


def _unknown_arch(open_clip: ModuleType, arch: str, ref: str) -> ConfigError:
    close = difflib.get_close_matches(arch, open_clip.list_models(), n=5)
    return ConfigError(
        f"unknown open_clip architecture {arch!r} in {ref!r}",
        hint=(f"did you mean: {', '.join(close)}? " if close else "")
        + f"valid forms: {_FORMATS}; list architectures with open_clip.list_models(); "
        "register your own with open_clip.add_model_config(path)",
    )


def _plan_arch_checkpoint(open_clip: ModuleType, arch: str, weights: str, ref: str) -> _Plan:
    _check_arch(open_clip, arch, ref)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise EncoderError(f"open_clip checkpoint {weights!r} does not exist (in {ref!r})")
    return _Plan(arch, arch, pretrained=str(path), revision=hub.fingerprint(path))


def _tag_preprocess(cfg: dict[str, Any]) -> dict[str, Any]:
    """What open_clip takes from a pretrained tag, for when we hand it the file instead."""
    kwargs: dict[str, Any] = {}
    for key, arg in (
        ("mean", "image_mean"),
        ("std", "image_std"),
        ("interpolation", "image_interpolation"),
        ("resize_mode", "image_resize_mode"),
    ):
        if cfg.get(key) is not None:
            kwargs[arg] = cfg[key]
    if cfg.get("quick_gelu"):
        kwargs["force_quick_gelu"] = True
    return kwargs


def _plan_arch_tag(open_clip: ModuleType, arch: str, tag: str, ref: str) -> _Plan:
    _check_arch(open_clip, arch, ref)
    tags = open_clip.list_pretrained_tags_by_model(arch)
    cfg = open_clip.get_pretrained_cfg(arch, tag) if tag else {}
    if not cfg:
        raise ConfigError(
            f"unknown pretrained tag {tag!r} for open_clip architecture {arch!r}",
            hint=f"tags of {arch}: {', '.join(tags) or 'none'}; or give local weights as "
            f"{arch}@/path/to/weights.pt",
        )
    hf_hub = cfg.get("hf_hub") or ""
    url = cfg.get("url") or ""
    kwargs = _tag_preprocess(cfg)
    if hf_hub:
        # open_clip's convention: 'org/name/' means the default file, 'org/name/file' a file.
        if hf_hub.endswith("/"):
            repo, filename = hf_hub.rstrip("/"), _HF_DEFAULT_WEIGHTS
        else:
            repo, filename = os.path.split(hf_hub)
        candidates = [filename]
        if filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        for candidate in candidates:
            cached = hub.cached_file(repo, candidate)
            if cached is not None:
                logger.debug("using cached weights %s for %s", cached, ref)
                return _Plan(
                    arch,
                    arch,
                    pretrained=str(cached),
                    revision=hub.hub_revision(repo),
                    kwargs=kwargs,
                )
        hub.ensure_downloadable(repo, backend="open_clip")
        return _Plan(
            arch,
            arch,
            pretrained=tag,
            local=False,
            hub_repo=repo,
            kwargs={"cache_dir": str(hub.hub_cache_dir())},
        )
    if url:
        cached_url = Path("~/.cache/clip").expanduser() / os.path.basename(url)
        if cached_url.is_file():
            return _Plan(
                arch,
                arch,
                pretrained=str(cached_url),
                revision=f"{arch}/{tag}:{hub.fingerprint(cached_url)}",
                kwargs=kwargs,
            )
        hub.ensure_downloadable(f"{arch}/{tag}", backend="open_clip", url=url)
        return _Plan(arch, arch, pretrained=tag, local=False, revision=f"{arch}/{tag}")
    raise EncoderError(f"open_clip has no download source for {arch}/{tag}")


def plan(open_clip: ModuleType, ref: str) -> _Plan:
    """Turn a model reference into the arguments open_clip needs (no loading)."""
    ref = ref.strip()
    if ref.startswith(LOCAL_DIR_PREFIX):
        return _plan_local_dir(Path(ref[len(LOCAL_DIR_PREFIX) :]).expanduser(), ref)
    if ref.startswith(HF_HUB_PREFIX):
        return _plan_hf_hub(ref[len(HF_HUB_PREFIX) :].strip())
    local = hub.local_path(ref)
    if local is not None:
        if local.is_dir():
            return _plan_local_dir(local, ref)
        raise ConfigError(
            f"{ref!r} is a file: open_clip needs to know its architecture",
            hint=f"write ARCH@{ref}, e.g. ViT-B-32@{ref}",
        )
    if "@" in ref:
        arch, _, weights = ref.partition("@")
        return _plan_arch_checkpoint(open_clip, arch.strip(), weights.strip(), ref)
    if "/" in ref:
        arch, _, tag = ref.partition("/")
        if arch in open_clip.list_models() and "/" not in tag:
            return _plan_arch_tag(open_clip, arch, tag, ref)
        if ref.startswith(("/", ".", "~")) or ref.count("/") > 1:
            raise EncoderError(f"open_clip model directory {ref!r} does not exist")
        if difflib.get_close_matches(arch, open_clip.list_models(), n=1):
            raise _unknown_arch(open_clip, arch, ref)  # a typo in ARCH/TAG, most likely
        raise ConfigError(
            f"unknown open_clip model {ref!r}",
            hint=f"for a hub repository write hf-hub:{ref}; valid forms: {_FORMATS}",
        )
    if ref in open_clip.list_models():
        tags = open_clip.list_pretrained_tags_by_model(ref)
        raise ConfigError(
            f"open_clip architecture {ref!r} needs pretrained weights",
            hint=f"write {ref}/TAG with TAG one of: {', '.join(tags) or 'none'}; "
            f"or {ref}@/path/to/weights.pt",
        )
    raise _unknown_arch(open_clip, ref, ref)


class OpenClipEncoder(TwoTowerEncoder):
    """An open_clip two-tower model: embeds images and text queries into one space."""

    backend = "open_clip"

    def __init__(self, model_ref: str | None = None, *, onnx: str | None = None) -> None:
        mode = onnx_mode(onnx)
        open_clip = import_open_clip()
        import torch

        ref = (model_ref or DEFAULT_MODEL).strip()
        p = plan(open_clip, ref)
        with hub.offline_mode() if p.local else contextlib.nullcontext():
            try:
                model, _, preprocess = open_clip.create_model_and_transforms(
                    p.model_name,
                    pretrained=p.pretrained,
                    device="cpu",
                    precision="fp32",
                    **p.kwargs,
                )
                tokenizer = open_clip.get_tokenizer(
                    p.tokenizer_name, cache_dir=p.kwargs.get("cache_dir")
                )
            except PolyseekError:
                raise
            except Exception as exc:
                raise EncoderError(
                    f"cannot load open_clip model {ref!r}: {type(exc).__name__}: {exc}",
                    hint=f"valid forms: {_FORMATS}",
                ) from exc
        model.eval()
        self._torch = torch
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._onnx_image: OnnxImageTower | None = None
        revision = p.revision or (hub.hub_revision(p.hub_repo) if p.hub_repo else None)
        dim = self._probe_dim(ref)
        self.info = EncoderInfo(
            spec=f"{self.backend}:{ref}",
            kind="image-text",
            revision=revision or "unknown",
            dim=dim,
        )
        source = TowerSource(
            what=self.info.spec,
            name="open_clip-image",
            model=model,
            tower=_encode_image,
            preprocess=self._pixels,
            identity={
                "revision": self.info.revision,
                # A bare checkpoint's fingerprint does not name its architecture or options.
                "arch": "" if p.model_name.startswith(LOCAL_DIR_PREFIX) else p.model_name,
                "options": repr(sorted((k, v) for k, v in p.kwargs.items() if k != "cache_dir")),
                "class": type(model).__name__,
                "open_clip": package_version("open_clip_torch"),
            },
        )
        self._onnx_image = load_image_tower(source, mode)
        logger.debug(
            "loaded open_clip %s (dim %d, revision %s, images on %s)",
            ref,
            dim,
            self.info.revision,
            self.image_runtime,
        )

    @property
    def image_runtime(self) -> ImageRuntime:
        """Where images are embedded: ``torch`` (eager), ``onnx-fp32`` or ``onnx-int8``."""
        return self._onnx_image.runtime if self._onnx_image is not None else "torch"

    def _probe_dim(self, ref: str) -> int:
        """Embed one text and one blank image: both towers must work and agree in width."""
        from PIL import Image as PILImage

        try:
            text_dim = self._text_features(["a photo"]).shape[1]
            image_dim = self._image_features([PILImage.new("RGB", (64, 64))]).shape[1]
        except Exception as exc:
            raise EncoderError(
                f"open_clip model {ref!r} loaded but fails on a test input: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if text_dim != image_dim:
            raise EncoderError(
                f"open_clip model {ref!r} embeds texts in {text_dim} and images in "
                f"{image_dim} dimensions"
            )
        return int(text_dim)

    def _text_features(self, texts: list[str]) -> np.ndarray:
        tokens = self._tokenizer(texts)
        with self._torch.inference_mode():
            return as_float32_rows(self._model.encode_text(tokens))

    def _pixels(self, images: list[Image]) -> np.ndarray:
        """The pixel batch eager gets (open_clip's own transforms), as float32 numpy."""
        pixels = self._torch.stack([self._preprocess(image) for image in images])
        return np.ascontiguousarray(pixels.numpy(), dtype=np.float32)

    def _image_features(self, images: list[Image]) -> np.ndarray:
        if self._onnx_image is not None:
            return self._onnx_image(self._pixels(images))
        pixels = self._torch.stack([self._preprocess(image) for image in images])
        with self._torch.inference_mode():
            return as_float32_rows(self._model.encode_image(pixels))


def _encode_image(model: Any, pixels: Any) -> Any:
    """The eager image tower as the ONNX export traces it (unnormalised, like eager)."""
    return model.encode_image(pixels)
