"""The quality gate: the gold set is well formed, and the real assistant meets eval/thresholds.json.

The schema checks read ``eval/gold.jsonl`` as raw JSON, independently of
``qa.evaluation.gold.load_gold``, so a loader bug cannot hide a broken gold set.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from qa.documents import Collection
from qa.evaluation.gold import GOLD_PATH, THRESHOLDS_PATH
from qa.evaluation.metrics import summarise
from qa.evaluation.run import check_thresholds, run
from qa.structure import parse_clauses
from tests.conftest import CORPUS

FIELDS = {"id", "question", "kind", "split", "relevant", "evidence", "prefer_doc", "abstain"}
OPTIONAL_FIELDS = {"asks", "coverage", "missing"}  # checked in detail by tests/test_gold_data.py
ABSTAIN_KINDS = {"out-of-scope", "unrelated"}
MIN_PER_KIND = {
    "citizen": 40,
    "staff": 30,
    "process": 20,
    "version": 10,
    "english": 10,
    "traditional": 10,
    "typo": 5,
    "out-of-scope": 14,  # see tests/test_gold_data.py: five became partial questions
}
# kinds whose minimums tests/test_gold_data.py checks
OTHER_KINDS = {"long", "unrelated", "partial", "detail", "dropped"}


@pytest.fixture(scope="module")
def gold() -> list[dict[str, Any]]:
    lines = GOLD_PATH.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_evidence_string_is_verbatim_in_the_source(gold: list[dict[str, Any]]) -> None:
    source = (CORPUS / "source" / "000_b8b1fbbb11219fcd.txt").read_text(encoding="utf-8")
    missing = [(q["id"], ev) for q in gold for ev in q["evidence"] if ev not in source]
    assert missing == []


def test_gold_schema(gold: list[dict[str, Any]], collection: Collection) -> None:
    clause_ids = {d.doc_id: {c.clause for c in parse_clauses(d)} for d in collection.documents}
    ids = [q["id"] for q in gold]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for q in gold:
        where = q["id"]
        assert FIELDS <= set(q) <= FIELDS | OPTIONAL_FIELDS, where
        assert isinstance(q["question"], str) and q["question"].strip(), where
        assert q["kind"] in MIN_PER_KIND.keys() | OTHER_KINDS, where
        assert q["split"] in ("dev", "test"), where
        assert isinstance(q["abstain"], bool), where
        assert isinstance(q["evidence"], list) and all(isinstance(e, str) and e for e in q["evidence"]), where
        if q["abstain"]:
            assert q["relevant"] == [] and q["evidence"] == [] and q["prefer_doc"] is None, where
            continue
        assert q["relevant"] and q["evidence"], where
        assert q["prefer_doc"] in clause_ids, where
        for r in q["relevant"]:
            assert set(r) == {"doc_id", "clause"}, where
            assert r["doc_id"] in clause_ids, where
            clause = r["clause"]
            assert clause is None or (isinstance(clause, (int, str)) and not isinstance(clause, bool)), where
            assert clause is None or clause in clause_ids[r["doc_id"]], (where, r)
    assert all(q["abstain"] == (q["kind"] in ABSTAIN_KINDS) for q in gold)


def test_gold_covers_every_kind_and_every_final_task(gold: list[dict[str, Any]]) -> None:
    counts = Counter(q["kind"] for q in gold)
    short = {k: (counts[k], n) for k, n in MIN_PER_KIND.items() if counts[k] < n}
    assert short == {}, "kind: (have, need)"
    assert len(gold) >= 150
    asked = {
        r["clause"]
        for q in gold
        if q["kind"] == "citizen"
        for r in q["relevant"]
        if r["doc_id"] == "plan-final" and isinstance(r["clause"], int)
    }
    assert set(range(1, 37)) - asked == set()
    splits = Counter(q["split"] for q in gold)
    assert splits["dev"] > 0 and splits["test"] > 0


@pytest.mark.slow
def test_full_pipeline_meets_the_thresholds_on_the_test_split(assistant) -> None:  # noqa: ANN001
    thresholds = json.loads(THRESHOLDS_PATH.read_text(encoding="utf-8"))
    assert thresholds["config"] == "full" and thresholds["split"] == "test"
    metrics = summarise(run(["full"], split="test", assistant=assistant).outcomes)
    print("\nfull pipeline, test split:")
    for key, value in metrics.items():
        print(f"  {key:<20} {value}")
    assert check_thresholds(metrics, thresholds) == []
