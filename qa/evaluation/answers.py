"""How good the answers are, beyond ranking: coverage, the lead sentence, versions and length.

Over the gold questions of one split, with the full pipeline at k=5:

* ``partial`` and ``none`` precision and recall of ``Answer.coverage`` against the gold
  ``coverage`` (``none`` is the abstention; ``partial``: the documents cover the subject but not
  the detail asked);
* ``lead_evidence``: of the questions the documents answer (gold ``answered``, with evidence), the
  share whose lead sentence holds one of the evidence strings whole;
* ``draft_as_current``: answers whose lead quotes superseded text without saying so (must be 0);
* ``median_chars``: the median length of the answer text before the cards, for residents'
  questions (kinds ``citizen`` and ``long``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from qa.evaluation.gold import GoldQuestion
from qa.plan_format import LEAD_NOTE, TASK_NUMBER, clause_label, is_lead_note, lead_units_of

if TYPE_CHECKING:
    from qa.answer import Answer

__all__ = ["score_answers", "ANSWER_METRICS"]

ANSWER_METRICS = (
    "partial_precision",
    "partial_recall",
    "none_precision",
    "none_recall",
    "lead_evidence",
    "draft_as_current",
    "median_chars",
)
_RESIDENT_KINDS = ("citizen", "long")
# How a lead says that the words it quotes are superseded (qa.answer.lead_sentence).
_SUPERSEDED_MARKS = ("已被正式版取代", "superseded")


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _holds(lead: str, evidence: str, english_name: Callable[[str], str | None]) -> bool:
    """Whether the lead holds the evidence: whole, or, for a 牵头单位 note, every unit it names
    (the lead says "第29项 …(区应急局、…牵头)" rather than quoting the raw note; an English lead
    names them in English), or, for a task's numbered title ("29.深化…"), the task as a lead
    names it: its number and its title ("第29项 深化…", "Task 29 "Tighten…"")."""
    if evidence in lead:
        return True
    if (number := TASK_NUMBER.match(evidence)) is not None:
        n, title = int(number.group().strip(" .")), evidence[number.end() :].strip().rstrip("。")
        return (clause_label(n) in lead and title in lead) or (
            clause_label(n, english=True) in lead.lower() and (english_name(title) or title) in lead
        )
    units = lead_units_of(evidence) if is_lead_note(evidence) or LEAD_NOTE.search(evidence) else ()
    return bool(units) and all(u in lead or (english_name(u) or u) in lead for u in units)


def _no_name(unit: str) -> str | None:
    return None


def score_answers(
    ask: Callable[[str], Answer],
    questions: Sequence[GoldQuestion],
    english_name: Callable[[str], str | None] = _no_name,
) -> dict[str, float | None]:
    """The answer metrics above for ``questions``, each asked once through ``ask``;
    ``english_name`` gives a unit's English name, as an English lead writes it."""
    answers = [(q, ask(q.question)) for q in questions]
    out: dict[str, float | None] = {}
    for kind in ("partial", "none"):
        predicted = [(q, a) for q, a in answers if a.coverage == kind]
        expected = [(q, a) for q, a in answers if q.coverage == kind]
        out[f"{kind}_precision"] = _ratio(sum(q.coverage == kind for q, _ in predicted), len(predicted))
        out[f"{kind}_recall"] = _ratio(sum(a.coverage == kind for _, a in expected), len(expected))
    answered = [(q, a) for q, a in answers if q.coverage == "answered" and q.evidence and not a.abstained]
    out["lead_evidence"] = _ratio(
        sum(any(_holds(a.lead, e, english_name) for e in q.evidence) for q, a in answered), len(answered)
    )
    out["draft_as_current"] = float(
        sum(
            1
            for _, a in answers
            if a.results
            and not a.abstained
            and a.results[0].superseded
            and not any(mark in a.lead for mark in _SUPERSEDED_MARKS)
        )
    )
    lengths = [len(a.text) for q, a in answers if q.kind in _RESIDENT_KINDS]
    out["median_chars"] = float(statistics.median(lengths)) if lengths else None
    return out
