"""The evaluation report: REPORT.md, results.json and report.png from a run of known outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.evaluation.gold import GoldQuestion, Relevant
from qa.evaluation.metrics import ABSTENTION_KEYS, EvalRun, Outcome
from qa.evaluation.report import describe_tuned, write_report
from qa.settings import Settings
from tests.conftest import CORPUS

_PROVENANCE = {
    "date": "2026-12-01T10:00:00+08:00",
    "commit": "abc1234",
    "split": "dev",
    "grid": {"dense": [0.5, 0.6]},
    "objective": {"before": 3.61, "after": 3.64, "best": 3.66},
}


def _run(tuning: dict[str, object]) -> EvalRun:
    gold = [
        GoldQuestion(
            "a", "加装电梯?", "citizen", "test", (Relevant("plan-final", 1),), (), "plan-final", False
        ),
        GoldQuestion("b", "房价会涨吗?", "out-of-scope", "test", (), (), None, True),
        GoldQuestion(
            "c", "充电谁管?", "citizen", "dev", (Relevant("plan-final", 1),), (), "plan-final", False
        ),
        GoldQuestion("d", "落户?", "out-of-scope", "dev", (), (), None, True),
    ]
    top = ({"doc_id": "plan-final", "clause": 2, "start": 0, "end": 20, "gain": 0},)
    outcomes = [
        Outcome(
            "a",
            "full",
            "test",
            "citizen",
            False,
            False,
            2,
            (0, 1),
            (1,),
            "plan-final",
            "plan-final",
            5.0,
            top,
        ),
        Outcome("b", "full", "test", "out-of-scope", True, True, None, (), (), None, None, 6.0),
        Outcome("c", "full", "dev", "citizen", False, True, 1, (1,), (1,), "plan-final", "plan-final", 7.0),
        Outcome("d", "full", "dev", "out-of-scope", True, False, None, (), (), None, None, 8.0),
    ]
    return EvalRun(outcomes, gold, Settings(corpus_dir=CORPUS), "fake/char-ngram-256", tuning)


@pytest.fixture
def tuning() -> dict[str, object]:
    return {
        "weights": {"dense": 0.6},
        "thresholds": {"min_dense": 0.875},
        "file": "corpus/tuned.json",
        "provenance": _PROVENANCE,
    }


def test_report_files(tmp_path: Path, tuning: dict[str, object]) -> None:
    run_ = _run(tuning)
    metrics = write_report(run_, tmp_path)
    assert metrics == run_.metrics()
    text = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "Commit:" in text and "fake/char-ngram-256" in text and "misses at rank 1" in text
    assert "- Retrieval weights: dense = 0.6" in text and "- Abstention thresholds: min_dense = 0.875" in text
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["metrics"] == json.loads(json.dumps(metrics))
    assert saved["tuning"] == tuning
    assert saved["settings"]["corpus_dir"] == "corpus" and saved["settings"]["k"] == 5
    assert [q["id"] for q in saved["questions"]] == ["a", "b", "c", "d"]
    assert saved["questions"][0]["asks"] == "what" and saved["questions"][1]["coverage"] == "none"
    assert set(saved["questions"][0]["configs"]) == {"full"}
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_names_the_tuned_values_file_and_its_provenance(
    tmp_path: Path, tuning: dict[str, object]
) -> None:
    write_report(_run(tuning), tmp_path)
    text = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    line = next(li for li in text.splitlines() if li.startswith("- Tuned values from:"))
    assert line == (
        "- Tuned values from: `corpus/tuned.json` (date = 2026-12-01T10:00:00+08:00, commit = abc1234, "
        "split = dev, dev objective = 3.61 -> 3.64)"
    )
    assert "`qa tune`" in text and "python -m" not in text


def test_report_says_when_the_values_are_not_from_the_file(tmp_path: Path, tuning: dict[str, object]) -> None:
    write_report(_run({**tuning, "file": None, "provenance": None}), tmp_path)
    assert "Tuned values from: not from corpus/tuned.json" in (tmp_path / "REPORT.md").read_text(
        encoding="utf-8"
    )


def test_report_tables_abstention_by_kind(tmp_path: Path, tuning: dict[str, object]) -> None:
    write_report(_run(tuning), tmp_path)
    lines = (tmp_path / "REPORT.md").read_text(encoding="utf-8").splitlines()
    at = lines.index("## Abstention of the full pipeline by kind (dev and test together)")
    head = next(i for i in range(at, len(lines)) if lines[i].startswith("| kind |"))
    assert lines[head] == "| kind | " + " | ".join(ABSTENTION_KEYS) + " |"
    rows = {li.split(" | ")[0].strip("| "): li.strip("|").split(" | ") for li in lines[head + 2 : head + 4]}
    # citizen: c is answerable and was declined; out-of-scope: b declined rightly, d answered wrongly.
    assert [c.strip() for c in rows["citizen"]] == ["citizen", "2", "0", "1", "0", "1", "0.000", "—", "0.500"]
    assert [c.strip() for c in rows["out-of-scope"]] == [
        "out-of-scope",
        "2",
        "2",
        "1",
        "1",
        "0",
        "1.000",
        "0.500",
        "—",
    ]


def test_describe_tuned_leaves_the_grid_in_the_file() -> None:
    said = describe_tuned(
        {"file": "corpus/tuned.json", "provenance": {**_PROVENANCE, "method": "grid search"}}
    )
    assert "grid =" not in said and "method = grid search" in said
    assert describe_tuned({"file": "corpus/tuned.json", "provenance": {}}).endswith(
        "(no provenance recorded)"
    )
