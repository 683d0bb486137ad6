"""Version notes: what changed in a task from the draft to the final plan, as facts first, then
words in the asker's language.

``qa.compare`` finds the changes; this module holds them as small frozen records and renders them.
The Chinese and the English note say the same things from the same records, so one can never
list a change the other leaves out. Around the plans' own words (quoted exactly, in Chinese)
only fixed phrases are written; lead units are named through the glossary in English, with the
Chinese name in brackets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from qa.plan_format import capitalised, clause_label

__all__ = [
    "Change",
    "ChangeKind",
    "EnglishName",
    "NoteKind",
    "VersionNote",
    "quoted",
    "render_note",
    "same_text",
    "superseded_note",
    "unit_names",
]

ChangeKind = Literal["retitled", "reworded", "deleted", "added", "units_added", "units_dropped"]
# "removed": the final plan dropped the task; "new": the draft had none; "changed": everything else
# that is not the same (reworded, renumbered, merged, a lead unit more or less).
NoteKind = Literal["removed", "new", "changed"]
# The English name of one of the documents' words, or None (the glossary's ``Lexicon.english``).
EnglishName = Callable[[str], str | None]

# A quotation longer than this is cut with "…": a note names the change, the diff shows it whole.
_QUOTE_CHARS = 50


@dataclass(frozen=True)
class Change:
    """One change a reader would notice. ``draft``/``final``: the plans' words on either side."""

    kind: ChangeKind
    draft: str = ""
    final: str = ""
    units: tuple[str, ...] = ()  # units_added / units_dropped, by canonical name
    sentence: bool = False  # a deleted passage that ends a sentence ("the sentence", 一句)


@dataclass(frozen=True)
class VersionNote:
    """How one row of the alignment differs between the plans.

    ``drafts`` holds the draft tasks behind it with their titles (two for a merged task); ``known``
    a sentence of a new task that the draft already had in another part.
    """

    kind: NoteKind
    drafts: tuple[tuple[int, str], ...] = ()
    final: int | None = None
    merged: bool = False
    renumbered: bool = False
    changes: tuple[Change, ...] = ()
    known: str | None = None


def quoted(text: str) -> str:
    """The plans' words in straight double quotes, cut after 50 characters."""
    text = text.strip().strip(",。;、,;")
    return f'"{text[:_QUOTE_CHARS]}…"' if len(text) > _QUOTE_CHARS else f'"{text}"'


def render_note(note: VersionNote, english: bool = False, english_name: EnglishName | None = None) -> str:
    """The note as a sentence or two: every change listed, none summarised away."""
    if english:
        return _english(note, english_name or (lambda _: None))
    return _chinese(note)


def superseded_note(draft: int, final: int | None, english: bool = False) -> str:
    """The opening of a draft task's note: which task of the final plan replaced it, if any."""
    if english:
        if final is None:
            return f"This is {clause_label(draft, True, superseded=True)}; the final plan no longer has this task. "
        return f"This is {clause_label(draft, True, superseded=True)}, replaced by {clause_label(final, True)} of the final plan. "
    if final is None:
        return f"此为{clause_label(draft, superseded=True)},正式版中已没有这一项。"
    return f"此为{clause_label(draft, superseded=True)},已被正式版{clause_label(final)}取代。"


def same_text(english: bool = False) -> str:
    """A draft task's note when the final plan kept it word for word."""
    return "The final plan's text is the same as the draft's." if english else "正式版内容与草案相同。"


def _chinese(note: VersionNote) -> str:
    if note.kind == "removed":
        number, title = note.drafts[0]
        return f'{clause_label(number, superseded=True)}"{title}"在正式版中已删除。'
    if note.kind == "new":
        head = "正式版新增此项,草案中没有对应任务"
        return head + (f";其中{quoted(note.known)}一句在草案的其他部分已有。" if note.known else "。")
    assert note.final is not None
    head = ""
    if note.merged:
        merged = "和".join(f'{clause_label(n)}"{title}"' for n, title in note.drafts)
        head = f"正式版{clause_label(note.final)}由草案{merged}合并而成。"
    elif note.renumbered:
        head = f"{clause_label(note.drafts[0][0], superseded=True)},正式版为{clause_label(note.final)}。"
    if not note.changes:
        return head + ("内容未变。" if head else "内容未变,仅调整了格式或牵头单位的排列顺序。")
    return head + ";".join(_chinese_change(c) for c in note.changes) + "。"


def _chinese_change(change: Change) -> str:
    if change.kind == "retitled":
        return f'标题由"{change.draft}"改为"{change.final}"'
    if change.kind == "reworded":
        return f"草案为{quoted(change.draft)},正式版改为{quoted(change.final)}"
    if change.kind == "deleted":
        return f"草案中{quoted(change.draft)}{'一句' if change.sentence else ''}在正式版中已删除"
    if change.kind == "added":
        return f"正式版新增{quoted(change.final)}"
    if change.kind == "units_added":
        return "牵头单位增加" + "、".join(change.units)
    return "牵头单位不再包括" + "、".join(change.units)


def _english(note: VersionNote, english_name: EnglishName) -> str:
    if note.kind == "removed":
        number, title = note.drafts[0]
        return f'{capitalised(clause_label(number, True, superseded=True))} "{title}" was deleted from the final plan.'
    if note.kind == "new":
        head = "New in the final plan; the draft had no such task."
        if note.known:
            head += f" The sentence {quoted(note.known)} was already in another part of the draft."
        return head
    assert note.final is not None
    head = ""
    if note.merged:
        numbers = [str(n) for n, _ in note.drafts]
        titles = " and ".join(f'"{title}"' for _, title in note.drafts)
        head = (
            f"{capitalised(clause_label(note.final, True))} of the final plan merges draft tasks "
            f"{' and '.join(numbers)} ({titles}). "
        )
    elif note.renumbered:
        head = f"{capitalised(clause_label(note.drafts[0][0], True, superseded=True))} is {clause_label(note.final, True)} in the final plan. "
    if not note.changes:
        return head + (
            "Text unchanged."
            if head
            else "Text unchanged; only the formatting or the order of the lead units changed."
        )
    return head + " ".join(_english_change(c, english_name) + "." for c in note.changes)


def _english_change(change: Change, english_name: EnglishName) -> str:
    if change.kind == "retitled":
        return f'Title changed from "{change.draft}" to "{change.final}"'
    if change.kind == "reworded":
        return f"The draft said {quoted(change.draft)}; the final plan says {quoted(change.final)}"
    if change.kind == "deleted":
        what = "the sentence" if change.sentence else "the words"
        return f"The final plan deleted {what} {quoted(change.draft)}"
    if change.kind == "added":
        return f"The final plan adds {quoted(change.final)}"
    units = unit_names(change.units, english_name)
    if change.kind == "units_added":
        return f"Lead units added: {units}"
    return f"Lead units no longer include: {units}"


def unit_names(units: Sequence[str], english_name: EnglishName) -> str:
    """Units in English with the Chinese name in brackets: District Housing Administration (区房管局)."""
    return ", ".join(f"{name} ({u})" if (name := english_name(u)) else u for u in units)
