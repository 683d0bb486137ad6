"""HTML for the web page: answers with citation cards, clauses, and draft-versus-final diffs.

Pure functions from the assistant's dataclasses to HTML strings. Every piece of user or corpus
text goes through ``html.escape`` here and nowhere else is text put into markup, so a question
such as ``<img src=x onerror=alert(1)>`` is shown as the characters it is. Labels follow the
asker's language; the plan's words are always quoted as written (in Chinese).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from qa.answer import Answer, Result
from qa.compare import DiffSpan, TaskChange, TaskPair
from qa.documents import VERSION_LABELS, Collection, Document
from qa.plan_format import clause_label as task_label
from qa.structure import Clause

__all__ = [
    "CSS",
    "STATUS_LABELS",
    "badge",
    "clause_label",
    "render_question",
    "render_result",
    "render_answer",
    "render_notice",
    "render_clause",
    "render_diff",
    "render_pair",
    "render_changes",
]

_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "final": VERSION_LABELS["final"],
        "draft": VERSION_LABELS["draft"],
        "background": VERSION_LABELS[None],
        "lead": "牵头单位",
        "section": "章节",
        "full": "查看完整条款",
        "note": "版本说明",
        "sources": "引用的条款",
        "related": "可能相关",
        "abstained": "计划中没有直接回答这个问题的内容;以下条款可能相关,仅供参考。",
        "targets": "量化目标",
        "you": "问",
    },
    "en": {
        "final": "Final plan",
        "draft": "Draft (superseded)",
        "background": "Background",
        "lead": "Lead units",
        "section": "Section",
        "full": "Show the whole clause",
        "note": "Draft vs final",
        "sources": "Sources",
        "related": "Possibly related (可能相关)",
        "abstained": "The plan does not directly answer this; the clauses below may be related.",
        "targets": "Targets with numbers",
        "you": "Q",
    },
}

STATUS_LABELS = {
    "added": "新增",
    "removed": "删除",
    "renumbered": "调整序号",
    "merged": "合并",
    "changed": "修改",
    "same": "未变",
}

CSS = """
.qa-turn { font-size: 15px; line-height: 1.65; }
.qa-question { font-weight: 600; }
.qa-answer-text { margin: 0 0 .6em 0; padding: .5em .8em; border-left: 4px solid #2563eb;
  background: rgba(37, 99, 235, .06); border-radius: 4px; }
.qa-answer-text p { margin: .15em 0; }
.qa-heading { font-weight: 600; margin: .8em 0 .3em 0; }
.qa-abstained .qa-answer-text { border-left-color: #b45309; background: rgba(180, 83, 9, .07); }
.qa-notice { padding: .5em .8em; border: 1px solid #b45309; border-radius: 4px;
  background: rgba(180, 83, 9, .08); margin: .4em 0; }
.qa-card { border: 1px solid rgba(127, 127, 127, .35); border-radius: 6px; padding: .6em .8em;
  margin: .5em 0; }
.qa-card header { display: flex; flex-wrap: wrap; gap: .4em; align-items: baseline; }
.qa-rank { color: #6b7280; }
.qa-doc { font-weight: 600; }
.qa-badge { display: inline-block; font-size: 12px; padding: 0 .5em; border-radius: 999px;
  border: 1px solid currentColor; white-space: nowrap; }
.qa-badge-final { color: #15803d; }
.qa-badge-draft { color: #b45309; }
.qa-badge-background { color: #6b7280; }
.qa-clause-title { font-weight: 600; margin-top: .2em; }
.qa-meta { color: #4b5563; font-size: 13px; }
.qa-highlight { margin: .3em 0 !important; padding: .1em .7em !important; border-left: 3px solid #facc15; }
.qa-card mark, .qa-clause-text mark { background: #fef08a; color: inherit; padding: 0 1px; }
.qa-card details summary { cursor: pointer; color: #2563eb; font-size: 13px; }
.qa-clause-text { white-space: pre-wrap; margin: .3em 0; }
.qa-note { font-size: 13px; color: #92400e; margin-top: .3em; }
.qa-diff { width: 100%; border-collapse: collapse; table-layout: fixed; }
.qa-diff th, .qa-diff td { border: 1px solid rgba(127, 127, 127, .35); padding: .5em .7em;
  vertical-align: top; text-align: left; line-height: 1.7; }
.qa-diff td { white-space: pre-wrap; }
ins.qa-ins { background: #bbf7d0; color: #14532d; text-decoration: none; }
del.qa-del { background: #fecaca; color: #7f1d1d; }
.qa-reworded { outline: 1px dashed #92400e; }
.qa-legend { font-size: 13px; margin: .3em 0; }
.qa-muted { color: #6b7280; font-style: italic; }
.qa-changes { width: 100%; border-collapse: collapse; font-size: 14px; }
.qa-changes th, .qa-changes td { border: 1px solid rgba(127, 127, 127, .35); padding: .35em .5em;
  vertical-align: top; text-align: left; }
#qa-browse-table td, #qa-browse-table td * { font-family: var(--font) !important; }
.qa-changes td:nth-child(2), .qa-changes td:nth-child(3) { white-space: nowrap; }
.qa-reason { color: #1e40af; }
.qa-status { white-space: nowrap; font-weight: 600; }
.dark .qa-meta, .dark .qa-rank, .dark .qa-muted { color: #9ca3af; }
.dark .qa-note { color: #fbbf24; }
.dark .qa-reason { color: #93c5fd; }
.dark .qa-card mark, .dark .qa-clause-text mark, .dark ins.qa-ins, .dark del.qa-del { color: #111827; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _lines(text: str) -> str:
    return "<br>".join(_e(line) for line in text.split("\n"))


def _lang(english: bool) -> dict[str, str]:
    return _LABELS["en" if english else "zh"]


def badge(version: str | None, english: bool = False) -> str:
    """The version badge: 正式版 / 草案 / 背景材料 (Final plan / Draft / Background)."""
    kind = version if version in ("final", "draft") else "background"
    return f'<span class="qa-badge qa-badge-{kind}">{_e(_lang(english)[kind])}</span>'


def clause_label(clause: int | str | None, title: str, english: bool = False) -> str:
    """Plain text: "第10项 升级…" for a task, "一、title" for a numbered part, else the title."""
    if isinstance(clause, int):
        label = task_label(clause, english)
        return f"{label[:1].upper()}{label[1:]} {title}"
    if clause:
        return f"{clause}、{title}" if title else str(clause)
    return title


def render_question(question: str, english: bool = False) -> str:
    return f'<div class="qa-turn qa-question">{_e(_lang(english)["you"])}:{_lines(question)}</div>'


def render_result(result: Result, doc: Document, english: bool = False) -> str:
    """One citation card: document and badge, task and title, lead units, highlight, clause, note.

    ``doc`` is the document the result quotes (its title as a citation shows it).
    """
    lab = _lang(english)
    text, hs, he = result.text, result.highlight_start, result.highlight_end
    marked = f"{_e(text[:hs])}<mark>{_e(text[hs:he])}</mark>{_e(text[he:])}"
    parts = [
        f'<article class="qa-card" data-doc="{_e(result.doc_id)}" data-clause="{_e(result.clause)}">',
        "<header>",
        f'<span class="qa-rank">{result.rank}.</span>',
        f'<span class="qa-doc">{_e(doc.cite_title)}</span>',
        badge(result.version, english),
        "</header>",
        f'<div class="qa-clause-title">{_e(clause_label(result.clause, result.title, english))}</div>',
    ]
    if result.section:
        parts.append(f'<div class="qa-meta">{_e(lab["section"])}:{_e(result.section)}</div>')
    if result.lead_units:
        parts.append(f'<div class="qa-meta">{_e(lab["lead"])}:{_e("、".join(result.lead_units))}</div>')
    parts.append(f'<blockquote class="qa-highlight">{_e(result.highlight)}</blockquote>')
    parts.append(
        f'<details><summary>{_e(lab["full"])}</summary><div class="qa-clause-text">{marked}</div></details>'
    )
    if result.version_note:
        parts.append(f'<div class="qa-note">{_e(lab["note"])}:{_e(result.version_note)}</div>')
    parts.append("</article>")
    return "".join(parts)


def render_notice(message: str) -> str:
    return f'<div class="qa-notice">{_lines(message)}</div>'


def render_answer(
    answer: Answer, collection: Collection, english: bool | None = None, notice: str | None = None
) -> str:
    """The plan's own words, then one card per result; an abstention lists them as 可能相关.

    Labels follow the question's language unless ``english`` says otherwise.
    """
    english = answer.english if english is None else english
    lab = _lang(english)
    parts = [f'<div class="qa-turn{" qa-abstained" if answer.abstained else ""}">']
    if notice:
        parts.append(render_notice(notice))
    lines = "".join(f"<p>{_e(line)}</p>" for line in answer.text.split("\n") if line.strip())
    parts.append(f'<div class="qa-answer-text">{lines}</div>')
    if answer.results:
        heading = lab["related"] if answer.abstained else lab["sources"]
        parts.append(f'<div class="qa-heading">{_e(heading)}</div>')
        parts.extend(render_result(r, collection.get(r.doc_id), english) for r in answer.results)
    parts.append("</div>")
    return "".join(parts)


def render_clause(
    doc: Document,
    clause: Clause,
    targets: Sequence[str] = (),
    note: str | None = None,
) -> str:
    """A task of a plan for the clause browser: heading, section, lead units, targets, whole text."""
    parts = [
        f'<article class="qa-card" data-doc="{_e(doc.doc_id)}" data-clause="{_e(clause.clause)}">',
        f'<header><span class="qa-doc">{_e(doc.cite_title)}</span>{badge(doc.version)}</header>',
        f'<div class="qa-clause-title">{_e(clause_label(clause.clause, clause.title))}</div>',
    ]
    if clause.section:
        parts.append(f'<div class="qa-meta">章节:{_e(clause.section)}</div>')
    if clause.lead_units:
        parts.append(f'<div class="qa-meta">牵头单位:{_e("、".join(clause.lead_units))}</div>')
    if targets:
        items = "".join(f"<li>{_e(t)}</li>" for t in targets)
        parts.append(f'<div class="qa-heading">量化目标</div><ul>{items}</ul>')
    parts.append(f'<div class="qa-clause-text">{_e(doc.text[clause.start : clause.end])}</div>')
    if note:
        parts.append(f'<div class="qa-note">版本说明:{_e(note)}</div>')
    parts.append("</article>")
    return "".join(parts)


def _side(spans: Iterable[DiffSpan], final: bool) -> str:
    out = []
    for s in spans:
        text = s.final if final else s.draft
        if not text:
            continue
        body = _lines(text)
        if s.op == "equal":
            out.append(body)
        elif s.op == "reworded":
            tag = "ins" if final else "del"
            out.append(f'<{tag} class="qa-{tag} qa-reworded">{body}</{tag}>')
        elif final:
            out.append(f'<ins class="qa-ins">{body}</ins>')
        else:
            out.append(f'<del class="qa-del">{body}</del>')
    return "".join(out)


def render_diff(spans: Sequence[DiffSpan], draft_title: str = "草案", final_title: str = "正式版") -> str:
    """Draft and final side by side: removed in red <del>, added in green <ins>, reworded on both."""
    draft_side = _side(spans, final=False) or '<span class="qa-muted">草案中没有此项。</span>'
    final_side = _side(spans, final=True) or '<span class="qa-muted">正式版中已删除此项。</span>'
    legend = (
        '<div class="qa-legend"><del class="qa-del">删去</del> 草案有、正式版没有;'
        '<ins class="qa-ins">新增</ins> 正式版新写入;'
        '<del class="qa-del qa-reworded">改写</del>→<ins class="qa-ins qa-reworded">改写</ins> 同一处的不同说法。</div>'
    )
    return (
        f'{legend}<table class="qa-diff"><thead><tr><th>{_e(draft_title)}</th><th>{_e(final_title)}</th>'
        f"</tr></thead><tbody><tr><td>{draft_side}</td><td>{final_side}</td></tr></tbody></table>"
    )


def _numbers(pair: TaskPair) -> tuple[str, str]:
    drafts = pair.drafts
    draft = "、".join(task_label(n) for n in drafts) or "—"
    return draft, task_label(pair.final) if pair.final is not None else "—"


def render_pair(
    pair: TaskPair, summary: str | None, reasons: Sequence[str], spans: Sequence[DiffSpan]
) -> str:
    """One task compared: what became of it, the plan's note, the report's reason, then the diff."""
    draft_no, final_no = _numbers(pair)
    title = pair.final_title or pair.draft_title
    status = STATUS_LABELS.get(pair.status, pair.status)
    if pair.status == "renumbered" and not pair.text_changed:
        status += "(内容未变)"
    parts = [
        '<div class="qa-card">',
        f'<div class="qa-clause-title">{_e(title)}</div>',
        f'<div class="qa-meta">草案 {_e(draft_no)} → 正式版 {_e(final_no)} · '
        f'<span class="qa-status">{_e(status)}</span></div>',
    ]
    if summary:
        parts.append(f'<div class="qa-note">版本说明:{_e(summary)}</div>')
    for reason in reasons[:2]:
        parts.append(f'<div class="qa-meta qa-reason">公众参与情况报告:{_e(reason)}</div>')
    parts.append("</div>")
    parts.append(render_diff(spans, f"草案 {draft_no}", f"正式版 {final_no}"))
    return "".join(parts)


def render_changes(changes: Sequence[TaskChange]) -> str:
    """Every task added, removed, renumbered, merged or changed, with the report's reason if any."""
    rows = []
    for ch in changes:
        draft_no, final_no = _numbers(ch.pair)
        status = STATUS_LABELS.get(ch.pair.status, ch.pair.status)
        reason = f'<div class="qa-reason">理由(公众参与情况报告):{_e(ch.reason)}</div>' if ch.reason else ""
        rows.append(
            f'<tr data-status="{_e(ch.pair.status)}"><td class="qa-status">{_e(status)}</td>'
            f"<td>{_e(draft_no)}</td><td>{_e(final_no)}</td>"
            f"<td>{_e(ch.pair.final_title or ch.pair.draft_title)}</td>"
            f"<td>{_e(ch.summary)}{reason}</td></tr>"
        )
    counts = {s: sum(c.pair.status == s for c in changes) for s in STATUS_LABELS}
    head = ",".join(f"{STATUS_LABELS[s]}{n}项" for s, n in counts.items() if n)
    return (
        f'<div class="qa-meta">与草案相比共{len(changes)}项有变化:{_e(head)}。</div>'
        '<table class="qa-changes"><thead><tr><th>变化</th><th>草案</th><th>正式版</th><th>任务</th>'
        f"<th>改动与理由</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
