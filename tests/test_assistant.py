"""The assistant asks for documents by role: other doc ids and other plan titles, same answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.answer import Answer
from qa.assistant import Assistant
from qa.settings import load_settings
from tests.conftest import CORPUS, REPO
from tests.fake_embedder import FakeEmbedder

QUESTIONS = [
    "第29项的牵头单位是哪些?",
    "草案第10项",
    "区房管局负责哪些任务?",
    "第11项草案和正式版有什么不同?",
    "加装电梯补贴多少钱?",
    "这个计划什么时候结束?",
    "给区建管委写信提意见,信寄到哪里?",
    "建筑垃圾资源化利用率93%的目标还在吗?",
    "计划分几个部分?",
    "第37项",
    "Who is responsible for task 29?",
    "正式版比草案新增了哪几项任务?",
    "Which tasks were merged in the final plan?",
]
RETITLED = {
    "current-plan": "某区城市治理三年行动计划(2024-2026年)",
    "superseded-plan": "某区城市治理提升行动计划(2024-2026年)(征求意见稿)",
}


def _dev_questions(n: int = 30) -> list[str]:
    rows = [
        json.loads(line) for line in (REPO / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return [r["question"] for r in rows if r["split"] == "dev"][:n]


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assistant, Assistant, dict[str, str]]:
    """The corpus as it is, and a copy whose documents have other ids and whose plans other titles."""
    root = tmp_path_factory.mktemp("roles")
    renamed = root / "corpus"
    shutil.copytree(CORPUS, renamed)
    manifest = json.loads((renamed / "manifest.json").read_text(encoding="utf-8"))
    new_ids: dict[str, str] = {}
    for n, meta in enumerate(manifest["documents"], start=1):
        new_id = f"wenjian-{n:02d}"
        (renamed / f"{meta['doc_id']}.txt").rename(renamed / f"{new_id}.txt")
        new_ids[meta["doc_id"]] = new_id
        meta["doc_id"] = new_id
        meta["title"] = RETITLED.get(meta["role"], meta["title"])
    (renamed / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    # The glossary names the renamed plans as it named the originals: an English answer names a
    # document through the glossary, and a corpus's glossary goes with its titles.
    glossary_path = renamed / "lexicon" / "glossary.json"
    glossary = json.loads(glossary_path.read_text(encoding="utf-8"))
    old_titles = {
        m["role"]: m["title"] for m in json.loads((CORPUS / "manifest.json").read_text("utf-8"))["documents"]
    }
    english = {e["zh"]: e["en"] for e in glossary["entries"]}
    glossary["entries"] += [
        {"zh": title, "en": english[old_titles[role]], "kind": "document"} for role, title in RETITLED.items()
    ]
    glossary_path.write_text(json.dumps(glossary, ensure_ascii=False), encoding="utf-8")
    original = Assistant(load_settings(corpus_dir=CORPUS, index_dir=root / "a"), embedder=FakeEmbedder())
    other = Assistant(load_settings(corpus_dir=renamed, index_dir=root / "b"), embedder=FakeEmbedder())
    return original, other, new_ids


def _clauses(answer: Answer, role_of: dict[str, str]) -> list[tuple[object, ...]]:
    return [
        (role_of[r.doc_id], r.clause, r.start, r.end, r.highlight_start, r.highlight_end, r.superseded)
        for r in answer.results
    ]


def test_other_doc_ids_and_plan_titles_give_the_same_answers(
    twins: tuple[Assistant, Assistant, dict[str, str]],
) -> None:
    original, other, new_ids = twins
    roles = {d.doc_id: d.role for d in original.collection.documents}
    other_roles = {d.doc_id: d.role for d in other.collection.documents}
    titles = {
        other.collection.by_role(role).title: original.collection.by_role(role).title for role in RETITLED
    }
    assert {new_ids[d] for d in roles} == set(other_roles)
    for question in QUESTIONS + _dev_questions():
        a, b = original.ask(question), other.ask(question)
        assert _clauses(a, roles) == _clauses(b, other_roles), question
        assert (a.abstained, a.coverage, a.asks, a.listing) == (b.abstained, b.coverage, b.asks, b.listing)
        text = b.text
        for new, old in titles.items():
            text = text.replace(new, old)
        assert text == a.text, question
    # the titles really differ, so the comparison above is not trivially true
    assert other.collection.current_plan.title != original.collection.current_plan.title
    assert other.collection.current_plan.doc_id == new_ids[original.collection.current_plan.doc_id]


def test_a_follow_up_finds_the_reason_by_role(twins: tuple[Assistant, Assistant, dict[str, str]]) -> None:
    original, other, new_ids = twins
    answers = []
    for assistant, ids in ((original, {d: d for d in new_ids}), (other, new_ids)):
        plan = ids[original.collection.current_plan.doc_id]
        listed = assistant.ask("正式版比草案新增了哪几项任务?")
        why = assistant.ask("为什么加的?", context=listed.context)  # about the first task listed
        assert why.follows is not None and listed.results[0].doc_id == plan
        answers.append([(assistant.collection.get(r.doc_id).role, r.clause) for r in why.results])
    assert answers[0] == answers[1]
    assert answers[0][0][0] == "participation-report"


def test_filters_name_documents_by_their_own_ids(twins: tuple[Assistant, Assistant, dict[str, str]]) -> None:
    original, other, new_ids = twins
    plan = original.collection.current_plan.doc_id
    a = original.ask("加装电梯", doc=plan)
    b = other.ask("加装电梯", doc=new_ids[plan])
    assert [r.doc_id for r in a.results] == [plan] * len(a.results)
    assert [r.doc_id for r in b.results] == [new_ids[plan]] * len(b.results)
    assert [(r.clause, r.start) for r in a.results] == [(r.clause, r.start) for r in b.results]


def test_a_corpus_without_a_current_plan_is_refused(tmp_path: Path) -> None:
    from qa.errors import UnknownDocument

    broken = tmp_path / "corpus"
    shutil.copytree(CORPUS, broken)
    manifest = json.loads((broken / "manifest.json").read_text(encoding="utf-8"))
    for meta in manifest["documents"]:
        if meta["role"] == "current-plan":
            meta["role"] = "plan"
    (broken / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(UnknownDocument, match="current-plan"):
        Assistant(load_settings(corpus_dir=broken, index_dir=tmp_path / "idx"), embedder=FakeEmbedder())
