"""The answer to 正式版比草案新增了哪几项任务? / which tasks were merged?: every task with that status.

The plan comparison (``PlanVersions``) knows each task's status; this writes the listing a resident
reads, in the plans' own titles with fixed phrases around them, like the listing of a unit's tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa.compare import ListedStatus, TaskPair
from qa.english import UNOFFICIAL, task_name
from qa.plan_format import capitalised, clause_label
from qa.version_notes import EnglishName

__all__ = ["version_listing"]

# What the final plan did to the tasks listed, relative to the draft: (Chinese, English).
_NONE = {
    "added": ("新增", "adds no task"),
    "removed": ("删除", "removes no draft task"),
    "merged": ("合并", "merges no draft tasks"),
    "renamed": ("改标题", "gives no task a new title"),
    "renumbered": ("改编号", "renumbers no task"),
    "changed": ("改动", "changes no task"),
}


def _head(shown: ListedStatus, pairs: Sequence[TaskPair], english: bool) -> str:
    n, drafts = len(pairs), sum(len(p.drafts) for p in pairs)
    if english:
        return {
            "added": f"Compared with the draft, the final plan adds {n} tasks that have no counterpart in the draft:",
            "removed": f"Compared with the draft, the final plan removes {n} draft tasks:",
            "merged": f"The final plan merges {drafts} draft tasks into {n}:",
            "renamed": f"Compared with the draft, the final plan gives {n} tasks a new title:",
            "renumbered": f"Compared with the draft, {n} tasks have a new number in the final plan:",
            "changed": f"Compared with the draft, the final plan changes {n} tasks:",
        }[shown]
    return {
        "added": f"与草案相比,正式版新增{n}项任务(草案中没有对应任务):",
        "removed": f"与草案相比,正式版删除了草案的{n}项任务:",
        "merged": f"正式版将草案的{drafts}项任务合并为{n}项:",
        "renamed": f"与草案相比,正式版有{n}项任务改了标题:",
        "renumbered": f"与草案相比,正式版有{n}项任务的编号变了:",
        "changed": f"与草案相比,正式版有{n}项任务有改动:",
    }[shown]


def _line(
    pair: TaskPair, shown: ListedStatus, draft_title: Callable[[int], str], english_name: EnglishName | None
) -> str:
    """One task of the listing: its number and title, and the draft task it came from where that
    is what the listing is about. An English name keeps the Chinese title in brackets."""

    def name(number: int, text: str, superseded: bool = False) -> str:
        if english_name is not None:
            return task_name(number, text, english_name, superseded)
        return f"{clause_label(number, superseded=superseded)} {text}"

    english = english_name is not None
    if pair.final is None:
        line = name(pair.drafts[0], pair.draft_title, superseded=True)
    else:
        line = name(pair.final, pair.final_title)
        drafts = [name(d, draft_title(d), superseded=True) for d in pair.drafts]
        if shown == "merged":
            line += f"; merged from {' and '.join(drafts)}" if english else f"(由{'和'.join(drafts)}合并而成)"
        elif shown in ("renamed", "renumbered"):
            line += f"; was {drafts[0]}" if english else f"(原为{drafts[0]})"
    return capitalised(line) if english else line


def version_listing(
    asked: ListedStatus,
    shown: ListedStatus,
    pairs: Sequence[TaskPair],
    draft_title: Callable[[int], str],
    english_name: EnglishName | None = None,
    filtered: Sequence[TaskPair] | None = None,
) -> str:
    """Every task of ``pairs`` (the comparison's rows with status ``shown``), one a line, after a
    head that counts them; or one sentence saying there is none.

    ``asked`` is the status the question asked for: asked what the final plan removed when it
    removed none outright, the merged rows are shown (``PlanVersions.listing``) and the answer says
    so. ``draft_title`` gives a draft task's title by its number. ``english_name`` (the glossary)
    makes the answer English, naming tasks as ``qa.english.task_name`` does. ``filtered``: only
    these of ``pairs`` are within the question's filters; the head still counts them all.
    """
    english = english_name is not None
    lines: list[str] = []
    if asked != shown:
        zh, en = _NONE[asked]
        lines.append(f"The final plan {en} outright." if english else f"正式版没有整项{zh}草案中的任务。")
    if not pairs:
        zh, en = _NONE[shown]
        lines.append(
            f"Compared with the draft, the final plan {en}."
            if english
            else f"与草案相比,正式版没有{zh}的任务。"
        )
        return "\n".join(lines)
    lines.append(_head(shown, pairs, english))
    listed = pairs if filtered is None else filtered
    if len(listed) < len(pairs):
        lines.append(
            f"Of them, {len(listed)} match the filters:"
            if english
            else f"其中符合筛选条件的有{len(listed)}项:"
        )
    lines += [_line(p, shown, draft_title, english_name) for p in listed]
    if english:
        lines.append(UNOFFICIAL)
    return "\n".join(lines)
