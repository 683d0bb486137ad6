"""Bad input through every door: the Python API, the CLI (argument and stdin) and the HTTP API.

Each bad question gets either a bounded answer or one clear error, in Chinese (English for an
English question), and never a traceback. Exit codes of ``qa ask``: 0 for an answer, 2 for a bad
question (one ``错误:…`` line on stderr); with ``-`` (one question per stdin line) always 0, each
bad line giving ``{"question": …, "error": …}`` and the following lines still answered.

How an answer is found does not decide how bad input is handled, so most cases run against the
fake-embedder assistant and the CLI runs in this process (``qa.cli.main``). The real model answers
the Python API cases too, and a few real ``qa`` processes check what only a process shows: invalid
UTF-8 in argv and on stdin, exit codes, and no traceback; those, and the HTTP API, are slow.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer import NO_ANSWER_EN, Answer
from qa.errors import QAError

QA = str(Path(sys.executable).with_name("qa"))
_CJK = re.compile(r"[\u3400-\u9fff]")
NORMAL = "加装电梯有什么计划?"


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    outcome: str  # "error" or "answer"
    lang: str  # the language of the reply: "zh" or "en"
    says: str = ""  # a phrase the error message must contain


CASES = [
    Case("empty", "", "error", "zh", "请输入一个问题"),
    Case("whitespace", " \t\u3000\u00a0  ", "error", "zh", "请输入一个问题"),
    Case("long-zh", "加装电梯" * 5000, "error", "zh", "问题太长(20000字)"),
    Case("long-en", ("Who is responsible for elevators? " * 600)[:20000], "error", "en", "too long"),
    Case("controls", "\x01\x02\x07电梯\x1b[31m加装\x7f\x9f", "answer", "zh"),
    Case("nul", "电梯\x00加装", "answer", "zh"),
    Case("zero-width-only", "\u200b\u200c\u200d\u2060\ufeff", "error", "zh", "请输入一个问题"),
    Case("zero-width-inside", "电\u200b梯\u200d加\u2060装\ufeff", "answer", "zh"),
    Case("bidi", "\u202e电梯加装\u202c", "answer", "zh"),
    Case("emoji-only", "😀🚲🏠👍🇨🇳", "error", "zh", "没有可识别的文字"),
    Case("punctuation-only", "?!。,、;:……——()【】《》“”", "error", "zh", "没有可识别的文字"),
    Case("html-img", "<img src=x onerror=alert(1)>", "answer", "zh"),  # markup is not English
    Case("html-script", "<script>alert(1)</script>", "answer", "en"),
    Case("sql", "'; DROP TABLE users; --", "answer", "en"),
    Case("mixed-scripts", "加装电梯 elevator مصعد лифт", "answer", "zh"),
]
ARGV_CASES = [c for c in CASES if "\x00" not in c.text]  # a NUL cannot be passed in argv


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def assert_well_formed(answer: object, collection, k: int = 5) -> None:
    """An Answer whose every result quotes the document at its offsets and highlights inside itself."""
    assert isinstance(answer, Answer)
    assert isinstance(answer.text, str) and answer.text.strip()
    assert len(answer.results) <= k
    for rank, r in enumerate(answer.results, start=1):
        assert r.rank == rank
        assert collection.get(r.doc_id).text[r.start : r.end] == r.text
        assert r.text[r.highlight_start : r.highlight_end] == r.highlight
        assert r.highlight.strip()


def assert_message(message: str, case: Case) -> None:
    assert message and "Traceback" not in message
    assert len(message) <= 200, "an error message is one short sentence, not an echo of the input"
    assert case.says in message
    if case.lang == "zh":
        assert _CJK.search(message), message
    else:
        assert not _CJK.search(message), message


def assert_answer_language(answer: str, case: Case) -> None:
    english = answer.startswith(("From the plan", NO_ANSWER_EN))
    assert english == (case.lang == "en"), answer[:80]


# --- the Python API -------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=["fake", pytest.param("real", marks=pytest.mark.slow)])
def any_assistant(request):
    """The fake-embedder assistant, and (slow) the real one: bad input must not reach either model."""
    return request.getfixturevalue("fake_assistant" if request.param == "fake" else "assistant")


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_python_api(any_assistant, collection, case: Case):
    assistant = any_assistant
    if case.outcome == "error":
        with pytest.raises(QAError) as err:
            assistant.ask(case.text)
        assert_message(str(err.value), case)
        return
    answer = assistant.ask(case.text)
    assert_well_formed(answer, collection)
    assert answer.question == case.text
    assert len(answer.text) <= 3000
    assert_answer_language(answer.text, case)


def test_invisible_characters_do_not_change_the_answer(any_assistant):
    """Zero-width and bidi characters are dropped (control characters become spaces instead)."""
    plain = any_assistant.ask("电梯加装")
    for text in ("电\u200b梯\u200d加\u2060装\ufeff", "\u202e电梯加装\u202c"):
        hidden = any_assistant.ask(text)
        assert [(r.doc_id, r.start, r.end) for r in hidden.results] == [
            (r.doc_id, r.start, r.end) for r in plain.results
        ]


def test_unknown_document_error_is_bounded(any_assistant):
    with pytest.raises(QAError) as err:
        any_assistant.ask("电梯", doc="x" * 10_000)
    assert len(str(err.value)) <= 300


# Text that mixes what users paste: Chinese, emoji, control and format characters, the plan's words.
_EMOJI = st.sampled_from(["😀", "🚲", "🏠", "👍🏽", "🇨🇳", "👨‍👩‍👧", "\u2764\ufe0f"])
_WORDS = st.sampled_from(
    ["电梯", "第29项", "草案", "牵头单位", "区房管局", "垃圾分类", "電梯", "task 29", "who is responsible"]
)
_MIXED = st.lists(
    st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        _EMOJI,
        st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp", "Mn")),
        _WORDS,
        st.characters(),
    ),
    max_size=60,
).map("".join)


def assert_answer_or_typed_error(assistant, collection, text: str) -> None:
    try:
        answer = assistant.ask(text)
    except QAError as err:
        assert str(err)
        return
    assert_well_formed(answer, collection)


@settings(max_examples=60, deadline=None)
@given(text=st.one_of(st.text(), _MIXED))
def test_any_text_gets_a_well_formed_answer_or_a_typed_error(fake_assistant, collection, text):
    assert_answer_or_typed_error(fake_assistant, collection, text)


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(st.text(), _MIXED))
def test_any_text_gets_a_well_formed_answer_or_a_typed_error_from_the_model(assistant, collection, text):
    assert_answer_or_typed_error(assistant, collection, text)


# --- the CLI, in this process ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    returncode: int
    out: str
    err: str


@pytest.fixture
def qa_main(fake_assistant, monkeypatch, capsys):
    """``qa …`` as ``qa.cli.main(argv)`` in this process, answering with the fake assistant."""
    from qa import cli

    monkeypatch.setattr(cli, "_assistant", lambda settings, progress=True: fake_assistant)

    def run(*args: str, stdin: bytes | None = None) -> Run:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        capsys.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:  # argparse refusing an option
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def assert_cli_reply(run: Run, case: Case) -> None:
    """``qa ask --json CASE``: exit 2 and one ``错误:…`` line, or exit 0 and one JSON answer."""
    assert "Traceback" not in run.out + run.err
    if case.outcome == "error":
        assert run.returncode == 2
        assert run.out == ""
        lines = run.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("错误:")
        assert_message(lines[0].removeprefix("错误:"), case)
        return
    assert run.returncode == 0, run.err
    assert run.err == ""
    answer = json.loads(run.out)
    assert answer["question"] == case.text
    assert_answer_language(answer["answer"], case)


@pytest.mark.parametrize("case", ARGV_CASES, ids=_ids(ARGV_CASES))
def test_cli_argument_json(qa_main, case: Case):
    assert_cli_reply(qa_main("ask", "--json", case.text), case)


READABLE = [CASES[0], CASES[9], CASES[12]]


@pytest.mark.parametrize("case", READABLE, ids=_ids(READABLE))
def test_cli_argument_readable(qa_main, case: Case):
    run = qa_main("ask", case.text)
    assert "Traceback" not in run.out + run.err
    assert run.returncode == (2 if case.outcome == "error" else 0)
    assert (run.err if case.outcome == "error" else run.out).strip()


_INVALID_UTF8 = [b"\xff\xfe\xfd", "电梯".encode() + b"\xe7\x94", b"\xed\xa0\x80", b"\xc0\xaf"]


def _stdin_lines() -> list[bytes]:
    lines = [c.text.encode("utf-8") for c in CASES if "\n" not in c.text]
    return [*lines, *_INVALID_UTF8, "电梯\r".encode(), NORMAL.encode()]  # "\r\n": a Windows line end


def assert_stdin_replies(out: str, lines: list[bytes]) -> None:
    """One JSON reply per line: an answer, or ``{"question", "error"}``; invalid UTF-8 is an error."""
    replies = [json.loads(line) for line in out.splitlines()]
    assert len(replies) == len(lines)
    by_case = dict(zip([c.id for c in CASES], replies, strict=False))
    for case in CASES:
        reply = by_case[case.id]
        assert reply["question"] == case.text
        if case.outcome == "error":
            assert set(reply) == {"question", "error"}
            assert_message(reply["error"], case)
        else:
            assert "error" not in reply and reply["results"]
            assert_answer_language(reply["answer"], case)
    invalid = replies[len(CASES) : len(CASES) + len(_INVALID_UTF8)]
    assert all(r["error"] == "这一行不是有效的 UTF-8 文本。" for r in invalid)
    assert replies[-2]["question"] == "电梯" and replies[-2]["results"]
    assert replies[-1]["question"] == NORMAL and replies[-1]["results"]


def test_cli_stdin_json(qa_main):
    lines = _stdin_lines()
    run = qa_main("ask", "--json", "-", stdin=b"\n".join(lines) + b"\n")
    assert run.returncode == 0
    assert "Traceback" not in run.out + run.err and run.err == ""
    assert_stdin_replies(run.out, lines)


def test_cli_stdin_readable(qa_main):
    run = qa_main("ask", "-", stdin=b"\n\xff\xfe\n" + NORMAL.encode() + b"\n")
    assert run.returncode == 0 and run.err == "" and "Traceback" not in run.out
    assert run.out.count("错误:") == 2
    assert "加装电梯" in run.out and "引用:" in run.out


# --- the CLI as a real process (the session's real index, through QA_INDEX_DIR) -----------------------


def _qa(*args: str | bytes, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [QA.encode(), *(a.encode() if isinstance(a, str) else a for a in args)],
        input=stdin,
        capture_output=True,
        timeout=180,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", READABLE, ids=_ids(READABLE))
def test_process_exit_codes(assistant, case: Case):  # ``assistant``: the index is built before the CLI runs
    proc = _qa("ask", "--json", case.text)
    assert_cli_reply(Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")), case)


@pytest.mark.slow
def test_process_argument_invalid_utf8(assistant):
    proc = _qa("ask", "--json", "电梯".encode() + b"\xff", PYTHONIOENCODING="utf-8")
    assert b"Traceback" not in proc.stdout + proc.stderr
    proc.stdout.decode("utf-8")  # whatever it prints is valid UTF-8
    assert proc.returncode in (0, 2)


@pytest.mark.slow
def test_process_stdin_json(assistant):
    lines = _stdin_lines()
    proc = _qa("ask", "--json", "-", stdin=b"\n".join(lines) + b"\n")
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")  # strict: all valid UTF-8
    assert proc.returncode == 0
    assert "Traceback" not in out + err and err == ""
    assert_stdin_replies(out, lines)
    assert not json.loads(out.splitlines()[-1])["abstained"]  # the real model answers the plain question


# --- the HTTP API -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(assistant):
    from qa.evaluation.loadtest import running_server

    with running_server(assistant.settings) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    from qa.evaluation.loadtest import offline_client

    return offline_client(server.url)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_http_api(client, case: Case):
    from gradio_client.exceptions import AppError

    from qa.evaluation.loadtest import check_answer

    if case.outcome == "error":
        with pytest.raises(AppError) as err:
            client.predict(case.text, api_name="/ask")
        assert_message(str(err.value), case)
        return
    reply = client.predict(case.text, api_name="/ask")
    assert check_answer(case.text, reply) is None
    assert_answer_language(reply["answer"], case)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("k", "doc", "says"),
    [(0, None, "k 必须是 1 到 20"), (21, None, "k 必须是 1 到 20"), (5, "plan-2025", "未知文档")],
)
def test_http_api_bad_options(client, k, doc, says):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict("电梯", k, doc, api_name="/ask")
    assert says in str(err.value) and "Traceback" not in str(err.value)


@pytest.mark.slow
def test_http_server_keeps_serving_after_bad_input(server, client):
    from gradio_client.exceptions import AppError

    from qa.evaluation.loadtest import check_answer

    for case in CASES:
        try:
            client.predict(case.text, api_name="/ask")
        except AppError:
            pass
    reply = client.predict(NORMAL, api_name="/ask")
    assert check_answer(NORMAL, reply) is None and not reply["abstained"]
    assert server.process.poll() is None
    assert "Traceback" not in server.log()
