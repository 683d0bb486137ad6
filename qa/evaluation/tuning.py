"""``qa tune``: grid-search the retrieval weights, abstention and follow-up thresholds on the dev split.

``tune`` searches every field of ``qa.tuned.Weights`` and ``qa.tuned.Thresholds`` named in ``GRID``
against the gold set's DEV split only, so the test split stays the honest figure. ``qa tune``
writes what it finds to ``corpus/tuned.json`` (``qa.tuned.save_tuned``) with a provenance: the
date, the commit, the split, the grid and the dev objective before and after; every entry point
reads that file when it starts. ``qa tune --dry-run`` prints the same and writes nothing.

``tune_followups`` calibrates ``qa.tuned.FollowUps`` on the DEV split of the conversations
(``eval/conversations.jsonl``): the thresholds that decide whether a later turn follows on, by its
carry-over mistakes, and the carried-over subject's boost, by the follow-ups' hit@1.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.evaluation.conversations import ask_conversations
from qa.evaluation.gold import Conversation, GoldQuestion, load_conversations, load_gold
from qa.evaluation.metrics import (
    METRICS,
    Judge,
    K,
    Metrics,
    format_metric,
    format_values,
    summarise,
    summarise_turns,
)
from qa.evaluation.report import git_commit
from qa.evaluation.run import askers, score_question
from qa.settings import Settings
from qa.tuned import TUNED_FILE, FollowUps, Thresholds, Tuned, Weights, save_tuned

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.embedders import Embedder

__all__ = [
    "GRID",
    "FOLLOWUP_GRID",
    "TuningResult",
    "FollowUpTuning",
    "tune",
    "tune_followups",
    "provenance",
    "followup_provenance",
    "cli_tune",
]


@dataclass(frozen=True)
class TuningResult:
    weights: Weights
    thresholds: Thresholds
    before: Metrics  # dev metrics with the values the search started from
    after: Metrics  # dev metrics with the tuned values
    best_weights: Weights  # the plain argmax, for comparison
    objective: dict[str, float]  # dev objective: "before", "after", "best"
    n_dev: int  # dev questions the search read

    def tuned(self, provenance: Mapping[str, object] | None = None) -> Tuned:
        """The values found, as ``corpus/tuned.json`` holds them."""
        return Tuned(self.weights, self.thresholds, provenance)


# Each field of ``Weights`` or ``Thresholds`` named here is searched; a field not named (or a name
# the dataclasses no longer have) keeps its value, so the search follows the retriever as it changes.
GRID: dict[str, tuple[float, ...]] = {
    "dense": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "draft_penalty": (0.0, 0.4, 0.8, 1.2, 1.6),
    "unit_boost": (0.0, 0.25, 0.5, 0.75, 1.0),
    "doc_boost": (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
    "min_dense": tuple(round(0.80 + 0.005 * i, 3) for i in range(25)),
    "min_bm25": tuple(0.5 * i for i in range(31)),
    "off_topic_bm25": (6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 20.0),
    "off_topic_lead": (0.0, 0.005, 0.01, 0.02, 0.03, 1.0),
}
# A false abstention tells someone with a real question "not covered"; a missed one shows a
# related clause to someone whose question is not covered. The first is the worse mistake.
_FALSE_ABSTAIN_COST = 2.0
OBJECTIVE = "hit@1 + MRR@10 + nDCG@5 + prefer@1 on the answerable dev questions"


class _MemoEmbedder:
    """Wraps an embedder so a grid search embeds each question once, not once per grid point."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        self._queries: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._queries]
        if missing:
            for t, v in zip(missing, self.inner.embed_queries(missing), strict=True):
                self._queries[t] = v
        return np.vstack([self._queries[t] for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)


def _objective(m: Metrics) -> float:
    # Rank-1 quality first: hit@1, MRR, nDCG and the draft/final preference weigh the same.
    return sum(m[k] or 0.0 for k in ("hit_at_1", "mrr_at_10", "ndcg_at_5", "prefer_at_1"))


def _steps_from(
    values: Mapping[str, float], start: Mapping[str, float], grid: Mapping[str, Sequence[float]]
) -> float:
    """Distance from the starting point in grid steps, so ties keep the values closest to it."""
    total = 0.0
    for k, v in values.items():
        g = grid[k]
        step = (max(g) - min(g)) / (len(g) - 1) if len(g) > 1 else 1.0
        total += abs(v - start[k]) / (step or 1.0)
    return total


def _candidates(start: Any, grid: Mapping[str, Sequence[float]]) -> Iterator[tuple[Any, dict[str, float]]]:
    """Every combination of the grid's values for the fields of the dataclass ``start``."""
    names = [f for f in asdict(start) if f in grid]
    for values in itertools.product(*(grid[n] for n in names)):
        chosen = dict(zip(names, values, strict=True))
        yield replace(start, **chosen), chosen


@contextlib.contextmanager
def _using(assistant: Assistant, weights: Weights, thresholds: Thresholds) -> Iterator[None]:
    old_w, old_t = assistant.retriever.weights, assistant.thresholds
    assistant.retriever.weights, assistant.thresholds = weights, thresholds
    try:
        yield
    finally:
        assistant.retriever.weights, assistant.thresholds = old_w, old_t


def tune(
    assistant: Assistant,
    gold: Sequence[GoldQuestion],
    grid: Mapping[str, Sequence[float]] | None = None,
    progress: bool = False,
) -> TuningResult:
    """Grid-search the retrieval weights and abstention thresholds on the DEV split of ``gold`` only.

    Weights are scored for rank quality (hit@1 + MRR@10 + nDCG@5 + prefer@1) on the answerable dev
    questions, thresholds by their abstention mistakes on dev (a false abstention counts twice).
    Of the values within one question's worth of the best, the nearest to the assistant's current
    values wins: they move only for a gain larger than one question. Weights do not change the
    signals abstention reads, so the two searches are independent. The assistant is left with the
    values it had.

    Raises:
        ValueError: ``gold`` has no dev question.
    """
    from qa.answer import abstains
    from qa.query import parse_query

    grid = GRID if grid is None else grid
    dev = [q for q in gold if q.split == "dev"]
    if not dev:
        raise ValueError("the gold set has no dev question to tune on")
    judge = Judge(assistant.collection)
    targets = {q.id: judge.targets(q) for q in dev}
    start_w, start_a = assistant.retriever.weights, assistant.thresholds

    def dev_metrics(weights: Weights, thresholds: Thresholds) -> Metrics:
        with _using(assistant, weights, thresholds):
            asker = askers(["full"], assistant, None)["full"]
            return summarise([score_question(q, "full", asker, judge, targets[q.id]) for q in dev])

    before = dev_metrics(start_w, start_a)
    start = {**asdict(start_w), **asdict(start_a)}
    scored = []
    combos = list(_candidates(start_w, grid))
    for i, (w, chosen) in enumerate(combos, start=1):
        scored.append((_objective(dev_metrics(w, start_a)), _steps_from(chosen, start, grid), w))
        if progress:
            print(f"\rweights {i}/{len(combos)}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    best_objective = max(o for o, _, _ in scored)
    best_w = _nearest_within(scored, best_objective - _one_question(dev), higher_is_better=True)

    # The signals abstention reads, once per question; the candidate thresholds decide on them.
    signals = []
    for q in dev:
        query = parse_query(q.question, assistant.settings.max_question_chars, assistant.lexicon)
        signals.append((q.abstain, assistant.retriever.search(query, K, None, "full")[1]))
    costs = [
        (
            sum(
                (_FALSE_ABSTAIN_COST if not should else 1.0)
                for should, sig in signals
                if abstains(sig, a) != should
            ),
            _steps_from(chosen, start, grid),
            a,
        )
        for a, chosen in _candidates(start_a, grid)
    ]
    best_a = _nearest_within(costs, min(c for c, _, _ in costs) + 1.0, higher_is_better=False)
    after = dev_metrics(best_w, best_a)
    argmax = max(scored, key=lambda c: (c[0], -c[1]))[2]
    objective = {"before": _objective(before), "after": _objective(after), "best": best_objective}
    return TuningResult(best_w, best_a, before, after, argmax, objective, len(dev))


# Each field of ``FollowUps`` named here is searched; the decision thresholds against the carry-over
# mistakes of the dev conversations' later turns, the subject's boost against the follow-ups' hit@1.
FOLLOWUP_GRID: dict[str, tuple[float, ...]] = {
    "plan_words": (1.0, 2.0, 3.0, 4.0),
    "new_words": (2.0, 3.0, 4.0, 5.0, 6.0),
    "own_words": (3.0, 4.0, 5.0, 6.0, 8.0),
    "own_bm25": (8.0, 10.0, 12.0, 15.0, 20.0, 30.0),
    "subject_boost": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0),
}
_DECISION_FIELDS = ("plan_words", "new_words", "own_words", "own_bm25")
# A new topic answered about the old subject gives a wrong clause under a line that claims it
# follows on; a missed follow-up is searched as if asked alone. The first misleads more.
_WRONG_CARRY_OVER_COST = 2.0


@dataclass(frozen=True)
class FollowUpTuning:
    followups: FollowUps
    before: dict[str, float | None]  # dev: carry-over mistakes and follow-up hit@1 with the start values
    after: dict[str, float | None]
    n_turns: int  # later turns of the dev conversations


def _dev_figures(assistant: Assistant, dev: Sequence[Conversation]) -> dict[str, float | None]:
    turns = ask_conversations(assistant, dev)
    later = [t for t in turns if t.turn > 1]
    f = summarise_turns(turns)
    return {
        "carry_over_mistakes": float(sum(1 for t in later if t.followed != t.should_follow)),
        "wrong_carry_over": f["new_topics"]["wrong_carry_over"],
        "follow_ups_hit_at_1": f["follow_ups"]["hit_at_1"],
    }


def tune_followups(
    assistant: Assistant,
    conversations: Sequence[Conversation],
    grid: Mapping[str, Sequence[float]] | None = None,
) -> FollowUpTuning:
    """Calibrate ``FollowUps`` on the DEV conversations only; the assistant keeps its values.

    Each later turn is read once against the context of the assistant's own answer to the turn
    before (with the starting values); the decision thresholds are scored by the carry-over
    mistakes they make on those readings (a wrong carry-over counts twice), then the subject's
    boost by the follow-ups' hit@1 over whole conversations. As in ``tune``, of the values within
    one turn's worth of the best, the nearest to the starting values wins.

    Raises:
        ValueError: no dev conversation.
    """
    from qa.conversation import follows
    from qa.query import parse_query

    grid = FOLLOWUP_GRID if grid is None else grid
    dev = [c for c in conversations if c.split == "dev"]
    if not dev:
        raise ValueError("the conversations have no dev dialogue to tune on")
    conversation = assistant.conversation
    start = conversation.thresholds
    before = _dev_figures(assistant, dev)
    readings = []
    for c in dev:
        context: Any = None
        for n, turn in enumerate(c.turns, start=1):
            query = parse_query(turn.question, assistant.settings.max_question_chars, assistant.lexicon)
            carried = conversation.read_context(context, query.english)
            if n > 1 and carried is not None and carried.clauses:
                hits, signals = assistant.retriever.search(query, K, None, "full")
                readings.append((turn.follows, conversation.reading(query, carried, hits, signals)))
            context = assistant.ask(turn.question, k=K, context=context).to_dict()["context"]
    decision_grid = {k: v for k, v in grid.items() if k in _DECISION_FIELDS}
    begin = asdict(start)
    costs = [
        (
            sum(
                (_WRONG_CARRY_OVER_COST if not should else 1.0)
                for should, reading in readings
                if follows(reading, candidate) != should
            ),
            _steps_from(chosen, begin, decision_grid),
            candidate,
        )
        for candidate, chosen in _candidates(start, decision_grid)
    ]
    decided: FollowUps = _nearest_within(costs, min(c for c, _, _ in costs) + 1.0, higher_is_better=False)
    n_follow = max(1, sum(1 for c in dev for t in c.turns if t.follows))
    boosts = []
    try:
        for candidate, chosen in _candidates(
            decided, {k: v for k, v in grid.items() if k == "subject_boost"}
        ):
            conversation.thresholds = candidate
            hit = _dev_figures(assistant, dev)["follow_ups_hit_at_1"] or 0.0
            boosts.append((hit, _steps_from(chosen, begin, grid), candidate))
        best = (
            _nearest_within(boosts, max(h for h, _, _ in boosts) - 1.0 / n_follow, higher_is_better=True)
            if boosts
            else decided
        )
        conversation.thresholds = best
        after = _dev_figures(assistant, dev)
    finally:
        conversation.thresholds = start
    return FollowUpTuning(best, before, after, len(readings))


def _one_question(dev: Sequence[GoldQuestion]) -> float:
    """How far one answerable question can move the objective: 1/n on each of its four metrics."""
    return 4.0 / max(1, sum(1 for q in dev if not q.abstain))


def _nearest_within(scored: Sequence[tuple[float, float, Any]], bound: float, higher_is_better: bool) -> Any:
    """Of the candidates no worse than ``bound``, the one nearest the defaults (then the best).

    With about a hundred dev questions, values that differ by one question's worth are noise:
    moving the defaults for them would fit the dev split, not the questions people ask.
    """
    sign = 1.0 if higher_is_better else -1.0
    eligible = [c for c in scored if sign * (c[0] - bound) >= -1e-12]
    return min(eligible, key=lambda c: (round(c[1], 9), -sign * c[0]))[2]


def provenance(
    result: TuningResult,
    grid: Mapping[str, Sequence[float]],
    followups: FollowUpTuning | None = None,
    followup_grid: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """How the values were found, as ``corpus/tuned.json`` records it: date, commit, split, grid, objective."""
    out: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "split": "dev",
        "n_questions": result.n_dev,
        "method": f"grid search by qa tune; objective {OBJECTIVE}; thresholds by abstention mistakes",
        "grid": {k: list(v) for k, v in grid.items()},
        "objective": {k: round(v, 4) for k, v in result.objective.items()},
    }
    if followups is not None:
        out["followups"] = followup_provenance(followups, followup_grid or FOLLOWUP_GRID)
    return out


def followup_provenance(found: FollowUpTuning, grid: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """How the follow-up thresholds were found: split, turns, method, grid, dev figures before and after."""
    return {
        "split": "dev",
        "n_turns": found.n_turns,
        "method": "decision thresholds by the carry-over mistakes of the dev conversations' later "
        "turns (a wrong carry-over counts twice); subject_boost by the dev follow-ups' hit@1",
        "grid": {k: list(v) for k, v in grid.items()},
        "before": {k: None if v is None else round(v, 4) for k, v in found.before.items()},
        "after": {k: None if v is None else round(v, 4) for k, v in found.after.items()},
    }


def _assistant(settings: Settings) -> Assistant:
    """The assistant a search runs on: each question is embedded once, not once per grid point."""
    from qa.assistant import Assistant
    from qa.embedders import load_embedder

    return Assistant(settings, embedder=_MemoEmbedder(load_embedder(settings.embedder)))


def cli_tune(args: argparse.Namespace, settings: Settings) -> int:
    """``qa tune [--dry-run] [--json]``: search on dev, write ``corpus/tuned.json`` (not with --dry-run)."""
    dry_run = bool(getattr(args, "dry_run", False))
    assistant = _assistant(settings)
    if getattr(args, "followups_only", False):
        return _cli_tune_followups(assistant, settings, dry_run, bool(getattr(args, "json", False)))
    result = tune(assistant, load_gold(), GRID, progress=sys.stderr.isatty())
    with _using(assistant, result.weights, result.thresholds):  # follow-ups on the tuned retrieval
        followups = tune_followups(assistant, load_conversations(), FOLLOWUP_GRID)
    tuned = replace(
        result.tuned(provenance(result, GRID, followups, FOLLOWUP_GRID)), followups=followups.followups
    )
    path: Path | None = None if dry_run else save_tuned(settings.corpus_dir, tuned)
    if getattr(args, "json", False):
        out = {
            "file": None if path is None else str(path),
            "weights": asdict(tuned.weights),
            "thresholds": asdict(tuned.thresholds),
            "followups": asdict(tuned.followups),
            "provenance": dict(tuned.provenance or {}),
            "before": result.before,
            "after": result.after,
            "best_weights": asdict(result.best_weights),
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"Tuned on the dev split only ({result.n_dev} questions):")
    print(f"  Weights:    {format_values(asdict(result.weights))}")
    print(f"  Thresholds: {format_values(asdict(result.thresholds))}")
    o = result.objective
    print(
        f"  Dev objective (hit@1 + MRR@10 + nDCG@5 + prefer@1): {o['before']:.4f} -> {o['after']:.4f}; "
        f"the plain best, {o['best']:.4f}, is at {format_values(asdict(result.best_weights))}"
    )
    print(f"  {'metric':<20}{'before':>10}{'after':>10}")
    for k in METRICS:
        if not k.endswith("_ms"):
            print(f"  {k:<20}{format_metric(result.before[k]):>10}{format_metric(result.after[k]):>10}")
    print(f"  Follow-ups: {format_values(asdict(tuned.followups))} ({followups.n_turns} later dev turns)")
    for k in followups.before:
        print(f"  {k:<20}{format_metric(followups.before[k]):>10}{format_metric(followups.after[k]):>10}")
    if path is None:
        print(f"--dry-run: {settings.corpus_dir / TUNED_FILE} is unchanged.")
    else:
        print(f"Written to {path}; every entry point reads it when it starts.")
    return 0


def _cli_tune_followups(assistant: Assistant, settings: Settings, dry_run: bool, as_json: bool) -> int:
    """``qa tune --followups-only``: calibrate the follow-up section alone; weights and abstention
    thresholds, and so every single question's answer, stay as they are."""
    found = tune_followups(assistant, load_conversations(), FOLLOWUP_GRID)
    old = assistant.tuned
    section = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": git_commit(),
        **followup_provenance(found, FOLLOWUP_GRID),
    }
    tuned = replace(
        old, followups=found.followups, provenance={**(old.provenance or {}), "followups": section}
    )
    path: Path | None = None if dry_run else save_tuned(settings.corpus_dir, tuned)
    if as_json:
        out = {"file": None if path is None else str(path), "followups": asdict(tuned.followups), **section}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"Follow-ups tuned on the dev conversations only ({found.n_turns} later turns):")
    print(f"  {format_values(asdict(tuned.followups))}")
    for k in found.before:
        print(f"  {k:<20}{format_metric(found.before[k]):>10}{format_metric(found.after[k]):>10}")
    print(
        f"--dry-run: {settings.corpus_dir / TUNED_FILE} is unchanged."
        if path is None
        else f"Written to {path}."
    )
    return 0
