from __future__ import annotations

import json
import subprocess
import sys

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


def test_unknown_doc_id_is_one_clear_line():
    proc = subprocess.run(
        [sys.executable, "-m", "qa.cli", "show", "plan-2025"], capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "plan-final" in lines[0] and "Traceback" not in proc.stderr


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
