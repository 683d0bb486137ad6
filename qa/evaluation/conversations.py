"""Conversations scored turn by turn: ``eval/conversations.jsonl`` through ``Assistant.ask`` with the
previous answer's context, as a resident asks them one after the other.

Each conversation is asked in order at k=5; every turn after the first carries the ``context`` of
the answer the assistant itself gave to the turn before (never the gold one), so a wrong first
answer costs the follow-ups that lean on it, as it would in use. A turn is judged like a gold
question (``qa.evaluation.metrics``: the same relevance rule, hit@k, abstention), and also for
its carry-over: whether the assistant took it as a follow-up (the answer has ``follows``) when the
gold set says it follows on, and afresh when it brings a subject of its own.

Figures, per split (``summarise_turns``):

* ``first``: the first turns, asked without a context, exactly as a single question is.
* ``follow_ups``: the turns marked ``follows``; their hit@1 is the turn-level figure of follow-ups.
  ``followed`` is the share the assistant took as follow-ups; ``hit_at_1_after_right`` counts only
  the follow-ups whose previous turn was right at rank 1.
* ``new_topics``: the later turns that bring their own subject; ``wrong_carry_over`` is the share
  answered as a follow-up, the mistake of answering a new question about the old subject.
* ``carry_over_accuracy``: over all later turns, followed when it should and fresh when it should.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qa.evaluation.gold import SPLITS, Conversation, GoldQuestion, GoldTurn
from qa.evaluation.metrics import Judge, K, Metrics, hit_at_k, rounded

if TYPE_CHECKING:
    from qa.assistant import Assistant

__all__ = [
    "TurnOutcome",
    "ask_conversation",
    "ask_conversations",
    "summarise_turns",
    "conversation_metrics",
    "TURN_GROUPS",
]

TURN_GROUPS = ("first", "follow_ups", "new_topics")


@dataclass(frozen=True)
class TurnOutcome:
    """One turn of one conversation, answered with the context of the assistant's previous answer."""

    conversation: str
    turn: int  # 1-based
    split: str
    question: str
    should_follow: bool
    followed: bool  # the answer took the previous answer's subject
    should_abstain: bool
    abstained: bool
    first_rank: int | None  # of the first relevant result within the k=5 answer; None: none there
    top: str | None  # doc_id#clause at rank 1
    subject: str | None  # what a follow-up took as its subject, as the answer named it

    @property
    def group(self) -> str:
        if self.turn == 1:
            return "first"
        return "follow_ups" if self.should_follow else "new_topics"


def _as_question(conversation: Conversation, turn: GoldTurn, n: int) -> GoldQuestion:
    """A turn as the judge reads a gold question."""
    return GoldQuestion(
        id=f"{conversation.id}/{n}",
        question=turn.question,
        kind=conversation.kind,
        split=conversation.split,
        relevant=turn.relevant,
        evidence=turn.evidence,
        prefer_doc=turn.prefer_doc,
        abstain=turn.abstain,
        asks=turn.asks,
        coverage=turn.coverage,
        missing=turn.missing,
    )


def ask_conversation(assistant: Assistant, conversation: Conversation, judge: Judge) -> list[TurnOutcome]:
    """Ask every turn in order, each with the context of the assistant's answer to the one before."""
    outcomes = []
    context: dict[str, object] | None = None
    for n, turn in enumerate(conversation.turns, start=1):
        answer = assistant.ask(turn.question, k=K, context=context)
        data = answer.to_dict()
        gains = judge.gains(judge.targets(_as_question(conversation, turn, n)), answer.results)
        first = next((i for i, g in enumerate(gains, start=1) if g > 0), None)
        top = answer.results[0] if answer.results else None
        follows = data["follows"]
        outcomes.append(
            TurnOutcome(
                conversation=conversation.id,
                turn=n,
                split=conversation.split,
                question=turn.question,
                should_follow=turn.follows,
                followed=follows is not None,
                should_abstain=turn.abstain,
                abstained=answer.abstained,
                first_rank=first,
                top=None
                if top is None
                else (top.doc_id if top.clause is None else f"{top.doc_id}#{top.clause}"),
                subject=str(follows["subject"]) if isinstance(follows, dict) else None,
            )
        )
        context = data["context"]  # type: ignore[assignment]
    return outcomes


def ask_conversations(
    assistant: Assistant, conversations: Sequence[Conversation], split: str | None = None
) -> list[TurnOutcome]:
    """Every conversation (of ``split``, or both), turn by turn."""
    judge = Judge(assistant.collection)
    return [
        o
        for c in conversations
        if split is None or c.split == split
        for o in ask_conversation(assistant, c, judge)
    ]


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarise_turns(outcomes: Sequence[TurnOutcome]) -> dict[str, Any]:
    """The figures of the module docstring over a set of turns (one split, usually)."""
    out: dict[str, Any] = {}
    for group in TURN_GROUPS:
        turns = [o for o in outcomes if o.group == group]
        answerable = [o for o in turns if not o.should_abstain]
        ranks = [o.first_rank for o in answerable]
        m: Metrics = {
            "n": len(turns),
            "hit_at_1": hit_at_k(ranks, 1),
            "hit_at_5": hit_at_k(ranks, K),
            "followed": _share([o.followed for o in turns]),
            "abstain_right": _share([o.abstained == o.should_abstain for o in turns]),
        }
        out[group] = m
    later = [o for o in outcomes if o.turn > 1]
    previous = {(o.conversation, o.turn): o for o in outcomes}
    after_right = [
        o.first_rank
        for o in later
        if o.should_follow
        and not o.should_abstain
        and (before := previous.get((o.conversation, o.turn - 1))) is not None
        and before.first_rank == 1
    ]
    follow_ups, new_topics = out["follow_ups"], out["new_topics"]
    follow_ups["hit_at_1_after_right"] = hit_at_k(after_right, 1)
    follow_ups["n_after_right"] = len(after_right)
    new_topics["wrong_carry_over"] = _share([o.followed for o in later if not o.should_follow])
    out["carry_over_accuracy"] = _share([o.followed == o.should_follow for o in later])
    return out


def conversation_metrics(outcomes: Sequence[TurnOutcome]) -> dict[str, Any]:
    """``qa eval --json``'s ``conversations`` object: the figures per split, rounded."""
    out: dict[str, Any] = {}
    for split in SPLITS:
        figures = summarise_turns([o for o in outcomes if o.split == split])
        out[split] = {
            k: (rounded(v) if isinstance(v, dict) else rounded({k: v})[k]) for k, v in figures.items()
        }
    return out
