"""The documents as JSON objects, shared by ``qa docs|show --json`` and the REST API."""

from __future__ import annotations

import pytest

from qa.catalog import clause_detail, document_detail, document_list, find_clause
from qa.documents import Collection
from qa.errors import UnknownClause


def test_document_list_is_every_documents_metadata(collection: Collection) -> None:
    docs = document_list(collection)
    assert [d["doc_id"] for d in docs] == collection.doc_ids
    assert docs[0]["chars"] == len(collection.documents[0].text)


def test_document_detail_quotes_clauses_at_their_offsets(collection: Collection) -> None:
    doc = document_detail(collection.get("plan-final"))
    assert "chars" not in doc and len(doc["clauses"]) == 36  # type: ignore[arg-type]
    c1 = doc["clauses"][0]  # type: ignore[index]
    assert doc["text"][c1["start"] : c1["end"]].startswith("1.")  # type: ignore[index]


def test_clause_detail_by_task_number_and_by_part(collection: Collection) -> None:
    task = clause_detail(collection.get("plan-final"), "29")
    assert task["doc_id"] == "plan-final" and task["clause"] == 29
    assert task["lead_units"] == ["区应急局", "区建设管理委", "区消防救援支队"]
    assert str(task["text"]).startswith("29.深化电动自行车安全监管。")
    part = clause_detail(collection.get("interpretation"), "二")
    assert part["clause"] == "二" and part["doc_id"] == "interpretation"
    assert find_clause(collection.get("draft-faq"), " 1 ").clause == "1"


@pytest.mark.parametrize(
    ("doc_id", "clause", "message"),
    [
        ("plan-final", "37", "共36项任务,序号 1–36"),
        ("plan-final", "第29项", "没有条款 '第29项'"),
        ("interpretation", "七", "可用的条款:一、二"),
        ("legality-review", "1", "没有分条款"),
    ],
)
def test_an_unknown_clause_says_which_there_are(
    collection: Collection, doc_id: str, clause: str, message: str
) -> None:
    with pytest.raises(UnknownClause, match=message):
        find_clause(collection.get(doc_id), clause)
