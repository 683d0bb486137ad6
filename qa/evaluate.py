"""The gold-set run: every question of ``eval/gold.jsonl`` through ``Assistant.ask``, scored.

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
k=10 need not be the k=5 answer). Questions marked ``abstain`` count only in the abstention
metrics; an answerable question the assistant abstains on is still scored on its listed results
and also counts as a false abstention. Latency is ``time.perf_counter`` around the k=5 call.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.documents import Collection, load_collection
from qa.settings import REPO_ROOT, Settings, load_settings
from qa.structure import parse_clauses

if TYPE_CHECKING:
    from qa.answer import Answer, Assistant, Result
    from qa.baseline import Baseline
    from qa.embedders import Embedder

__all__ = [
    "GoldQuestion",
    "Relevant",
    "Target",
    "Judge",
    "Outcome",
    "EvalRun",
    "Tuned",
    "CONFIGS",
    "METRICS",
    "load_gold",
    "hit_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "prefer_at_1",
    "abstention_rates",
    "percentile",
    "summarise",
    "run",
    "report",
    "thresholds_from",
    "check_thresholds",
    "tune",
    "cli_eval",
    "main",
]

EVAL_DIR = REPO_ROOT / "eval"
GOLD_PATH = EVAL_DIR / "gold.jsonl"
THRESHOLDS_PATH = EVAL_DIR / "thresholds.json"
CONFIGS = ("bm25", "dense", "hybrid", "full", "baseline")
SPLITS = ("dev", "test")
KINDS = ("citizen", "staff", "process", "version", "english", "traditional", "typo", "out-of-scope")
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
_K = 5
_MRR_DEPTH = 10
_WARM_UP = "城市管理精细化"  # not a gold question: loads jieba and the engine before the clock runs

Metrics = dict[str, float | None]


# --- the gold set ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relevant:
    doc_id: str
    clause: int | str | None  # task number, part id, or None: any chunk of the document


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    kind: str
    split: str
    relevant: tuple[Relevant, ...]
    evidence: tuple[str, ...]
    prefer_doc: str | None
    abstain: bool


def load_gold(path: Path = GOLD_PATH) -> list[GoldQuestion]:
    """The gold questions, in file order.

    Raises:
        ValueError: a line is not a JSON object with the gold fields; names the line.
    """
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            questions.append(
                GoldQuestion(
                    id=d["id"],
                    question=d["question"],
                    kind=d["kind"],
                    split=d["split"],
                    relevant=tuple(Relevant(r["doc_id"], r["clause"]) for r in d["relevant"]),
                    evidence=tuple(d["evidence"]),
                    prefer_doc=d["prefer_doc"],
                    abstain=bool(d["abstain"]),
                )
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{n}: not a gold question ({err!r}); see eval/README.md") from err
    return questions


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


def mrr_at_k(first_ranks: Sequence[int | None], k: int = _MRR_DEPTH) -> float | None:
    """Mean of 1/rank of the first relevant result, 0 when it is below rank k or absent."""
    return _mean([1.0 / r if r is not None and r <= k else 0.0 for r in first_ranks])


def ndcg_at_k(gains: Sequence[int], ideal: Sequence[int], k: int = _K) -> float:
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


# --- one run --------------------------------------------------------------------------------------


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
        "hit_at_5": hit_at_k(ranks, _K),
        "mrr_at_10": mrr_at_k(ranks, _MRR_DEPTH),
        "ndcg_at_5": _mean([ndcg_at_k(o.gains, o.ideal, _K) for o in answerable]),
        "prefer_at_1": prefer_at_1([o.top_doc for o in preferring], [str(o.prefer_doc) for o in preferring]),
        "abstain_precision": precision,
        "abstain_recall": recall,
        "false_abstain_rate": false_rate,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }


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
            "splits": {s: _rounded(summarise(self.select("full", s))) for s in SPLITS},
            "by_kind": {k: _rounded(summarise(self.select("full", kind=k))) for k in self._kinds()},
            "configs": {c: _rounded(summarise(self.select(c, "test"))) for c in self._configs()},
        }

    def _configs(self) -> list[str]:
        present = {o.config for o in self.outcomes}
        return [c for c in CONFIGS if c in present]

    def _kinds(self) -> list[str]:
        present = {q.kind for q in self.gold}
        return [k for k in KINDS if k in present] + sorted(present - set(KINDS))


def _rounded(m: Metrics) -> Metrics:
    return {k: (None if v is None else round(v, 1 if k.endswith("_ms") else 4)) for k, v in m.items()}


Asker = Callable[[str, int], "Answer"]


def _score(
    q: GoldQuestion, config: str, ask: Asker, judge: Judge, targets: Sequence[Target] | None = None
) -> Outcome:
    targets = judge.targets(q) if targets is None else targets
    started = time.perf_counter()
    answer = ask(q.question, _K)
    latency = (time.perf_counter() - started) * 1000
    gains = judge.gains(targets, answer.results)
    first = next((i for i, g in enumerate(gains, start=1) if g > 0), None)
    if first is None and targets:
        deeper = judge.gains(targets, ask(q.question, _MRR_DEPTH).results)
        first = next((i for i, g in enumerate(deeper, start=1) if g > 0 and i > _K), None)
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


def _mode_asker(assistant: Assistant, mode: str) -> Asker:
    def ask(question: str, k: int) -> Answer:
        return assistant.ask(question, k=k, mode=mode)

    return ask


def _askers(configs: Sequence[str], assistant: Assistant, baseline: Baseline | None) -> dict[str, Asker]:
    askers: dict[str, Asker] = {}
    for c in configs:
        if c == "baseline":
            if baseline is None:
                raise ValueError("the baseline configuration needs a Baseline")
            askers[c] = baseline.ask
        elif c in CONFIGS:
            askers[c] = _mode_asker(assistant, c)
        else:
            raise ValueError(f"unknown configuration {c!r}; choose from {', '.join(CONFIGS)}")
    return askers


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
    from qa.answer import Abstention, Assistant
    from qa.retrieve import Weights

    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    settings = settings or (assistant.settings if assistant is not None else load_settings())
    assistant = assistant or Assistant(settings)
    if "baseline" in configs and baseline is None:
        from qa.baseline import Baseline

        baseline = Baseline(settings, assistant.embedder)
    askers = _askers(configs, assistant, baseline)
    all_gold = list(gold) if gold is not None else load_gold()
    questions = [q for q in all_gold if split is None or q.split == split]
    judge = Judge(assistant.collection)
    targets = {q.id: judge.targets(q) for q in questions}
    outcomes = []
    for name, ask in askers.items():
        ask(_WARM_UP, _K)
        for i, q in enumerate(questions, start=1):
            outcomes.append(_score(q, name, ask, judge, targets[q.id]))
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
            "abstention": asdict(assistant.abstention)
            if isinstance(assistant.abstention, Abstention)
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

    def rounded(x: float | None, how: str) -> float | None:
        return None if x is None else float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=how))

    return {
        "config": "full",
        "split": "test",
        "min": {k: rounded(metrics[k], ROUND_FLOOR) for k in _MINIMUMS},
        "max": {k: rounded(metrics[k], ROUND_CEILING) for k in _MAXIMUMS},
    }


def check_thresholds(metrics: Mapping[str, float | None], thresholds: Mapping[str, Any]) -> list[str]:
    """One line per metric that misses its gate (empty when all pass); a missing metric misses."""
    failures = []
    for key, floor in thresholds.get("min", {}).items():
        value = metrics.get(key)
        if floor is not None and (value is None or value < floor):
            failures.append(f"{key} = {_fmt(value)} is below the minimum {floor}")
    for key, ceiling in thresholds.get("max", {}).items():
        value = metrics.get(key)
        if ceiling is not None and (value is None or value > ceiling):
            failures.append(f"{key} = {_fmt(value)} is above the maximum {ceiling}")
    return failures


# --- report ---------------------------------------------------------------------------------------

_KIND_ZH = {
    "citizen": "市民",
    "staff": "工作人员",
    "process": "程序",
    "version": "版本",
    "english": "英文",
    "traditional": "繁体",
    "typo": "错别字",
    "out-of-scope": "范围外",
}
_CONFIG_ZH = {"bm25": "仅BM25", "dense": "仅向量", "hybrid": "混合", "full": "完整", "baseline": "朴素基线"}
_CONFIG_NOTE = {
    "bm25": "BM25 over jieba words only",
    "dense": "e5 vectors only",
    "hybrid": "dense + BM25 fused, question taken literally",
    "full": "hybrid + everyday→official wording, clause/lead-unit/version routing, abstention (the product)",
    "baseline": "LangChain recipe: 250/50 default-separator pieces, same embedder, FAISS, no abstention",
}


def _fmt(v: object, key: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.1f}" if key.endswith("_ms") else f"{v:.3f}"
    return str(v)


def _table(
    rows: Mapping[str, Mapping[str, float | None]], first: str, counts: Mapping[str, int]
) -> list[str]:
    head = [first, "n", *METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in rows.items():
        lines.append(
            "| " + " | ".join([name, str(counts.get(name, "")), *(_fmt(m[k], k) for k in METRICS)]) + " |"
        )
    return lines


def _git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{sha} (with uncommitted changes)" if dirty else sha


def _describe(collection: Collection, q: GoldQuestion, o: Outcome) -> str:
    expected = ", ".join(f"{r.doc_id}#{r.clause if r.clause is not None else '*'}" for r in q.relevant)
    got = "nothing"
    if o.top:
        t = o.top[0]
        doc = collection.get(str(t["doc_id"]))
        start, end = int(str(t["start"])), int(str(t["end"]))
        snippet = doc.text[start:end].replace("\n", " ")[:40]
        got = f"{t['doc_id']}#{t['clause'] if t['clause'] is not None else '*'} 「{snippet}…」"
    rank = o.first_rank if o.first_rank is not None else ">10"
    flag = " (abstained)" if o.abstained else ""
    return f"| {q.id} | {q.kind} | {q.question} | {expected} | {got}{flag} | {rank} |"


def report(run_: EvalRun, directory: Path = EVAL_DIR) -> dict[str, Any]:
    """Write REPORT.md, results.json and report.png into ``directory``; returns the metrics object."""
    directory.mkdir(parents=True, exist_ok=True)
    metrics = run_.metrics()
    collection = load_collection(run_.settings.corpus_dir)
    gold = {q.id: q for q in run_.gold}
    now = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    commit = _git_commit()
    count = {s: sum(1 for q in run_.gold if q.split == s) for s in SPLITS}
    kind_count = {k: sum(1 for q in run_.gold if q.kind == k) for k in run_._kinds()}
    by_config = {s: {c: _rounded(summarise(run_.select(c, s))) for c in run_._configs()} for s in SPLITS}
    s = run_.settings
    lines = [
        "# Evaluation report",
        "",
        f"- Date: {now}",
        f"- Commit: {commit}",
        f"- Embedder: `{run_.embedder_id}` (settings `{s.embedder}`)",
        f"- Chunking: chunk_size {s.chunk_size}, chunk_overlap {s.chunk_overlap}; k = {_K} (MRR looks to 10)",
        f"- Retrieval weights: {_kv(run_.tuning.get('weights', {}))}",
        f"- Abstention thresholds: {_kv(run_.tuning.get('abstention', {}))}",
        f"- Gold set: {len(run_.gold)} questions, dev {count['dev']} / test {count['test']} "
        "(`eval/gold.jsonl`; see `eval/README.md`)",
        "",
        "Written by `qa eval`. Relevance: a result counts when it is the relevant clause (or any chunk of a",
        "relevant document whose clause is null), or covers at least half of that clause, or contains an",
        "evidence string at its place in that clause; nDCG@5 gains 2 for evidence, 1 for the clause only.",
        "Each relevant clause is credited once. Details: the docstring of `qa/evaluate.py`.",
        "Weights and abstention thresholds were tuned on the dev split only (`python -m qa.evaluate --tune`);",
        "the test split is the honest figure.",
        "Latency is the wall time of one `ask` on the machine that wrote this report, whatever else it was",
        "running; p95 over ~70 questions is a handful of calls and jumps with load, so compare p50s.",
        "",
        "## Full pipeline by split",
        "",
        *_table({sp: metrics["splits"][sp] for sp in SPLITS}, "split", count),
        "",
        "## Configurations on the test split",
        "",
        *_table(metrics["configs"], "config", {c: count["test"] for c in metrics["configs"]}),
        "",
        *(f"- `{c}`: {_CONFIG_NOTE[c]}" for c in metrics["configs"]),
        "",
        "## Configurations on the dev split (the split the defaults were tuned on)",
        "",
        *_table(by_config["dev"], "config", {c: count["dev"] for c in by_config["dev"]}),
        "",
        "## Full pipeline by kind (dev and test together)",
        "",
        *_table(metrics["by_kind"], "kind", kind_count),
        "",
        "![hit@1 and hit@5 by kind and by configuration](report.png)",
        "",
        "## Test-split questions the full pipeline misses at rank 1",
        "",
        "| id | kind | question | relevant | rank 1 | first relevant rank |",
        "|---|---|---|---|---|---|",
    ]
    misses = [o for o in run_.select("full", "test") if not o.should_abstain and o.first_rank != 1]
    lines += [_describe(collection, gold[o.qid], o) for o in misses] or ["| — | | none | | | |"]
    wrong_abstain = [o for o in run_.select("full") if o.abstained != o.should_abstain]
    lines += [
        "",
        "## Abstention mistakes of the full pipeline (both splits)",
        "",
        "| id | split | question | should abstain | abstained |",
        "|---|---|---|---|---|",
        *(
            f"| {o.qid} | {o.split} | {gold[o.qid].question} | {o.should_abstain} | {o.abstained} |"
            for o in wrong_abstain
        ),
    ]
    if not wrong_abstain:
        lines.append("| — | | none | | |")
    (directory / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")

    results = {
        "date": now,
        "commit": commit,
        "embedder": run_.embedder_id,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(run_.settings).items()},
        "tuning": run_.tuning,
        "metrics": metrics,
        "configs_by_split": by_config,
        "questions": [
            {
                **{k: v for k, v in asdict(q).items()},
                "configs": {
                    o.config: {
                        "first_rank": o.first_rank,
                        "abstained": o.abstained,
                        "latency_ms": round(o.latency_ms, 2),
                        "gains": list(o.gains),
                        "ideal": list(o.ideal),
                        "results": list(o.top),
                    }
                    for o in run_.outcomes
                    if o.qid == q.id
                },
            }
            for q in run_.gold
        ],
    }
    (directory / "results.json").write_text(_json_lines(results), encoding="utf-8")
    _plot(metrics, directory / "report.png")
    return metrics


def _json_lines(results: Mapping[str, Any]) -> str:
    """Readable JSON that diffs well: the summary indented, then one line per question."""
    head = json.dumps({k: v for k, v in results.items() if k != "questions"}, ensure_ascii=False, indent=1)
    rows = ",\n".join(json.dumps(q, ensure_ascii=False) for q in results["questions"])
    return f'{head[:-2]},\n "questions": [\n{rows}\n ]\n}}\n'


def _kv(d: Mapping[str, object]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in d.items()) or "—"


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    for name in ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC"):
        if any(f.name == name for f in font_manager.fontManager.ttflist):
            return name
    return None


def _plot(metrics: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; the file is all that is wanted
    import matplotlib.pyplot as plt

    font = _cjk_font()
    zh = font is not None
    with plt.rc_context():  # the font settings stay inside this chart
        if font is not None:
            plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
            plt.rcParams["axes.unicode_minus"] = False
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [8, 5]})
        panels = [
            (
                axes[0],
                metrics["by_kind"],
                _KIND_ZH,
                "完整流程,按问题类型(dev+test)" if zh else "Full pipeline by kind (dev+test)",
            ),
            (
                axes[1],
                metrics["configs"],
                _CONFIG_ZH,
                "各配置,test 集" if zh else "Configurations, test split",
            ),
        ]
        for ax, rows, names, title in panels:
            rows = {k: v for k, v in rows.items() if v["hit_at_1"] is not None}
            x = np.arange(len(rows))
            for offset, key, label in ((-0.2, "hit_at_1", "hit@1"), (0.2, "hit_at_5", "hit@5")):
                ax.bar(x + offset, [v[key] for v in rows.values()], width=0.4, label=label)
            ax.set_xticks(x, [names.get(k, k) if zh else k for k in rows], rotation=20)
            ax.set_ylim(0, 1.2)  # room above the bars for the legend
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.set_title(title)
            ax.grid(axis="y", alpha=0.3)
            ax.legend(loc="upper center", ncol=2, frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


# --- tuning on the dev split ----------------------------------------------------------------------


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
    old_w, old_a = assistant.retriever.weights, assistant.abstention
    assistant.retriever.weights = weights  # type: ignore[assignment]
    assistant.abstention = abstention  # type: ignore[assignment]
    try:
        yield
    finally:
        assistant.retriever.weights, assistant.abstention = old_w, old_a


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
    from qa.answer import Abstention, Assistant
    from qa.embedders import load_embedder
    from qa.query import parse_query
    from qa.retrieve import Weights

    grid = GRID if grid is None else grid
    if assistant is None:
        settings = load_settings()
        assistant = Assistant(settings, embedder=_MemoEmbedder(load_embedder(settings.embedder)))
    dev = [q for q in (gold if gold is not None else load_gold()) if q.split == "dev"]
    judge = Judge(assistant.collection)
    targets = {q.id: judge.targets(q) for q in dev}
    start_w, start_a = assistant.retriever.weights, assistant.abstention

    def dev_metrics(weights: object, abstention: object) -> Metrics:
        with _using(assistant, weights, abstention):
            asker = _askers(["full"], assistant, None)["full"]
            return summarise([_score(q, "full", asker, judge, targets[q.id]) for q in dev])

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
        signals.append((q.abstain, assistant.retriever.search(query, _K, None, "full")[1]))
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
    assert isinstance(best_w, Weights) and isinstance(best_a, Abstention) and isinstance(argmax, Weights)
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
            print(row([name, *(_fmt(m[k], k) for k in METRICS)]))
        print()


def cli_eval(args: argparse.Namespace, settings: Settings) -> int:
    """``qa eval``: run the gold set, print the table (or ``--json``), write the report, gate."""
    run_ = run(CONFIGS, settings=settings, progress=sys.stderr.isatty())
    if getattr(args, "no_write", False):
        metrics = run_.metrics()
    else:
        metrics = report(run_)
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
    tuned = tune(progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(asdict(tuned), ensure_ascii=False, indent=2))
        return 0
    print("Tuned on the dev split only:")
    print(f"  Weights:    {_kv(tuned.weights)}")
    print(f"  Abstention: {_kv(tuned.abstention)}")
    o = tuned.objective
    print(
        f"  Dev objective (hit@1 + MRR@10 + nDCG@5 + prefer@1): {o['before']:.4f} -> {o['after']:.4f}; "
        f"the plain best, {o['best']:.4f}, is at {_kv(tuned.best_weights)}"
    )
    print(f"  {'metric':<20}{'before':>10}{'after':>10}")
    for k in METRICS:
        if not k.endswith("_ms"):
            print(f"  {k:<20}{_fmt(tuned.before[k]):>10}{_fmt(tuned.after[k]):>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
