"""``qa tune``: grid-search the retrieval weights and abstention thresholds on the dev split.

``tune`` searches every field of ``qa.tuned.Weights`` and ``qa.tuned.Thresholds`` named in ``GRID``
against the gold set's DEV split only, so the test split stays the honest figure. ``qa tune``
writes what it finds to ``corpus/tuned.json`` (``qa.tuned.save_tuned``) with a provenance: the
date, the commit, the split, the grid and the dev objective before and after; every entry point
reads that file when it starts. ``qa tune --dry-run`` prints the same and writes nothing.
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

from qa.evaluation.gold import GoldQuestion, load_gold
from qa.evaluation.metrics import METRICS, Judge, K, Metrics, format_metric, format_values, summarise
from qa.evaluation.report import git_commit
from qa.evaluation.run import askers, score_question
from qa.settings import Settings
from qa.tuned import TUNED_FILE, Thresholds, Tuned, Weights, save_tuned

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.embedders import Embedder

__all__ = ["GRID", "TuningResult", "tune", "provenance", "cli_tune"]


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


def provenance(result: TuningResult, grid: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """How the values were found, as ``corpus/tuned.json`` records it: date, commit, split, grid, objective."""
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "split": "dev",
        "n_questions": result.n_dev,
        "method": f"grid search by qa tune; objective {OBJECTIVE}; thresholds by abstention mistakes",
        "grid": {k: list(v) for k, v in grid.items()},
        "objective": {k: round(v, 4) for k, v in result.objective.items()},
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
    result = tune(assistant, load_gold(), GRID, progress=sys.stderr.isatty())
    tuned = result.tuned(provenance(result, GRID))
    path: Path | None = None if dry_run else save_tuned(settings.corpus_dir, tuned)
    if getattr(args, "json", False):
        out = {
            "file": None if path is None else str(path),
            "weights": asdict(tuned.weights),
            "thresholds": asdict(tuned.thresholds),
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
    if path is None:
        print(f"--dry-run: {settings.corpus_dir / TUNED_FILE} is unchanged.")
    else:
        print(f"Written to {path}; every entry point reads it when it starts.")
    return 0
