"""The index on disk: FAISS + BM25 + manifest, built with the fake embedder.

The session's ``fake_index`` is built once from a private copy of corpus/, so that neither another
test nor an engineer editing the lexicon can change what a test expects; a test that changes or
damages an index works on its own copy in tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np
import pytest

import qa.index as qindex
import qa.storage
from qa.chunking import chunk_collection
from qa.documents import Collection, load_collection
from qa.errors import IndexUnavailable
from qa.index import (
    FORMAT_VERSION,
    Index,
    build_index,
    code_hash,
    corpus_hash,
    ensure_index,
    expected_manifest,
    load_index,
    passage_text,
)
from qa.lexicon import load_lexicon
from qa.plan_format import split_sentences
from qa.settings import Settings, load_settings
from qa.tokens import Tokenizer
from tests.conftest import CORPUS, FakeIndex
from tests.fake_embedder import FakeEmbedder

FILES = ["chunks.faiss", "chunks.jsonl", "sentences.json", "sentences.npy", "services.npy", "jieba.cache"]


def fresh_collection(corpus_dir: Path) -> Collection:
    return load_collection(corpus_dir)


def tokenizer_for(corpus_dir: Path) -> Tokenizer:
    return Tokenizer(load_lexicon(corpus_dir / "lexicon").dictionary_words())


@pytest.fixture
def base(fake_index: FakeIndex) -> FakeIndex:
    """The session's fake-embedder index: read it, never change it."""
    return fake_index


@pytest.fixture
def built(fake_index_copy: FakeIndex) -> FakeIndex:
    """A private copy of the base index in tmp_path, free to damage."""
    return fake_index_copy


def vectors(index: Index) -> np.ndarray:
    return index.dense.reconstruct_n(0, index.dense.ntotal)


def assert_same_index(a: Index, b: Index) -> None:
    assert a.chunks == b.chunks
    assert np.array_equal(vectors(a), vectors(b))
    assert a.sentences == b.sentences
    assert np.array_equal(a.sentence_vectors, b.sentence_vectors)
    for tokens in (["电动自行车"], ["加装电梯", "466"], ["区房管局", "物业服务费", "#物业"]):
        assert np.array_equal(a.bm25_scores(tokens), b.bm25_scores(tokens))


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".building-" in p.name or ".old-" in p.name)


# --- what a build writes ---------------------------------------------------------------------


def test_build_writes_named_files_and_a_manifest_that_checks_them(base: FakeIndex) -> None:
    folder = base.settings.index_dir
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILES, "bm25", "manifest.json"])
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert {k: manifest[k] for k in expected_manifest(base.settings, base.embedder)} == expected_manifest(
        base.settings, base.embedder
    )
    assert manifest["embedder"] == "fake/char-ngram-64" and manifest["dim"] == 64
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["settings"] == {"chunk_size": 400, "chunk_overlap": 40}
    assert manifest["n_chunks"] == len(base.index.chunks)
    files = manifest["files"]
    assert set(files) == {*FILES, *(f"bm25/{p.name}" for p in (folder / "bm25").iterdir())}
    for name, digest in files.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    # Only the target folder and its lock remain beside it: no temporary build folder.
    assert leftovers(folder.parent) == []


def test_index_holds_the_collections_chunks_in_order(base: FakeIndex) -> None:
    assert base.index.chunks == chunk_collection(base.collection.documents, 400, 40)
    for ch in base.index.chunks:
        assert base.collection.get(ch.doc_id).text[ch.start : ch.end] == ch.text


def test_chunk_vectors_are_the_embedded_passages(base: FakeIndex) -> None:
    expected = FakeEmbedder().embed_passages([passage_text(ch, base.collection) for ch in base.index.chunks])
    assert np.array_equal(vectors(base.index), expected)
    # The section (or document title) is embedded with the chunk, without the task's own number
    # ("29."), which would match any question that mentions 29; the stored text stays exact.
    task = next(ch for ch in base.index.chunks if ch.chunk_id == "plan-final#29")
    assert task.text.startswith("29.")
    assert passage_text(task, base.collection) == f"{task.section}\n{task.text.removeprefix('29.')}"


def test_sentences_cover_their_chunks_and_carry_their_vectors(base: FakeIndex) -> None:
    index = base.index
    assert len(index.sentences) == len(index.sentence_vectors)
    fake = FakeEmbedder()
    for i, s in enumerate(index.sentences):
        text = index.chunks[s.chunk].text[s.start : s.end]
        assert text and text == text.strip()
        assert np.array_equal(index.sentence_vectors[i], fake.vector(text))
    assert sorted({s.chunk for s in index.sentences}) == list(range(len(index.chunks)))


# --- FAISS against a NumPy brute force -------------------------------------------------------

QUESTIONS = [
    "电动自行车在楼道充电谁管?",
    "加装电梯",
    "物业服务费调整每年多少个小区",
    "海绵城市建成区",
    "征求意见截止日期",
]
# A task the two plans word identically has the same vector twice: ties in the brute force.
TIED = ["生活垃圾回收利用率", "垃圾分类达标"]


@pytest.mark.parametrize("question", QUESTIONS + TIED)
def test_faiss_scores_equal_a_numpy_brute_force(base: FakeIndex, question: str) -> None:
    matrix = FakeEmbedder().embed_passages([passage_text(ch, base.collection) for ch in base.index.chunks])
    q = FakeEmbedder().vector(question)
    brute = matrix @ q
    got = base.index.dense_scores(q)
    assert got.shape == (len(base.index.chunks),)
    np.testing.assert_allclose(got, brute, rtol=0, atol=1e-5)


@pytest.mark.parametrize("question", QUESTIONS)
def test_faiss_top_k_order_equals_the_brute_force_order(base: FakeIndex, question: str) -> None:
    k = 10
    matrix = vectors(base.index).astype(np.float64)
    brute = matrix @ FakeEmbedder().vector(question).astype(np.float64)
    order = np.argsort(-brute, kind="stable")
    scores, ids = base.index.dense.search(FakeEmbedder().embed_queries([question]), k)
    np.testing.assert_allclose(scores[0], brute[order[:k]], rtol=0, atol=1e-5)
    # Chunks whose texts read the same in both plans tie exactly; among ties any order is right,
    # elsewhere the order must be the brute force's.
    untied = [
        i
        for i in range(k)
        if all(abs(brute[order[i]] - brute[order[j]]) > 1e-6 for j in range(k + 1) if j != i)
    ]
    assert untied, "every position tied: pick another question"
    assert [ids[0][i] for i in untied] == [order[i] for i in untied]


@pytest.mark.parametrize("question", TIED)
def test_faiss_top_k_with_ties_is_a_brute_force_top_k(base: FakeIndex, question: str) -> None:
    k = 10
    brute = vectors(base.index).astype(np.float64) @ FakeEmbedder().vector(question).astype(np.float64)
    assert len(set(np.round(np.sort(brute)[-k:], 6))) < k, "no ties: move the question to QUESTIONS"
    scores, ids = base.index.dense.search(FakeEmbedder().embed_queries([question]), k)
    assert len(set(ids[0].tolist())) == k
    np.testing.assert_allclose(brute[ids[0]], np.sort(brute)[::-1][:k], rtol=0, atol=1e-5)
    np.testing.assert_allclose(scores[0], brute[ids[0]], rtol=0, atol=1e-5)


def test_bm25_scores_a_word_only_where_it_occurs(base: FakeIndex) -> None:
    scores = base.index.bm25_scores(base.tokenizer.tokens("cnqjxhb"))
    hits = [base.index.chunks[i].chunk_id for i in np.flatnonzero(scores)]
    assert hits == ["consultation-notice#一"]


def test_bm25_of_unknown_words_is_all_zero(base: FakeIndex) -> None:
    for tokens in ([], ["zzzz不存在的词"], ["股票", "基金"]):
        scores = base.index.bm25_scores(tokens)
        assert scores.shape == (len(base.index.chunks),)
        assert not scores.any()


# --- save / load -----------------------------------------------------------------------------


def test_load_returns_the_same_index(base: FakeIndex) -> None:
    loaded = load_index(base.settings.index_dir, expected_manifest(base.settings, base.embedder))
    assert loaded is not None
    assert_same_index(loaded, base.index)
    # FakeIndex or loaded, the manifest is the one on disk, with the files' checksums.
    assert loaded.manifest == base.index.manifest and "files" in loaded.manifest
    assert loaded.path == base.settings.index_dir
    # Chunk ids, task numbers (int) and part ids (str) survive JSON unchanged.
    clauses = {ch.chunk_id: ch.clause for ch in loaded.chunks}
    assert clauses["plan-final#29"] == 29 and clauses["participation-report#一"] == "一"
    assert isinstance(loaded.chunks[0].lead_units, tuple)


def test_ensure_loads_a_matching_index_without_embedding_anything(built: FakeIndex) -> None:
    index, was_built = ensure_index(built.collection, built.embedder, built.tokenizer, built.settings)
    assert was_built is False
    assert built.embedder.calls == []
    assert index.path == built.settings.index_dir
    assert_same_index(index, built.index)


def test_settings_that_do_not_shape_the_index_do_not_rebuild(built: FakeIndex) -> None:
    settings = replace(built.settings, k=3, max_question_chars=100)
    _, was_built = ensure_index(built.collection, built.embedder, built.tokenizer, settings)
    assert was_built is False


# --- a manifest that does not match: rebuild -------------------------------------------------


Change = Callable[[FakeIndex, pytest.MonkeyPatch], tuple[FakeEmbedder, Settings]]


def _other_dim(b: FakeIndex, mp: pytest.MonkeyPatch) -> tuple[FakeEmbedder, Settings]:
    return FakeEmbedder(dim=32), b.settings


def _other_id(b: FakeIndex, mp: pytest.MonkeyPatch) -> tuple[FakeEmbedder, Settings]:
    fake = FakeEmbedder()
    fake.id = "fake/another-model"  # same dimension, another model
    return fake, b.settings


def _chunk_size(b: FakeIndex, mp: pytest.MonkeyPatch) -> tuple[FakeEmbedder, Settings]:
    return b.embedder, replace(b.settings, chunk_size=300)


def _chunk_overlap(b: FakeIndex, mp: pytest.MonkeyPatch) -> tuple[FakeEmbedder, Settings]:
    return b.embedder, replace(b.settings, chunk_overlap=20)


def _format_version(b: FakeIndex, mp: pytest.MonkeyPatch) -> tuple[FakeEmbedder, Settings]:
    mp.setattr(qindex, "FORMAT_VERSION", FORMAT_VERSION + 1)
    return b.embedder, b.settings


def _code_hash(b: FakeIndex, mp: pytest.MonkeyPatch) -> tuple[FakeEmbedder, Settings]:
    mp.setattr(qindex, "code_hash", lambda: "0" * 64)
    return b.embedder, b.settings


@pytest.mark.parametrize(
    "change", [_other_dim, _other_id, _chunk_size, _chunk_overlap, _format_version, _code_hash]
)
def test_a_mismatch_rebuilds(built: FakeIndex, monkeypatch: pytest.MonkeyPatch, change: Change) -> None:
    embedder, settings = change(built, monkeypatch)
    assert load_index(settings.index_dir, expected_manifest(settings, embedder)) is None
    index, was_built = ensure_index(built.collection, embedder, built.tokenizer, settings)
    assert was_built is True
    assert index.manifest["embedder"] == embedder.id and index.dense.d == embedder.dim
    assert index.manifest["settings"] == settings.index_settings()
    assert index.chunks == chunk_collection(
        built.collection.documents, settings.chunk_size, settings.chunk_overlap
    )
    # The new manifest matches from now on.
    _, again = ensure_index(built.collection, embedder, built.tokenizer, settings)
    assert again is False
    assert leftovers(settings.index_dir.parent) == []


def test_force_rebuilds(built: FakeIndex) -> None:
    index, was_built = ensure_index(
        built.collection, built.embedder, built.tokenizer, built.settings, force=True
    )
    assert was_built is True
    assert_same_index(index, built.index)


def test_an_edited_document_rebuilds_with_the_new_text(built: FakeIndex, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(built.settings.corpus_dir, corpus)
    settings = replace(built.settings, corpus_dir=corpus)
    # The copy is byte-identical: same corpus hash, the index still matches.
    assert corpus_hash(settings) == corpus_hash(built.settings)
    assert ensure_index(built.collection, built.embedder, built.tokenizer, settings)[1] is False

    plan = corpus / "plan-final.txt"
    text = plan.read_text(encoding="utf-8")
    assert text.count("每年完成不少于20个小区") == 1
    plan.write_text(text.replace("每年完成不少于20个小区", "每年完成不少于25个小区"), encoding="utf-8")
    assert corpus_hash(settings) != corpus_hash(built.settings)

    collection = fresh_collection(corpus)
    index, was_built = ensure_index(collection, built.embedder, built.tokenizer, settings)
    assert was_built is True
    task = next(ch for ch in index.chunks if ch.chunk_id == "plan-final#11")
    assert "每年完成不少于25个小区" in task.text
    assert collection.get("plan-final").text[task.start : task.end] == task.text


def test_an_edited_lexicon_rebuilds(built: FakeIndex, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(built.settings.corpus_dir, corpus)
    settings = replace(built.settings, corpus_dir=corpus)
    with open(corpus / "lexicon" / "terms.txt", "a", encoding="utf-8") as fh:
        fh.write("口袋公园\n")
    _, was_built = ensure_index(built.collection, built.embedder, tokenizer_for(corpus), settings)
    assert was_built is True


def test_corpus_hash_ignores_the_untouched_source(built: FakeIndex, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(built.settings.corpus_dir, corpus)
    settings = replace(built.settings, corpus_dir=corpus)
    for source in (corpus / "source").iterdir():
        source.write_text("changed", encoding="utf-8")
    assert corpus_hash(settings) == corpus_hash(built.settings)


def test_hashes_are_stable_hex_digests(built: FakeIndex) -> None:
    for digest in (corpus_hash(built.settings), code_hash()):
        assert len(digest) == 64 and int(digest, 16) >= 0
    assert corpus_hash(built.settings) == corpus_hash(built.settings)
    assert code_hash() == code_hash()


# --- damaged or missing files: rebuild, never a wrong answer ---------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated chunks.faiss": lambda d: _truncate(d / "chunks.faiss"),
    "empty chunks.faiss": lambda d: (d / "chunks.faiss").write_bytes(b""),
    "flipped byte in chunks.faiss": lambda d: _flip_last_byte(d / "chunks.faiss"),
    "missing chunks.faiss": lambda d: (d / "chunks.faiss").unlink(),
    "truncated chunks.jsonl": lambda d: _truncate(d / "chunks.jsonl"),
    "edited chunk text": lambda d: (d / "chunks.jsonl").write_text(
        (d / "chunks.jsonl").read_text(encoding="utf-8").replace("不少于20个", "不少于99个"), encoding="utf-8"
    ),
    "missing chunks.jsonl": lambda d: (d / "chunks.jsonl").unlink(),
    "truncated sentences.npy": lambda d: _truncate(d / "sentences.npy"),
    "missing sentences.json": lambda d: (d / "sentences.json").unlink(),
    "missing bm25 vocabulary": lambda d: (d / "bm25" / "vocab.index.json").unlink(),
    "missing bm25 folder": lambda d: shutil.rmtree(d / "bm25"),
    "missing manifest": lambda d: (d / "manifest.json").unlink(),
    "truncated manifest": lambda d: _truncate(d / "manifest.json"),
    "manifest without files": lambda d: (d / "manifest.json").write_text(
        json.dumps({k: v for k, v in json.loads((d / "manifest.json").read_text()).items() if k != "files"})
    ),
    "empty folder": lambda d: _empty(d),
    "no folder": lambda d: shutil.rmtree(d),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_index_is_rebuilt_identical(built: FakeIndex, damage: str) -> None:
    folder = built.settings.index_dir
    DAMAGE[damage](folder)
    assert load_index(folder, expected_manifest(built.settings, built.embedder)) is None
    index, was_built = ensure_index(built.collection, built.embedder, built.tokenizer, built.settings)
    assert was_built is True
    assert_same_index(index, built.index)
    # ... and what is on disk now loads.
    assert load_index(folder, expected_manifest(built.settings, built.embedder)) is not None


def test_assistant_over_a_damaged_index_answers_as_before(built: FakeIndex) -> None:
    from qa.assistant import Assistant

    questions = ["第29项", "电瓶车在楼道充电谁管?", "区房管局负责哪些任务?", "加装电梯"]
    before = Assistant(built.settings, embedder=FakeEmbedder())
    assert before.built is False
    expected = [before.ask(q).to_dict() for q in questions]
    _truncate(built.settings.index_dir / "chunks.faiss")
    after = Assistant(built.settings, embedder=FakeEmbedder())
    assert after.built is True
    assert [after.ask(q).to_dict() for q in questions] == expected


@pytest.mark.parametrize("content", ["null", "[]", '"index"'])
def test_manifest_that_is_not_an_object_is_rebuilt(built: FakeIndex, content: str) -> None:
    (built.settings.index_dir / "manifest.json").write_text(content)
    _, was_built = ensure_index(built.collection, built.embedder, built.tokenizer, built.settings)
    assert was_built is True


# --- an interrupted build leaves the previous index in place ---------------------------------


def _fail(exc: BaseException) -> Callable[..., None]:
    def raise_(*args: object, **kwargs: object) -> None:
        raise exc

    return raise_


def test_write_failing_midway_keeps_the_previous_index(
    built: FakeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chunks.jsonl and chunks.faiss are written, then the disk fills up.
    monkeypatch.setattr(qindex.np, "save", _fail(OSError(28, "No space left on device")))
    with pytest.raises(IndexUnavailable, match="QA_INDEX_DIR"):
        build_index(built.collection, built.embedder, built.tokenizer, built.settings)
    monkeypatch.undo()
    folder = built.settings.index_dir
    assert leftovers(folder.parent) == []
    loaded = load_index(folder, expected_manifest(built.settings, built.embedder))
    assert loaded is not None
    assert_same_index(loaded, built.index)
    assert ensure_index(built.collection, built.embedder, built.tokenizer, built.settings)[1] is False


@pytest.mark.parametrize("exc", [RuntimeError("bm25s failed"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_any_interruption_of_the_write_keeps_the_previous_index(
    built: FakeIndex, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    monkeypatch.setattr(bm25s.BM25, "save", _fail(exc))
    with pytest.raises(type(exc)):
        build_index(built.collection, built.embedder, built.tokenizer, built.settings)
    monkeypatch.undo()
    assert leftovers(built.settings.index_dir.parent) == []
    loaded = load_index(built.settings.index_dir, expected_manifest(built.settings, built.embedder))
    assert loaded is not None
    assert_same_index(loaded, built.index)


def test_interrupted_first_build_leaves_no_folder(
    base: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(base.settings, index_dir=tmp_path / "idx")
    monkeypatch.setattr(qindex.faiss, "write_index", _fail(OSError(5, "I/O error")))
    with pytest.raises(IndexUnavailable):
        build_index(base.collection, FakeEmbedder(), base.tokenizer, settings)
    assert not settings.index_dir.exists()
    assert leftovers(tmp_path) == []


def test_interrupted_rebuild_after_an_edit_is_rebuilt_next_time(
    built: FakeIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(built.settings.corpus_dir, corpus)
    settings = replace(built.settings, corpus_dir=corpus)
    plan = corpus / "plan-final.txt"
    plan.write_text(plan.read_text(encoding="utf-8").replace("不少于20个", "不少于25个"), encoding="utf-8")
    collection = fresh_collection(corpus)
    monkeypatch.setattr(qindex.np, "save", _fail(OSError(28, "No space left on device")))
    with pytest.raises(IndexUnavailable):
        ensure_index(collection, built.embedder, built.tokenizer, settings)
    monkeypatch.undo()
    # The old index is still there but describes the old text: it is not used, it is rebuilt.
    assert load_index(settings.index_dir, expected_manifest(settings, built.embedder)) is None
    index, was_built = ensure_index(collection, built.embedder, built.tokenizer, settings)
    assert was_built is True
    assert "不少于25个" in next(ch.text for ch in index.chunks if ch.chunk_id == "plan-final#11")


def test_half_written_folders_are_never_taken_for_an_index(built: FakeIndex) -> None:
    folder = built.settings.index_dir
    # What a killed build leaves beside the index: files, no manifest.
    half = folder.parent / f".{folder.name}.building-killed"
    half.mkdir()
    shutil.copy(folder / "chunks.jsonl", half / "chunks.jsonl")
    assert load_index(half, expected_manifest(built.settings, built.embedder)) is None
    index, was_built = ensure_index(built.collection, built.embedder, built.tokenizer, built.settings)
    assert (was_built, index.path) == (False, folder)
    # The same half folder in the index's place is rebuilt, not used.
    shutil.rmtree(folder)
    half.rename(folder)
    index, was_built = ensure_index(built.collection, built.embedder, built.tokenizer, built.settings)
    assert was_built is True
    assert_same_index(index, built.index)


def test_failed_swap_keeps_the_previous_index(built: FakeIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    real_rename = os.rename
    calls: list[tuple[object, object]] = []

    def rename(src: object, dst: object) -> None:
        calls.append((src, dst))
        if len(calls) == 2:  # the old index is out of the way; the new one goes in
            raise OSError(5, "I/O error")
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(qa.storage.os, "rename", rename)
    with pytest.raises(IndexUnavailable):
        build_index(built.collection, built.embedder, built.tokenizer, built.settings, progress=False)
    monkeypatch.undo()
    loaded = load_index(built.settings.index_dir, expected_manifest(built.settings, built.embedder))
    assert loaded is not None
    assert_same_index(loaded, built.index)


def test_unwritable_index_folder_is_a_clear_error(base: FakeIndex, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = replace(base.settings, index_dir=blocker / "idx")
    with pytest.raises(IndexUnavailable, match="QA_INDEX_DIR.*--index-dir"):
        ensure_index(base.collection, FakeEmbedder(), base.tokenizer, settings)


# --- the stale-collection trap ---------------------------------------------------------------


def test_assistant_after_a_document_edit_indexes_the_new_text(tmp_path: Path) -> None:
    from qa.assistant import Assistant

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "idx")
    assert Assistant(settings, embedder=FakeEmbedder()).built
    plan = corpus / "plan-final.txt"
    plan.write_text(plan.read_text(encoding="utf-8").replace("不少于20个", "不少于25个"), encoding="utf-8")
    again = Assistant(settings, embedder=FakeEmbedder())
    assert again.built
    task = next(ch for ch in again.index.chunks if ch.chunk_id == "plan-final#11")
    assert "不少于25个" in task.text
    assert fresh_collection(corpus).get("plan-final").text[task.start : task.end] == task.text


# --- sentences -------------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_sentences_keeps_the_closing_mark() -> None:
    text = "一是加装电梯。二是充电;三是停车!  四是什么?五是结尾"
    assert _sentences(text) == ["一是加装电梯。", "二是充电;", "三是停车!", "四是什么?", "五是结尾"]
    assert _sentences("全角。全角;全角!全角?") == ["全角。", "全角;", "全角!", "全角?"]


def test_split_sentences_offsets_are_exact_and_stripped() -> None:
    text = "  第一句。\n\n  第二句;  \n第三句"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["第一句。", "第二句;", "第三句"]
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)
    assert split_sentences("") == [] and split_sentences("  \n\n ") == []


def test_split_sentences_at_line_ends() -> None:
    text = "(牵头单位:区房管局)\n加装电梯。"
    assert _sentences("加装电梯。(牵头单位:区房管局)") == ["加装电梯。", "(牵头单位:区房管局)"]
    assert "加装电梯。" in _sentences(text)


def test_split_sentences_loses_no_line() -> None:
    text = "一、市民可以寄送书面意见。\n\n来信地址:上海市长宁区长宁路599号5楼,邮编:200050\n\n电子邮件地址:cnqjxhb@163.com"
    assert _sentences(text) == [
        "一、市民可以寄送书面意见。",
        "来信地址:上海市长宁区长宁路599号5楼,邮编:200050",
        "电子邮件地址:cnqjxhb@163.com",
    ]


def test_the_off_topic_services_are_embedded_with_the_index_and_loaded_from_it(built: FakeIndex) -> None:
    """Embedded at build and read back at start: a start embeds only the question."""
    services = ("taxes 税务: 个税、退税", "weather 天气: 天气预报、下雨吗")
    index, was_built = ensure_index(
        built.collection, built.embedder, built.tokenizer, built.settings, force=True, services=services
    )
    assert was_built and index.service_vectors.shape == (2, built.embedder.dim)
    calls: list[int] = []
    embedder = built.embedder
    counting = type(
        "Counting",
        (),
        {
            "id": embedder.id,
            "dim": embedder.dim,
            "embed_passages": lambda self, texts: calls.append(len(texts)) or embedder.embed_passages(texts),
            "embed_queries": lambda self, texts: embedder.embed_queries(texts),
        },
    )()
    again, rebuilt = ensure_index(
        built.collection, counting, built.tokenizer, built.settings, services=services
    )
    assert not rebuilt and calls == []
    assert np.array_equal(again.service_vectors, index.service_vectors)
    # Other passages than the index was built for are embedded at start; the index stands.
    other, rebuilt = ensure_index(
        built.collection, counting, built.tokenizer, built.settings, services=services[:1]
    )
    assert not rebuilt and calls == [1] and other.service_vectors.shape == (1, embedder.dim)
