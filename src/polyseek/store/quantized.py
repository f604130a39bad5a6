"""Compressed first pass over the in-memory vectors, then exact float32 rescoring.

A first pass scores every row on a cheaper copy of the matrix, keeps the best
``k * oversample`` rows, and rescores those with the full float32 vectors, so the
scores returned are always exact cosine similarities; only the *choice* of candidates
is approximate. Kinds (``FirstPass.parse`` spells them):

``none``          exact float32 over all rows (the default; no first pass)
``truncate:N``    the first N dimensions, renormalised (Matryoshka-style)
``int8``          per-dimension scaled int8 codes, scored in int32 (a copy 1/4 the size)
``binary``        sign bits packed into uint64 words, Hamming distance (1/32 the size)

Measured on 100k MiniLM-mixture vectors (``benchmarks/first_pass.py``): see the
README's "Evaluation and ranking options" for the recall@10 against exact search and
the latency ratios. numpy has no fast int8 matrix-vector product, so ``int8`` is slower
than float32 here; ``binary`` and ``truncate`` are the fast ones. The float32 matrix
stays in memory for the rescoring, so the compressed copies add memory, not save it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableMapping
from typing import Protocol

import numpy as np

from polyseek.errors import QueryError
from polyseek.store.first_pass import DEFAULT_OVERSAMPLE, FIRST_PASS_KINDS, FirstPass

logger = logging.getLogger(__name__)

_BUILD_LOCK = threading.Lock()


class CompressedIndex(Protocol):
    nbytes: int

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """(n_queries, n_rows) first-pass scores, higher is better (any numeric dtype)."""
        ...


class TruncatedIndex:
    """The first ``dims`` dimensions of each row, renormalised to unit length."""

    def __init__(self, matrix: np.ndarray, dims: int) -> None:
        if dims >= matrix.shape[1]:
            raise QueryError(
                f"truncate:{dims} keeps every dimension of these {matrix.shape[1]}-d vectors",
                hint=f"use fewer than {matrix.shape[1]} dimensions, or first pass none",
            )
        self.dims = dims
        self.matrix = _normalise(np.ascontiguousarray(matrix[:, :dims], dtype=np.float32))
        self.nbytes = self.matrix.nbytes

    def scores(self, queries: np.ndarray) -> np.ndarray:
        q = _normalise(np.asarray(queries[:, : self.dims], dtype=np.float32))
        return q @ self.matrix.T


class Int8Index:
    """Per-dimension symmetric int8 codes; queries are quantised too, scored in int32."""

    def __init__(self, matrix: np.ndarray) -> None:
        peak = np.abs(matrix).max(axis=0) if len(matrix) else np.ones(matrix.shape[1])
        self.scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        self.codes = np.clip(np.rint(matrix / self.scale), -127, 127).astype(np.int8)
        self.nbytes = self.codes.nbytes

    def scores(self, queries: np.ndarray) -> np.ndarray:
        # q . x ~= sum_j (q_j * scale_j) * code_j: quantise the scaled query to int8 as well
        qs = np.asarray(queries, dtype=np.float32) * self.scale
        peak = np.abs(qs).max(axis=1, keepdims=True)
        q8 = np.rint(qs / np.where(peak > 0, peak, 1.0) * 127).astype(np.int8)
        # einsum's int8 x int8 -> int32 loop: as fast as BLAS float32 here, 1/4 of the bytes
        return np.einsum("ij,kj->ki", self.codes, q8, dtype=np.int32)


class BinaryIndex:
    """Sign bits, 64 per uint64 word; the score is the number of agreeing bits.

    Words are stored word-major (one contiguous array per word position), so the
    Hamming distance is a few whole-array XOR + popcount passes: ~4x faster in numpy
    than popcounting (n, words) rows and summing along the short axis.
    """

    def __init__(self, matrix: np.ndarray) -> None:
        self.words = np.ascontiguousarray(_pack_signs(matrix).T)  # (n_words, n)
        self.bits = self.words.shape[0] * 64
        self.nbytes = self.words.nbytes

    def scores(self, queries: np.ndarray) -> np.ndarray:
        qw = _pack_signs(np.asarray(queries, dtype=np.float32))
        n = self.words.shape[1]
        out = np.empty((len(qw), n), dtype=np.uint16)
        buf = np.empty(n, dtype=np.uint64)
        for i, q in enumerate(qw):
            hamming = np.zeros(n, dtype=np.uint16)
            for j, word in enumerate(self.words):
                np.bitwise_xor(word, q[j], out=buf)
                hamming += np.bitwise_count(buf)
            np.subtract(self.bits, hamming, out=out[i])
        return out


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


def _pack_signs(m: np.ndarray) -> np.ndarray:
    bits = np.packbits(m > 0, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(bits).view(np.uint64)


def build_index(fp: FirstPass, matrix: np.ndarray) -> CompressedIndex:
    if fp.kind == "truncate":
        return TruncatedIndex(matrix, fp.dims)
    if fp.kind == "int8":
        return Int8Index(matrix)
    if fp.kind == "binary":
        return BinaryIndex(matrix)
    raise QueryError(f"first pass {fp.spec!r} has no compressed index")


def cached_index(
    fp: FirstPass, matrix: np.ndarray, cache: MutableMapping[str, CompressedIndex]
) -> CompressedIndex:
    """The compressed copy of ``matrix`` for ``fp``, built once per matrix (``cache``)."""
    index = cache.get(fp.spec)
    if index is None:
        with _BUILD_LOCK:
            index = cache.get(fp.spec)
            if index is None:
                index = build_index(fp, matrix)
                cache[fp.spec] = index
                logger.debug("built the %s first pass: %d bytes", fp.spec, index.nbytes)
    return index


def first_pass_search(
    fp: FirstPass,
    matrix: np.ndarray,
    ids: np.ndarray,
    queries: np.ndarray,
    k: int,
    keep: np.ndarray | None = None,
    cache: MutableMapping[str, CompressedIndex] | None = None,
) -> list[list[tuple[str, float]]]:
    """Top-k (id, exact cosine) per query: compressed first pass, float32 rescoring.

    ``keep`` masks rows (e.g. a modality filter). An id repeated over several rows
    (multi-vector items) is returned once, at its best row.
    """
    queries = np.asarray(queries, dtype=np.float32)
    index = cached_index(fp, matrix, cache if cache is not None else {})
    rows = np.flatnonzero(keep) if keep is not None else None
    n = len(ids) if rows is None else len(rows)
    if n == 0 or k < 1:
        return [[] for _ in range(len(queries))]
    coarse = index.scores(queries)
    if rows is not None:
        coarse = coarse[:, rows]
    results = []
    for qi, row in enumerate(coarse):
        want = min(n, k * fp.oversample)
        while True:
            # the ``want`` largest, without negating (scores may be unsigned)
            cand = np.argpartition(row, n - want)[n - want :] if want < n else np.arange(n)
            if rows is not None:
                cand = rows[cand]
            exact = matrix[cand] @ queries[qi]
            # equal scores in id order: the same files give the same order in any index
            order = np.lexsort((ids[cand].astype(str), -exact))
            found: list[tuple[str, float]] = []
            seen: set[str] = set()
            for j in order:
                item = str(ids[cand[j]])
                if item not in seen:
                    seen.add(item)
                    found.append((item, float(exact[j])))
                    if len(found) == k:
                        break
            if len(found) == k or want >= n:  # else repeated ids crowded the candidates out
                break
            want = min(n, want * 4)
        results.append(found)
    return results


__all__ = [
    "DEFAULT_OVERSAMPLE",
    "FIRST_PASS_KINDS",
    "BinaryIndex",
    "CompressedIndex",
    "FirstPass",
    "Int8Index",
    "TruncatedIndex",
    "build_index",
    "first_pass_search",
]
