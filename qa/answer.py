"""The answer: the plan's own words at exact offsets, with where they come from.

Around the quoted words the assistant only says where they come from, who leads the task, how the
final plan differs from the draft, or that the documents do not cover the question. An ``Answer``
is built once and feeds the CLI, the JSON, the API and the page alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from qa.compare import TaskKey
from qa.documents import SUPERSEDED_PLAN, Document, Version
from qa.english import UNOFFICIAL, task_name
from qa.english import units as english_units
from qa.lexicon import AskCue, Lexicon
from qa.overlap import pairs, shared_pairs
from qa.plan_format import (
    DOCUMENT_NAME,
    PLAN_PERIOD,
    capitalised,
    clause_label,
    is_lead_note,
    is_task_title,
    split_sentences,
)
from qa.query import Query, names_entry
from qa.retrieve import Filters, Hit, Signals
from qa.structure import Clause, sign_off
from qa.tuned import Thresholds
from qa.version_notes import EnglishName

if TYPE_CHECKING:
    from qa.conversation import Context, FollowUp

__all__ = [
    "Answer",
    "Result",
    "abstains",
    "quote",
    "to_result",
    "compose",
    "missing_task",
    "listing",
    "filters_notice",
    "dropped_lead",
    "change_lead",
    "also_answers",
    "asked_sentence",
    "coverage_of",
    "lead_sentence",
    "unstated_detail",
    "NO_ANSWER_ZH",
    "NO_ANSWER_EN",
]

Coverage = Literal["answered", "partial", "none"]

NO_ANSWER_ZH = "计划中没有找到与此直接相关的内容。"
NO_ANSWER_EN = "The plan does not directly address this question."


def abstains(signals: Signals, thresholds: Thresholds) -> bool:
    """Abstain when nothing routed the question and either it names or means a subject the plan
    does not cover, in the clause that asks where or how to get it done or without matching the
    plan's words strongly, or neither signal reaches its threshold.

    The thresholds are tuned on the gold set's dev split (``corpus/tuned.json``).
    """
    if signals.routed:
        return False
    # Named (房价) or meant (公办幼儿园, near 幼儿园报名): a subject the plan does not cover.
    off_topic = signals.off_topic or signals.off_topic_lead > thresholds.off_topic_lead
    # A strong match to the plan's own words vouches for a question that names another service
    # in its story (派出所门前那条马路积水), not for one that asks where or how to get the service
    # itself (电动自行车上牌去哪里办?: 电动自行车 is the plan's, 上牌 is not).
    if off_topic and (signals.off_topic_asked or signals.top_bm25_plain < thresholds.off_topic_bm25):
        return True
    if signals.about_document:
        return False
    return signals.top_dense < thresholds.min_dense and signals.top_bm25 < thresholds.min_bm25


@dataclass(frozen=True)
class Result:
    rank: int
    doc_id: str
    doc_title: str
    version: Version | None
    clause: int | str | None
    title: str
    section: str
    lead_units: list[str]
    text: str
    start: int
    end: int
    highlight: str
    highlight_start: int  # offsets into ``text``
    highlight_end: int
    score: float
    citation: str
    version_note: str | None
    superseded: bool = field(default=False, metadata={"json": False})  # draft text, or about the draft


@dataclass(frozen=True)
class Answer:
    question: str
    abstained: bool
    text: str  # the answer as a resident reads it: the lead sentence, its citation, a version note
    results: list[Result]
    # What the rest of the app needs and must not work out again; not part of the JSON.
    query: Query | None = field(default=None, compare=False, repr=False)
    listing: bool = False  # the answer enumerates the tasks a unit leads
    lead: str = ""  # one plain sentence first: which clause, who leads it, the words that answer
    coverage: Coverage = "answered"  # "partial": the subject is covered, the detail asked is not
    asks: str = "what"
    missing: str | None = None  # what was asked and not found, in the asker's language
    # A follow-up question: the previous answer's subject it took (qa.conversation); else None.
    follows: FollowUp | None = field(default=None, compare=False)
    # What this answer answered, for the next question of a conversation to follow on from.
    context: Context | None = field(default=None, compare=False)

    @property
    def english(self) -> bool:
        return self.query is not None and self.query.english

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question,
            "abstained": self.abstained,
            "answer": self.text,
            "lead": self.lead,
            "coverage": self.coverage,
            "asks": self.asks,
            "missing": self.missing,
            "follows": self.follows.to_dict() if self.follows is not None else None,
            "context": self.context.to_dict() if self.context is not None else None,
            "results": [_result_dict(r) for r in self.results],
        }


def _result_dict(result: Result) -> dict[str, object]:
    d = asdict(result)
    d.pop("superseded")
    return d


def quote(result: Result, english: bool = False) -> str:
    """The answer built on one result: its highlighted words, citation, lead units and version note."""
    lines = [result.highlight, f"——{result.citation}"]
    if result.lead_units:
        lines.append(("Lead units: " if english else "牵头单位:") + "、".join(result.lead_units))
    if result.version_note:
        lines.append(("Version note: " if english else "版本说明:") + result.version_note)
    if result.superseded:
        # Draft text is quoted only when asked for, and never without saying it is not current policy.
        lines.insert(
            0,
            "(Draft-stage text, superseded by the final plan:)"
            if english
            else "(以下为草案阶段的原文,已被正式版取代,不是现行内容:)",
        )
    elif english:
        lines.insert(0, "From the documents (quoted in Chinese):")
    return "\n".join(lines)


def _holds_kind(
    sentence: str, patterns: Sequence[re.Pattern[str]], in_names: bool = False, given: str = ""
) -> bool:
    """Whether the sentence holds what the patterns find, outside the documents it names: the
    "2024-2026年" in 《…三年行动计划(2024-2026年)》 is not the date a notice was issued. A kind
    whose answer is itself a name (借鉴了哪个文件?) searches the names too. What the question
    already says (``given``) does not answer it: 江苏路 in "江苏路完整社区试点包括哪些小区?"."""
    bare = sentence if in_names else DOCUMENT_NAME.sub("", sentence)
    return any(not given or m.group() not in given for p in patterns for m in p.finditer(bare))


def asked_sentence(
    hit: Hit,
    cue: AskCue | None,
    stated: bool = False,
    margin: float | None = None,
    asked: Mapping[str, float] | None = None,
    given: str = "",
) -> tuple[int, int] | None:
    """The sentence of the hit that holds what was asked (a figure, a date, an address …), the
    closest to the question among those that do; None when no sentence of the chunk holds it.

    A sentence that states the detail itself (the kind's narrower ``states`` patterns: an address
    with its postcode, not "寄送") comes before one that only speaks of it; ``stated`` accepts only
    the former. With a ``margin``, only sentences about as close to the question as the closest
    one are taken: the 5000户 meters' "三年内" does not answer when the 瓶改管 sentence is what was
    asked about. A background document's line that states the detail (a date, an e-mail address)
    is taken however little it reads like the question. Given the question's word pairs
    (``asked``), a background paragraph's sentences that share more of them than the closest one
    are tried first, most first: "区府办主任是谁" is the sentence with 区府办主任, though the one
    before it names people too.
    """
    if cue is None or not (cue.answers or cue.states):
        return hit.sentence
    text = hit.chunk.text
    spans = list(hit.sentences) + [s for s in split_sentences(text) if s not in hit.sentences]
    task = isinstance(hit.chunk.clause, int)
    near = spans if margin is None else list(hit.close_to_best(margin))
    if asked and not task and spans:
        shared = {span: shared_pairs(text[span[0] : span[1]], asked, cue) for span in spans}
        closest = shared[spans[0]]
        more = sorted((s for s in spans if shared[s] > closest), key=lambda s: -shared[s])
        near, spans = (
            [*more, *(s for s in near if s not in more)],
            [*more, *(s for s in spans if s not in more)],
        )
    if stated:
        tiers = [(cue.states or cue.answers, near if task else spans)]
    else:
        tiers = [(cue.states, near), (cue.answers, near)]
        if margin is not None and not task:
            tiers.insert(1, (cue.states, spans))
    for patterns, candidates in tiers:
        for start, end in candidates:
            if patterns and _holds_kind(text[start:end], patterns, cue.in_names, given):
                return start, end
    return None


# Kinds a background document answers in a sentence of its own: who chaired the meeting, why the
# consultation was extended. A task's lead units already answer who, in the lead sentence.
_SAID_IN_BACKGROUND = ("who", "why", "how")


def _highlight(
    hit: Hit,
    query: Query,
    cue: AskCue | None = None,
    margin: float | None = None,
    asked: Mapping[str, float] | None = None,
) -> tuple[int, int]:
    """What of the chunk answers the question, as offsets into its text.

    Asked for a task's lead units by number, that is the 牵头单位 note; asked for a task by
    number, its title and the sentence after it; otherwise the sentence that holds what was
    asked, or the sentence retrieval found closest.
    """
    chunk = hit.chunk
    if query.about_period and chunk.start == 0 and PLAN_PERIOD.search(chunk.text.split("\n", 1)[0]):
        return 0, len(chunk.text.split("\n", 1)[0])
    if query.asks_dated and not isinstance(chunk.clause, int):
        # 哪天印发 or 谁印发: the signature answers both, issuer and date.
        signed = sign_off(chunk.text)
        if signed is not None:
            return signed
    if query.clause is None or query.clause != chunk.clause:
        if cue is not None and (
            cue.missing is not None or (cue.kind in _SAID_IN_BACKGROUND and not isinstance(chunk.clause, int))
        ):
            return asked_sentence(hit, cue, margin=margin, asked=asked) or hit.sentence
        return hit.sentence
    sentences = split_sentences(chunk.text)
    notes = [s for s in sentences if is_lead_note(chunk.text[s[0] : s[1]])]
    body = [s for s in sentences if s not in notes]
    if query.wants_units and notes:
        return notes[0]
    quoted = _quoted_sentence(chunk.text, body, asked)
    if quoted is not None:  # 草案第14项有开展无违建示范街镇创建…: the words the question quotes
        return quoted
    if cue is not None and cue.missing is not None and query.asks_detail:
        # 第23项的目标数字是多少?: the sentence with the figure, not the title's next sentence.
        holding = asked_sentence(hit, cue, stated=True)
        if holding is not None:
            return holding
    if body and body[0][0] == 0:
        return 0, body[min(1, len(body) - 1)][1]
    return hit.sentence


# A question that names a task by number and also repeats this many of a sentence's character
# pairs (a four-character term such as 加装电梯) asks about that sentence of the task.
_QUOTED_PAIRS = 3


def _quoted_sentence(
    text: str, body: Sequence[tuple[int, int]], asked: Mapping[str, float] | None
) -> tuple[int, int] | None:
    """The sentence of a task, past its title, whose words the question repeats, if any."""
    if not asked:
        return None
    shared = [(len(asked.keys() & pairs(text[s:e])), (s, e)) for s, e in body if not is_task_title(text[s:e])]
    best = max(shared, default=(0, None), key=lambda item: item[0])
    return best[1] if best[0] >= _QUOTED_PAIRS else None


# An item of a list that a colon introduces: "1、增设…", "2、完善…".
_LIST_ITEM = re.compile(r"\s*(?:\d+|[一二三四五六七八九十]+)[、.．]")


def _through_colon(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """A sentence that ends in a colon introduces what follows (…我委对草案行动计划重点任务进行了
    修改: and on the next lines what was changed): the next sentence, or every numbered item of
    the list it opens, answers with it."""
    start, end = span
    if not text[start:end].rstrip().endswith((":", ":")):
        return span
    after = [s for s in split_sentences(text) if s[0] >= end]
    if not after:
        return span
    if not _LIST_ITEM.match(text[after[0][0] : after[0][1]]):
        return start, after[0][1]
    last = after[0]
    for s in after:
        if s is not after[0] and not _LIST_ITEM.match(text[s[0] : s[1]]) and text[last[1] : s[0]].count("\n"):
            break  # a line that is not an item ends the list
        last = s
    return start, last[1]


# A background document's sentence of two clauses, up to this long, is quoted whole rather than
# cut at its semicolon: the legality review's "符合相关法律…规定;未发现文件存在违法或者明显不当情形。"
# is one finding. Items of a list (一是…;二是…, 1、…;) answer one by one.
_WHOLE_SENTENCE = 100


def _through_semicolon(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """A sentence's first clause that ends in a semicolon, quoted with the clause that ends the
    sentence on the same line, when the two are short."""
    start, end = span
    if not text[start:end].rstrip().endswith((";", ";")):
        return span
    before = text[:start].rstrip(" \t")
    if before and not before.endswith(("。", "!", "?", "!", "?", "\n")):
        return span  # an item inside a longer sentence
    after = next(((s, e) for s, e in split_sentences(text) if s >= end), None)
    if after is None or "\n" in text[end : after[0]] or after[1] - start > _WHOLE_SENTENCE:
        return span
    if not text[after[0] : after[1]].rstrip().endswith(("。", "!", "?", "!", "?")):
        return span
    return start, after[1]


def to_result(
    rank: int,
    hit: Hit,
    query: Query,
    doc: Document,
    notes: Mapping[TaskKey, str],  # in the asker's language (``PlanVersions.notes_in``)
    current_plan: Document,
    current_tasks: int,
    cue: AskCue | None = None,
    margin: float | None = None,
    asked: Mapping[str, float] | None = None,
) -> Result:
    """The result a hit becomes: its chunk, the words that answer, its citation and version note.

    ``margin``: how much less close to the question than the closest sentence the sentence that
    holds what was asked may be (``Thresholds.evidence_margin``)."""
    ch = hit.chunk
    hs, he = _through_colon(ch.text, _highlight(hit, query, cue, margin, asked))
    if not isinstance(ch.clause, int):
        hs, he = _through_semicolon(ch.text, (hs, he))
    note = notes.get((ch.doc_id, ch.clause)) if isinstance(ch.clause, int) else None
    if note is None and doc.role == SUPERSEDED_PLAN:
        note = (
            "This is draft text, superseded by the final plan."
            if query.english
            else f"此为草案内容,已被正式版{current_plan.cite_title}取代。"
        )
    elif doc.describes is not None:
        note = (
            f"This document is about the draft; the final plan has {current_tasks} tasks and is the authority."
            if query.english
            else f"此材料说明的是草案;正式版共{current_tasks}项任务,以{current_plan.cite_title}为准。"
        )
    return Result(
        rank=rank,
        doc_id=ch.doc_id,
        doc_title=doc.title,
        version=doc.version,
        clause=ch.clause,
        title=ch.title,
        section=ch.section,
        lead_units=list(ch.lead_units),
        text=ch.text,
        start=ch.start,
        end=ch.end,
        highlight=ch.text[hs:he],
        highlight_start=hs,
        highlight_end=he,
        score=round(float(hit.score), 4),
        citation=ch.citation,
        version_note=note,
        superseded=doc.is_superseded,
    )


def missing_task(query: Query, plan: Document, tasks: Sequence[Clause]) -> str | None:
    """For a task number the plan does not have (第37项): say how many tasks it has."""
    if query.clause is None or any(c.clause == query.clause for c in tasks):
        return None
    if query.english:
        return f"{plan.cite_title} has {len(tasks)} tasks; there is no {clause_label(query.clause, True)}."
    return f"{plan.cite_title}共{len(tasks)}项任务,没有{clause_label(query.clause)}。"


def listing(
    query: Query,
    plan: Document,
    tasks: Sequence[Clause],
    filtered: bool = False,
    english_name: EnglishName | None = None,
) -> str:
    """Every task the named unit leads, in the plan's words; or that it leads none.

    For an English question the unit, the plan and the tasks are named through ``english_name``
    (the glossary), each with its Chinese original.
    """
    unit = query.unit
    if query.english and english_name is not None and unit is not None:
        return _listing_en(unit, plan, tasks, filtered, english_name)
    if not tasks:
        return (
            f"{plan.cite_title} has no task led by {unit}."
            if query.english
            else f"{plan.cite_title}中没有由{unit}牵头的任务。"
        )
    if filtered:
        head = (
            f"{unit} leads (alone or jointly) {len(tasks)} tasks that match the filters:"
            if query.english
            else f"{unit}牵头(含共同牵头)且符合筛选条件的任务共{len(tasks)}项:"
        )
    else:
        head = (
            f"{unit} leads (alone or jointly) {len(tasks)} tasks of {plan.cite_title}:"
            if query.english
            else f"{plan.cite_title}中,{unit}牵头(含共同牵头)的任务共{len(tasks)}项:"
        )
    return "\n".join([head, *(f"{clause_label(int(c.clause))} {c.title}" for c in tasks)])


def _listing_en(
    unit: str, plan: Document, tasks: Sequence[Clause], filtered: bool, english_name: EnglishName
) -> str:
    who = english_units([unit], english_name)
    where = english_name(plan.title) or plan.cite_title
    if not tasks:
        return f"The {where} has no task led by {who}."
    scope = "that match the filters" if filtered else f"of the {where}"
    lines = [f"{who} leads (alone or jointly) {len(tasks)} tasks {scope}:"]
    lines += [capitalised(task_name(int(c.clause), c.title, english_name)) for c in tasks]
    lines.append(UNOFFICIAL)
    return "\n".join(lines)


def filters_notice(filters: Filters, english: bool) -> str:
    """What the filters were, for an answer they emptied."""
    chosen = ("; " if english else "、").join(
        part
        for part in (
            f"{'Document' if english else '文档'}: {filters.doc}" if filters.doc else "",
            f"{'Section' if english else '章节'}: {filters.section}" if filters.section else "",
            f"{'Lead unit' if english else '牵头单位'}: {filters.unit}" if filters.unit else "",
        )
        if part
    )
    if english:
        return f"The filters ({chosen}) leave no clause that answers this question. Clear a filter and ask again."
    return f"筛选条件({chosen})下没有回答这个问题的条款。请放宽或清除筛选条件后再问。"


def compose(
    query: Query,
    results: Sequence[Result],
    abstained: bool,
    lead: str = "",
    superseded_text: str = "",
    cite: str = "",
) -> str:
    """The answer text: the lead sentence and its citation; the change first for a question about
    versions; the version note only where the quoted words changed, else a pointer to it.

    ``cite`` is the top result's citation as the asker reads it (English names for an English
    question); the documents' own citation by default.
    """
    en = query.english
    if not results:
        return NO_ANSWER_EN if en else NO_ANSWER_ZH
    if abstained:
        return (
            NO_ANSWER_EN + " Possibly related clauses are listed below."
            if en
            else NO_ANSWER_ZH + "以下条款可能相关,仅供参考。"
        )
    top = results[0]
    note_label = "Version note: " if en else "版本说明:"
    lines = []
    if query.version == "compare" and top.version_note and top.version_note not in lead:
        # Asked what changed: the change is the answer, the quoted sentence its evidence.
        lines.append(note_label + top.version_note)
    lines += [lead or top.highlight, f"——{cite or top.citation}"]
    if top.version_note and query.version != "compare" and top.version_note not in lead:
        if top.superseded or top.highlight not in superseded_text:
            lines.append(note_label + top.version_note)
        else:
            lines.append(
                "The final plan changed this task from the draft; see the comparison."
                if en
                else "正式版较草案有改动,见对比。"
            )
    if en:
        lines.append(UNOFFICIAL)
    return "\n".join(lines)


def coverage_of(
    query: Query,
    hits: Sequence[Hit],
    cue: AskCue | None,
    abstained: bool,
    margin: float | None = None,
    current_plan: str | None = None,
) -> Coverage:
    """``none`` when the documents do not cover the question; ``partial`` when the best clause
    covers its subject but no sentence of it (or of the same document's other results) holds the
    kind of thing asked for, such as an amount of money or a phone number.

    With a ``margin``, a task holds it only in a sentence about as close to the question as its
    closest: the meters' "三年内" does not date the 瓶改管 that was asked about. A task of the
    ``current_plan`` (its document id) whose target is met within the plan's period answers when
    it will be done (``within_period``)."""
    if abstained or not hits:
        return "none"
    top = hits[0]
    if (
        cue is None
        or cue.missing is None
        or not query.asks_detail
        or query.clause is not None
        or query.lists_tasks
        or query.version_status is not None
    ):
        return "answered"
    # Another background paragraph among the results may hold it; another task of a plan does not.
    holders = (
        [top]
        if isinstance(top.chunk.clause, int)
        else [h for h in hits if not isinstance(h.chunk.clause, int)]
    )
    given = query.asking_text
    if any(asked_sentence(h, cue, True, margin, given=given) for h in holders):
        return "answered"
    if top.chunk.doc_id == current_plan and within_period(query, top, cue, margin):
        return "answered"
    return "partial"


def within_period(query: Query, hit: Hit, cue: AskCue, margin: float | None) -> bool:
    """Whether the plan's period answers when the task's target is met: every task of the plan is
    done within it, so "电线啥时候能清掉?" is answered by 入地率达到90%以上 and 2024-2026. Asked when
    work starts, in which month, or when it reaches the asker's street, it is not."""
    if not cue.period_targets or any(names_entry(query.asking_text, w) for w in cue.beyond_period):
        return False
    if not isinstance(hit.chunk.clause, int):
        return False
    text = hit.chunk.text
    near = hit.sentences[:1] if margin is None else hit.close_to_best(margin)
    return any(p.search(text[s:e]) for s, e in near for p in cue.period_targets)


def unstated_detail(
    query: Query,
    hits: Sequence[Hit],
    lexicon: Lexicon,
    margin: float | None = None,
    current_plan: str | None = None,
) -> AskCue | None:
    """The first other kind of detail the question asks for (``Query.also_asks``) that the
    answer's clause does not give: 回收点在哪里…卖给谁 is answered who by the lead units, and where
    is still not said. None when each is given."""
    for kind in query.also_asks:
        cue = lexicon.cue(kind)
        detail = replace(query, asks=kind, asks_detail=True)
        if cue is not None and coverage_of(detail, hits, cue, False, margin, current_plan) == "partial":
            return cue
    return None


def _units(result: Result, lexicon: Lexicon, english: bool) -> str:
    if english:
        return ", ".join(lexicon.english(u) or u for u in result.lead_units)
    return "、".join(result.lead_units)


def lead_sentence(
    query: Query,
    top: Result,
    doc: Document,
    lexicon: Lexicon,
    coverage: Coverage,
    missing: str | None,
    cue: AskCue | None = None,
) -> str:
    """One sentence a resident reads at a glance: which clause, who leads it, the words that answer.

    Asked when a task of the current plan is done, where the words that answer name no time, the
    plan's period follows them: every task runs within it.

    Around the documents' own words only fixed phrases are written; an English lead names the
    task and units through the glossary (an unofficial translation) and keeps the quotation in
    Chinese.
    """
    en = query.english
    # A signature's lines (issuer, date) read as one line in the lead.
    words = " ".join(line.strip() for line in top.highlight.split("\n") if line.strip())
    spans = split_sentences(words)
    if isinstance(top.clause, int) and len(spans) > 1 and is_task_title(words[: spans[0][1]]):
        words = words[spans[1][0] :]  # the lead names the task already: not "第29项 …:29.深化…。"
    period = PLAN_PERIOD.search(words) if query.about_period and top.version == "final" else None
    if period is not None:
        first, last = period.group(1), period.group(2)
        if en:
            return f"The plan runs from {first} to the end of {last}: {words} (its title, quoted in Chinese)"
        return f"{doc.cite_title}的实施期为{period.group(0)},到{last}年底结束。"
    if is_lead_note(words) and top.lead_units:
        # Asked who leads a task: the units are the answer, not the raw note.
        label = clause_label(int(top.clause or 0), en, superseded=top.superseded)
        if en:
            title = lexicon.english(top.title) or top.title
            return f'{capitalised(label)} "{title}" is led by {_units(top, lexicon, True)}.'
        return f"{label} {top.title}的牵头单位是:{_units(top, lexicon, False)}。"
    if isinstance(top.clause, int) and top.version is not None:
        where = _task_named(top, lexicon, en)
    else:
        where = (lexicon.english(doc.title) or doc.cite_title) if en else doc.lead_name
    within = ""
    plan_period = PLAN_PERIOD.search(doc.title) if top.version == "final" else None
    if (
        query.asks == "date"
        and cue is not None
        and plan_period is not None
        and isinstance(top.clause, int)
        and not _holds_kind(words, cue.answers)
    ):
        first, last = plan_period.group(1), plan_period.group(2)
        within = f" (the plan runs from {first} to {last})" if en else f"(计划实施期为{plan_period.group(0)})"
    superseded = ""
    if top.superseded:
        superseded = " (superseded draft text)" if en else "(草案原文,已被正式版取代)"
    if coverage == "partial":
        if en:
            return f'{where}{superseded} says "{words}" (quoted in Chinese), but does not state {missing}{within}.'
        return f"{where}{superseded}提到“{words}”,但没有写明{missing}{within}。"
    if en:
        return f"{where}{superseded}: {words} (quoted in Chinese){within}"
    return f"{where}{superseded}:{words}{within}"


def dropped_lead(
    final: Result, draft: Result, lexicon: Lexicon, english: bool, now: str | None = None
) -> str:
    """The lead for a question about draft words the final plan does not keep as they were: it
    quotes them as superseded and names the final task that replaced theirs. Where that task
    reworded them (``now``, its words for them: 30个 became 20个), it quotes its sentence that
    holds the new words; otherwise it says the words are not kept. Every change is the version
    note, which follows."""
    words = draft.highlight.strip()
    draft_label = clause_label(int(draft.clause or 0), english, superseded=True)
    final_label = clause_label(int(final.clause or 0), english)
    sentences = (final.text[s:e] for s, e in split_sentences(final.text))
    instead = next((sentence for sentence in sentences if now and now in sentence), None)
    if english:
        title = lexicon.english(final.title) or final.title
        said = f'{capitalised(draft_label)} said "{words}" (quoted in Chinese, superseded); '
        if instead is not None:
            return said + f'{final_label} "{title}" of the final plan says instead "{instead}".'
        return said + f'{final_label} "{title}" of the final plan does not keep these words as they were.'
    said = f"{draft_label}写的“{words}”(草案原文,已被正式版取代),正式版{final_label} {final.title}"
    if instead is not None:
        return said + f"改为“{instead}”"
    return said + "没有原样保留这句话。"


def change_lead(top: Result, lexicon: Lexicon, english: bool) -> str:
    """The lead for a question about how a task of the final plan changed from the draft: the task,
    who leads it, and every change, as the version note lists them."""
    if english:
        return f"{_task_named(top, lexicon, True)} compared with the draft: {top.version_note}"
    return f"{_task_named(top, lexicon, False)}与草案相比:{top.version_note}"


def also_answers(second: Result, lexicon: Lexicon, english: bool) -> str:
    """What a second task that answers about as well adds to the lead (installing lifts, and the
    old lifts' safety checks): which task, who leads it, its words."""
    words = second.highlight.strip()
    if english:
        return f" See also {_task_named(second, lexicon, True)}: {words} (quoted in Chinese)"
    return f"另见{_task_named(second, lexicon, False)}:{words}"


def _task_named(result: Result, lexicon: Lexicon, english: bool) -> str:
    """How a lead names a task: its number, title and lead units ("第10项 升级“美丽家园”建设(区房管局
    牵头)", 'Task 10 "Upgrade …" (led by District Housing Administration)')."""
    label = clause_label(int(result.clause or 0), english, superseded=result.superseded)
    units = _units(result, lexicon, english)
    if english:
        title = lexicon.english(result.title) or result.title
        return f'{capitalised(label)} "{title}"' + (f" (led by {units})" if units else "")
    return f"{label} {result.title}" + (f"({units}牵头)" if units else "")
