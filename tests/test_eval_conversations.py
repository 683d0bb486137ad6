"""Conversations scored turn by turn (qa/evaluation/conversations.py), and their section of the report."""

from __future__ import annotations

import json
from pathlib import Path

from qa.evaluation.conversations import ask_conversation
from qa.evaluation.gold import load_conversations
from qa.evaluation.metrics import EvalRun, Judge, TurnOutcome, conversation_metrics, summarise_turns
from qa.evaluation.report import write_report
from qa.settings import Settings
from tests.conftest import CORPUS


def _turn(
    conversation: str,
    turn: int,
    should_follow: bool,
    followed: bool,
    first_rank: int | None,
    split: str = "test",
    should_abstain: bool = False,
    abstained: bool = False,
) -> TurnOutcome:
    return TurnOutcome(
        conversation,
        turn,
        split,
        f"{conversation}/{turn}",
        should_follow,
        followed,
        should_abstain,
        abstained,
        first_rank,
        "plan-final#10",
        "第10项 升级“美丽家园”建设" if followed else None,
    )


TURNS = [
    _turn("a", 1, False, False, 1),
    _turn("a", 2, True, True, 1),  # a follow-up, followed, right
    _turn("a", 3, True, False, None),  # a follow-up answered afresh, wrong
    _turn("b", 1, False, False, 2),  # a first turn right only at rank 2
    _turn("b", 2, True, True, None),  # followed, but the turn before was wrong: wrong too
    _turn("b", 3, False, True, None),  # a new topic answered as a follow-up
    _turn("c", 1, False, False, 1),
    _turn("c", 2, False, False, None, should_abstain=True, abstained=True),  # new off-topic: declined
]


def test_turn_figures() -> None:
    f = summarise_turns(TURNS)
    assert f["first"]["n"] == 3 and f["first"]["hit_at_1"] == 2 / 3 and f["first"]["hit_at_5"] == 1.0
    follow_ups = f["follow_ups"]
    assert follow_ups["n"] == 3 and follow_ups["hit_at_1"] == 1 / 3 and follow_ups["followed"] == 2 / 3
    # Only a/2 follows a turn that was right at rank 1.
    assert follow_ups["n_after_right"] == 2 and follow_ups["hit_at_1_after_right"] == 0.5
    new_topics = f["new_topics"]
    assert new_topics["n"] == 2 and new_topics["wrong_carry_over"] == 0.5
    assert new_topics["hit_at_1"] == 0.0  # b/3 is answerable and missed; c/2 counts only for abstention
    assert new_topics["abstain_right"] == 1.0
    assert f["carry_over_accuracy"] == 3 / 5  # a/2, b/2 and c/2 of the five later turns


def test_figures_per_split_are_rounded() -> None:
    m = conversation_metrics([*TURNS, _turn("d", 1, False, False, 1, split="dev")])
    assert set(m) == {"dev", "test"}
    assert m["test"]["follow_ups"]["hit_at_1"] == 0.3333
    assert m["dev"]["first"]["n"] == 1 and m["dev"]["follow_ups"]["hit_at_1"] is None
    json.dumps(m)  # plain JSON


def test_each_turn_carries_the_assistants_own_previous_context(fake_assistant) -> None:  # noqa: ANN001
    conv = next(c for c in load_conversations() if c.id == "conv-003")  # dev: a new topic, then 那谁牵头?
    outcomes = ask_conversation(fake_assistant, conv, Judge(fake_assistant.collection))
    assert [(o.turn, o.should_follow, o.followed) for o in outcomes] == [
        (1, False, False),
        (2, False, False),
        (3, True, True),
    ]
    assert outcomes[2].subject is not None and outcomes[2].top is not None
    # The first turn is asked exactly as a single question.
    alone = fake_assistant.ask(conv.turns[0].question, k=5)
    top = alone.results[0]
    assert outcomes[0].top == f"{top.doc_id}#{top.clause}"


def test_the_report_has_a_conversations_section(tmp_path: Path) -> None:
    run_ = EvalRun(
        [], [], Settings(corpus_dir=CORPUS), "fake", {"file": None, "provenance": None}, turns=TURNS
    )
    metrics = write_report(run_, tmp_path)
    assert metrics["conversations"]["test"]["new_topics"]["wrong_carry_over"] == 0.5
    text = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "## Conversations, turn by turn" in text
    assert "| test | 3 | 8 | follow_ups | 3 | 0.333 |" in text
    # The test turns that go wrong are listed: a/3 (missed), b/2 (wrong clause), b/3 (carried over).
    listed = text.split("carry over wrongly", 1)[1]
    assert (
        "| a | 3 |" in listed
        and "| b | 2 |" in listed
        and "| b | 3 |" in listed
        and "| a | 2 |" not in listed
    )
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert len(saved["turns"]) == len(TURNS) and saved["turns"][1]["followed"] is True
