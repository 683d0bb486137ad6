"""The plan's writing conventions, in one place: task lines, lead-unit notes, heading numbers,
Chinese numerals, sentence ends, and how a clause is named ("第29项").

The two plans and their background documents write a task as ``29.深化电动自行车安全监管。…
(牵头单位:区应急局、区建设管理委、区消防救援支队)``, number their sections ``一、`` and ``(一)``,
and end sentences with full-width or ASCII marks alike. Every other module reads the text
through these patterns and helpers.
"""

from __future__ import annotations

import re

__all__ = [
    "CN_NUMERALS",
    "TASK_LINE",
    "TASK_NUMBER",
    "LEAD_NOTE",
    "TOP_HEADING",
    "SUB_HEADING",
    "PART_HEADING",
    "QUESTION_LINE",
    "PLAN_PERIOD",
    "cn_number",
    "strip_heading_number",
    "strip_task_number",
    "strip_lead_note",
    "lead_units_of",
    "is_lead_note",
    "is_task_title",
    "split_sentences",
    "clause_label",
    "capitalised",
]

CN_NUMERALS = "一二三四五六七八九十"
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}

# "29.深化…": a task line starts with its number and a full stop, text right after it.
TASK_LINE = re.compile(r"(\d+)\.(?=\S)")
# The same number at the start of a task's text, to take it out ("29." is not content).
TASK_NUMBER = re.compile(r"^\s*\d+\.")
# "(牵头单位:区应急局、区建设管理委)": the lead units, at the end of every task of both plans.
LEAD_NOTE = re.compile(r"\(牵头单位:([^)]*)\)")
TOP_HEADING = re.compile(rf"[{CN_NUMERALS}]+、")
SUB_HEADING = re.compile(rf"\([{CN_NUMERALS}]+\)")
# A numbered part of a background document ("二、主要内容"), its id captured.
PART_HEADING = re.compile(rf"([{CN_NUMERALS}]+)、")
# A numbered question of a Q&A document ("1.为什么要起草制定…?").
QUESTION_LINE = re.compile(r"(\d+)\.(?=.+\?\s*$)")
_HEADING_NUMBER = re.compile(rf"^\(?[{CN_NUMERALS}]+[)、]")
# The period a plan's title gives: "(2024-2026年)".
PLAN_PERIOD = re.compile(r"(\d{4})\s*[-—–]\s*(\d{4})年")
# A document named in a sentence: 《上海城市管理精细化三年行动计划(2024-2026年)》.
DOCUMENT_NAME = re.compile(r"《[^》]*》")
# A sentence keeps its closing mark; a line break also ends one.
_SENTENCE = re.compile(r"[^。;;!!??\n]+(?:[。;;!!??]|(?=\n)|$)")
_LEAD_UNIT_SEPARATOR = "、"


def cn_number(token: str) -> int | None:
    """``29``, ``二十九`` or ``十`` as an int; None for anything else."""
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if "十" in token:
        tens, _, ones = token.partition("十")
        if (tens and tens not in _CN_DIGITS) or (ones and ones not in _CN_DIGITS):
            return None
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    if len(token) == 1 and token in _CN_DIGITS:
        return _CN_DIGITS[token]
    return None


def strip_heading_number(heading: str) -> str:
    """A section heading without its number: the draft writes (一), the final plan 一、."""
    return _HEADING_NUMBER.sub("", heading, count=1)


def strip_task_number(text: str) -> str:
    return TASK_NUMBER.sub("", text, count=1)


def strip_lead_note(text: str) -> str:
    return LEAD_NOTE.sub("", text)


def lead_units_of(text: str) -> tuple[str, ...]:
    """The units named in the last lead-unit note of ``text``, in the order written."""
    notes = LEAD_NOTE.findall(text)
    if not notes:
        return ()
    return tuple(u.strip() for u in notes[-1].split(_LEAD_UNIT_SEPARATOR) if u.strip())


def is_lead_note(sentence: str) -> bool:
    """Whether a sentence is nothing but a lead-unit note."""
    return LEAD_NOTE.fullmatch(sentence.strip()) is not None


def is_task_title(sentence: str) -> bool:
    """Whether a sentence is a task's numbered title ("30.深入推进“一网统管”平台建设。"): the task
    line ends its title with 。, so the title is a sentence of its own."""
    return TASK_NUMBER.match(sentence) is not None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, stripped of surrounding whitespace."""
    spans = []
    for m in _SENTENCE.finditer(text):
        s, e = m.span()
        piece = text[s:e]
        if piece.strip():
            s += len(piece) - len(piece.lstrip())
            e -= len(piece) - len(piece.rstrip())
            spans.append((s, e))
    return spans


def clause_label(number: int, english: bool = False, superseded: bool = False) -> str:
    """How a task is named: 第29项, 草案第29项; task 29, draft task 29."""
    if english:
        return f"draft task {number}" if superseded else f"task {number}"
    return f"草案第{number}项" if superseded else f"第{number}项"


def capitalised(text: str) -> str:
    """English that starts a sentence: "task 10" becomes "Task 10"."""
    return text[:1].upper() + text[1:]
