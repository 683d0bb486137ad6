"""Draft versus final plan: which task became which, what changed in it, and why.

Tasks are paired by content, not by number: the final plan inserts a task (29), merges two
(draft 30 and 31) and moves the digital-governance tasks, so numbers stop lining up after 28.
Reasons come from the participation report's own numbered items, quoted exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from types import MappingProxyType
from typing import Literal, get_args

from qa.documents import Collection, Document
from qa.plan_format import (
    lead_units_of,
    strip_heading_number,
    strip_lead_note,
    strip_task_number,
)
from qa.structure import Clause, parse_clauses
from qa.version_notes import (
    Change,
    EnglishName,
    VersionNote,
    render_note,
    same_text,
    superseded_note,
)

__all__ = [
    "TaskPair",
    "DiffSpan",
    "TaskChange",
    "align_tasks",
    "pair_texts",
    "diff_task",
    "version_note",
    "describe_pair",
    "change_reason",
    "PlanVersions",
    "compare_plans",
    "reason_paragraphs",
    "REASON_ROLES",
    "TaskKey",
    "PairStatus",
    "ListedStatus",
    "LISTED_STATUSES",
    "has_status",
    "DiffOp",
]

TaskKey = tuple[str, int]  # (doc_id, task number)
PairStatus = Literal["same", "changed", "renumbered", "added", "removed", "merged"]
DiffOp = Literal["equal", "added", "removed", "reworded"]
# What a question may ask the final plan to list against the draft (正式版新增了哪些任务?). Besides
# the alignment's own statuses: a task that kept its place but got a new title, and any task whose
# text differs at all.
ListedStatus = Literal["added", "removed", "merged", "renamed", "renumbered", "changed"]
LISTED_STATUSES: tuple[ListedStatus, ...] = get_args(ListedStatus)
# Measured on the two plans: true counterparts score 0.69 or more, unrelated tasks 0.33 or less.
_MATCH = 0.5
# Two phrases in the same spot of a changed passage are shown as one rewording above this ratio.
_RESEMBLE = 0.5
# A phrase runs to the next Chinese or ASCII clause mark; the mark stays with it, so the phrases
# of a text always concatenate back to the text.
_PHRASE = re.compile(r"[^,。;、,;!?!?\n]*[,。;、,;!?!?\n]?")
_MARKS = re.compile(r"[\s,。;、,;!?!?:]")
# The documents that say why the final plan differs from the draft, most direct first: the report
# on the consultation lists what was changed after comments; the drafting notes and the
# interpretation describe the plan's content and making.
REASON_ROLES = ("participation-report", "drafting-notes", "interpretation")
_REPORT_ITEM = re.compile(r"(?m)^\d+、([^\n]*?)[;。 \t]*$")


@dataclass(frozen=True)
class TaskPair:
    """One row of the alignment. For "merged", ``draft`` is the first of ``draft_merged``."""

    draft: int | None
    final: int | None
    status: PairStatus
    similarity: float
    text_changed: bool = False
    draft_merged: tuple[int, ...] = ()
    draft_title: str = ""
    final_title: str = ""
    section: str = ""  # the final plan's section (the draft's for a removed task), unnumbered

    @property
    def drafts(self) -> tuple[int, ...]:
        """Every draft task behind this row: the merged ones, or the one, or none (added)."""
        return self.draft_merged or ((self.draft,) if self.draft is not None else ())


@dataclass(frozen=True)
class DiffSpan:
    op: DiffOp  # "added": in the final plan only; "removed": in the draft only
    draft: str
    final: str


@dataclass(frozen=True)
class TaskChange:
    """One row of the comparison tab: a task that is not the same in both versions."""

    pair: TaskPair
    summary: str
    reasons: tuple[str, ...]  # the participation report's own items, most specific first
    summary_en: str = ""  # the same note in English (the plans' words quoted in Chinese)

    @property
    def reason(self) -> str | None:
        return self.reasons[0] if self.reasons else None


# Every version note looks its pair's tasks up again; a plan is parsed once, and nobody writes to it.
@lru_cache(maxsize=8)
def _tasks(doc: Document) -> Mapping[int, Clause]:
    return MappingProxyType({int(c.clause): c for c in parse_clauses(doc) if c.kind == "task"})


def has_status(pair: TaskPair, status: ListedStatus) -> bool:
    """Whether the alignment row ``pair`` is one a listing of ``status`` names."""
    if status in ("added", "removed", "merged", "renumbered"):
        return pair.status == status
    if pair.final is None or not pair.drafts:
        return False
    if status == "renamed":  # one draft task, a new title; a merged task is listed as merged
        return len(pair.drafts) == 1 and pair.draft_title != pair.final_title
    return pair.text_changed  # "changed": any difference in the words or the lead units


def _text(doc: Document, clause: Clause) -> str:
    """The task as written, without its number (which is not content)."""
    return strip_task_number(doc.text[clause.start : clause.end])


def _rest(doc: Document, clause: Clause) -> str:
    """The task's sentences after its title, without the lead units (compared separately)."""
    return strip_lead_note(_text(doc, clause)).rstrip()[len(clause.title) + 1 :]


def _ratio(a: str, b: str) -> float:
    # autojunk would discard common Chinese characters as "popular" in texts over 200 characters
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _similarity(d_title: str, d_body: str, f_title: str, f_body: str) -> float:
    # Overlap relative to the shorter body, so a task that lost or gained whole sentences
    # (draft 10) still scores as itself; titles alone mislead (draft 28, draft 34 were retitled).
    blocks = SequenceMatcher(None, d_body, f_body, autojunk=False).get_matching_blocks()
    overlap = sum(b.size for b in blocks) / max(1, min(len(d_body), len(f_body)))
    return 0.3 * _ratio(d_title, f_title) + 0.7 * overlap


def _same(a: str, b: str, unit_aliases: Mapping[str, str]) -> bool:
    """Same words, and the same lead units once renamed offices (区建管委 / 区建设管理委) are one."""

    def units(text: str) -> list[str]:
        return [unit_aliases.get(u, u) for u in lead_units_of(text)]

    def body(text: str) -> str:
        return re.sub(r"\s", "", strip_lead_note(text))

    return body(a) == body(b) and units(a) == units(b)


def align_tasks(draft: Document, final: Document, unit_aliases: Mapping[str, str]) -> list[TaskPair]:
    """Pair every draft task with its final counterpart by title and body similarity.

    Pairs are taken best first, one to one; a draft task left over whose best counterpart is
    already taken was folded into it, and that final task becomes one "merged" pair listing
    every draft task in ``draft_merged``. Ordered by final number, a removed task placed after
    the final task its draft predecessor became.
    """
    return list(_aligned(draft, final, tuple(sorted(unit_aliases.items()))))


# Scoring every draft task against every final one takes a fifth of a second; the same two texts
# always align the same way, and every assistant, the page and the evaluation ask for them.
@lru_cache(maxsize=4)
def _aligned(
    draft: Document, final: Document, alias_items: tuple[tuple[str, str], ...]
) -> tuple[TaskPair, ...]:
    aliases = dict(alias_items)
    draft_tasks, final_tasks = _tasks(draft), _tasks(final)
    d_body = {n: strip_lead_note(_text(draft, c)).rstrip() for n, c in draft_tasks.items()}
    f_body = {n: strip_lead_note(_text(final, c)).rstrip() for n, c in final_tasks.items()}
    score = {
        (d, f): _similarity(draft_tasks[d].title, d_body[d], final_tasks[f].title, f_body[f])
        for d in draft_tasks
        for f in final_tasks
    }
    match: dict[int, int] = {}
    for (d, f), s in sorted(score.items(), key=lambda kv: -kv[1]):
        if s >= _MATCH and d not in match and f not in match.values():
            match[d] = f
    for d in draft_tasks:
        best = max(final_tasks, key=lambda f: score[d, f])
        if d not in match and score[d, best] >= _MATCH:
            match[d] = best
    pairs: list[tuple[float, TaskPair]] = []
    for f, drafts in [(f, tuple(d for d in draft_tasks if match.get(d) == f)) for f in final_tasks]:
        ftitle, section = final_tasks[f].title, strip_heading_number(final_tasks[f].section)
        if not drafts:
            pair = TaskPair(None, f, "added", 0.0, True, (), "", ftitle, section)
        elif len(drafts) > 1:
            sim = _similarity("", "".join(d_body[d] for d in drafts), "", f_body[f])
            pair = TaskPair(
                drafts[0], f, "merged", sim, True, drafts, draft_tasks[drafts[0]].title, ftitle, section
            )
        else:
            d = drafts[0]
            changed = not _same(_text(draft, draft_tasks[d]), _text(final, final_tasks[f]), aliases)
            status: PairStatus = "renumbered" if d != f else "changed" if changed else "same"
            pair = TaskPair(d, f, status, score[d, f], changed, (), draft_tasks[d].title, ftitle, section)
        pairs.append((f, pair))
    for d in [d for d in draft_tasks if d not in match]:
        after = max((f for n, f in match.items() if n < d), default=0) + 0.5
        section = strip_heading_number(draft_tasks[d].section)
        pairs.append((after, TaskPair(d, None, "removed", 0.0, True, (), draft_tasks[d].title, "", section)))
    return tuple(pair for _, pair in sorted(pairs, key=lambda kp: kp[0]))


def pair_texts(pair: TaskPair, draft: Document, final: Document) -> tuple[str, str]:
    """The draft and final task texts of a pair (merged draft tasks one per line), for diff_task."""
    draft_tasks, final_tasks = _tasks(draft), _tasks(final)
    drafts = pair.drafts
    return "\n".join(_text(draft, draft_tasks[n]) for n in drafts), _text(
        final, final_tasks[pair.final]
    ) if pair.final else ""


def _pair_up(a: list[str], b: list[str]) -> list[DiffSpan]:
    """Align the phrases of a replaced passage in order.

    A phrase that still resembles one on the other side is a rewording of it; what lies between
    two such pairs is one span, so a dropped sentence stays whole and a sentence put in place of
    another reads as one rewording.
    """
    pairs, j = [], 0
    for i, x in enumerate(a):
        k = next((k for k in range(j, len(b)) if _ratio(x, b[k]) >= _RESEMBLE), None)
        if k is not None:
            pairs.append((i, k))
            j = k + 1
    spans, i, j = [], 0, 0
    for pi, pk in [*pairs, (len(a), len(b))]:
        old, new = "".join(a[i:pi]), "".join(b[j:pk])
        if old or new:
            spans.append(DiffSpan("reworded" if old and new else "removed" if old else "added", old, new))
        if pi < len(a):
            spans.append(DiffSpan("reworded", a[pi], b[pk]))
        i, j = pi + 1, pk + 1
    return spans


def diff_task(draft_text: str, final_text: str) -> list[DiffSpan]:
    """Phrase-level changes between two task texts; the spans' sides concatenate to the texts."""
    old, new = [p for p in _PHRASE.findall(draft_text) if p], [p for p in _PHRASE.findall(final_text) if p]
    spans: list[DiffSpan] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            spans.append(DiffSpan("equal", "".join(old[i1:i2]), "".join(new[j1:j2])))
        else:
            spans.extend(_pair_up(old[i1:i2], new[j1:j2]))
    return spans


def _changes(spans: list[DiffSpan]) -> list[Change]:
    """The spans a reader would notice: not punctuation, not a phrase that only moved."""
    out = []
    for k, s in enumerate(spans):
        others = spans[:k] + spans[k + 1 :]
        d, f = _MARKS.sub("", s.draft), _MARKS.sub("", s.final)
        gone = d != f and bool(d) and d not in _MARKS.sub("", "".join(o.final for o in others))
        new = d != f and bool(f) and f not in _MARKS.sub("", "".join(o.draft for o in others))
        if gone and new:
            out.append(Change("reworded", s.draft, s.final))
        elif gone:
            out.append(Change("deleted", s.draft, sentence=s.draft.rstrip().endswith(("。", ";"))))
        elif new:
            out.append(Change("added", final=s.final))
    return out


def describe_pair(
    pair: TaskPair, draft: Document, final: Document, unit_aliases: Mapping[str, str]
) -> VersionNote | None:
    """Every change of this task from the draft to the final plan, as records; None when the
    task is the same in both (``unit_aliases`` as for ``version_note``)."""
    if pair.status == "same":
        return None
    if pair.final is None:
        assert pair.draft is not None
        return VersionNote("removed", ((pair.draft, pair.draft_title),))
    final_clause = _tasks(final)[pair.final]
    if pair.draft is None:
        # a new task may lift a sentence from the draft's other parts (final 36 from 保障措施)
        known = [
            s
            for s in re.findall(r"[^。]+。", _rest(final, final_clause))
            if len(s) >= 10 and s[:-1] in draft.text
        ]
        return VersionNote("new", final=pair.final, known=known[0] if known else None)
    draft_clauses = [_tasks(draft)[n] for n in pair.drafts]
    changes = (
        [Change("retitled", draft_clauses[0].title, final_clause.title)]
        if len(draft_clauses) == 1 and draft_clauses[0].title != final_clause.title
        else []
    )
    changes += _changes(
        diff_task("".join(_rest(draft, c) for c in draft_clauses), _rest(final, final_clause))
    )
    # every change: a reader must not have to open the comparison to see the rest
    old, new = (
        list(dict.fromkeys(unit_aliases.get(u, u) for c in cs for u in c.lead_units))
        for cs in (draft_clauses, [final_clause])
    )
    if added := [u for u in new if u not in old]:
        changes.append(Change("units_added", units=tuple(added)))
    if dropped := [u for u in old if u not in new]:
        changes.append(Change("units_dropped", units=tuple(dropped)))
    return VersionNote(
        "changed",
        tuple((int(c.clause), c.title) for c in draft_clauses),
        pair.final,
        merged=pair.status == "merged",
        renumbered=pair.status == "renumbered",
        changes=tuple(changes),
    )


def version_note(
    pair: TaskPair,
    draft: Document,
    final: Document,
    unit_aliases: Mapping[str, str],
    english: bool = False,
    english_name: EnglishName | None = None,
) -> str | None:
    """How the final plan differs from the draft for this task, in the plans' own words.

    ``unit_aliases`` maps each name of a lead unit to one name, so an office the final plan
    renamed (区建管委 / 区建设管理委) is not reported as a change. ``english`` renders it in
    English, naming lead units through ``english_name`` (the glossary).
    """
    note = describe_pair(pair, draft, final, unit_aliases)
    return None if note is None else render_note(note, english, english_name)


def _reasons(pair: TaskPair, report: Document) -> tuple[str, ...]:
    # An item names a task by its title ("增设“深化电动自行车安全监管”任务") or a whole section by
    # a phrase of its heading ("强化场景实战应用"); a named task comes before its section.
    if pair.status == "same":
        return ()
    items = [m.group(1) for m in _REPORT_ITEM.finditer(report.text)]
    titles = [t for t in (pair.final_title, pair.draft_title) if t]
    phrases = [p for p in re.split(r"[,,]", pair.section) if p]
    named = [i for i in items if any(t in i for t in titles)]
    return tuple(named + [i for i in items if i not in named and any(p in i for p in phrases)])


def change_reason(pair: TaskPair, report: Document) -> str | None:
    """The participation report's item that explains this change, exactly as written, if any."""
    return next(iter(_reasons(pair, report)), None)


@dataclass(frozen=True)
class PlanVersions:
    """The superseded and the current plan side by side, computed once for a collection.

    ``notes`` holds the version note of every task that has one (a superseded task's note always
    opens by saying which current task replaced it, so its text is never shown without that);
    ``notes_en`` the same notes in English; ``counterparts`` each task's counterpart in the other
    plan.
    """

    draft: Document
    final: Document
    pairs: tuple[TaskPair, ...]
    notes: Mapping[TaskKey, str] = field(default_factory=dict)
    counterparts: Mapping[TaskKey, TaskKey] = field(default_factory=dict)
    changes: tuple[TaskChange, ...] = ()
    notes_en: Mapping[TaskKey, str] = field(default_factory=dict)
    # Each final task's changes as records (``describe_pair``), by its number.
    records: Mapping[int, VersionNote] = field(default_factory=dict)

    def rewording(self, final: int, draft_words: str) -> str | None:
        """The final plan's words for ``draft_words`` where task ``final`` reworded them (30个 became
        20个), not dropped them: None when they were deleted or the task is unchanged."""
        note = self.records.get(final)
        for change in note.changes if note else ():
            if change.kind == "reworded" and change.draft.strip(",。;、,;") in draft_words:
                return change.final
        return None

    def listed(self, status: ListedStatus) -> tuple[TaskPair, ...]:
        """Every alignment row with ``status``, in the final plan's order."""
        return tuple(p for p in self.pairs if has_status(p, status))

    def listing(self, status: ListedStatus) -> tuple[ListedStatus, tuple[TaskPair, ...]]:
        """The rows that answer a question about ``status``, and the status they have.

        Asked what the final plan removed when it removed no task outright, the answer is the
        merged rows: their draft tasks are the ones that no longer stand on their own.
        """
        rows = self.listed(status)
        if not rows and status == "removed":
            return "merged", self.listed("merged")
        return status, rows

    def listed_tasks(self, status: ListedStatus) -> tuple[TaskKey, ...]:
        """The tasks the answer to a question about ``status`` lists (``listing``), in order: the
        final plan's, or the draft's for a task the final plan removed."""
        return tuple(
            (self.final.doc_id, p.final) if p.final is not None else (self.draft.doc_id, p.drafts[0])
            for p in self.listing(status)[1]
        )

    def pair_of(self, doc_id: str, number: int) -> TaskPair | None:
        """The alignment row holding task ``number`` of the plan ``doc_id``."""
        for pair in self.pairs:
            if (doc_id == self.final.doc_id and pair.final == number) or (
                doc_id == self.draft.doc_id and number in pair.drafts
            ):
                return pair
        return None

    def notes_in(self, english: bool) -> Mapping[TaskKey, str]:
        """The version notes in the asker's language."""
        return self.notes_en if english else self.notes


def compare_plans(
    collection: Collection, unit_aliases: Mapping[str, str], english_name: EnglishName | None = None
) -> PlanVersions:
    """Align the superseded plan with the current one and describe every change, once, in Chinese
    and in English (lead units named through ``english_name``, the glossary)."""
    draft, final = collection.superseded_plan, collection.current_plan
    report = collection.by_role("participation-report")
    pairs = tuple(align_tasks(draft, final, unit_aliases))
    notes: dict[TaskKey, str] = {}
    notes_en: dict[TaskKey, str] = {}
    counterparts: dict[TaskKey, TaskKey] = {}
    changes: list[TaskChange] = []
    records: dict[int, VersionNote] = {}
    for pair in pairs:
        described = describe_pair(pair, draft, final, unit_aliases)
        if described is not None and pair.final is not None:
            records[pair.final] = described
        note = render_note(described) if described else None
        note_en = render_note(described, True, english_name) if described else None
        if pair.status != "same":
            changes.append(TaskChange(pair, note or "", _reasons(pair, report), note_en or ""))
        if pair.final is not None:
            if note and note_en:
                notes[(final.doc_id, pair.final)] = note
                notes_en[(final.doc_id, pair.final)] = note_en
            if pair.drafts:
                counterparts[(final.doc_id, pair.final)] = (draft.doc_id, pair.drafts[0])
        for d in pair.drafts:
            notes[(draft.doc_id, d)] = superseded_note(d, pair.final) + (note or same_text())
            notes_en[(draft.doc_id, d)] = superseded_note(d, pair.final, True) + (note_en or same_text(True))
            if pair.final is not None:
                counterparts[(draft.doc_id, d)] = (final.doc_id, pair.final)
    return PlanVersions(draft, final, pairs, notes, counterparts, tuple(changes), notes_en, records)


def reason_paragraphs(
    versions: PlanVersions, collection: Collection
) -> dict[tuple[str, int | str | None], tuple[tuple[str, int | str | None], ...]]:
    """For each task the final plan added or changed, the paragraphs (clauses) of the process
    documents (``REASON_ROLES``) that say why, keyed by the task in either plan.

    A paragraph says why when it names the task by its final or draft title (增设“深化电动自行车
    安全监管”任务) or holds the participation report's item about it (``TaskChange.reasons``, which
    also finds a task through its section's heading); those naming the title come first.
    """
    documents = [d for d in collection.documents if d.role in REASON_ROLES]
    documents.sort(key=lambda d: REASON_ROLES.index(d.role))
    paragraphs = [(d.doc_id, c.clause, d.text[c.start : c.end]) for d in documents for c in parse_clauses(d)]
    out: dict[tuple[str, int | str | None], tuple[tuple[str, int | str | None], ...]] = {}
    for change in versions.changes:
        pair = change.pair
        titles = [t for t in (pair.final_title, pair.draft_title) if t]
        named = [(doc, clause) for doc, clause, text in paragraphs if any(t in text for t in titles)]
        explained = [
            (doc, clause) for doc, clause, text in paragraphs if any(r in text for r in change.reasons)
        ]
        found = tuple(dict.fromkeys(named + explained))
        if not found:
            continue
        keys: list[tuple[str, int | str | None]] = [(versions.draft.doc_id, d) for d in pair.drafts]
        if pair.final is not None:
            keys.append((versions.final.doc_id, pair.final))
        for key in keys:
            out[key] = found
    return out
