"""A model-free, deterministic embedder for tests: hashed character n-grams.

How a text becomes a vector, so that a test can work out rankings by hand:

1. Features. Every CJK character (U+3400-U+4DBF, U+4E00-U+9FFF, U+F900-U+FAFF) is a unigram,
   and every two adjacent CJK characters form a bigram; anything that is not CJK (punctuation,
   spaces, digits, Latin letters) breaks a run, so no bigram spans it. Each run of ASCII letters
   and digits is one more feature, lower-cased ("Bike" and "bike" match). A text with no feature
   at all (empty, or punctuation only) gets the single feature ``"<empty>"``.
2. Buckets. Feature ``f`` is counted in bucket ``zlib.crc32(f.encode("utf-8")) % dim``: crc32 is
   the same in every process and on every machine, unlike ``hash()``, which is salted per run.
3. The count vector is divided by its L2 norm, so the inner product of two vectors is the cosine
   of their feature counts (up to bucket collisions; see :meth:`FakeEmbedder.bucket`).

Queries and passages are embedded the same way (no prefixes), so ``embed_queries(["x"])`` equals
``embed_passages(["x"])``. Two texts that share no feature and no bucket score exactly 0; a text
scores exactly 1 against itself. With 64 buckets, collisions between unrelated features do happen:
a test that needs a strict order should compare ``bucket`` of the features it relies on, or use a
larger ``dim``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = ["FakeEmbedder"]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=1 << 16)
def _crc32(feature: str) -> int:
    # A whole corpus repeats a few thousand characters and bigrams: hash each one once.
    return zlib.crc32(feature.encode("utf-8"))


class FakeEmbedder:
    """Implements ``qa.embedders.Embedder`` with no model; see the module docstring for the recipe.

    Attributes:
        id: ``"fake/char-ngram-<dim>"``, i.e. ``"fake/char-ngram-64"`` by default.
        dim: Number of hash buckets.
        calls: Every call made, in order, as ``("query" | "passage", texts)``; lets a test check
            what was (or was not) embedded, e.g. that a loaded index did not re-embed the corpus.
    """

    def __init__(self, dim: int = 64) -> None:
        if dim < 1:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.id = f"fake/char-ngram-{dim}"
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    @staticmethod
    def features(text: str) -> list[str]:
        """The features of ``text``, in order of appearance, repeats kept.

        Args:
            text: Any string.

        Returns:
            CJK unigrams and bigrams plus lower-cased ASCII words, or ``["<empty>"]``.
        """
        feats: list[str] = []
        for run in _CJK_RUN.findall(text):
            feats.extend(run)
            feats.extend(run[i : i + 2] for i in range(len(run) - 1))
        feats.extend(w.lower() for w in _WORD.findall(text))
        return feats or ["<empty>"]

    def bucket(self, feature: str) -> int:
        """The bucket that ``feature`` is counted in.

        Args:
            feature: One feature, as returned by :meth:`features`.

        Returns:
            ``zlib.crc32(feature.encode("utf-8")) % dim``.
        """
        return _crc32(feature) % self.dim

    def vector(self, text: str) -> np.ndarray:
        """The unit float32 vector of one text.

        Args:
            text: Any string.

        Returns:
            Array of shape ``(dim,)`` with L2 norm 1.
        """
        buckets = [_crc32(feat) % self.dim for feat in self.features(text)]
        counts = np.bincount(buckets, minlength=self.dim).astype(np.float64)
        return (counts / np.linalg.norm(counts)).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions; identical to :meth:`embed_passages`.

        Args:
            texts: The questions.

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit rows.
        """
        return self._embed("query", texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed chunks; identical to :meth:`embed_queries`.

        Args:
            texts: The chunk texts.

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit rows.
        """
        return self._embed("passage", texts)

    def _embed(self, kind: str, texts: Sequence[str]) -> np.ndarray:
        # Same guard as the real embedders: a bare str would otherwise embed one row per character.
        if isinstance(texts, str):
            raise TypeError("expected a sequence of texts, got a single str")
        items = tuple(texts)
        self.calls.append((kind, items))
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, text in enumerate(items):
            out[row] = self.vector(text)
        return out
