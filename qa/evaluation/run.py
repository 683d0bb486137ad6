"""The gold-set run and ``qa eval``: every question of ``eval/gold.jsonl`` through ``Assistant.ask``, scored.

Each configuration in ``CONFIGS`` (BM25 only, vectors only, the two fused, the full pipeline, and
the naive ``qa.evaluation.baseline``) answers every gold question with ``ask(question, k=5)``, timed
with ``time.perf_counter`` after one warm-up question; when the top 5 hold nothing relevant, the
question is asked again with k=10 for MRR@10. ``qa.evaluation.metrics`` judges the results, holds
the relevance rule and the run's record (``EvalRun``); ``qa.evaluation.report`` writes
``eval/REPORT.md``, ``results.json`` and ``report.png``; ``check_thresholds`` is the gate of
``qa eval --check`` against ``eval/thresholds.json``. The dev-split tuner is
``qa.evaluation.tuning`` (``qa tune``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from qa.evaluation.answers import score_answers
from qa.evaluation.conversations import ask_conversations
from qa.evaluation.gold import (
    EVAL_DIR,
    SPLITS,
    THRESHOLDS_PATH,
    Conversation,
    GoldQuestion,
    load_conversations,
    load_gold,
)
from qa.evaluation.metrics import (
    ABSTENTION_KEYS,
    METRICS,
    MRR_DEPTH,
    EvalRun,
    Judge,
    K,
    Outcome,
    Target,
    format_metric,
    summarise,
)
from qa.evaluation.report import describe_tuned, repo_path, write_report
from qa.settings import Settings, load_settings

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.assistant import Assistant
    from qa.evaluation.baseline import Baseline
    from qa.retrieve import Mode

__all__ = [
    "CONFIGS",
    "Asker",
    "score_question",
    "askers",
    "run",
    "thresholds_from",
    "check_thresholds",
    "tuned_source",
    "cli_eval",
]

# The full pipeline with one of its newer parts switched off, for the ablation table.
ABLATIONS = ("full-no-focus", "full-no-glossary", "full-no-sentence")
CONFIGS = ("bm25", "dense", "hybrid", "full", *ABLATIONS, "baseline")
_WARM_UP = "城市管理精细化"  # not a gold question: loads jieba and the engine before the clock runs


# --- one question ---------------------------------------------------------------------------------


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


def ablated(assistant: Assistant, config: str) -> Assistant:
    """A view of ``assistant`` with one part switched off: the long message's focus, the English
    glossary, or the best-sentence score. It shares the index and everything else loaded."""
    from qa.retrieve import Retriever

    view = copy.copy(assistant)
    weights = assistant.retriever.weights
    if config == "full-no-glossary":
        view.lexicon = dataclasses.replace(assistant.lexicon, glossary=())
        return view
    part = {"full-no-focus": "focus", "full-no-sentence": "sentence"}[config]
    view.retriever = copy.copy(assistant.retriever)
    view.retriever.weights = dataclasses.replace(weights, **{part: 0.0})
    assert isinstance(view.retriever, Retriever)
    return view


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
        elif c in ABLATIONS:
            out[c] = _mode_asker(ablated(assistant, c), "full")
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
    conversations: Sequence[Conversation] | None = None,
    progress: bool = False,
) -> EvalRun:
    """Every gold question (of ``split``, or both) through every configuration, in one process;
    with the full pipeline, every conversation too, turn by turn (``qa.evaluation.conversations``).

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
        from qa.evaluation.baseline import Baseline

        baseline = Baseline(settings, assistant.embedder)
    by_config = askers(configs, assistant, baseline)
    all_gold = list(gold) if gold is not None else load_gold()
    questions = [q for q in all_gold if split is None or q.split == split]
    judge = Judge(assistant.collection)
    targets = {q.id: judge.targets(q) for q in questions}
    recorded: dict[str, Answer] = {}
    if "full" in by_config:
        by_config["full"] = _recording(by_config["full"], recorded)
    outcomes = []
    for name, ask in by_config.items():
        ask(_WARM_UP, K)
        for i, q in enumerate(questions, start=1):
            outcomes.append(score_question(q, name, ask, judge, targets[q.id]))
            if progress:
                print(f"\r{name:<9} {i}/{len(questions)}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
    turns = []
    if "full" in by_config:
        dialogues = list(conversations) if conversations is not None else load_conversations()
        turns = ask_conversations(assistant, dialogues, split)
    weights = assistant.retriever.weights
    answers = {
        split: score_answers(
            recorded.__getitem__,
            [q for q in questions if q.split == split],
            assistant.lexicon.english,
        )
        for split in SPLITS
        if recorded and any(q.split == split for q in questions)
    }
    return EvalRun(
        outcomes,
        list(questions) if split else all_gold,
        settings,
        assistant.embedder.id,
        {
            "weights": asdict(weights) if isinstance(weights, Weights) else {},
            "thresholds": asdict(assistant.thresholds)
            if isinstance(assistant.thresholds, Thresholds)
            else {},
            "followups": asdict(assistant.conversation.thresholds),
            **tuned_source(assistant),
        },
        answers,
        turns,
    )


def _recording(ask: Asker, recorded: dict[str, Answer]) -> Asker:
    """``ask`` that keeps each question's k=5 answer, so the answer quality is scored on the very
    answers the ranking metrics scored, without asking again."""

    def inner(question: str, k: int) -> Answer:
        answer = ask(question, k)
        if k == K:
            recorded[question] = answer
        return answer

    return inner


def tuned_source(assistant: Assistant) -> dict[str, Any]:
    """Where the assistant's weights and thresholds came from: ``{"file", "provenance"}``.

    ``file`` is ``corpus/tuned.json`` (relative to the repository when it lies inside it) when the
    assistant runs on exactly what that file holds, else None: no file (the code defaults), or
    values handed to ``Assistant`` or set by a search.
    """
    from qa.tuned import TUNED_FILE, load_tuned

    path = assistant.settings.corpus_dir / TUNED_FILE
    tuned = assistant.tuned
    in_use = (assistant.retriever.weights, assistant.thresholds, assistant.conversation.thresholds) == (
        tuned.weights,
        tuned.thresholds,
        tuned.followups,
    )
    if not (in_use and path.is_file() and load_tuned(path.parent) == tuned):
        return {"file": None, "provenance": dict(tuned.provenance) if tuned.provenance else None}
    return {"file": repo_path(path), "provenance": dict(tuned.provenance or {})}


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
    if metrics.get("conversations"):
        print("对话 · 逐轮 (conversations, turn by turn; later turns carry the previous answer's context)")
        keys = ("n", "hit_at_1", "hit_at_5", "followed", "wrong_carry_over")
        print("  ".join(c.ljust(16) for c in ("split / turns", *keys)))
        for split, f in metrics["conversations"].items():
            for group in ("first", "follow_ups", "new_topics"):
                cells = [f"{split} {group}", *(format_metric(f[group].get(k)) for k in keys)]
                print("  ".join(c.ljust(16) for c in cells))
            print(f"{split} carry-over accuracy: {format_metric(f['carry_over_accuracy'])}")
        print()
    abstention_widths = [14, *(max(8, len(c)) for c in ABSTENTION_KEYS)]
    print("完整流程 · 按问题类型的拒答 (abstention of the full pipeline by kind, dev+test)")
    print("  ".join(c.ljust(w) for c, w in zip(["", *ABSTENTION_KEYS], abstention_widths, strict=True)))
    for name, m in metrics["abstention_by_kind"].items():
        cells = [name, *(format_metric(m[k], k) for k in ABSTENTION_KEYS)]
        print("  ".join(c.ljust(w) for c, w in zip(cells, abstention_widths, strict=True)))
    print()
    print(f"调优参数 (tuned values): {describe_tuned(metrics['tuned'])}")


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
        if metrics.get("answers"):
            print("\n回答质量 (answer quality, full pipeline)")
            for split, values in metrics["answers"].items():
                print(f"  {split}: " + ", ".join(f"{k} {format_metric(v, k)}" for k, v in values.items()))
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
