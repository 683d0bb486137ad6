"""Relevance and the metrics: how a ranked answer is judged against a gold question, and scored.

How a result is judged against a gold question (the same rule for every configuration, so the
naive baseline, whose pieces carry no clause ids, is judged on the same footing as the assistant):

* Each ``relevant`` entry is a *target*: the span of that clause in that document
  (``qa.structure.parse_clauses``), or the whole document when ``clause`` is null.
* A result earns **grade 2** for a target when it contains, whole, an ``evidence`` string at a
  place inside the target's span. Evidence found elsewhere earns nothing: the same sentence is in
  the draft and the final plan, and "(牵头单位:区数据局)" closes several tasks, so the string
  alone would credit the superseded draft or the wrong task.
* It earns **grade 1** when its clause id matches the target (null: any chunk of the document),
  or when it covers at least half of the shorter of itself and the target span. The half rule
  lets a 250-character baseline piece that holds most of a task count, and stops one that only
  catches the task's closing "(牵头单位:…)" from counting; for the assistant, whose chunks lie
  inside one clause, it says the same as the clause id.
* Each target is credited once: going down the ranking, a result earns its best grade among the
  targets not yet credited, and that target is used up. Showing the same clause twice (two
  pieces of it, or a chunk and its overlap) is no better than showing it once.
* A result is *relevant* (for hit@k and MRR) when its grade is 1 or 2.

Metrics, all over the answer to ``ask(question, k=5)``, what ``qa ask`` shows by default:
hit@1 and hit@5 (a relevant result at rank ≤ k), nDCG@5 (gains 2/1/0 as above, discount
log2(rank+1), ideal = the targets' best grades in order), prefer@1 (rank 1 is in ``prefer_doc``),
and, for MRR@10, the first relevant rank, looked up in ``ask(question, k=10)`` only when the top 5
hold none (the full pipeline reorders draft/final pairs within its k results, so the top 5 of
k=10 need not be the k=5 answer; ``qa.evaluation.run`` does the asking). Questions marked ``abstain``
count only in the abstention metrics; an answerable question the assistant abstains on is still
scored on its listed results and also counts as a false abstention. Latency is
``time.perf_counter`` around the k=5 call.

``EvalRun`` holds one run's outcomes and summarises them: by split, by kind, by configuration, and
abstention by kind with its counts; with the conversations' turns (``TurnOutcome``, asked by
``qa.evaluation.conversations``), their turn-level figures per split (``summarise_turns``). It lives here, below the run, the report and tuning, so each of
those can read a run without importing the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.documents import Collection
from qa.evaluation.gold import KINDS, SPLITS, GoldQuestion
from qa.settings import Settings
from qa.structure import parse_clauses

if TYPE_CHECKING:
    from qa.answer import Result

__all__ = [
    "K",
    "MRR_DEPTH",
    "METRICS",
    "Metrics",
    "Target",
    "Judge",
    "Outcome",
    "hit_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "prefer_at_1",
    "abstention_rates",
    "percentile",
    "summarise",
    "ABSTENTION_KEYS",
    "abstention_counts",
    "rounded",
    "EvalRun",
    "TurnOutcome",
    "TURN_GROUPS",
    "summarise_turns",
    "conversation_metrics",
    "format_metric",
    "format_values",
]

K = 5  # the results scored, as many as ``qa ask`` shows by default
MRR_DEPTH = 10
METRICS = (
    "hit_at_1",
    "hit_at_5",
    "mrr_at_10",
    "ndcg_at_5",
    "prefer_at_1",
    "abstain_precision",
    "abstain_recall",
    "false_abstain_rate",
    "p50_ms",
    "p95_ms",
)
ABSTENTION_KEYS = (
    "n",
    "should_abstain",
    "abstained",
    "right_abstentions",
    "declined",
    "abstain_precision",
    "abstain_recall",
    "false_abstain_rate",
)

Metrics = dict[str, float | None]


# --- relevance ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One ``relevant`` entry located in its document."""

    doc_id: str
    clause: int | str | None
    start: int
    end: int
    evidence: tuple[tuple[int, int], ...]  # where evidence strings occur inside [start, end)

    @property
    def best_grade(self) -> int:
        return 2 if self.evidence else 1


class _Span(Protocol):
    """What the judge reads from a result: the assistant's ``Result`` and tests' stand-ins both fit."""

    doc_id: str
    clause: int | str | None
    start: int
    end: int


class Judge:
    """Grades results against gold questions; see the module docstring for the rule."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._spans: dict[tuple[str, int | str], tuple[int, int]] = {}
        for doc in collection.documents:
            for c in parse_clauses(doc):
                self._spans[(doc.doc_id, c.clause)] = (c.start, c.end)

    def targets(self, q: GoldQuestion) -> list[Target]:
        """The question's relevant entries with their spans and evidence positions.

        Raises:
            KeyError: an entry names a document or clause that does not exist.
        """
        out = []
        for r in q.relevant:
            text = self.collection.get(r.doc_id).text
            if r.clause is None:
                start, end = 0, len(text)
            else:
                start, end = self._spans[(r.doc_id, r.clause)]
            found = []
            for ev in q.evidence:
                at = text.find(ev, start)
                while 0 <= at and at + len(ev) <= end:
                    found.append((at, at + len(ev)))
                    at = text.find(ev, at + 1)
            out.append(Target(r.doc_id, r.clause, start, end, tuple(sorted(found))))
        return out

    @staticmethod
    def grade(result: _Span | Result, target: Target) -> int:
        """2, 1 or 0 for one result against one target."""
        if result.doc_id != target.doc_id:
            return 0
        if any(result.start <= s and e <= result.end for s, e in target.evidence):
            return 2
        if target.clause is None or result.clause == target.clause:
            return 1
        overlap = min(result.end, target.end) - max(result.start, target.start)
        shorter = min(result.end - result.start, target.end - target.start)
        return 1 if shorter > 0 and 2 * overlap >= shorter else 0

    def gains(self, targets: Sequence[Target], results: Sequence[_Span | Result]) -> list[int]:
        """The gain of each result in order, each target credited at most once."""
        credited: set[int] = set()
        gains = []
        for r in results:
            best, which = 0, -1
            for i, t in enumerate(targets):
                if i not in credited:
                    g = self.grade(r, t)
                    if g > best:
                        best, which = g, i
            if which >= 0:
                credited.add(which)
            gains.append(best)
        return gains


# --- metrics (pure) -------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def hit_at_k(first_ranks: Sequence[int | None], k: int) -> float | None:
    """Share of questions with a relevant result at rank ≤ k; None for no questions."""
    return _mean([1.0 if r is not None and r <= k else 0.0 for r in first_ranks])


def mrr_at_k(first_ranks: Sequence[int | None], k: int = MRR_DEPTH) -> float | None:
    """Mean of 1/rank of the first relevant result, 0 when it is below rank k or absent."""
    return _mean([1.0 / r if r is not None and r <= k else 0.0 for r in first_ranks])


def ndcg_at_k(gains: Sequence[int], ideal: Sequence[int], k: int = K) -> float:
    """nDCG of one ranking: linear gains, discount log2(rank + 1); 0 when nothing can be gained."""

    def dcg(gs: Sequence[int]) -> float:
        return sum(g / math.log2(i + 2) for i, g in enumerate(gs[:k]))

    best = dcg(sorted(ideal, reverse=True))
    return dcg(gains) / best if best > 0 else 0.0


def prefer_at_1(top_docs: Sequence[str | None], preferred: Sequence[str]) -> float | None:
    """Share of questions whose rank-1 result is in the document the gold set prefers."""
    return _mean([1.0 if t == p else 0.0 for t, p in zip(top_docs, preferred, strict=True)])


def abstention_rates(
    abstained: Sequence[bool], should_abstain: Sequence[bool]
) -> tuple[float | None, float | None, float | None]:
    """(precision, recall, false-abstain rate); None where the denominator is empty.

    Precision: of the abstentions, how many were on questions the documents do not cover.
    Recall: of those questions, how many were abstained on. False-abstain rate: of the answerable
    questions, how many were abstained on.
    """
    pairs = list(zip(abstained, should_abstain, strict=True))
    tp = sum(1 for a, s in pairs if a and s)
    predicted = sum(1 for a, _ in pairs if a)
    positives = sum(1 for _, s in pairs if s)
    negatives = len(pairs) - positives
    fa = sum(1 for a, s in pairs if a and not s)
    return (
        tp / predicted if predicted else None,
        tp / positives if positives else None,
        fa / negatives if negatives else None,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100), linearly interpolated between closest ranks; None if empty."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else None


# --- outcomes and their summary -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One question answered by one configuration."""

    qid: str
    config: str
    split: str
    kind: str
    should_abstain: bool
    abstained: bool
    first_rank: int | None  # of the first relevant result, up to 10; None for abstain questions too
    gains: tuple[int, ...]  # of the k=5 results
    ideal: tuple[int, ...]
    top_doc: str | None
    prefer_doc: str | None
    latency_ms: float
    top: tuple[dict[str, object], ...] = field(default=())  # the k=5 results, briefly


def summarise(outcomes: Sequence[Outcome]) -> Metrics:
    """Every metric in ``METRICS`` over a set of outcomes (None where no question applies)."""
    answerable = [o for o in outcomes if not o.should_abstain]
    ranks = [o.first_rank for o in answerable]
    preferring = [o for o in answerable if o.prefer_doc is not None]
    precision, recall, false_rate = abstention_rates(
        [o.abstained for o in outcomes], [o.should_abstain for o in outcomes]
    )
    latencies = [o.latency_ms for o in outcomes]
    return {
        "hit_at_1": hit_at_k(ranks, 1),
        "hit_at_5": hit_at_k(ranks, K),
        "mrr_at_10": mrr_at_k(ranks, MRR_DEPTH),
        "ndcg_at_5": _mean([ndcg_at_k(o.gains, o.ideal, K) for o in answerable]),
        "prefer_at_1": prefer_at_1([o.top_doc for o in preferring], [str(o.prefer_doc) for o in preferring]),
        "abstain_precision": precision,
        "abstain_recall": recall,
        "false_abstain_rate": false_rate,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }


def abstention_counts(outcomes: Sequence[Outcome]) -> Metrics:
    """Abstention over a set of outcomes, with the counts behind its rates (``ABSTENTION_KEYS``).

    ``declined`` counts the answerable questions abstained on; ``false_abstain_rate`` is their
    share of the answerable questions, the rate a resident with a real question is turned away.
    """
    abstained = [o.abstained for o in outcomes]
    should = [o.should_abstain for o in outcomes]
    precision, recall, false_rate = abstention_rates(abstained, should)
    return {  # counts stay integers, through ``rounded`` too
        "n": len(outcomes),
        "should_abstain": sum(should),
        "abstained": sum(abstained),
        "right_abstentions": sum(1 for o in outcomes if o.abstained and o.should_abstain),
        "declined": sum(1 for o in outcomes if o.abstained and not o.should_abstain),
        "abstain_precision": precision,
        "abstain_recall": recall,
        "false_abstain_rate": false_rate,
    }


def rounded(m: Metrics) -> Metrics:
    """The metrics as ``qa eval`` prints and saves them: 4 decimals, latencies to 0.1 ms."""
    return {k: (None if v is None else round(v, 1 if k.endswith("_ms") else 4)) for k, v in m.items()}


# --- conversations, turn by turn (asked by qa.evaluation.conversations) ----------------------------

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


# --- one run --------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    """Every outcome of one run of the gold set, and what the run used."""

    outcomes: list[Outcome]
    gold: list[GoldQuestion]
    settings: Settings
    embedder_id: str
    # The values the run used: "weights", "thresholds", and "file" and "provenance" of corpus/tuned.json.
    tuning: dict[str, Any]
    # The full pipeline's answer quality by split (qa.evaluation.answers); empty when not measured.
    answers: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # The conversations, turn by turn, through the full pipeline (qa.evaluation.conversations).
    turns: list[TurnOutcome] = field(default_factory=list)

    def select(self, config: str, split: str | None = None, kind: str | None = None) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if o.config == config and (split is None or o.split == split) and (kind is None or o.kind == kind)
        ]

    def metrics(self) -> dict[str, Any]:
        """The ``qa eval --json`` object: splits, kinds and abstention by kind for the full pipeline,
        configurations on test, the conversations turn by turn per split, and the tuned values'
        file and provenance."""
        return {
            "n": len(self.gold),
            "splits": {s: rounded(summarise(self.select("full", s))) for s in SPLITS},
            "by_kind": {k: rounded(summarise(self.select("full", kind=k))) for k in self.kinds()},
            "configs": {c: rounded(summarise(self.select(c, "test"))) for c in self.configs()},
            "abstention_by_kind": {
                k: rounded(abstention_counts(self.select("full", kind=k))) for k in self.kinds()
            },
            "tuned": {"file": self.tuning.get("file"), "provenance": self.tuning.get("provenance")},
            **({"answers": self.answers} if self.answers else {}),
            **({"conversations": conversation_metrics(self.turns)} if self.turns else {}),
        }

    def configs(self) -> list[str]:
        """The configurations the run answered, in the order it answered them."""
        return list(dict.fromkeys(o.config for o in self.outcomes))

    def kinds(self) -> list[str]:
        """The gold set's kinds, in ``KINDS`` order, then any others alphabetically."""
        present = {q.kind for q in self.gold}
        return [k for k in KINDS if k in present] + sorted(present - set(KINDS))


# --- formatting -----------------------------------------------------------------------------------


def format_metric(v: object, key: str = "") -> str:
    """One metric value for a table: — for None, 0.1 ms for latencies, 3 decimals otherwise."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.1f}" if key.endswith("_ms") else f"{v:.3f}"
    return str(v)


def format_values(d: Mapping[str, object]) -> str:
    """Tuned values on one line, ``name = value, …``; — when there are none."""
    return ", ".join(f"{k} = {v}" for k, v in d.items()) or "—"
