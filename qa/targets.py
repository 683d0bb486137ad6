"""The targets of a task that carry numbers: "三年内新增加装电梯466台", "覆盖率力争达到60%".

A target is a phrase of the task (up to the next clause mark) with at least one digit in it, in the
plan's own words. The task's number and its lead units are not targets.
"""

from __future__ import annotations

import re

from qa.plan_format import strip_lead_note, strip_task_number

__all__ = ["numbered_targets"]

# "、" is not a boundary: "完成210户液化气钢瓶用户瓶改管或改电工作" and lists like "区区交界、城乡交界" stay whole.
_PHRASE = re.compile(r"([^,,。;;::!!??\n]+)([,,。;;::!!??\n]?)")
_DIGIT = re.compile(r"\d")
# A phrase this short only dates or counts the next one ("至2026年底,全面完成…"): keep them together.
_QUALIFIER_CHARS = 8


def numbered_targets(text: str) -> list[str]:
    """The phrases of a task's text that contain a digit, in order, without duplicates.

    Args:
        text: the task as written, e.g. ``doc.text[clause.start:clause.end]``.
    """
    body = strip_lead_note(strip_task_number(text))
    phrases = [(p.strip(), mark) for p, mark in _PHRASE.findall(body) if p.strip()]
    out: list[str] = []
    for i, (phrase, mark) in enumerate(phrases):
        if not _DIGIT.search(phrase):
            continue
        if len(phrase) <= _QUALIFIER_CHARS and mark in ",," and i + 1 < len(phrases):
            phrase = phrase + mark + phrases[i + 1][0]
        if phrase not in out:
            out.append(phrase)
    return out
