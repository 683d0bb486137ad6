"""The index on disk: FAISS over chunk and sentence vectors, BM25 over jieba words, and a manifest.

An index is a folder of named files plus ``manifest.json`` recording the format version, the
embedder id and dimension, a hash of the corpus and lexicon, the chunking settings and a SHA-256
of every file. It is used only while all of these match; otherwise it is rebuilt. A build is
written to a temporary folder beside the target and renamed into place, so an interrupted build
never leaves a half index that gets used.

A checksum only says a file is the one the manifest names, and a manifest can be rewritten. So a
loaded index is also checked against what it must agree with: its chunks against the documents
(every quotation is the document's own text at its offsets), its vectors against the manifest and
the embedder, its sentence table against the chunks. Any disagreement means a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np

from qa import storage
from qa.chunking import Chunk, chunk_collection
from qa.documents import Collection
from qa.embedders import Embedder
from qa.errors import IndexUnavailable, QAError
from qa.plan_format import split_sentences, strip_task_number
from qa.settings import Settings
from qa.tokens import DICTIONARY_VERSION, Tokenizer

__all__ = [
    "Index",
    "Sentence",
    "ensure_index",
    "build_index",
    "load_index",
    "check_location",
    "corpus_hash",
    "FORMAT_VERSION",
]

FORMAT_VERSION = 2
_DICTIONARY = "jieba.cache"  # jieba's dictionary with the plan's words: read in 0.5 s, built in 2
_FILES = ("chunks.jsonl", "chunks.faiss", "sentences.json", "sentences.npy", "services.npy", _DICTIONARY)
_OWN_NAMES = frozenset({*_FILES, "bm25", storage.MANIFEST})


@dataclass(frozen=True)
class Sentence:
    chunk: int  # position of its chunk in Index.chunks
    start: int  # offsets into the chunk's text
    end: int


@dataclass
class Index:
    chunks: list[Chunk]
    dense: faiss.Index
    sentences: list[Sentence]
    sentence_vectors: np.ndarray
    bm25: bm25s.BM25
    manifest: dict[str, object]
    path: Path
    # The kinds of service the plan does not cover, in passages (``Lexicon.off_topic_services``),
    # embedded with the chunks: embedding them at every start cost a second of the cold start.
    service_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def dense_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every chunk, in chunk order."""
        # Normalised vectors + IndexFlatIP = cosine; asking for every chunk gives a full score vector.
        scores, ids = self.dense.search(query_vector.reshape(1, -1).astype(np.float32), self.dense.ntotal)
        out = np.empty(self.dense.ntotal, dtype=np.float32)
        out[ids[0]] = scores[0]
        return out

    def bm25_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk; zeros when no word of the question is in the index."""
        known = [t for t in tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)


def passage_text(chunk: Chunk, collection: Collection) -> str:
    """What the embedder reads for a chunk: its section or document title, then its text.

    The context helps a question about 安全 find a task whose section is 构筑安全管理体系; the
    stored chunk text, and so every offset, stays exactly the document's.
    """
    context = chunk.section or collection.get(chunk.doc_id).title
    # A task's own number ("29.") would make every question that mentions 29 match it, in
    # either plan; clause numbers are routed before retrieval instead.
    return f"{context}\n{strip_task_number(chunk.text)}"


def corpus_hash(settings: Settings) -> str:
    """SHA-256 of everything in the corpus and lexicon that shapes the index."""
    digest = hashlib.sha256()
    # The manifest and the documents, not tuned.json: re-tuning weights changes no vector.
    for path in [*sorted(settings.corpus_dir.glob("*.txt")), settings.corpus_dir / "manifest.json"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for path in sorted((settings.corpus_dir / "lexicon").glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def code_hash() -> str:
    """SHA-256 of the modules that decide what goes into the index, so a change to chunking or
    tokenising rebuilds it without anyone having to remember to bump FORMAT_VERSION."""
    digest = hashlib.sha256()
    for name in _INDEXING_MODULES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


_INDEXING_MODULES = ("plan_format.py", "structure.py", "chunking.py", "tokens.py", "index.py")


def expected_manifest(settings: Settings, embedder: Embedder) -> dict[str, object]:
    return {
        "format_version": FORMAT_VERSION,
        "embedder": embedder.id,
        "dim": embedder.dim,
        "corpus_hash": corpus_hash(settings),
        "code_hash": code_hash(),
        "tokenizer": DICTIONARY_VERSION,
        "settings": settings.index_settings(),
    }


def _services_hash(services: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(services).encode()).hexdigest()


def build_index(
    collection: Collection,
    embedder: Embedder,
    tokenizer: Tokenizer,
    settings: Settings,
    progress: bool = False,
    services: Sequence[str] = (),
) -> Index:
    """Embed and index every chunk and sentence (and the off-topic ``services``), write it to a
    temporary folder, rename it into place.

    Raises:
        IndexUnavailable: the index folder (or its parent) cannot be written.
    """
    target = settings.index_dir
    try:
        # The staging folder is claimed before the long embedding pass, so an unwritable index
        # folder is reported at once rather than after a minute of work.
        with storage.staging(target, _OWN_NAMES) as tmp:
            index = _embed_and_write(tmp, collection, embedder, tokenizer, settings, progress, services)
    except OSError as err:
        raise IndexUnavailable(
            f"无法写入索引目录 {target}({err.strerror or err});请设置可写的 QA_INDEX_DIR 或使用 --index-dir。"
        ) from err
    index.path = target
    return index


def _embed_and_write(
    folder: Path,
    collection: Collection,
    embedder: Embedder,
    tokenizer: Tokenizer,
    settings: Settings,
    progress: bool,
    services: Sequence[str],
) -> Index:
    chunks = chunk_collection(collection.documents, settings.chunk_size, settings.chunk_overlap)
    sentences = [Sentence(i, s, e) for i, ch in enumerate(chunks) for s, e in split_sentences(ch.text)]
    texts = [passage_text(ch, collection) for ch in chunks]
    sentence_texts = [chunks[s.chunk].text[s.start : s.end] for s in sentences]
    chunk_vecs = _embed_batches(embedder, texts, progress, "向量化条款")
    sentence_vecs = _embed_batches(embedder, sentence_texts, progress, "向量化句子")
    service_vecs = _embed_batches(embedder, list(services), False, "")
    dense = faiss.IndexFlatIP(embedder.dim)
    dense.add(chunk_vecs)
    retriever = bm25s.BM25()
    retriever.index([tokenizer.tokens(t) for t in texts], show_progress=False)
    manifest = {
        **expected_manifest(settings, embedder),
        "n_chunks": len(chunks),
        "services": _services_hash(services),
        "n_services": len(services),
        "built_at": time.time(),
    }
    tokenizer.save_dictionary(folder / _DICTIONARY)
    written = _write(folder, chunks, dense, sentences, sentence_vecs, service_vecs, retriever, manifest)
    return Index(chunks, dense, sentences, sentence_vecs, retriever, written, folder, service_vecs)


def _embed_batches(embedder: Embedder, texts: list[str], progress: bool, label: str) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    batch = 32
    parts = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc=label, unit="段")
    for i in range(0, len(texts), batch):
        parts.append(embedder.embed_passages(texts[i : i + batch]))
        if bar is not None:
            bar.update(len(texts[i : i + batch]))
    if bar is not None:
        bar.close()
    return np.ascontiguousarray(np.vstack(parts).astype(np.float32))


def _write(
    folder: Path,
    chunks: list[Chunk],
    dense: faiss.Index,
    sentences: list[Sentence],
    sentence_vecs: np.ndarray,
    service_vecs: np.ndarray,
    retriever: bm25s.BM25,
    manifest: dict[str, object],
) -> dict[str, object]:
    with open(folder / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for ch in chunks:
            fh.write(json.dumps(ch.as_dict(), ensure_ascii=False) + "\n")
    faiss.write_index(dense, str(folder / "chunks.faiss"))
    (folder / "sentences.json").write_text(json.dumps([[s.chunk, s.start, s.end] for s in sentences]))
    np.save(folder / "sentences.npy", sentence_vecs)
    np.save(folder / "services.npy", service_vecs)
    retriever.save(str(folder / "bm25"), show_progress=False)
    return storage.write_manifest(folder, manifest)


def load_index(
    path: Path,
    expected: dict[str, object],
    collection: Collection | None = None,
    tokenizer: Tokenizer | None = None,
) -> Index | None:
    """The index in ``path`` if it is complete, undamaged and matches ``expected``; otherwise None.

    Args:
        path: The index folder.
        expected: What its manifest must say (``expected_manifest``).
        collection: The documents. When given, the chunks must be exactly those that chunking
            the documents gives now, each the document's own text at its offsets.
        tokenizer: Given the index's saved jieba dictionary, so that it is not built again.
    """
    manifest = storage.read_manifest(path, expected)
    if manifest is None or not all(name in manifest["files"] for name in _FILES):  # type: ignore[operator]
        return None
    try:
        chunks = [
            _chunk(json.loads(line))
            for line in (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        dense = faiss.read_index(str(path / "chunks.faiss"))
        sentences = [Sentence(*row) for row in json.loads((path / "sentences.json").read_text())]
        sentence_vecs = np.load(path / "sentences.npy")
        service_vecs = np.load(path / "services.npy")
        retriever = bm25s.BM25.load(str(path / "bm25"), show_progress=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        # Files that pass their checksum but do not load mean the same thing: rebuild.
        return None
    if collection is not None:
        current = _current_chunks(collection, chunks, expected)
        if current is None:
            return None
        chunks = current
    if _mismatch(chunks, dense, sentences, sentence_vecs, retriever, manifest) is not None:
        return None
    n_services = manifest.get("n_services")
    if not isinstance(service_vecs, np.ndarray) or service_vecs.shape != (n_services, manifest["dim"]):
        return None
    if len(service_vecs) and not np.allclose(np.linalg.norm(service_vecs, axis=1), 1.0, atol=1e-2):
        return None  # NaN or zero rows would silently stop the off-topic signal
    # Equal to the table just checked, and of the right types by construction.
    sentences = [Sentence(i, s, e) for i, ch in enumerate(chunks) for s, e in split_sentences(ch.text)]
    if tokenizer is not None:
        tokenizer.use_saved_dictionary(path / _DICTIONARY, manifest["files"][_DICTIONARY])  # type: ignore[index]
    return Index(
        chunks,
        dense,
        sentences,
        np.ascontiguousarray(sentence_vecs),
        retriever,
        manifest,
        path,
        np.ascontiguousarray(service_vecs, dtype=np.float32),
    )


def _current_chunks(
    collection: Collection, stored: list[Chunk], expected: dict[str, object]
) -> list[Chunk] | None:
    """The chunks of the documents as they are now, if ``stored`` is exactly them; else None."""
    try:
        chunking = expected["settings"]
        current = chunk_collection(
            collection.documents,
            int(chunking["chunk_size"]),  # type: ignore[index]
            int(chunking["chunk_overlap"]),  # type: ignore[index]
        )
        quoted = all(collection.get(ch.doc_id).text[ch.start : ch.end] == ch.text for ch in stored)
    except (KeyError, TypeError, ValueError, QAError):
        return None
    return current if quoted and stored == current else None


def _mismatch(
    chunks: list[Chunk],
    dense: faiss.Index,
    sentences: list[Sentence],
    sentence_vecs: object,
    retriever: bm25s.BM25,
    manifest: dict[str, object],
) -> str | None:
    """What in a loaded index disagrees with itself or its manifest, or None when nothing does."""
    n, dim = len(chunks), manifest["dim"]
    if manifest.get("n_chunks") != n:
        return f"{n} chunks, the manifest says {manifest.get('n_chunks')}"
    if not isinstance(dense, faiss.IndexFlat) or dense.metric_type != faiss.METRIC_INNER_PRODUCT:
        return f"chunk vectors in a {type(dense).__name__}, not an inner-product flat index"
    if dense.d != dim or dense.ntotal != n:
        return f"{dense.ntotal} chunk vectors of {dense.d} dimensions for {n} chunks of {dim}"
    if not isinstance(sentence_vecs, np.ndarray) or sentence_vecs.dtype != np.float32:
        return "sentence vectors that are not float32"
    if sentence_vecs.shape != (len(sentences), dim):
        return f"sentence vectors of shape {sentence_vecs.shape} for {len(sentences)} sentences of {dim}"
    for name, vectors in (("chunk", dense.reconstruct_n(0, n)), ("sentence", sentence_vecs)):
        # Every embedder returns unit rows; anything else (NaN, zeros) would rank at random.
        if len(vectors) and not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2):
            return f"{name} vectors that are not of unit length"
    scores, vocab = retriever.scores, retriever.vocab_dict
    if scores.get("num_docs") != n:
        return f"BM25 over {scores.get('num_docs')} documents for {n} chunks"
    indices, columns = np.asarray(scores["indices"]), len(scores["indptr"]) - 1
    # bm25s keeps "" in its vocabulary without a column; a question never asks for it.
    if (
        sorted(vocab.values()) != list(range(len(vocab)))
        or any(i >= columns for word, i in vocab.items() if word)
        or (indices.size and (indices.min() < 0 or indices.max() >= n))
    ):
        return "a BM25 matrix that does not fit its vocabulary and chunks"
    # In range, within its chunk, and the very sentences an answer is picked from.
    if sentences != [Sentence(i, s, e) for i, ch in enumerate(chunks) for s, e in split_sentences(ch.text)]:
        return "a sentence table that is not the chunks' sentences"
    return None


def _chunk(d: dict) -> Chunk:
    return Chunk(**{**d, "lead_units": tuple(d["lead_units"])})


def check_location(path: Path) -> None:
    """Refuse at once an index path that can never hold the index (a file, a dangling link, a path
    under a file) or whose rebuild would delete files that are not the index's.

    Raises:
        IndexUnavailable: one line saying what is wrong with ``path`` and how to fix it.
    """
    storage.check_location(path, _OWN_NAMES)


def ensure_index(
    collection: Collection,
    embedder: Embedder,
    tokenizer: Tokenizer,
    settings: Settings,
    force: bool = False,
    progress: bool = False,
    services: Sequence[str] = (),
) -> tuple[Index, bool]:
    """The index for these settings, loaded if it matches, built otherwise. Returns (index, built).

    ``services``: the passages of the kinds of service the plan does not cover, embedded with it."""
    check_location(settings.index_dir)
    expected = expected_manifest(settings, embedder)
    if not force:
        index = load_index(settings.index_dir, expected, collection, tokenizer)
        if index is not None:
            if index.manifest.get("services") != _services_hash(services):
                # Built for other passages (by a caller that passed none): embedded here, the
                # index itself still stands.
                index.service_vectors = _embed_batches(embedder, list(services), False, "")
            return index, False
    return build_index(collection, embedder, tokenizer, settings, progress, services), True
