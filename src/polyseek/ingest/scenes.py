"""Shot/scene boundaries from decoded frames, by frame difference (streaming).

Each sampled frame is shrunk to a tiny RGB picture; a cut is declared where the
difference to the previous sample (the geometric mean of a colour-histogram distance and the
mean absolute difference of block means, both in [0, 1]) exceeds a threshold. Hard cuts are found
to within one sample interval; slow fades and dissolves are not detected as cuts (the
maximum moment length still splits such shots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANALYSIS_SIZE = (48, 27)
"""Width, height of the picture compared between samples."""

_BINS = 16


def frame_signature(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(block means in [0,1], normalised per-channel histogram) of a tiny RGB frame.

    Pixels are compared as 3x3-pixel block means: fine texture that moves (stripes, leaves,
    text scrolling) changes single pixels a lot but block means little, while a cut
    changes both the blocks and the colour histogram.
    """
    h, w = rgb.shape[0] // 3 * 3, rgb.shape[1] // 3 * 3
    blocks = rgb[:h, :w].astype(np.float32).reshape(h // 3, 3, w // 3, 3, 3).mean(axis=(1, 3))
    hist = np.concatenate(
        [np.bincount((rgb[..., c] // (256 // _BINS)).ravel(), minlength=_BINS) for c in range(3)]
    ).astype(np.float32)
    hist /= max(hist.sum() / 3, 1.0)
    return blocks / 255.0, hist


def frame_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """How different two frame signatures are, in [0, 1].

    The geometric mean of the block-mean difference and the histogram distance: a cut
    changes both the layout and the colours of the picture; motion within a shot
    mostly changes one of them.
    """
    pixel = float(np.mean(np.abs(a[0] - b[0])))
    hist = float(np.abs(a[1] - b[1]).sum() / 6)  # L1 of 3 distributions, halved: in [0, 1]
    return float(np.sqrt(pixel * hist))


@dataclass
class SceneDetector:
    """Feed tiny frames in time order; :attr:`cuts` collects the times of scene changes."""

    threshold: float = 0.25
    min_scene_s: float = 1.0

    def __post_init__(self) -> None:
        self.cuts: list[float] = []
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._last_cut = 0.0
        self.last_distance = 0.0

    def push(self, t: float, rgb: np.ndarray) -> bool:
        """Add the frame shown at ``t`` seconds; True when a new scene starts at ``t``."""
        sig = frame_signature(rgb)
        prev, self._prev = self._prev, sig
        if prev is None:
            return False
        self.last_distance = frame_distance(prev, sig)
        if self.last_distance >= self.threshold and t - self._last_cut >= self.min_scene_s:
            self.cuts.append(t)
            self._last_cut = t
            return True
        return False
