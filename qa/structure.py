"""Structure of each document: sections, numbered tasks with lead units, Q&A pairs, numbered parts.

Offsets are into the document's stored text, so ``doc.text[c.start:c.end]`` is always the clause.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from qa.documents import Document
from qa.plan_format import (
    LEAD_NOTE,
    PART_HEADING,
    QUESTION_LINE,
    SUB_HEADING,
    TASK_LINE,
    TOP_HEADING,
    lead_units_of,
)

__all__ = [
    "Clause",
    "Section",
    "parse_clauses",
    "parse_sections",
    "lines_with_offsets",
    "is_signature",
    "sign_off",
    "is_heading",
]

_DATE_LINE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
# An issuing office's line: "上海市…委员会", "中共…办公室".
_ISSUER_LINE = re.compile(r"(中共)?\S*[市区县]\S*(委员会|办公室)")


@dataclass(frozen=True)
class Clause:
    doc_id: str
    clause: int | str  # task number in a plan; part id ("一", "3") elsewhere
    kind: str  # "task", "qa" or "part"
    title: str
    section: str
    lead_units: tuple[str, ...]
    start: int
    end: int

    def as_dict(self) -> dict[str, object]:
        return {
            "clause": self.clause,
            "kind": self.kind,
            "title": self.title,
            "section": self.section,
            "lead_units": list(self.lead_units),
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class Section:
    heading: str
    start: int
    end: int  # end of the heading text itself


def lines_with_offsets(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with the offset of their first character."""
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            yield pos, line
        pos += len(line) + 1


def is_signature(line: str) -> bool:
    """The issuer and date lines that close a document."""
    line = line.strip()
    return bool(_DATE_LINE.fullmatch(line) or _ISSUER_LINE.fullmatch(line))


def sign_off(text: str) -> tuple[int, int] | None:
    """The issuer and date lines that close ``text``, as offsets, when it ends with them and they
    hold a date: who issued it and when, together."""
    lines = list(lines_with_offsets(text))
    first = len(lines)
    while first and is_signature(lines[first - 1][1]):
        first -= 1
    block = lines[first:]
    if not block or not any(_DATE_LINE.fullmatch(line.strip()) for _, line in block):
        return None
    start, last = block[0][0], block[-1]
    return start, last[0] + len(last[1].rstrip())


def is_heading(line: str) -> bool:
    return bool(TOP_HEADING.match(line) or SUB_HEADING.match(line)) and "。" not in line


def _first_sentence(text: str) -> str:
    return re.split(r"[。?]", text, maxsplit=1)[0]


def _plan_lines(doc: Document) -> Iterator[tuple[int, str, bool]]:
    """Lines of a plan as (offset, text, is_task), with headings glued onto a task line split off.

    The source glues some section headings onto the end of the preceding task's line
    (``…(牵头单位:区城管执法局)二、推进绿色低碳发展…``): the heading belongs to the next section.
    """
    for at, line in lines_with_offsets(doc.text):
        if not TASK_LINE.match(line):
            yield at, line, False
            continue
        lead = None
        for lead in LEAD_NOTE.finditer(line):
            pass
        if lead is not None and is_heading(line[lead.end() :].strip()):
            yield at, line[: lead.end()], True
            rest = line[lead.end() :]
            yield at + lead.end() + (len(rest) - len(rest.lstrip())), rest.strip(), False
        else:
            yield at, line, True


def parse_sections(doc: Document) -> list[Section]:
    """Section headings of a plan, in order, including headings glued onto task lines."""
    if not doc.is_plan:
        return []
    return [
        Section(line, at, at + len(line))
        for at, line, is_task in _plan_lines(doc)
        if not is_task and is_heading(line)
    ]


def _parse_plan(doc: Document) -> list[Clause]:
    clauses = []
    section = ""
    for at, line, is_task in _plan_lines(doc):
        if not is_task:
            if is_heading(line):
                section = line
            continue
        m = TASK_LINE.match(line)
        assert m is not None
        units = lead_units_of(line)
        clauses.append(
            Clause(
                doc_id=doc.doc_id,
                clause=int(m.group(1)),
                kind="task",
                title=_first_sentence(line[m.end() :]),
                section=section,
                lead_units=units,
                start=at,
                end=at + len(line.rstrip()),
            )
        )
    return clauses


def _parse_blocks(doc: Document, starts: re.Pattern[str], kind_of: str) -> list[Clause]:
    """Blocks that begin at a line matching ``starts`` and run to the next one or the signature."""
    clauses: list[Clause] = []
    current: tuple[int, str, str] | None = None  # (start, id, title)
    last_end = 0

    def close() -> None:
        if current is not None:
            start, cid, title = current
            kind = "qa" if kind_of == "qa" or title.endswith("?") else "part"
            clauses.append(Clause(doc.doc_id, cid, kind, title.rstrip("?"), "", (), start, last_end))

    for at, line in lines_with_offsets(doc.text):
        m = starts.match(line)
        if m:
            close()
            body = line[m.end() :]
            current = (at, m.group(1), _first_sentence(body) if "?" not in body else body.strip())
            last_end = at + len(line.rstrip())
        elif is_signature(line):
            close()
            current = None
        elif current is not None:
            last_end = at + len(line.rstrip())
    close()
    return clauses


def parse_clauses(doc: Document) -> list[Clause]:
    """The numbered units of a document, by its layout: plan tasks, Q&A pairs or numbered parts.

    A document without a layout is a single statement and has none.
    """
    if doc.layout == "tasks":
        return _parse_plan(doc)
    if doc.layout == "questions":
        return _parse_blocks(doc, QUESTION_LINE, "qa")
    if doc.layout == "parts":
        return _parse_blocks(doc, PART_HEADING, "part")
    return []
