"""The gold question set and the follow-up conversations are well formed and cover what they claim.

Both files are read as plain JSON, independently of the gold loader, so a loader change cannot hide a
broken label. Evidence is checked against the text of the clauses the line names, not just anywhere in
the source: a result is judged by the evidence found at its place in the relevant clause.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from qa.documents import load_collection
from qa.structure import parse_clauses

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
GOLD = REPO / "eval" / "gold.jsonl"
CONVERSATIONS = REPO / "eval" / "conversations.jsonl"

REQUIRED = {"id", "question", "kind", "split", "relevant", "evidence", "prefer_doc", "abstain"}
OPTIONAL = {"asks", "coverage", "missing"}
TURN_FIELDS = {"question", "follows", "relevant", "evidence", "prefer_doc", "abstain", "asks", "coverage"}
ASKS = {"amount", "count", "date", "who", "contact", "source", "place", "how", "why", "list", "yesno", "what"}
COVERAGE = {"answered", "partial", "none"}
SPLITS = {"dev", "test"}
ABSTAIN_KINDS = {"out-of-scope", "unrelated"}
# kinds added with the asks/coverage fields: every line of these carries them
KINDS_WITH_COVERAGE = {"long", "unrelated", "partial", "detail", "dropped"}
MIN_PER_KIND = {
    "citizen": 76,
    "staff": 38,
    "process": 43,
    "version": 16,
    "english": 36,
    "traditional": 13,
    "typo": 9,
    # 19 until five of them (a parking fee, a lift subsidy, a property-fee rise, a reporting
    # hotline, a fine) were seen to ask a detail of a subject the plan covers: partial questions.
    "out-of-scope": 14,
    "long": 25,
    "unrelated": 20,
    "partial": 30,
    "detail": 25,
    "dropped": 10,
}
MIN_CONVERSATIONS = 40
MIN_TOPIC_CHANGES = 10
MIN_ENGLISH_CONVERSATIONS = 5
CITIZEN_PER_FINAL_TASK = 2
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def gold() -> list[dict[str, Any]]:
    return _read(GOLD)


@pytest.fixture(scope="module")
def conversations() -> list[dict[str, Any]]:
    return _read(CONVERSATIONS)


@pytest.fixture(scope="module")
def clause_texts() -> dict[str, dict[int | str | None, str]]:
    """doc_id -> clause id -> its text; the key None holds the whole document."""
    texts: dict[str, dict[int | str | None, str]] = {}
    for doc in load_collection(CORPUS).documents:
        texts[doc.doc_id] = {c.clause: doc.text[c.start : c.end] for c in parse_clauses(doc)}
        texts[doc.doc_id][None] = doc.text
    return texts


@pytest.fixture(scope="module")
def source() -> str:
    return next((CORPUS / "source").glob("*.txt")).read_text(encoding="utf-8")


def _labels_problems(
    where: str, item: dict[str, Any], texts: dict[str, dict[int | str | None, str]], source: str
) -> list[str]:
    """What is wrong with one question's or one turn's labels; [] when they hold."""
    problems = []

    def bad(message: str) -> None:
        problems.append(f"{where}: {message}")

    if not isinstance(item["question"], str) or not item["question"].strip():
        bad("empty question")
    if not isinstance(item["abstain"], bool):
        bad("abstain is not a boolean")
    evidence, relevant = item["evidence"], item["relevant"]
    if not isinstance(evidence, list) or not all(isinstance(e, str) and e for e in evidence):
        bad("evidence must be a list of non-empty strings")
        return problems
    if not isinstance(relevant, list):
        bad("relevant must be a list")
        return problems
    for r in relevant:
        if not isinstance(r, dict) or set(r) != {"doc_id", "clause"}:
            bad(f"relevant entry {r!r} needs exactly doc_id and clause")
        elif r["doc_id"] not in texts:
            bad(f"unknown document {r['doc_id']!r}")
        elif isinstance(r["clause"], bool) or r["clause"] not in texts[r["doc_id"]]:
            bad(f"{r['doc_id']} has no clause {r['clause']!r}")
    if problems:
        return problems
    if item["abstain"]:
        if relevant or evidence or item["prefer_doc"] is not None:
            bad("an abstaining line has no relevant clause, evidence or prefer_doc")
        return problems
    if not evidence:
        bad("an answerable line needs evidence")
    if relevant:
        if item["prefer_doc"] not in {r["doc_id"] for r in relevant}:
            bad(f"prefer_doc {item['prefer_doc']!r} is not among the relevant documents")
        places = [texts[r["doc_id"]][r["clause"]] for r in relevant]
        for e in evidence:
            if not any(e in place for place in places):
                bad(f"evidence {e!r} is in none of the relevant clauses")
    else:
        for e in evidence:
            if e not in source:
                bad(f"evidence {e!r} is not in the source")
    return problems


def _coverage_problems(where: str, item: dict[str, Any]) -> list[str]:
    problems = []
    if item.get("asks") not in ASKS:
        problems.append(f"{where}: asks {item.get('asks')!r} is not one of {sorted(ASKS)}")
    coverage = item.get("coverage")
    if coverage not in COVERAGE:
        problems.append(f"{where}: coverage {coverage!r} is not one of {sorted(COVERAGE)}")
    if item["abstain"] != (coverage == "none"):
        problems.append(f"{where}: abstain must be true exactly when coverage is none")
    missing = item.get("missing")
    if coverage == "partial" and not (isinstance(missing, str) and missing.strip()):
        problems.append(f"{where}: a partial line names what is missing")
    if coverage != "partial" and "missing" in item:
        problems.append(f"{where}: only partial lines have missing")
    return problems


def _split_problems(name: str, splits: list[str]) -> list[str]:
    counts = Counter(splits)
    dev_share = counts["dev"] / len(splits)
    if counts["test"] == 0 or not 0.5 <= dev_share <= 0.7:
        return [f"{name}: {counts['dev']} dev / {counts['test']} test, not about 60/40"]
    return []


def test_gold_lines_have_valid_fields_and_labels(
    gold: list[dict[str, Any]], clause_texts: dict[str, dict[int | str | None, str]], source: str
) -> None:
    problems = []
    for q in gold:
        where = q.get("id", "?")
        if not REQUIRED <= set(q) <= REQUIRED | OPTIONAL:
            problems.append(f"{where}: fields {sorted(set(q))}")
            continue
        if q["kind"] not in MIN_PER_KIND:
            problems.append(f"{where}: unknown kind {q['kind']!r}")
        if q["split"] not in SPLITS:
            problems.append(f"{where}: split {q['split']!r}")
        if q["abstain"] != (q["kind"] in ABSTAIN_KINDS):
            problems.append(f"{where}: only out-of-scope and unrelated questions abstain")
        problems += _labels_problems(where, q, clause_texts, source)
        if q["kind"] in KINDS_WITH_COVERAGE or OPTIONAL & set(q):
            problems += _coverage_problems(where, q)
    assert problems == []


def test_gold_ids_are_unique(gold: list[dict[str, Any]], conversations: list[dict[str, Any]]) -> None:
    ids = [q["id"] for q in gold] + [c["id"] for c in conversations]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_each_kind_has_its_minimum_and_a_dev_test_split(gold: list[dict[str, Any]]) -> None:
    counts = Counter(q["kind"] for q in gold)
    assert {k: (counts[k], n) for k, n in MIN_PER_KIND.items() if counts[k] < n} == {}, "kind: (have, need)"
    problems = []
    for kind in counts:
        problems += _split_problems(kind, [q["split"] for q in gold if q["kind"] == kind])
    assert problems == []


def test_kinds_keep_their_meaning(gold: list[dict[str, Any]]) -> None:
    problems = []
    for q in gold:
        where, kind = q["id"], q["kind"]
        if kind == "long" and not 40 <= len(q["question"]) <= 120:
            problems.append(f"{where}: a long message has 40-120 characters, not {len(q['question'])}")
        if kind == "unrelated" and q.get("coverage") != "none":
            problems.append(f"{where}: an unrelated question is not covered at all")
        if kind == "partial" and q.get("coverage") != "partial":
            problems.append(f"{where}: a partial question has coverage partial")
        if kind in ("detail", "process", "dropped") and q.get("coverage", "answered") != "answered":
            problems.append(f"{where}: the documents state what a {kind} question asks")
        if kind == "english" and _CJK.search(q["question"]):
            problems.append(f"{where}: an English question has Chinese characters")
        if kind == "dropped" and not any(r["doc_id"] == "plan-draft" for r in q["relevant"]):
            problems.append(f"{where}: a dropped question names the draft text it asks about")
    assert problems == []


def test_every_final_task_has_two_citizen_questions(
    gold: list[dict[str, Any]], clause_texts: dict[str, dict[int | str | None, str]]
) -> None:
    asked = Counter(
        r["clause"]
        for q in gold
        if q["kind"] == "citizen"
        for r in q["relevant"]
        if r["doc_id"] == "plan-final"
    )
    tasks = [c for c in clause_texts["plan-final"] if isinstance(c, int)]
    assert len(tasks) == 36
    assert {t: asked[t] for t in tasks if asked[t] < CITIZEN_PER_FINAL_TASK} == {}


def test_conversations_are_well_formed(
    conversations: list[dict[str, Any]], clause_texts: dict[str, dict[int | str | None, str]], source: str
) -> None:
    problems = []
    for conv in conversations:
        where = conv.get("id", "?")
        if set(conv) != {"id", "kind", "split", "turns"}:
            problems.append(f"{where}: fields {sorted(set(conv))}")
            continue
        if conv["kind"] != "follow-up" or conv["split"] not in SPLITS:
            problems.append(f"{where}: kind {conv['kind']!r}, split {conv['split']!r}")
        turns = conv["turns"]
        if not isinstance(turns, list) or not 2 <= len(turns) <= 3:
            problems.append(f"{where}: a conversation has 2 or 3 turns")
            continue
        for n, turn in enumerate(turns, start=1):
            at = f"{where} turn {n}"
            if not TURN_FIELDS <= set(turn) <= TURN_FIELDS | {"missing"}:
                problems.append(f"{at}: fields {sorted(set(turn))}")
                continue
            if not isinstance(turn["follows"], bool) or (n == 1 and turn["follows"]):
                problems.append(f"{at}: follows is a boolean, false on the first turn")
            problems += _labels_problems(at, turn, clause_texts, source)
            problems += _coverage_problems(at, turn)
        if not any(t.get("follows") for t in turns):
            problems.append(f"{where}: no turn follows up on an earlier one")
    assert problems == []


def _topic_changes(conv: dict[str, Any]) -> bool:
    """A later turn brings its own subject, and none of the previous turn's clauses answer it."""
    turns = conv["turns"]
    for before, turn in zip(turns, turns[1:], strict=False):
        previous = {(r["doc_id"], r["clause"]) for r in before["relevant"]}
        current = {(r["doc_id"], r["clause"]) for r in turn["relevant"]}
        if not turn["follows"] and not previous & current:
            return True
    return False


def test_conversations_cover_topic_changes_english_and_both_splits(
    conversations: list[dict[str, Any]],
) -> None:
    assert len(conversations) >= MIN_CONVERSATIONS
    assert sum(_topic_changes(c) for c in conversations) >= MIN_TOPIC_CHANGES
    english = [c for c in conversations if not _CJK.search(c["turns"][0]["question"])]
    assert len(english) >= MIN_ENGLISH_CONVERSATIONS
    assert {c["split"] for c in english} == SPLITS
    assert _split_problems("follow-up", [c["split"] for c in conversations]) == []
