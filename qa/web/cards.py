"""HTML for the web page: answers with citation cards, the task table, clauses, and diffs.

Pure functions from the assistant's dataclasses to HTML strings. Every piece of user or corpus
text goes through ``html.escape`` here and nowhere else is text put into markup, so a question
such as ``<img src=x onerror=alert(1)>`` is shown as the characters it is. Labels follow the
reader's language; the plan's words are always quoted as written (in Chinese) and marked
``lang="zh-CN"``, English text ``lang="en"``, so a screen reader reads each in its own voice.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qa import english as english_names
from qa.answer import Answer, Result
from qa.compare import DiffSpan, TaskChange, TaskPair
from qa.documents import VERSION_LABELS, Collection, Document
from qa.plan_format import capitalised, strip_heading_number
from qa.plan_format import clause_label as task_label
from qa.query import is_english
from qa.structure import Clause
from qa.version_notes import EnglishName

__all__ = [
    "CSS",
    "STATUS_LABELS",
    "TaskRow",
    "badge",
    "clause_label",
    "lang_attr",
    "render_question",
    "render_result",
    "render_answer",
    "render_notice",
    "render_clause",
    "render_task_table",
    "render_diff",
    "render_pair",
    "render_changes",
    "render_follows",
    "status_label",
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
        "follows": "接上一问",
        "new_topic": "换个话题",
        "new_topic_title": "不接上一问,把这个问题单独回答",
        "related": "可能相关",
        "more": "查看其他出处({n})",
        "more_related": "查看其他可能相关的条款({n})",
        "rate": "这条回答有帮助吗?请点下面的 👍 或 👎。",
        "targets": "量化目标",
        "you": "问",
        "number": "序号",
        "task": "任务",
        "back": "返回任务列表",
        "no_draft": "草案中没有此项。",
        "no_final": "正式版中已删除此项。",
        "legend": (
            '<del class="qa-del">删去</del> 草案有、正式版没有;<ins class="qa-ins">新增</ins> 正式版新写入;'
            '<del class="qa-del qa-reworded">改写</del>→<ins class="qa-ins qa-reworded">改写</ins> 同一处的不同说法。'
        ),
        "reason": "公众参与情况报告",
        "reason_of_change": "理由(公众参与情况报告)",
        "unchanged": "(内容未变)",
        "changes": "与草案相比共{n}项有变化:{head}。",
        "change": "变化",
        "what": "改动与理由",
        "count": "{label}{n}项",
        "join": ",",
    },
    "en": {
        "final": "Final plan",
        "draft": "Draft (superseded)",
        "background": "Background",
        "lead": "Lead units",
        "section": "Section",
        "full": "Show the whole clause",
        "note": "Version note",
        "sources": "Sources",
        "follows": "Following on from",
        "new_topic": "New topic",
        "new_topic_title": "Answer this question on its own, not as a follow-up",
        "related": "Possibly related",
        "more": "Other sources ({n})",
        "more_related": "Other possibly related clauses ({n})",
        "rate": "Was this answer helpful? Use 👍 or 👎 below.",
        "targets": "Targets with numbers",
        "you": "Q",
        "number": "No.",
        "task": "Task",
        "back": "Back to the task list",
        "no_draft": "The draft had no such task.",
        "no_final": "The final plan dropped this task.",
        "legend": (
            '<del class="qa-del">Removed</del>: in the draft only; <ins class="qa-ins">Added</ins>: new in the final '
            'plan; <del class="qa-del qa-reworded">reworded</del>→<ins class="qa-ins qa-reworded">reworded</ins>: '
            "the same place, said differently."
        ),
        "reason": "Public participation report",
        "reason_of_change": "Reason (public participation report)",
        "unchanged": " (text unchanged)",
        "changes": "{n} tasks changed from the draft: {head}.",
        "change": "Change",
        "what": "What changed, and why",
        "count": "{label} {n}",
        "join": ", ",
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
_STATUS_LABELS_EN = {
    "added": "new",
    "removed": "removed",
    "renumbered": "renumbered",
    "merged": "merged",
    "changed": "changed",
    "same": "unchanged",
}

# A note or an answer line longer than this folds behind its label: the first screen is for the
# answer, not for the full history of a sentence.
LONG_LINE = 60

CSS = """
.qa-turn { font-size: 16px; line-height: 1.65; }
.qa-question { font-weight: 600; }
.qa-answer-text { margin: 0 0 .6em 0; padding: .5em .8em; border-left: 4px solid #1d4ed8;
  background: #f1f5fe; border-radius: 4px; }
.qa-answer-text p { margin: .15em 0; }
.qa-follows { margin: 0 0 .35em 0; color: #374151; font-size: .95em; }
.qa-follows .qa-new-topic { background: none; border: none; padding: 0 .2em; margin-left: .4em;
  color: #1d4ed8; text-decoration: underline; cursor: pointer; font-size: inherit; min-height: 24px; }
.dark .qa-follows { color: #d1d5db; }
.dark .qa-follows .qa-new-topic { color: #93c5fd; }
.qa-answer-text .qa-lead { font-size: 1.25em; line-height: 1.5; font-weight: 600; margin: .1em 0 .35em 0; }
.qa-heading { font-weight: 600; margin: .8em 0 .3em 0; }
.qa-abstained .qa-answer-text { border-left-color: #b45309; background: #fdf4ec; }
.qa-notice { padding: .5em .8em; border: 1px solid #b45309; border-radius: 4px;
  background: #fdf4ec; margin: .4em 0; }
.qa-card { border: 1px solid #c4c9d2; border-radius: 6px; padding: .6em .8em; margin: .5em 0; }
.qa-card header > * { margin-right: .35em; }
.qa-card header .qa-badge { vertical-align: baseline; }
.qa-rank { color: #4b5563; }
.qa-doc { font-weight: 600; }
.qa-badge { display: inline-block; font-size: 16px; line-height: 1.4; padding: 0 .5em; border-radius: 999px;
  border: 1px solid currentColor; white-space: nowrap; font-weight: 600; }
.qa-badge-final { color: #166534; }
.qa-badge-draft { color: #9a3412; }
.qa-badge-background { color: #4b5563; }
.qa-clause-title { font-weight: 600; margin-top: .2em; }
h2.qa-clause-title { font-size: 1.2rem !important; line-height: 1.4; margin: .2em 0 .3em 0 !important; }
.qa-meta { color: #374151; font-size: 16px; }
.qa-highlight { margin: .3em 0 !important; padding: .1em .7em !important; border-left: 3px solid #ca8a04; }
.qa-card mark, .qa-clause-text mark { background: #fef08a; color: inherit; padding: 0 1px; }
.qa-turn details > summary, .qa-card details > summary, .qa-detail details > summary { cursor: pointer;
  color: #1d4ed8; font-size: 16px; padding: .2em 0; }
.qa-more > summary { font-weight: 600; margin: .3em 0; }
.qa-rate-ask { margin: .6em 0 0 0; color: #374151; }
.dark .qa-rate-ask { color: #d1d5db; }
.qa-clause-text { white-space: pre-wrap; margin: .3em 0; }
.qa-note { font-size: 16px; color: #7c2d12; margin-top: .3em; }
details.qa-note > summary { color: #7c2d12 !important; }
.qa-diff { width: 100%; border-collapse: collapse; table-layout: fixed; }
.qa-diff th, .qa-diff td { border: 1px solid #c4c9d2; padding: .5em .7em;
  vertical-align: top; text-align: left; line-height: 1.7; overflow-wrap: anywhere; }
.qa-diff td { white-space: pre-wrap; }
ins.qa-ins { background: #bbf7d0; color: #14532d; text-decoration: none; }
del.qa-del { background: #fecaca; color: #7f1d1d; }
.qa-reworded { outline: 1px dashed #92400e; }
.qa-legend { font-size: 16px; margin: .3em 0; }
.qa-muted { color: #4b5563; font-style: italic; }
.qa-changes { width: 100%; border-collapse: collapse; font-size: 16px; }
.qa-changes th, .qa-changes td { border: 1px solid #c4c9d2; padding: .35em .5em;
  vertical-align: top; text-align: left; overflow-wrap: anywhere; }
.qa-changes td:nth-child(2), .qa-changes td:nth-child(3) { white-space: nowrap; }
.qa-reason { color: #1e3a8a; }
.qa-status { white-space: nowrap; font-weight: 600; }
.qa-tasks { width: 100%; border-collapse: collapse; font-size: 16px; line-height: 1.55; border: 0 !important; }
.qa-tasks th, .qa-tasks td { border: 0 !important; border-bottom: 1px solid #d1d5db !important;
  padding: .45em .5em; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
.qa-tasks tr { border: 0 !important; }
.qa-tasks thead th { white-space: nowrap; background: #f3f4f6; position: sticky; top: 0; z-index: 1; }
.qa-tasks .qa-section-row th { background: #eef2ff; color: #1e3a8a; font-weight: 600; }
.qa-tasks td:first-child { white-space: nowrap; width: 3.2em; }
.qa-tasks td:nth-child(2) { width: 30%; }
.qa-tasks td:nth-child(3) { width: 26%; }
.qa-task-btn { all: unset; cursor: pointer; color: #1d4ed8; text-decoration: underline;
  text-underline-offset: 3px; font-weight: 600; }
.qa-task-btn:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; border-radius: 2px; }
.qa-tasks tr.qa-selected td { background: #fef9c3; }
.qa-back { display: inline-block; margin-top: .5em; color: #1d4ed8; }
@media (max-width: 640px) {
  .qa-tasks thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  .qa-tasks, .qa-tasks tbody, .qa-tasks tr, .qa-tasks td, .qa-tasks th { display: block; }
  .qa-tasks td:nth-child(n) { width: auto; }
  .qa-tasks tr { border: 0 !important; border-bottom: 1px solid #d1d5db !important; padding: .35em 0; }
  .qa-tasks td, .qa-tasks th { border: 0 !important; padding: .1em .2em; }
  .qa-tasks td:first-child { display: inline; width: auto; }
  .qa-tasks td:nth-child(2) { display: inline; }
  .qa-tasks td[data-label]:not(:empty)::before { content: attr(data-label) ":"; color: #374151; }
  .qa-tasks td[data-label]:empty { display: none; }
  .qa-diff, .qa-diff tbody, .qa-diff tr, .qa-diff td { display: block; width: auto; }
  .qa-diff, .qa-diff tr { border: 0 !important; }
  .qa-diff thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  .qa-diff td::before { content: attr(data-label); display: block; font-weight: 600; white-space: normal; }
  .qa-changes, .qa-changes tbody, .qa-changes tr, .qa-changes td { display: block; width: auto; }
  .qa-changes thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  .qa-changes tr { border: 1px solid #c4c9d2; margin: .4em 0; }
  .qa-changes td { border: 0; }
  .qa-changes td:nth-child(2), .qa-changes td:nth-child(3) { display: inline-block; }
  .qa-changes td[data-label]::before { content: attr(data-label) " "; color: #374151; }
}
.dark .qa-meta, .dark .qa-rank, .dark .qa-muted { color: #d1d5db; }
.dark .qa-note, .dark details.qa-note > summary { color: #fbbf24 !important; }
.dark .qa-reason { color: #bfdbfe; }
.dark .qa-answer-text { background: #1e293b; }
.dark .qa-abstained .qa-answer-text, .dark .qa-notice { background: #2b2118; }
.dark .qa-badge-final { color: #86efac; }
.dark .qa-badge-draft { color: #fdba74; }
.dark .qa-badge-background { color: #d1d5db; }
.dark .qa-turn details > summary, .dark .qa-card details > summary, .dark .qa-task-btn,
.dark .qa-back { color: #93c5fd; }
.dark .qa-tasks thead th { background: #1f2937; }
.dark .qa-tasks .qa-section-row th { background: #1e293b; color: #bfdbfe; }
.dark .qa-tasks tr.qa-selected td { background: #3f3a12; }
.dark .qa-card mark, .dark .qa-clause-text mark, .dark ins.qa-ins, .dark del.qa-del { color: #111827; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _lines(text: str) -> str:
    return "<br>".join(_e(line) for line in text.split("\n"))


def _lang(english: bool) -> dict[str, str]:
    return _LABELS["en" if english else "zh"]


def lang_attr(text: str) -> str:
    """``lang="en"`` for English text, ``lang="zh-CN"`` otherwise (markup is not English)."""
    return ' lang="en"' if is_english(text) else ' lang="zh-CN"'


def _page_lang(english: bool) -> str:
    return ' lang="en"' if english else ' lang="zh-CN"'


_ZH = ' lang="zh-CN"'  # the plan's own words, whatever language the labels around them are in


def badge(version: str | None, english: bool = False) -> str:
    """The version badge: 正式版 / 草案 / 背景材料 (Final plan / Draft / Background)."""
    kind = version if version in ("final", "draft") else "background"
    return f'<span class="qa-badge qa-badge-{kind}">{_e(_lang(english)[kind])}</span>'


def clause_label(clause: int | str | None, title: str, english: bool = False) -> str:
    """Plain text: "第10项 升级…" for a task, "一、title" for a numbered part, else the title."""
    if isinstance(clause, int):
        label = task_label(clause, english)
        return f"{capitalised(label)} {title}"
    if clause:
        return f"{clause}、{title}" if title else str(clause)
    return title


def _note_body(note: str, english: bool) -> tuple[str, str]:
    """A version note's language attribute and markup. An English note is English around the
    plans' Chinese words, so only those are marked Chinese; a Chinese note is Chinese throughout."""
    # An English note opens with an English word; it quotes more Chinese than it has words, so
    # counting words (is_english) would not tell.
    if english and note[:1].isascii() and note[:1].isalpha():
        return ' lang="en"', _mixed(note, True)
    return _ZH, _e(note)


def _note_span(note: str, english: bool) -> str:
    lang, body = _note_body(note, english)
    return f"<span{lang}>{body}</span>"


def _note_line(note: str, english: bool) -> str:
    lang, body = _note_body(note, english)
    sep = ": " if english else ":"  # an English label takes a space after its colon
    return f'<div class="qa-note">{_e(_lang(english)["note"])}{sep}<span{lang}>{body}</span></div>'


def _note(note: str, english: bool) -> str:
    """A version note on a card; a long one folds behind its label."""
    if len(note) > LONG_LINE:
        lang, body = _note_body(note, english)
        label = _e(_lang(english)["note"])
        return f'<details class="qa-note"><summary>{label}</summary><div{lang}>{body}</div></details>'
    return _note_line(note, english)


# A run of Chinese inside English text: from one non-ASCII character to the last before a Latin
# letter, digits and punctuation included ("《…(2024-2026年)》第20项" is one run).
_CHINESE_RUN = re.compile(r"[^\x00-\x7f](?:[^A-Za-z]*[^\x00-\x7f])?")


def _mixed(text: str, english: bool) -> str:
    """Escaped text; in English text the Chinese quotations are marked ``lang="zh-CN"``."""
    if not english:
        return _e(text)
    out, at = [], 0
    for m in _CHINESE_RUN.finditer(text):
        out.append(_e(text[at : m.start()]))
        out.append(f"<span{_ZH}>{_e(m.group(0))}</span>")
        at = m.end()
    out.append(_e(text[at:]))
    return "".join(out)


def _line(text: str, english: bool, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<p{cls}{_page_lang(english)}>{_mixed(text, english)}</p>"


def _answer_line(line: str, english: bool) -> str:
    """One line of the answer after the first: a long one (a version note) folds behind its label."""
    head, sep, rest = line.partition(":")
    if len(line) > LONG_LINE and sep and len(head) <= 20 and rest.strip():
        return (
            f'<details class="qa-fold"{_page_lang(english)}><summary>{_e(head)}</summary>'
            f"{_line(rest.strip(), english)}</details>"
        )
    return _line(line, english)


def render_question(question: str, english: bool | None = None) -> str:
    english = is_english(question) if english is None else english
    text = "<br>".join(_mixed(line, english) for line in question.split("\n"))
    return f'<div class="qa-turn qa-question"{_page_lang(english)}>{_e(_lang(english)["you"])}:{text}</div>'


def render_result(
    result: Result, doc: Document, english: bool = False, english_name: EnglishName | None = None
) -> str:
    """One citation card: document and badge, task and title, lead units, highlight, clause, note.

    ``doc`` is the document the result quotes (its title as a citation shows it). With English
    labels, ``english_name`` (the glossary) names the document, the task and the lead units in
    English, each task and unit with its Chinese original in brackets.
    """
    lab = _lang(english)
    names = english_name if english else None
    text, hs, he = result.text, result.highlight_start, result.highlight_end
    marked = f"{_e(text[:hs])}<mark>{_e(text[hs:he])}</mark>{_e(text[he:])}"
    doc_name = english_names.document_name(doc.title, doc.cite_title, names) if names else doc.cite_title
    if names and result.clause is not None:
        # the documents' own citation tells a question (问五:…) from a part (五、…)
        label = result.citation.removeprefix(doc.cite_title)
        heading = _mixed(
            capitalised(english_names.clause_name(result.clause, result.title, label, names)), True
        )
    else:
        heading = _e(clause_label(result.clause, result.title, english))
    parts = [
        f'<article class="qa-card" data-doc="{_e(result.doc_id)}" data-clause="{_e(result.clause)}">',
        "<header>",
        f'<span class="qa-rank">{result.rank}.</span>',
        f'<span class="qa-doc"{lang_attr(doc_name)}>{_e(doc_name)}</span>',
        badge(result.version, english),
        "</header>",
        f'<div class="qa-clause-title">{heading}</div>',
    ]
    if result.section:
        parts.append(_section(result.section, english, names))
    if result.lead_units:
        parts.append(_units(result.lead_units, english, names))
    parts.append(f'<blockquote class="qa-highlight"{_ZH}>{_e(result.highlight)}</blockquote>')
    parts.append(
        f'<details><summary>{_e(lab["full"])}</summary><div class="qa-clause-text"{_ZH}>{marked}</div></details>'
    )
    if result.version_note:
        parts.append(_note(result.version_note, english))
    parts.append("</article>")
    return "".join(parts)


def render_notice(message: str) -> str:
    return f'<div class="qa-notice"{lang_attr(message)}>{_lines(message)}</div>'


def render_answer(
    answer: Answer,
    collection: Collection,
    english: bool | None = None,
    notice: str | None = None,
    answer_id: str = "",
    english_name: EnglishName | None = None,
) -> str:
    """The answer first: its first line in large type, the rest of it, the first citation card;
    the other cards fold behind 查看其他出处(N). An abstention lists them as 可能相关.

    Labels follow the question's language unless ``english`` says otherwise; ``english_name``
    (the glossary) names documents, tasks and units in English on English cards, which then say
    that these names are an unofficial translation.
    """
    english = answer.english if english is None else english
    lab = _lang(english)
    classes = "qa-turn qa-answer" + (" qa-abstained" if answer.abstained else "")
    parts = [f'<div class="{classes}"{_page_lang(english)} data-answer-id="{_e(answer_id)}">']
    if notice:
        parts.append(render_notice(notice))
    lines = [line for line in answer.text.split("\n") if line.strip()]
    if answer.follows is not None and lines:
        # A follow-up names what it took as its subject, above the lead, with a way out of it.
        lines = lines[1:]
        parts.append(render_follows(answer.follows.label, english, answer_id))
    lead = _line(lines[0], english, "qa-lead") if lines else ""
    body = "".join(_answer_line(line, english) for line in lines[1:])
    parts.append(f'<div class="qa-answer-text">{lead}{body}</div>')
    if answer.results:
        heading = lab["related"] if answer.abstained else lab["sources"]
        parts.append(f'<div class="qa-heading">{_e(heading)}</div>')
        # Said once per answer: the answer text already says it when it names things in English.
        if english and english_name is not None and english_names.UNOFFICIAL not in answer.text:
            parts.append(f'<p class="qa-meta qa-unofficial" lang="en">{_e(english_names.UNOFFICIAL)}</p>')
        cards = [render_result(r, collection.get(r.doc_id), english, english_name) for r in answer.results]
        parts.append(cards[0])
        if len(cards) > 1:
            more = (lab["more_related"] if answer.abstained else lab["more"]).format(n=len(cards) - 1)
            parts.append(
                f'<details class="qa-more"><summary>{_e(more)}</summary>{"".join(cards[1:])}</details>'
            )
    parts.append("</div>")
    return "".join(parts)


def render_follows(subject: str, english: bool, answer_id: str = "") -> str:
    """The line above a follow-up's answer: what it was taken to be about, and 换个话题 to ask it
    again on its own (the page's script passes the answer's id to the server)."""
    lab = _lang(english)
    return (
        f'<div class="qa-follows"{_page_lang(english)}>{_e(lab["follows"])}:'
        f"<span>{_e(subject)}</span> "
        f'<button type="button" class="qa-new-topic" data-answer-id="{_e(answer_id)}" '
        f'title="{_e(lab["new_topic_title"])}">{_e(lab["new_topic"])}</button></div>'
    )


def render_clause(
    doc: Document,
    clause: Clause,
    targets: Sequence[str] = (),
    note: str | None = None,
    english: bool = False,
    english_name: EnglishName | None = None,
) -> str:
    """A task of a plan for the clause browser: heading, section, lead units, targets, whole text,
    and a link back to its row of the task table. With English labels, ``english_name`` (the
    glossary) names the plan, the task, its section and units as on an answer's cards."""
    lab = _lang(english)
    names = english_name if english else None
    doc_name = english_names.document_name(doc.title, doc.cite_title, names) if names else doc.cite_title
    if names and isinstance(clause.clause, int):
        heading = _mixed(capitalised(english_names.task_name(clause.clause, clause.title, names)), True)
    else:
        heading = _e(clause_label(clause.clause, clause.title, english))
    parts = [
        f'<article class="qa-card qa-detail" data-doc="{_e(doc.doc_id)}" data-clause="{_e(clause.clause)}"'
        f'{_page_lang(english)} tabindex="-1">',
        f'<header><span class="qa-doc"{lang_attr(doc_name)}>{_e(doc_name)}</span>{badge(doc.version, english)}</header>',
        f'<h2 class="qa-clause-title">{heading}</h2>',
    ]
    if clause.section:
        parts.append(_section(clause.section, english, names))
    if clause.lead_units:
        parts.append(_units(clause.lead_units, english, names))
    if targets:
        items = "".join(f"<li>{_e(t)}</li>" for t in targets)
        parts.append(f'<div class="qa-heading">{_e(lab["targets"])}</div><ul{_ZH}>{items}</ul>')
    parts.append(f'<div class="qa-clause-text"{_ZH}>{_e(doc.text[clause.start : clause.end])}</div>')
    if note:
        parts.append(_note_line(note, english))
    if names:
        parts.append(f'<p class="qa-meta qa-unofficial" lang="en">{_e(english_names.UNOFFICIAL)}</p>')
    parts.append(f'<a class="qa-back" href="#qa-task-{_e(clause.clause)}">{_e(lab["back"])}</a>')
    parts.append("</article>")
    return "".join(parts)


def _section(section: str, english: bool, names: EnglishName | None) -> str:
    """The section line of a card: the glossary's name first, with the plan's heading after it."""
    label = _e(_lang(english)["section"])
    name = names(strip_heading_number(section)) if names else None
    if name:
        return f'<div class="qa-meta">{label}: {_e(name)} (<span{_ZH}>{_e(section)}</span>)</div>'
    return f'<div class="qa-meta">{label}:<span{_ZH}>{_e(section)}</span></div>'


def _units(units: Sequence[str], english: bool, names: EnglishName | None) -> str:
    """The lead units line of a card: English names with the Chinese in brackets, or the plan's."""
    label = _e(_lang(english)["lead"])
    if names:
        return f'<div class="qa-meta">{label}: {_mixed(english_names.units(units, names), True)}</div>'
    return f'<div class="qa-meta">{label}:<span{_ZH}>{_e("、".join(units))}</span></div>'


@dataclass(frozen=True)
class TaskRow:
    """One row of the task table: the task and the targets of it that carry numbers."""

    clause: Clause
    targets: tuple[str, ...]


def render_task_table(
    rows: Sequence[TaskRow],
    english: bool = False,
    caption: str = "",
    english_name: EnglishName | None = None,
) -> str:
    """The tasks as a table grouped by section; each title is a button that opens the task.

    On a narrow screen the CSS turns every row into a small block with labelled lines. With
    English labels, ``english_name`` (the glossary) gives sections, titles and units in English,
    each with the plan's Chinese beside it.
    """
    lab = _lang(english)
    names = english_name if english else None
    head = (
        f'<thead><tr><th scope="col">{_e(lab["number"])}</th><th scope="col">{_e(lab["task"])}</th>'
        f'<th scope="col">{_e(lab["lead"])}</th><th scope="col">{_e(lab["targets"])}</th></tr></thead>'
    )
    body: list[str] = []
    section = None
    for row in rows:
        c = row.clause
        name = strip_heading_number(c.section)
        if name and name != section:
            section = name
            shown = names(name) if names else None
            if shown:
                cell = f'<th colspan="4" scope="colgroup">{_e(shown)} (<span{_ZH}>{_e(name)}</span>)</th>'
            else:
                cell = f'<th colspan="4" scope="colgroup"{_ZH}>{_e(name)}</th>'
            body.append(f'<tr class="qa-section-row">{cell}</tr>')
        title = names(c.title) if names else None
        # the accessible name holds the visible text (axe: label-content-name-mismatch)
        label = clause_label(c.clause, title or c.title, english)
        button = (
            f'<button type="button" class="qa-task-btn" data-task="{_e(c.clause)}" aria-label="{_e(label)}"'
            + (
                f' lang="en">{_e(title)}</button> <span{_ZH}>({_e(c.title)})</span>'
                if title
                else f"{_ZH}>{_e(c.title)}</button>"
            )
        )
        units = (
            f'<td data-label="{_e(lab["lead"])}">{_mixed(english_names.units(c.lead_units, names), True)}</td>'
            if names
            else f'<td data-label="{_e(lab["lead"])}"{_ZH}>{_e("、".join(c.lead_units))}</td>'
        )
        body.append(
            f'<tr id="qa-task-{_e(c.clause)}" data-task="{_e(c.clause)}">'
            f"<td>{_e(c.clause)}</td><td>{button}</td>{units}"
            f'<td data-label="{_e(lab["targets"])}"{_ZH}>{_e(";".join(row.targets))}</td></tr>'
        )
    cap = f'<caption class="qa-sr-only">{_e(caption)}</caption>' if caption else ""
    return f'<table class="qa-tasks">{cap}{head}<tbody>{"".join(body)}</tbody></table>'


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


def render_diff(
    spans: Sequence[DiffSpan],
    draft_title: str = VERSION_LABELS["draft"],
    final_title: str = VERSION_LABELS["final"],
    english: bool = False,
) -> str:
    """Draft and final side by side: removed in red <del>, added in green <ins>, reworded on both."""
    lab = _lang(english)
    draft_side = _side(spans, final=False) or f'<span class="qa-muted">{_e(lab["no_draft"])}</span>'
    final_side = _side(spans, final=True) or f'<span class="qa-muted">{_e(lab["no_final"])}</span>'
    return (
        f'<div class="qa-legend">{lab["legend"]}</div><table class="qa-diff"><thead><tr>'
        f'<th scope="col">{_e(draft_title)}</th><th scope="col">{_e(final_title)}</th></tr></thead>'
        f'<tbody><tr><td data-label="{_e(draft_title)}"{_ZH}>{draft_side}</td>'
        f'<td data-label="{_e(final_title)}"{_ZH}>{final_side}</td></tr></tbody></table>'
    )


def _numbers(pair: TaskPair, english: bool = False) -> tuple[str, str]:
    draft = "、".join(task_label(n, english) for n in pair.drafts) or "—"
    return draft, task_label(pair.final, english) if pair.final is not None else "—"


def status_label(status: str, english: bool = False) -> str:
    """What became of a task: 新增, 合并, … (new, merged, …)."""
    return (_STATUS_LABELS_EN if english else STATUS_LABELS).get(status, status)


def render_pair(
    pair: TaskPair,
    summary: str | None,
    reasons: Sequence[str],
    spans: Sequence[DiffSpan],
    english: bool = False,
) -> str:
    """One task compared: what became of it, the plan's note, the report's reason, then the diff."""
    lab = _lang(english)
    draft_no, final_no = _numbers(pair, english)
    title = pair.final_title or pair.draft_title
    status = status_label(pair.status, english)
    if pair.status == "renumbered" and not pair.text_changed:
        status += lab["unchanged"]
    parts = [
        f'<div class="qa-card"{_page_lang(english)}>',
        f'<h2 class="qa-clause-title"{_ZH}>{_e(title)}</h2>',
        f'<div class="qa-meta">{_e(lab["draft"])} {_e(draft_no)} → {_e(lab["final"])} {_e(final_no)} · '
        f'<span class="qa-status">{_e(status)}</span></div>',
    ]
    if summary:
        parts.append(_note_line(summary, english))
    for reason in reasons[:2]:
        parts.append(
            f'<div class="qa-meta qa-reason">{_e(lab["reason"])}:<span{_ZH}>{_e(reason)}</span></div>'
        )
    parts.append("</div>")
    parts.append(
        render_diff(spans, f"{lab['draft']} {draft_no}", f"{lab['final']} {final_no}", english=english)
    )
    return "".join(parts)


def render_changes(changes: Sequence[TaskChange], english: bool = False) -> str:
    """Every task added, removed, renumbered, merged or changed, with the report's reason if any."""
    lab = _lang(english)
    rows = []
    for ch in changes:
        draft_no, final_no = _numbers(ch.pair, english)
        status = status_label(ch.pair.status, english)
        reason = (
            f'<div class="qa-reason">{_e(lab["reason_of_change"])}:<span{_ZH}>{_e(ch.reason)}</span></div>'
            if ch.reason
            else ""
        )
        rows.append(
            f'<tr data-status="{_e(ch.pair.status)}"><td class="qa-status">{_e(status)}</td>'
            f'<td data-label="{_e(lab["draft"])}">{_e(draft_no)}</td>'
            f'<td data-label="{_e(lab["final"])}">{_e(final_no)}</td>'
            f"<td{_ZH}>{_e(ch.pair.final_title or ch.pair.draft_title)}</td>"
            f"<td>{_note_span(ch.summary_en if english and ch.summary_en else ch.summary, english)}{reason}</td></tr>"
        )
    counts = {s: sum(c.pair.status == s for c in changes) for s in STATUS_LABELS}
    head = lab["join"].join(
        lab["count"].format(label=status_label(s, english), n=n) for s, n in counts.items() if n
    )
    return (
        f'<div class="qa-meta"{_page_lang(english)}>{_e(lab["changes"].format(n=len(changes), head=head))}</div>'
        f'<table class="qa-changes"{_page_lang(english)}><thead><tr><th scope="col">{_e(lab["change"])}</th>'
        f'<th scope="col">{_e(lab["draft"])}</th><th scope="col">{_e(lab["final"])}</th>'
        f'<th scope="col">{_e(lab["task"])}</th><th scope="col">{_e(lab["what"])}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
