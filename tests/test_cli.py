from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from qa.cli import main

EXPECTED_IDS = [
    "plan-draft",
    "drafting-notes",
    "consultation-notice",
    "draft-faq",
    "legality-review",
    "meeting-minutes",
    "participation-report",
    "issuance-notice",
    "plan-final",
    "interpretation",
]


def test_docs_json(capsys):
    assert main(["docs", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["doc_id"] for d in docs] == EXPECTED_IDS
    assert set(docs[0]) == {"doc_id", "role", "title", "issuer", "date", "version", "authority", "chars"}


def test_docs_readable(capsys):
    assert main(["docs"]) == 0
    out = capsys.readouterr().out
    assert "正式版" in out and "草案" in out and "plan-final" in out


def test_show_json_offsets(capsys):
    assert main(["show", "plan-final", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {
        "doc_id",
        "role",
        "title",
        "issuer",
        "date",
        "version",
        "authority",
        "text",
        "clauses",
    }
    assert len(doc["clauses"]) == 36
    c29 = doc["clauses"][28]
    assert c29["clause"] == 29 and c29["lead_units"] == ["区应急局", "区建设管理委", "区消防救援支队"]
    assert doc["text"][c29["start"] : c29["end"]].startswith("29.深化电动自行车安全监管。")
    assert set(c29) == {"clause", "title", "section", "lead_units", "start", "end"}


def test_show_one_clause_json_and_readable(capsys):
    assert main(["show", "plan-final", "29", "--json"]) == 0
    clause = json.loads(capsys.readouterr().out)
    assert clause["doc_id"] == "plan-final" and clause["clause"] == 29
    assert set(clause) == {"doc_id", "clause", "title", "section", "lead_units", "start", "end", "text"}
    assert main(["show", "plan-final", "29"]) == 0
    assert "【第29项】深化电动自行车安全监管" in capsys.readouterr().out


def test_show_an_unknown_clause_is_one_clear_line(capsys):
    assert main(["show", "plan-final", "37"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "共36项任务" in err[0]


def test_show_without_clauses(capsys):
    assert main(["show", "legality-review", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clauses"] == []


def test_show_readable_marks_the_draft(capsys):
    assert main(["show", "plan-draft"]) == 0
    out = capsys.readouterr().out
    assert "第11项" in out and "牵头单位:区房管局" in out and "以《长宁区城市管理精细化三年行动计划" in out


@pytest.mark.slow  # a child process
def test_unknown_doc_id_is_one_clear_line():
    proc = subprocess.run(
        [sys.executable, "-m", "qa.cli", "show", "plan-2025"], capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "plan-final" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.slow  # a child process
def test_a_bad_environment_setting_is_one_clear_line():
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "qa.cli", "docs"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "QA_K": "abc"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "错误:环境变量 QA_K 必须是整数,收到 'abc'。"


# --- conversations: qa ask --context and context lines ---------------------------------------------


@dataclass(frozen=True)
class Run:
    returncode: int
    out: str
    err: str


@pytest.fixture
def qa_main(fake_assistant, monkeypatch, capsys):  # noqa: ANN001, ANN201
    """``qa …`` as ``qa.cli.main(argv)`` in this process, answering with the fake assistant."""
    from qa import cli

    monkeypatch.setattr(cli, "_assistant", lambda settings, progress=True: fake_assistant)

    def run(*args: str, stdin: str | None = None) -> Run:
        if stdin is not None:
            raw = io.BytesIO(stdin.encode("utf-8"))
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw, encoding="utf-8"))
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def test_the_context_round_trips_through_the_cli(qa_main) -> None:  # noqa: ANN001
    first = qa_main("ask", "--json", "第10项的牵头单位是哪些?")
    context = json.loads(first.out)["context"]
    assert context["clauses"][0] == "plan-final#10"
    second = qa_main("ask", "--json", "--context", json.dumps(context, ensure_ascii=False), "那谁负责?")
    answer = json.loads(second.out)
    assert second.returncode == 0
    assert answer["follows"] == {"clauses": ["plan-final#10"], "subject": "第10项 升级“美丽家园”建设"}
    assert answer["answer"].startswith("接上一问:第10项 升级“美丽家园”建设\n")
    assert answer["context"]["clauses"][0] == "plan-final#10"
    readable = qa_main("ask", "--context", json.dumps(context, ensure_ascii=False), "那谁负责?")
    assert readable.out.startswith("接上一问:第10项 升级“美丽家园”建设\n")


@pytest.mark.parametrize(
    ("context", "question", "words"),
    [
        ("{not json", "那谁负责?", "--context 不是有效的 JSON"),
        ("[1, 2]", "那谁负责?", "JSON 对象"),
        ('{"clauses": ["plan-final#99"]}', "那谁负责?", "plan-final#99"),
        ('{"clauses": [10]}', "那谁负责?", "列表"),
        ('{"clauses": ["plan-final#10"], "turn": 1}', "那谁负责?", "未知字段"),
        ("{not json", "Who leads it?", "--context is not valid JSON"),
        ('{"clauses": ["plan-final#99"]}', "Who leads it?", "has no such clause"),
    ],
)
def test_a_malformed_context_on_the_command_line_exits_2(
    qa_main, context: str, question: str, words: str
) -> None:  # noqa: ANN001
    run = qa_main("ask", "--json", "--context", context, question)
    assert run.returncode == 2 and run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误:") and words in lines[0]
    assert "Traceback" not in run.err


def test_context_lines_on_standard_input(qa_main) -> None:  # noqa: ANN001
    context = {"clauses": ["plan-final#10"]}
    lines = [
        "第10项的牵头单位是哪些?",
        json.dumps({"question": "那谁负责?", "context": context}, ensure_ascii=False),
        json.dumps({"question": "那谁负责?"}, ensure_ascii=False),  # no context: asked alone
        json.dumps({"question": "那谁负责?", "context": {"clauses": ["plan-final#77"]}}, ensure_ascii=False),
        json.dumps({"question": "那谁负责?", "k": 3}, ensure_ascii=False),
        '{"question": broken',
        "[1, 2]",
    ]
    run = qa_main("ask", "--json", "-", stdin="\n".join(lines) + "\n")
    out = [json.loads(line) for line in run.out.splitlines()]
    assert run.returncode == 0 and len(out) == len(lines)
    assert out[0]["follows"] is None and out[0]["context"]["clauses"][0] == "plan-final#10"
    assert out[1]["follows"]["clauses"] == ["plan-final#10"]
    assert out[2]["follows"] is None
    assert "plan-final#77" in out[3]["error"]
    assert "未知字段 k" in out[4]["error"]
    assert "不是有效的 JSON" in out[5]["error"]
    assert "error" not in out[6]  # a plain line that is not an object is a question like any other


def test_context_applies_to_the_plain_lines_of_standard_input(qa_main) -> None:  # noqa: ANN001
    context = json.dumps({"clauses": ["plan-final#10"]})
    run = qa_main("ask", "--json", "--context", context, "-", stdin="那谁负责?\n什么时候完成?\n")
    out = [json.loads(line) for line in run.out.splitlines()]
    assert [o["follows"]["clauses"] for o in out] == [["plan-final#10"], ["plan-final#10"]]


def test_a_real_conversation_in_two_processes(assistant, tmp_path) -> None:  # noqa: ANN001
    """The real model, the real command: the context printed by one qa ask is the next one's --context."""

    def ask(*args: str) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", "qa.cli", "ask", "--json", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(proc.stdout)

    first = ask("我家是老房子,有加装电梯的计划吗?")
    second = ask("--context", json.dumps(first["context"], ensure_ascii=False), "那谁负责?")
    assert second["follows"]["clauses"] == ["plan-final#10"] and "区房管局" in second["lead"]
    third = ask("--context", json.dumps(second["context"], ensure_ascii=False), "垃圾分类有什么要求?")
    assert third["follows"] is None and third["results"][0]["clause"] == 20
