"""The gold sets: fields and their defaults, conversations, and errors that name the bad line."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from qa.evaluation.gold import (
    ASKS,
    COVERAGES,
    GOLD_PATH,
    KINDS,
    SPLITS,
    Conversation,
    GoldQuestion,
    GoldTurn,
    Relevant,
    load_conversations,
    load_gold,
)

_ANSWERABLE = {
    "id": "c1",
    "question": "电动自行车在楼道充电谁管?",
    "kind": "citizen",
    "split": "dev",
    "relevant": [{"doc_id": "plan-final", "clause": 12}],
    "evidence": ["电动自行车"],
    "prefer_doc": "plan-final",
    "abstain": False,
}
_DECLINED = {
    "id": "o1",
    "question": "长宁区房价会涨吗?",
    "kind": "out-of-scope",
    "split": "test",
    "relevant": [],
    "evidence": [],
    "prefer_doc": None,
    "abstain": True,
}


def _write(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects), encoding="utf-8")
    return path


def test_the_repositorys_gold_set_loads() -> None:
    gold = load_gold()
    raw = [json.loads(line) for line in GOLD_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [q.id for q in gold] == [d["id"] for d in raw]
    assert {q.split for q in gold} == set(SPLITS)
    for q, d in zip(gold, raw, strict=True):
        assert q.asks == d.get("asks", "what") and q.asks in ASKS, q.id
        assert q.coverage == d.get("coverage", "none" if q.abstain else "answered"), q.id
        assert q.coverage in COVERAGES and q.missing == d.get("missing"), q.id


def test_the_new_fields_default_from_what_the_line_says(tmp_path: Path) -> None:
    answerable, declined = load_gold(_write(tmp_path / "gold.jsonl", _ANSWERABLE, _DECLINED))
    assert answerable == GoldQuestion(
        "c1",
        "电动自行车在楼道充电谁管?",
        "citizen",
        "dev",
        (Relevant("plan-final", 12),),
        ("电动自行车",),
        "plan-final",
        False,
        asks="what",
        coverage="answered",
        missing=None,
    )
    assert (declined.asks, declined.coverage, declined.missing) == ("what", "none", None)


def test_the_new_fields_are_read(tmp_path: Path) -> None:
    partial = {
        **_ANSWERABLE,
        "kind": "partial",
        "asks": "who",
        "coverage": "partial",
        "missing": "计划没有写明具体的投诉电话",
    }
    (q,) = load_gold(_write(tmp_path / "gold.jsonl", partial))
    assert (q.kind, q.asks, q.coverage, q.missing) == (
        "partial",
        "who",
        "partial",
        "计划没有写明具体的投诉电话",
    )
    assert {"long", "unrelated", "partial", "detail", "dropped"} <= set(KINDS)


def test_records_made_in_code_take_the_same_defaults() -> None:
    declined = GoldQuestion("o", "房价?", "out-of-scope", "test", (), (), None, True)
    answerable = GoldTurn("谁管?", False, (Relevant("plan-final", 12),), ("电动自行车",), "plan-final", False)
    assert (declined.asks, declined.coverage, answerable.coverage) == ("what", "none", "answered")


def test_records_are_frozen_and_hold_tuples(tmp_path: Path) -> None:
    (q,) = load_gold(_write(tmp_path / "gold.jsonl", _ANSWERABLE))
    assert isinstance(q.relevant, tuple) and isinstance(q.evidence, tuple)
    with pytest.raises(FrozenInstanceError):
        q.asks = "who"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"asks": "colour"}, "asks is 'colour'"),
        ({"coverage": "most"}, "coverage is 'most'"),
        ({"missing": 3}, "missing must be a string or null"),
        ({"split": "train"}, "split is 'train'"),
        ({"abstain": "no"}, "abstain must be true or false"),
        ({"evidence": [""]}, "an evidence string must be a non-empty string"),
        ({"question": "  "}, "question must be a non-empty string"),
    ],
)
def test_a_bad_value_names_its_line(tmp_path: Path, change: dict[str, object], says: str) -> None:
    path = _write(tmp_path / "gold.jsonl", _ANSWERABLE, {**_ANSWERABLE, "id": "c2", **change})
    with pytest.raises(ValueError, match="gold.jsonl:2: not a gold question") as err:
        load_gold(path)
    assert says in str(err.value)


def test_a_missing_field_or_broken_json_names_its_line(tmp_path: Path) -> None:
    lacking = {k: v for k, v in _ANSWERABLE.items() if k != "prefer_doc"}
    with pytest.raises(ValueError, match=r"gold.jsonl:1: not a gold question \(KeyError\('prefer_doc'\)\)"):
        load_gold(_write(tmp_path / "gold.jsonl", lacking))
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(_ANSWERABLE) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.jsonl:3: not JSON"):
        load_gold(path)
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.jsonl:1: not a JSON object"):
        load_gold(path)


# --- conversations --------------------------------------------------------------------------------

_TURN = {k: v for k, v in _ANSWERABLE.items() if k not in ("id", "kind", "split")}
_CONVERSATION = {
    "id": "f1",
    "kind": "follow-up",
    "split": "dev",
    "turns": [
        {**_TURN, "follows": False, "asks": "who"},
        {
            "question": "那草案里呢?",
            "follows": True,
            "relevant": [{"doc_id": "plan-draft", "clause": 11}],
            "evidence": ["电动自行车"],
            "prefer_doc": "plan-draft",
            "abstain": False,
        },
        {**_DECLINED, "question": "房价呢?", "follows": True},
    ],
}


def test_no_conversations_file_is_an_empty_list(tmp_path: Path) -> None:
    assert load_conversations(tmp_path / "conversations.jsonl") == []


def test_conversations_load_into_frozen_records_of_tuples(tmp_path: Path) -> None:
    (c,) = load_conversations(_write(tmp_path / "conversations.jsonl", _CONVERSATION))
    assert isinstance(c, Conversation) and (c.id, c.kind, c.split) == ("f1", "follow-up", "dev")
    assert isinstance(c.turns, tuple) and len(c.turns) == 3
    first, second, third = c.turns
    assert first == GoldTurn(
        "电动自行车在楼道充电谁管?",
        False,
        (Relevant("plan-final", 12),),
        ("电动自行车",),
        "plan-final",
        False,
        asks="who",
        coverage="answered",
    )
    assert second.follows and second.relevant == (Relevant("plan-draft", 11),) and second.asks == "what"
    assert third.abstain and third.coverage == "none" and third.relevant == ()
    with pytest.raises(FrozenInstanceError):
        c.turns = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"kind": "chat"}, "kind is 'chat'"),
        ({"turns": []}, "turns must be a non-empty list"),
        ({"turns": [{**_TURN, "follows": True}]}, "turn 1: the first turn has nothing to follow"),
        ({"turns": [{**_TURN, "follows": False}, {**_TURN, "follows": "yes"}]}, "turn 2: follows must be"),
        ({"turns": [{**_TURN, "follows": False}, {**_TURN}]}, "turn 2 lacks the field 'follows'"),
        ({"turns": [{**_TURN, "follows": False, "coverage": "most"}]}, "turn 1: coverage is 'most'"),
    ],
)
def test_a_bad_conversation_names_its_line(tmp_path: Path, change: dict[str, object], says: str) -> None:
    path = _write(tmp_path / "conversations.jsonl", _CONVERSATION, {**_CONVERSATION, "id": "f2", **change})
    with pytest.raises(ValueError, match="conversations.jsonl:2: not a gold conversation") as err:
        load_conversations(path)
    assert says in str(err.value)
