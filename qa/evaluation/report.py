"""The evaluation report: ``eval/REPORT.md``, ``results.json`` and ``report.png`` from one run.

``REPORT.md`` is for people: the run's settings, its tuned values with the file they came from and
that file's provenance, the metric tables (full pipeline by split and by kind, every configuration
on each split, abstention by kind), the test questions the full pipeline misses at rank 1 and its
abstention mistakes. ``results.json`` holds the same metrics and, one line per question, what each
configuration returned, so two runs diff question by question.
``report.png`` draws hit@1 and hit@5 by kind and by configuration, with Chinese labels when a CJK
font is installed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from qa.documents import Collection, load_collection
from qa.evaluation.gold import EVAL_DIR, SPLITS, GoldQuestion
from qa.evaluation.metrics import (
    ABSTENTION_KEYS,
    METRICS,
    TURN_GROUPS,
    EvalRun,
    K,
    Outcome,
    format_metric,
    format_values,
    rounded,
    summarise,
)
from qa.settings import REPO_ROOT

__all__ = ["write_report", "describe_tuned", "git_commit", "repo_path"]

_KIND_ZH = {
    "citizen": "市民",
    "staff": "工作人员",
    "process": "程序",
    "version": "版本",
    "english": "英文",
    "traditional": "繁体",
    "typo": "错别字",
    "long": "长问题",
    "unrelated": "无关",
    "partial": "部分可答",
    "detail": "细节",
    "out-of-scope": "范围外",
}
_CONFIG_ZH = {"bm25": "仅BM25", "dense": "仅向量", "hybrid": "混合", "full": "完整", "baseline": "朴素基线"}
_CONFIG_NOTE = {
    "bm25": "BM25 over jieba words only",
    "dense": "e5 vectors only",
    "hybrid": "dense + BM25 fused, question taken literally",
    "full": "hybrid + everyday→official wording, clause/lead-unit/version routing, abstention (the product)",
    "baseline": "LangChain recipe: 250/50 default-separator pieces, same embedder, FAISS, no abstention",
    "full-no-focus": "the full pipeline reading a long message whole, without its asking sentence's focus",
    "full-no-glossary": "the full pipeline without the English glossary's plan words",
    "full-no-sentence": "the full pipeline without the best sentence's score in ranking",
}


def _table(
    rows: Mapping[str, Mapping[str, float | None]], first: str, counts: Mapping[str, int]
) -> list[str]:
    head = [first, "n", *METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in rows.items():
        lines.append(
            "| "
            + " | ".join([name, str(counts.get(name, "")), *(format_metric(m[k], k) for k in METRICS)])
            + " |"
        )
    return lines


def describe_tuned(tuned: Mapping[str, Any]) -> str:
    """The tuned values' file and provenance on one line, as ``qa eval`` and the report show them."""
    if tuned.get("file") is None:
        return "not from corpus/tuned.json (code defaults, or values set by the caller)"
    p = dict(tuned.get("provenance") or {})
    shown = {k: p.pop(k) for k in ("date", "commit", "split", "method") if k in p}
    objective = p.pop("objective", None)
    if isinstance(objective, Mapping) and "before" in objective and "after" in objective:
        shown["dev objective"] = f"{objective['before']} -> {objective['after']}"
    p.pop("grid", None)  # the grid is long: it is in the file
    shown.update(p)
    return f"`{tuned['file']}` ({format_values(shown) if shown else 'no provenance recorded'})"


def git_commit() -> str:
    """The short commit of the repository, marked when tracked files have uncommitted changes."""
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


def _abstention_table(rows: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    lines = ["| kind | " + " | ".join(ABSTENTION_KEYS) + " |", "|" + "---|" * (len(ABSTENTION_KEYS) + 1)]
    for name, m in rows.items():
        lines.append("| " + " | ".join([name, *(format_metric(m[k], k) for k in ABSTENTION_KEYS)]) + " |")
    return lines


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


def write_report(run_: EvalRun, directory: Path = EVAL_DIR) -> dict[str, Any]:
    """Write REPORT.md, results.json and report.png into ``directory``; returns the metrics object."""
    directory.mkdir(parents=True, exist_ok=True)
    metrics = run_.metrics()
    collection = load_collection(run_.settings.corpus_dir)
    gold = {q.id: q for q in run_.gold}
    now = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    commit = git_commit()
    count = {s: sum(1 for q in run_.gold if q.split == s) for s in SPLITS}
    kind_count = {k: sum(1 for q in run_.gold if q.kind == k) for k in run_.kinds()}
    by_config = {s: {c: rounded(summarise(run_.select(c, s))) for c in run_.configs()} for s in SPLITS}
    s = run_.settings
    lines = [
        "# Evaluation report",
        "",
        f"- Date: {now}",
        f"- Commit: {commit}",
        f"- Embedder: `{run_.embedder_id}` (settings `{s.embedder}`)",
        f"- Chunking: chunk_size {s.chunk_size}, chunk_overlap {s.chunk_overlap}; k = {K} (MRR looks to 10)",
        f"- Retrieval weights: {format_values(run_.tuning.get('weights', {}))}",
        f"- Abstention thresholds: {format_values(run_.tuning.get('thresholds', {}))}",
        f"- Follow-up thresholds: {format_values(run_.tuning.get('followups', {}))}",
        f"- Tuned values from: {describe_tuned(metrics['tuned'])}",
        f"- Gold set: {len(run_.gold)} questions, dev {count['dev']} / test {count['test']} "
        "(`eval/gold.jsonl`; see `eval/README.md`)",
        "",
        "Written by `qa eval`. Relevance: a result counts when it is the relevant clause (or any chunk of a",
        "relevant document whose clause is null), or covers at least half of that clause, or contains an",
        "evidence string at its place in that clause; nDCG@5 gains 2 for evidence, 1 for the clause only.",
        "Each relevant clause is credited once. Details: the docstring of `qa/evaluation/metrics.py`.",
        "Weights and abstention thresholds were tuned on the dev split only (`qa tune`, which writes",
        "`corpus/tuned.json` and records how in its provenance); the test split is the honest figure.",
        "Latency is the wall time of one `ask` on the machine that wrote this report, whatever else it was",
        f"running; the slowest 5% of {count['test']} test questions are a handful of calls and jump with load,",
        "so compare p50s.",
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
        "## Abstention of the full pipeline by kind (dev and test together)",
        "",
        "Precision: of the abstentions, the share on questions the documents do not cover. Recall: of",
        "those questions, the share declined. Declined rate (`false_abstain_rate`): of the answerable",
        "questions, the share declined.",
        "",
        *_abstention_table(metrics["abstention_by_kind"]),
        "",
        *_answers_section(metrics.get("answers", {})),
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
    lines += _conversation_lines(run_, metrics)
    (directory / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")

    results = {
        "date": now,
        "commit": commit,
        "embedder": run_.embedder_id,
        "settings": {k: repo_path(v) if isinstance(v, Path) else v for k, v in asdict(run_.settings).items()},
        "tuning": run_.tuning,
        "metrics": metrics,
        "configs_by_split": by_config,
        "turns": [asdict(t) for t in run_.turns],
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


def repo_path(path: Path) -> str:
    """A path inside the repository relative to it (the same in every checkout), another as it is."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def _conversation_lines(run_: EvalRun, metrics: Mapping[str, Any]) -> list[str]:
    """The conversations section: the turn-level figures per split and the test turns that went wrong."""
    figures = metrics.get("conversations")
    if not figures:
        return []
    n_conv = {s: len({t.conversation for t in run_.turns if t.split == s}) for s in SPLITS}
    lines = [
        "",
        "## Conversations, turn by turn",
        "",
        "`eval/conversations.jsonl`, asked in order; each turn after the first carries the context of the",
        "assistant's own answer to the turn before, as `qa chat` and `qa ask --context` do. `first`: the first",
        "turns, asked alone. `follow_ups`: turns without a subject of their own (那谁负责?); `followed` is the",
        "share the assistant took as follow-ups, `hit_at_1_after_right` their hit@1 when the turn before was",
        "right at rank 1. `new_topics`: later turns with a subject of their own; `wrong_carry_over` is the",
        "share answered as a follow-up. `carry_over_accuracy`: later turns followed when they should and",
        "answered afresh when they should. Details: the docstring of `qa/evaluation/conversations.py`.",
        "",
        "| split | conversations | turns | group | n | hit@1 | hit@5 | followed | abstained right | "
        "wrong carry-over | carry-over accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split in SPLITS:
        f = figures[split]
        for group in TURN_GROUPS:
            g = f[group]
            lines.append(
                f"| {split} | {n_conv[split]} | {sum(1 for t in run_.turns if t.split == split)} | {group} "
                f"| {g['n']} | {format_metric(g['hit_at_1'])} | {format_metric(g['hit_at_5'])} "
                f"| {format_metric(g['followed'])} | {format_metric(g['abstain_right'])} "
                f"| {format_metric(g.get('wrong_carry_over'))} | {format_metric(f['carry_over_accuracy'])} |"
            )
    for split in SPLITS:
        fu = figures[split]["follow_ups"]
        lines.append(
            f"\n{split}: follow-ups hit@1 {format_metric(fu['hit_at_1'])} "
            f"({format_metric(fu['hit_at_1_after_right'])} over the {fu['n_after_right']} whose previous turn "
            f"was right at rank 1); wrong carry-over {format_metric(figures[split]['new_topics']['wrong_carry_over'])}."
        )
    wrong = [
        t
        for t in run_.turns
        if t.split == "test"
        and t.turn > 1
        and (t.followed != t.should_follow or (not t.should_abstain and t.first_rank != 1))
    ]
    lines += [
        "",
        "### Test-split turns after the first that miss at rank 1 or carry over wrongly",
        "",
        "| conversation | turn | question | should follow | followed (subject) | rank 1 | first relevant rank |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {t.conversation} | {t.turn} | {t.question} | {t.should_follow} | {t.followed}"
            f"{f' ({t.subject})' if t.subject else ''} | {t.top or 'nothing'} "
            f"| {t.first_rank if t.first_rank is not None else '>5'} |"
            for t in wrong
        ),
    ]
    if not wrong:
        lines.append("| — | | none | | | | |")
    return lines


def _json_lines(results: Mapping[str, Any]) -> str:
    """Readable JSON that diffs well: the summary indented, then one line per question."""
    head = json.dumps({k: v for k, v in results.items() if k != "questions"}, ensure_ascii=False, indent=1)
    rows = ",\n".join(json.dumps(q, ensure_ascii=False) for q in results["questions"])
    return f'{head[:-2]},\n "questions": [\n{rows}\n ]\n}}\n'


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


def _answers_section(answers: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    """The answer-quality table (``qa.evaluation.answers``), one row per split."""
    if not answers:
        return []
    keys = list(next(iter(answers.values())))
    return [
        "## Answer quality of the full pipeline",
        "",
        "Coverage: precision and recall of `partial` (the documents cover the subject, not the detail",
        "asked) and `none` (not covered). `lead_evidence`: of the answered questions, the share whose lead",
        "sentence holds an evidence string. `draft_as_current`: leads quoting superseded text without",
        "saying so. `median_chars`: residents' answers before the cards.",
        "",
        "| split | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
        *(
            f"| {split} | " + " | ".join(format_metric(v, k) for k, v in values.items()) + " |"
            for split, values in answers.items()
        ),
        "",
    ]
