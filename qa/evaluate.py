"""The gold-set run: every question of ``eval/gold.jsonl`` through ``Assistant.ask``, scored.

Each configuration in ``CONFIGS`` (BM25 only, vectors only, the two fused, the full pipeline, and
the naive ``qa.baseline``) answers every gold question with ``ask(question, k=5)``, timed with
``time.perf_counter`` after one warm-up question; when the top 5 hold nothing relevant, the
question is asked again with k=10 for MRR@10. ``qa.metrics`` judges the results and holds the
relevance rule; ``qa.report`` writes ``eval/REPORT.md``, ``results.json`` and ``report.png``;
``check_thresholds`` is the gate of ``qa eval --check`` against ``eval/thresholds.json``. The
dev-split tuner is ``qa.tuning`` (``python -m qa.evaluate --tune`` runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from qa.gold import EVAL_DIR, KINDS, SPLITS, THRESHOLDS_PATH, GoldQuestion, load_gold
from qa.metrics import METRICS, MRR_DEPTH, Judge, K, Outcome, Target, rounded, summarise
from qa.report import format_metric, write_report
from qa.settings import Settings, load_settings

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.assistant import Assistant
    from qa.baseline import Baseline
    from qa.retrieve import Mode

__all__ = [
    "CONFIGS",
    "EvalRun",
    "Asker",
    "score_question",
    "askers",
    "run",
    "thresholds_from",
    "check_thresholds",
    "cli_eval",
    "main",
]

CONFIGS = ("bm25", "dense", "hybrid", "full", "baseline")
_WARM_UP = "城市管理精细化"  # not a gold question: loads jieba and the engine before the clock runs


# --- one run --------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    outcomes: list[Outcome]
    gold: list[GoldQuestion]
    settings: Settings
    embedder_id: str
    tuning: dict[str, dict[str, float]]  # the Weights and Abstention values the run used

    def select(self, config: str, split: str | None = None, kind: str | None = None) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if o.config == config and (split is None or o.split == split) and (kind is None or o.kind == kind)
        ]

    def metrics(self) -> dict[str, Any]:
        """The ``qa eval --json`` object: splits and kinds for the full pipeline, configs on test."""
        return {
            "n": len(self.gold),
            "splits": {s: rounded(summarise(self.select("full", s))) for s in SPLITS},
            "by_kind": {k: rounded(summarise(self.select("full", kind=k))) for k in self.kinds()},
            "configs": {c: rounded(summarise(self.select(c, "test"))) for c in self.configs()},
        }

    def configs(self) -> list[str]:
        """The configurations the run answered, in ``CONFIGS`` order."""
        present = {o.config for o in self.outcomes}
        return [c for c in CONFIGS if c in present]

    def kinds(self) -> list[str]:
        """The gold set's kinds, in ``KINDS`` order, then any others alphabetically."""
        present = {q.kind for q in self.gold}
        return [k for k in KINDS if k in present] + sorted(present - set(KINDS))


Asker = Callable[[str, int], "Answer"]


def score_question(
    q: GoldQuestion, config: str, ask: Asker, judge: Judge, targets: Sequence[Target] | None = None
) -> Outcome:
    """Ask one gold question at k=5 (and k=10 when the top 5 miss), time it, and judge the results."""
    targets = judge.targets(q) if targets is None else targets
    started = time.perf_counter()
    answer = ask(q.question, K)
    latency = (time.perf_counter() - started) * 1000
    gains = judge.gains(targets, answer.results)
    first = next((i for i, g in enumerate(gains, start=1) if g > 0), None)
    if first is None and targets:
        deeper = judge.gains(targets, ask(q.question, MRR_DEPTH).results)
        first = next((i for i, g in enumerate(deeper, start=1) if g > 0 and i > K), None)
    top = answer.results[0].doc_id if answer.results else None
    return Outcome(
        qid=q.id,
        config=config,
        split=q.split,
        kind=q.kind,
        should_abstain=q.abstain,
        abstained=answer.abstained,
        first_rank=first if targets else None,
        gains=tuple(gains),
        ideal=tuple(sorted((t.best_grade for t in targets), reverse=True)),
        top_doc=top,
        prefer_doc=q.prefer_doc,
        latency_ms=latency,
        top=tuple(
            {"doc_id": r.doc_id, "clause": r.clause, "start": r.start, "end": r.end, "gain": g}
            for r, g in zip(answer.results, gains, strict=True)
        ),
    )


def _mode_asker(assistant: Assistant, mode: Mode) -> Asker:
    def ask(question: str, k: int) -> Answer:
        return assistant.ask(question, k=k, mode=mode)

    return ask


def askers(configs: Sequence[str], assistant: Assistant, baseline: Baseline | None) -> dict[str, Asker]:
    """One ``ask(question, k)`` per configuration: the assistant in that mode, or the baseline.

    Raises:
        ValueError: an unknown configuration, or ``baseline`` without a ``Baseline``.
    """
    out: dict[str, Asker] = {}
    for c in configs:
        if c == "baseline":
            if baseline is None:
                raise ValueError("the baseline configuration needs a Baseline")
            out[c] = baseline.ask
        elif c in CONFIGS:
            out[c] = _mode_asker(assistant, c)  # type: ignore[arg-type]
        else:
            raise ValueError(f"unknown configuration {c!r}; choose from {', '.join(CONFIGS)}")
    return out


def run(
    configs: Sequence[str] = CONFIGS,
    split: str | None = None,
    *,
    settings: Settings | None = None,
    assistant: Assistant | None = None,
    baseline: Baseline | None = None,
    gold: Sequence[GoldQuestion] | None = None,
    progress: bool = False,
) -> EvalRun:
    """Every gold question (of ``split``, or both) through every configuration, in one process.

    One ``Assistant`` answers the four modes; the baseline shares its embedder. Each configuration
    answers one warm-up question first, so the first timed question does not pay for loading.

    Raises:
        ValueError: an unknown configuration or split.
    """
    from qa.assistant import Assistant
    from qa.tuned import Thresholds, Weights

    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    settings = settings or (assistant.settings if assistant is not None else load_settings())
    assistant = assistant or Assistant(settings)
    if "baseline" in configs and baseline is None:
        from qa.baseline import Baseline

        baseline = Baseline(settings, assistant.embedder)
    by_config = askers(configs, assistant, baseline)
    all_gold = list(gold) if gold is not None else load_gold()
    questions = [q for q in all_gold if split is None or q.split == split]
    judge = Judge(assistant.collection)
    targets = {q.id: judge.targets(q) for q in questions}
    outcomes = []
    for name, ask in by_config.items():
        ask(_WARM_UP, K)
        for i, q in enumerate(questions, start=1):
            outcomes.append(score_question(q, name, ask, judge, targets[q.id]))
            if progress:
                print(f"\r{name:<9} {i}/{len(questions)}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
    weights = assistant.retriever.weights
    return EvalRun(
        outcomes,
        list(questions) if split else all_gold,
        settings,
        assistant.embedder.id,
        {
            "weights": asdict(weights) if isinstance(weights, Weights) else {},
            "abstention": asdict(assistant.thresholds)
            if isinstance(assistant.thresholds, Thresholds)
            else {},
        },
    )


# --- thresholds -----------------------------------------------------------------------------------

_MINIMUMS = ("hit_at_1", "hit_at_5", "mrr_at_10", "prefer_at_1", "abstain_recall")
_MAXIMUMS = ("false_abstain_rate",)


def thresholds_from(metrics: Mapping[str, float | None]) -> dict[str, Any]:
    """Gate values for what a run reached: minimums rounded down to 2 decimals, the maximum up.

    Rounding a maximum down would fail the very run it came from, so it goes up instead.
    ``Decimal(repr(x))`` rounds the printed value: 0.57 stays 0.57 although 0.57 * 100 < 57.
    """

    def two_places(x: float | None, how: str) -> float | None:
        return None if x is None else float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=how))

    return {
        "config": "full",
        "split": "test",
        "min": {k: two_places(metrics[k], ROUND_FLOOR) for k in _MINIMUMS},
        "max": {k: two_places(metrics[k], ROUND_CEILING) for k in _MAXIMUMS},
    }


def check_thresholds(metrics: Mapping[str, float | None], thresholds: Mapping[str, Any]) -> list[str]:
    """One line per metric that misses its gate (empty when all pass); a missing metric misses."""
    failures = []
    for key, floor in thresholds.get("min", {}).items():
        value = metrics.get(key)
        if floor is not None and (value is None or value < floor):
            failures.append(f"{key} = {format_metric(value)} is below the minimum {floor}")
    for key, ceiling in thresholds.get("max", {}).items():
        value = metrics.get(key)
        if ceiling is not None and (value is None or value > ceiling):
            failures.append(f"{key} = {format_metric(value)} is above the maximum {ceiling}")
    return failures


# --- command line ---------------------------------------------------------------------------------


def _print_table(metrics: Mapping[str, Any]) -> None:
    cols = ["", *METRICS]
    widths = [14, *(max(10, len(c)) for c in METRICS)]

    def row(cells: Iterable[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    for title, rows in (
        ("完整流程 · 按数据划分 (full pipeline by split)", metrics["splits"]),
        ("各配置 · test 集 (configurations, test split)", metrics["configs"]),
        ("完整流程 · 按问题类型 (full pipeline by kind, dev+test)", metrics["by_kind"]),
    ):
        print(title)
        print(row(cols))
        for name, m in rows.items():
            print(row([name, *(format_metric(m[k], k) for k in METRICS)]))
        print()


def cli_eval(args: argparse.Namespace, settings: Settings) -> int:
    """``qa eval``: run the gold set, print the table (or ``--json``), write the report, gate."""
    run_ = run(CONFIGS, settings=settings, progress=sys.stderr.isatty())
    if getattr(args, "no_write", False):
        metrics = run_.metrics()
    else:
        metrics = write_report(run_)
    if getattr(args, "json", False):
        print(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        _print_table(metrics)
        if not getattr(args, "no_write", False):
            print(f"报告已写入 {EVAL_DIR / 'REPORT.md'}、results.json、report.png")
    if getattr(args, "check", False):
        thresholds = json.loads(THRESHOLDS_PATH.read_text(encoding="utf-8"))
        failures = check_thresholds(summarise(run_.select("full", "test")), thresholds)
        if failures:
            print("评测未达标(full pipeline, test split; eval/thresholds.json):", file=sys.stderr)
            for line in failures:
                print(f"  - {line}", file=sys.stderr)
            return 1
        print("评测达标:full pipeline 在 test 集上达到 eval/thresholds.json 的全部门槛。", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qa.evaluate [--tune]``: the evaluation, or the dev-split grid search."""
    parser = argparse.ArgumentParser(prog="python -m qa.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--tune", action="store_true", help="grid-search weights and thresholds on dev")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if not args.tune:
        return cli_eval(args, load_settings())
    from qa.tuning import cli_tune  # here, not at the top: qa.tuning imports this module

    return cli_tune(args.json)


if __name__ == "__main__":
    sys.exit(main())
