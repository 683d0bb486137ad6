"""Faults on disk and crashes: each ends in an automatic rebuild or one clear error, never an answer
from a stale or damaged index; the feedback log keeps only whole lines.

Every test starts from its own copy of the session's fake-embedder index (``fake_index_copy``), so
only what a fault forces is rebuilt, with the FakeEmbedder (a fraction of a second). One slow test
uses the real model on a copy of the real index, where nothing has to be rebuilt; the builds killed
by SIGKILL and the feedback writer killed mid-append run in child processes and are slow too.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.errors import IndexUnavailable
from qa.index import expected_manifest, load_index
from qa.settings import REPO_ROOT, Settings, load_settings
from qa.web.feedback import append_feedback, feedback_record, read_feedback
from tests.conftest import FakeIndex
from tests.fake_embedder import FakeEmbedder

QUESTION = "加装电梯有什么计划?"


@pytest.fixture
def settings(fake_index_copy: FakeIndex) -> Settings:
    """A valid fake-embedder index in ``tmp_path/index``, built from a private copy of corpus/."""
    return fake_index_copy.settings


def _assistant(settings: Settings, embedder: FakeEmbedder | None = None) -> Assistant:
    return Assistant(settings, embedder=embedder or FakeEmbedder())


def _spans(assistant: Assistant, question: str = QUESTION) -> list[tuple[str, int, int]]:
    return [(r.doc_id, r.start, r.end) for r in assistant.ask(question).results]


def _assert_current(assistant: Assistant) -> None:
    """Every result quotes the documents as they are now, at its offsets."""
    answer = assistant.ask(QUESTION)
    assert answer.results
    for r in answer.results:
        assert assistant.collection.get(r.doc_id).text[r.start : r.end] == r.text


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _leftovers(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.name.startswith(".index.") and p.is_dir())


# --- missing, damaged, foreign ----------------------------------------------------------------------


def test_missing_index_folder_is_built_then_reused(settings):
    expected = _spans(_assistant(settings))
    shutil.rmtree(settings.index_dir)
    first = _assistant(settings)
    assert first.built and (settings.index_dir / "manifest.json").is_file()
    assert not _assistant(settings).built
    assert _spans(first) == expected


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _delete(path: Path) -> None:
    path.unlink()


def _first_bm25(folder: Path) -> Path:
    return sorted((folder / "bm25").iterdir())[0]


DAMAGE = {
    "faiss-truncated": ("chunks.faiss", _truncate),
    "faiss-corrupted": ("chunks.faiss", _flip),
    "faiss-empty": ("chunks.faiss", _empty),
    "chunks-corrupted": ("chunks.jsonl", _flip),
    "sentences-truncated": ("sentences.npy", _truncate),
    "sentence-spans-deleted": ("sentences.json", _delete),
    "bm25-file-deleted": (None, _delete),
    "manifest-truncated": ("manifest.json", _truncate),
    "manifest-empty": ("manifest.json", _empty),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damaged_index_is_rebuilt(settings, name):
    good = _assistant(settings)
    expected = _spans(good)
    file, damage = DAMAGE[name]
    damage(settings.index_dir / file if file else _first_bm25(settings.index_dir))
    assert load_index(settings.index_dir, expected_manifest(settings, FakeEmbedder())) is None
    rebuilt = _assistant(settings)
    assert rebuilt.built
    assert _spans(rebuilt) == expected
    _assert_current(rebuilt)
    assert load_index(settings.index_dir, expected_manifest(settings, FakeEmbedder())) is not None


def test_damage_behind_matching_checksums_is_still_caught(settings):
    """A FAISS file cut short and a manifest re-hashed to match it (a hand repair gone wrong)."""
    _assistant(settings)
    faiss_file, manifest_file = settings.index_dir / "chunks.faiss", settings.index_dir / "manifest.json"
    _truncate(faiss_file)
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["files"]["chunks.faiss"] = hashlib.sha256(faiss_file.read_bytes()).hexdigest()
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")
    assert _assistant(settings).built


def test_fewer_vectors_than_chunks_is_rebuilt(settings):
    import faiss

    _assistant(settings)
    folder = settings.index_dir
    dense = faiss.read_index(str(folder / "chunks.faiss"))
    dense.remove_ids(faiss.IDSelectorRange(0, 3))
    faiss.write_index(dense, str(folder / "chunks.faiss"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["chunks.faiss"] = hashlib.sha256((folder / "chunks.faiss").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    rebuilt = _assistant(settings)
    assert rebuilt.built and rebuilt.index.dense.ntotal == len(rebuilt.index.chunks)


def test_index_of_another_model_is_rebuilt(settings):
    _assistant(settings, FakeEmbedder(dim=64))
    other = _assistant(settings, FakeEmbedder(dim=32))
    assert other.built
    assert other.index.manifest["embedder"] == "fake/char-ngram-32" and other.index.dense.d == 32
    _assert_current(other)


def test_manifest_naming_another_model_is_rebuilt(settings):
    _assistant(settings)
    path = settings.index_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["embedder"] = "st:BAAI/bge-small-zh-v1.5"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    assert _assistant(settings).built


def _corpus_copy(settings: Settings, target: Path) -> Path:
    shutil.copytree(settings.corpus_dir, target, ignore=shutil.ignore_patterns("source"))
    return target


def test_index_of_another_corpus_is_rebuilt_and_answers_from_the_new_text(settings, tmp_path):
    index_dir = settings.index_dir
    old = replace(settings, corpus_dir=_corpus_copy(settings, tmp_path / "corpus-a"))
    assert not _assistant(old).built  # a byte-identical copy of the corpus the index was built from
    new_corpus = _corpus_copy(settings, tmp_path / "corpus-b")
    added = "区城管执法局推进城市无人机巡检试点,每月巡查一次。"
    doc = new_corpus / "legality-review.txt"
    doc.write_text(doc.read_text(encoding="utf-8") + "\n" + added + "\n", encoding="utf-8")
    new = replace(settings, corpus_dir=new_corpus, index_dir=index_dir)
    assistant = _assistant(new)
    assert assistant.built
    answer = assistant.ask("无人机巡检试点")
    top = answer.results[0]
    assert top.doc_id == "legality-review" and added in top.text
    assert assistant.collection.get(top.doc_id).text[top.start : top.end] == top.text


def test_corpus_edited_in_place_is_rebuilt(settings, tmp_path):
    settings = replace(settings, corpus_dir=_corpus_copy(settings, tmp_path / "corpus"))
    assert not _assistant(settings).built
    doc = settings.corpus_dir / "plan-final.txt"
    doc.write_text(doc.read_text(encoding="utf-8").replace("466台", "500台"), encoding="utf-8")
    edited = _assistant(settings)
    assert edited.built
    assert not any("466台" in ch.text for ch in edited.index.chunks if ch.doc_id == "plan-final")
    _assert_current(edited)


# --- a folder that cannot be written ---------------------------------------------------------------


def _deny(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied")


@pytest.fixture
def read_only(monkeypatch):
    """Writes into the index folder fail as they would on a read-only mount (root ignores chmod)."""

    def deny() -> None:
        monkeypatch.setattr(tempfile, "mkdtemp", _deny)
        monkeypatch.setattr(os, "rename", _deny)

    return deny


def _assert_clear_chinese(message: str, settings: Settings) -> None:
    assert "无法写入索引目录" in message and str(settings.index_dir) in message
    assert "QA_INDEX_DIR" in message and "--index-dir" in message  # it names the fix
    assert "Traceback" not in message and "\n" not in message


def test_read_only_without_index_is_one_clear_error(settings, read_only):
    shutil.rmtree(settings.index_dir)
    read_only()
    with pytest.raises(IndexUnavailable) as err:
        _assistant(settings)
    _assert_clear_chinese(str(err.value), settings)
    assert not (settings.index_dir / "manifest.json").exists()


def test_read_only_with_valid_index_still_serves(settings, read_only):
    expected = _spans(_assistant(settings))
    before = _digests(settings.index_dir)
    read_only()
    assistant = _assistant(settings)
    assert not assistant.built
    assert _spans(assistant) == expected
    assert _digests(settings.index_dir) == before


def test_read_only_with_damaged_index_is_an_error_not_the_damaged_index(settings, read_only):
    _assistant(settings)
    _truncate(settings.index_dir / "chunks.faiss")
    read_only()
    with pytest.raises(IndexUnavailable) as err:
        _assistant(settings)
    _assert_clear_chinese(str(err.value), settings)


def test_read_only_error_through_the_cli(settings, read_only, monkeypatch, capsys):
    from qa import cli

    monkeypatch.setattr("qa.assistant.load_embedder", lambda name: FakeEmbedder())
    shutil.rmtree(settings.index_dir)
    read_only()
    argv = ["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir), "ask", QUESTION]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误:")
    _assert_clear_chinese(lines[0], settings)


def test_failed_swap_puts_the_previous_index_back(settings, monkeypatch):
    """The old index is moved aside, then moving the new one in fails: the old one must come back."""
    _assistant(settings, FakeEmbedder(dim=64))
    before = _digests(settings.index_dir)
    real_rename = os.rename

    def rename(src, dst):
        if ".building-" in str(src):
            raise OSError(errno.EIO, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(IndexUnavailable):
        _assistant(settings, FakeEmbedder(dim=32))
    assert _digests(settings.index_dir) == before
    assert _leftovers(settings.index_dir.parent) == []
    monkeypatch.undo()
    assert not _assistant(settings, FakeEmbedder(dim=64)).built


def test_read_only_fails_before_embedding(settings, read_only):
    embedder = FakeEmbedder()
    shutil.rmtree(settings.index_dir)
    read_only()
    with pytest.raises(IndexUnavailable):
        _assistant(settings, embedder)
    assert [kind for kind, _ in embedder.calls if kind == "passage"] == []


def test_real_model_serves_a_read_only_copy_of_the_real_index(assistant, tmp_path, read_only):
    """The real model and a copy of the real index: loaded, not rebuilt, same answers."""
    copy = tmp_path / "index"
    shutil.copytree(assistant.index.path, copy)
    read_only()
    served = Assistant(load_settings(index_dir=copy), embedder=assistant.embedder)
    assert not served.built
    assert _spans(served) == _spans(assistant)


# --- a build killed midway -------------------------------------------------------------------------

_BUILD_CHILD = r"""
import sys, time
from pathlib import Path
import faiss
import qa.index
from qa.documents import load_collection
from qa.lexicon import load_lexicon
from qa.settings import load_settings
from qa.tokens import Tokenizer
from tests.fake_embedder import FakeEmbedder

index_dir, stage = Path(sys.argv[1]), sys.argv[2]

class SlowEmbedder(FakeEmbedder):
    def embed_passages(self, texts):
        if stage == "embedding":
            print("embedding", flush=True)
            time.sleep(0.5)
        return super().embed_passages(texts)

if stage == "writing":
    real_write = faiss.write_index
    def write_then_hang(index, path):
        real_write(index, path)
        print("writing", flush=True)
        time.sleep(600)
    faiss.write_index = write_then_hang

settings = load_settings(index_dir=index_dir)
collection = load_collection(settings.corpus_dir)
tokenizer = Tokenizer(load_lexicon(settings.corpus_dir / "lexicon").dictionary_words())
qa.index.ensure_index(collection, SlowEmbedder(dim=32), tokenizer, settings, force=True)
print("finished", flush=True)
"""


def _kill_build_at(index_dir: Path, stage: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUILD_CHILD, str(index_dir), stage],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().strip()
        assert line == stage, f"the build child said {line!r}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["embedding", "writing"])
def test_killed_build_leaves_the_old_index_in_use(settings, stage):
    old = _assistant(settings, FakeEmbedder(dim=64))
    expected = _spans(old)
    before = _digests(settings.index_dir)

    _kill_build_at(settings.index_dir, stage)

    assert _digests(settings.index_dir) == before
    reopened = _assistant(settings, FakeEmbedder(dim=64))
    assert not reopened.built and _spans(reopened) == expected
    leftovers = _leftovers(settings.index_dir.parent)
    if stage == "writing":
        assert leftovers, "the build was killed while writing its temporary folder"
    for folder in leftovers:
        # Never mistaken for an index: no manifest is written until every other file is.
        assert not (folder / "manifest.json").exists()
        assert load_index(folder, expected_manifest(settings, FakeEmbedder(dim=32))) is None

    # The next build takes the lock the dead one held, and the result is the new index.
    started = time.monotonic()
    new = _assistant(settings, FakeEmbedder(dim=32))
    assert new.built and new.index.path == settings.index_dir
    assert new.index.manifest["embedder"] == "fake/char-ngram-32"
    assert time.monotonic() - started < 120, "the next build waited on the dead build's lock"
    _assert_current(new)


# --- the feedback log ------------------------------------------------------------------------------

_FEEDBACK_CHILD = r"""
import sys
from pathlib import Path
from qa.web.feedback import append_feedback, feedback_record

path = Path(sys.argv[1])
i = 0
while True:
    answer = "推进既有多层住宅加装电梯,三年内新增加装电梯466台。" * 20 + str(i)
    append_feedback(path, feedback_record(f"加装电梯有什么计划?#{i}", answer, ["plan-final#10"], "up", "有用"))
    i += 1
"""


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


@pytest.mark.slow
def test_feedback_log_survives_a_writer_killed_mid_append(tmp_path):
    path = tmp_path / "feedback" / "feedback.jsonl"
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _FEEDBACK_CHILD, str(path)], cwd=REPO_ROOT)
        try:
            deadline = time.monotonic() + 60
            target = 20 * (round_ + 1)
            while (not path.exists() or len(_lines(path)) < target) and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=30)
    append_feedback(path, feedback_record("最后一条", "答", ["plan-final#10"], "down", "after the crashes"))
    lines = _lines(path)
    assert len(lines) >= 61
    records = [json.loads(line) for line in lines]  # every line is a whole record
    assert records[-1]["question"] == "最后一条" and records[-1]["vote"] == "down"
    log = read_feedback(path)
    assert log.skipped == 0 and len(log.records) == len(lines)


def test_feedback_log_has_no_torn_line_after_a_crash(tmp_path):
    path = tmp_path / "feedback.jsonl"
    append_feedback(path, feedback_record("第一条", "答", [], "up"))
    whole = (json.dumps(feedback_record("第二条", "答" * 5000, [], "up"), ensure_ascii=False) + "\n").encode()
    with open(path, "ab") as fh:  # what a writer killed after its first page leaves behind
        fh.write(whole[:4096])
    append_feedback(path, feedback_record("第三条", "答", [], "down"))
    for line in _lines(path):
        json.loads(line)
    assert [r["question"] for r in read_feedback(path).records] == ["第一条", "第三条"]
