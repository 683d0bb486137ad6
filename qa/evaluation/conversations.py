"""Conversations scored turn by turn: ``eval/conversations.jsonl`` through ``Assistant.ask`` with the
previous answer's context, as a resident asks them one after the other.

Each conversation is asked in order at k=5; every turn after the first carries the ``context`` of
the answer the assistant itself gave to the turn before (never the gold one), so a wrong first
answer costs the follow-ups that lean on it, as it would in use. A turn is judged like a gold
question (``qa.evaluation.metrics``: the same relevance rule, hit@k, abstention), and also for
its carry-over: whether the assistant took it as a follow-up (the answer has ``follows``) when the
gold set says it follows on, and afresh when it brings a subject of its own.

Figures, per split (``qa.evaluation.metrics.summarise_turns``):

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
from typing import TYPE_CHECKING

from qa.evaluation.gold import Conversation, GoldQuestion, GoldTurn
from qa.evaluation.metrics import Judge, K, TurnOutcome

if TYPE_CHECKING:
    from qa.assistant import Assistant

__all__ = ["ask_conversation", "ask_conversations"]


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
