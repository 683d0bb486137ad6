"""Tuning on the dev split: grid-search the retrieval weights and abstention thresholds.

``tune`` searches every field of ``qa.retrieve.Weights`` and ``qa.answer.Abstention`` named in
``GRID`` against the gold set's DEV split only, so the test split stays the honest figure. It
prints the values it finds and changes nothing: the defaults (``Weights`` in ``qa/retrieve.py``,
``Abstention`` in ``qa/answer.py``) are edited by hand. ``python -m qa.tuning`` runs it, as does
``python -m qa.evaluate --tune``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.evaluate import askers, score_question
from qa.gold import GoldQuestion, load_gold
from qa.metrics import METRICS, Judge, K, Metrics, summarise
from qa.report import format_metric, format_values
from qa.settings import load_settings

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.embedders import Embedder

__all__ = ["GRID", "Tuned", "tune", "cli_tune", "main"]


@dataclass(frozen=True)
class Tuned:
    weights: dict[str, float]
    abstention: dict[str, float]
    before: Metrics  # dev metrics with the defaults the search started from
    after: Metrics  # dev metrics with the tuned values
    best_weights: dict[str, float]  # the plain argmax, for comparison
    objective: dict[str, float]  # dev objective: "before", "after", "best"


# Each field of ``Weights`` or ``Abstention`` named here is searched; a field not named (or a name
# the dataclasses no longer have) keeps its default, so the search follows the retriever as it changes.
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
def _using(assistant: Assistant, weights: object, abstention: object) -> Iterator[None]:
    old_w, old_a = assistant.retriever.weights, assistant.thresholds
    assistant.retriever.weights = weights  # type: ignore[assignment]
    assistant.thresholds = abstention  # type: ignore[assignment]
    try:
        yield
    finally:
        assistant.retriever.weights, assistant.thresholds = old_w, old_a


def tune(
    assistant: Assistant | None = None,
    gold: Sequence[GoldQuestion] | None = None,
    grid: Mapping[str, Sequence[float]] | None = None,
    progress: bool = False,
) -> Tuned:
    """Grid-search the retrieval weights and abstention thresholds on the DEV split only.

    Weights are scored for rank quality (hit@1 + MRR@10 + nDCG@5 + prefer@1) on the answerable dev
    questions, thresholds by their abstention mistakes on dev (a false abstention counts twice).
    Of the values within one question's worth of the best, the nearest to the current defaults
    wins: the defaults move only for a gain larger than one question. Weights do not change the
    signals abstention reads, so the two searches are independent.
    """
    from qa.assistant import Assistant
    from qa.embedders import load_embedder
    from qa.query import parse_query
    from qa.tuned import Thresholds, Weights

    grid = GRID if grid is None else grid
    if assistant is None:
        settings = load_settings()
        assistant = Assistant(settings, embedder=_MemoEmbedder(load_embedder(settings.embedder)))
    dev = [q for q in (gold if gold is not None else load_gold()) if q.split == "dev"]
    judge = Judge(assistant.collection)
    targets = {q.id: judge.targets(q) for q in dev}
    start_w, start_a = assistant.retriever.weights, assistant.thresholds

    def dev_metrics(weights: object, abstention: object) -> Metrics:
        with _using(assistant, weights, abstention):
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
                if a.abstains(sig) != should
            ),
            _steps_from(chosen, start, grid),
            a,
        )
        for a, chosen in _candidates(start_a, grid)
    ]
    best_a = _nearest_within(costs, min(c for c, _, _ in costs) + 1.0, higher_is_better=False)
    after = dev_metrics(best_w, best_a)
    argmax = max(scored, key=lambda c: (c[0], -c[1]))[2]
    assert isinstance(best_w, Weights) and isinstance(best_a, Thresholds) and isinstance(argmax, Weights)
    objective = {"before": _objective(before), "after": _objective(after), "best": best_objective}
    return Tuned(asdict(best_w), asdict(best_a), before, after, asdict(argmax), objective)


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


def cli_tune(as_json: bool = False) -> int:
    """Tune on dev and print the values found (``as_json``: the ``Tuned`` record as JSON)."""
    tuned = tune(progress=sys.stderr.isatty())
    if as_json:
        print(json.dumps(asdict(tuned), ensure_ascii=False, indent=2))
        return 0
    print("Tuned on the dev split only:")
    print(f"  Weights:    {format_values(tuned.weights)}")
    print(f"  Abstention: {format_values(tuned.abstention)}")
    o = tuned.objective
    print(
        f"  Dev objective (hit@1 + MRR@10 + nDCG@5 + prefer@1): {o['before']:.4f} -> {o['after']:.4f}; "
        f"the plain best, {o['best']:.4f}, is at {format_values(tuned.best_weights)}"
    )
    print(f"  {'metric':<20}{'before':>10}{'after':>10}")
    for k in METRICS:
        if not k.endswith("_ms"):
            print(f"  {k:<20}{format_metric(tuned.before[k]):>10}{format_metric(tuned.after[k]):>10}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qa.tuning [--json]``: the dev-split grid search."""
    parser = argparse.ArgumentParser(prog="python -m qa.tuning", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    return cli_tune(args.json)


if __name__ == "__main__":
    sys.exit(main())
