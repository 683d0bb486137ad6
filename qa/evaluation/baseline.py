"""The naive pipeline the assistant is measured against: "the usual LangChain recipe".

Each document's text is cut by ``RecursiveCharacterTextSplitter(chunk_size=250, chunk_overlap=50)``
with its default separators (``"\\n\\n", "\\n", " ", ""``: nothing Chinese), every piece is embedded
by the assistant's own embedder, and a question gets the nearest pieces by cosine similarity.
No BM25, no question understanding, no clause structure, no draft/final routing, no abstention.
Using the same embedder keeps the comparison about the pipeline, not the model.

Like the real index, the baseline index is a folder (``index-baseline/`` beside ``index/``) with a
manifest; it is rebuilt when the manifest does not match and written to a temporary folder that is
renamed into place.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa import storage
from qa.answer import Answer, Result
from qa.documents import Collection, Document, load_collection
from qa.embedders import Embedder, load_embedder
from qa.errors import IndexUnavailable, InvalidQuestion
from qa.index import corpus_hash
from qa.settings import Settings

__all__ = ["Baseline", "BaselineChunk", "split_document", "baseline_dir", "build_seconds", "FORMAT_VERSION"]

FORMAT_VERSION = 1
CHUNK_SIZE = 250
CHUNK_OVERLAP = 50
_FILES = ("chunks.jsonl", "chunks.faiss")


@dataclass(frozen=True)
class BaselineChunk:
    doc_id: str
    start: int
    end: int
    text: str  # == document.text[start:end]


def baseline_dir(settings: Settings) -> Path:
    """``index-baseline/`` beside the assistant's ``index/`` (whatever that folder is called)."""
    return settings.index_dir.with_name(settings.index_dir.name + "-baseline")


def split_document(doc: Document) -> list[BaselineChunk]:
    """The recipe's pieces of one document, each located at its exact offsets in the text.

    Raises:
        ValueError: a piece is not a slice of the document (the splitter never rewrites text, so
            this would be a bug in the splitter or in the locating, not a data problem).
    """
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks = []
    cursor = 0
    for piece in splitter.split_text(doc.text):
        # Pieces come in document order and each starts after the previous one starts, so the
        # first match at or after the cursor is this piece (overlap means it may start before the
        # previous piece ends).
        at = doc.text.find(piece, cursor)
        if at < 0:
            raise ValueError(f"piece not found in {doc.doc_id}: {piece[:30]!r}")
        chunks.append(BaselineChunk(doc.doc_id, at, at + len(piece), piece))
        cursor = at + 1
    return chunks


def _expected_manifest(settings: Settings, embedder: Embedder) -> dict[str, object]:
    return {
        "format_version": FORMAT_VERSION,
        "embedder": embedder.id,
        "dim": embedder.dim,
        "corpus_hash": corpus_hash(settings),
        "chunk_size": CHUNK_SIZE,
        "chunk_overlap": CHUNK_OVERLAP,
    }


class Baseline:
    """Dense-only retrieval over fixed-size pieces; answers in the assistant's ``Answer`` shape.

    Attributes:
        built: whether this instance built the index (False when a matching one was loaded).
        chunks: every piece, in index order.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None, force: bool = False) -> None:
        self.settings = settings
        self.collection: Collection = load_collection(settings.corpus_dir)
        self.embedder = embedder or load_embedder(settings.embedder)
        self.path = baseline_dir(settings)
        expected = _expected_manifest(settings, self.embedder)
        loaded = None if force else _load(self.path, expected)
        if loaded is None:
            self.chunks, self.dense = self._build(expected)
            self.built = True
        else:
            self.chunks, self.dense = loaded
            self.built = False

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None, force: bool = True) -> Baseline:
        """A baseline whose index was built now (``force``) or loaded if it matches."""
        return cls(settings, embedder, force=force)

    def _build(self, manifest: dict[str, object]) -> tuple[list[BaselineChunk], faiss.Index]:
        chunks = [ch for doc in self.collection.documents for ch in split_document(doc)]
        # The recipe embeds the bare piece: no title or section in front of it.
        vecs = np.vstack(
            [
                self.embedder.embed_passages([c.text for c in chunks[i : i + 32]])
                for i in range(0, len(chunks), 32)
            ]
        ).astype(np.float32)
        # Normalised vectors + IndexFlatIP = cosine; normalise again in case an embedder does not.
        faiss.normalize_L2(vecs)
        dense = faiss.IndexFlatIP(self.embedder.dim)
        dense.add(vecs)
        target = self.path
        try:
            with storage.staging(target) as tmp:
                _write(tmp, chunks, dense, {**manifest, "n_chunks": len(chunks), "built_at": time.time()})
        except OSError as err:
            raise IndexUnavailable(
                f"无法写入基线索引目录 {target}({err.strerror or err});请设置可写的 QA_INDEX_DIR 或使用 --index-dir。"
            ) from err
        return chunks, dense

    def ask(self, question: str, k: int = 5) -> Answer:
        """The ``k`` pieces nearest to the question, as the assistant's ``Answer``; never abstains.

        Raises:
            InvalidQuestion: empty question or ``k`` outside 1–20.
        """
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestion("问题不能为空。")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 20:
            raise InvalidQuestion(f"k 必须是 1 到 20 之间的整数(收到 {k!r})。")
        qvec = self.embedder.embed_queries([question]).astype(np.float32)
        faiss.normalize_L2(qvec)
        scores, ids = self.dense.search(qvec, min(k, self.dense.ntotal))
        results = [
            self._result(rank, self.chunks[int(i)], float(s))
            for rank, (i, s) in enumerate(zip(ids[0], scores[0], strict=True), start=1)
            if i >= 0
        ]
        answer = f"{results[0].text}\n——{results[0].citation}" if results else ""
        return Answer(question, False, answer, results)

    def _result(self, rank: int, chunk: BaselineChunk, score: float) -> Result:
        doc = self.collection.get(chunk.doc_id)
        return Result(
            rank=rank,
            doc_id=chunk.doc_id,
            doc_title=doc.title,
            version=doc.version,
            clause=None,
            title="",
            section="",
            lead_units=[],
            text=chunk.text,
            start=chunk.start,
            end=chunk.end,
            highlight=chunk.text,  # the recipe has no sentence-level highlight: the whole piece
            highlight_start=0,
            highlight_end=len(chunk.text),
            score=round(score, 4),
            citation=doc.cite_title,
            version_note=None,
        )


def build_seconds(settings: Settings, embedder: Embedder | None = None) -> float:
    """Wall-clock seconds of a fresh baseline build (splitting, embedding, writing); for benchmarks.

    The embedder is loaded before the clock starts, as the assistant's build time excludes it too.
    """
    embedder = embedder or load_embedder(settings.embedder)
    start = time.perf_counter()
    Baseline.build(settings, embedder, force=True)
    return time.perf_counter() - start


def _write(
    folder: Path, chunks: list[BaselineChunk], dense: faiss.Index, manifest: dict[str, object]
) -> None:
    with open(folder / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(
                json.dumps(
                    {"doc_id": c.doc_id, "start": c.start, "end": c.end, "text": c.text}, ensure_ascii=False
                )
                + "\n"
            )
    faiss.write_index(dense, str(folder / "chunks.faiss"))
    storage.write_manifest(folder, manifest)


def _load(path: Path, expected: dict[str, object]) -> tuple[list[BaselineChunk], faiss.Index] | None:
    """The saved pieces and vectors if the folder is complete and matches ``expected``; else None."""
    manifest = storage.read_manifest(path, expected)
    if manifest is None or set(manifest["files"]) != set(_FILES):  # type: ignore[call-overload]
        return None
    try:
        chunks = [
            BaselineChunk(**json.loads(line))
            for line in (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        dense = faiss.read_index(str(path / "chunks.faiss"))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None  # passes its checksum but does not load: rebuild
    if dense.ntotal != len(chunks):
        return None
    return chunks, dense
