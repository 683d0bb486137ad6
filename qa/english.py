"""The English side of an answer: names of documents, tasks and lead units through the glossary,
and the fixed labels around the documents' words.

The glossary (``corpus/lexicon/glossary.json``) is an unofficial translation: a name it lacks
stays Chinese, and every English name of a unit or task keeps its Chinese original in brackets,
so a reader can always match it with the documents. The plans' own words are never translated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.documents import VERSION_LABELS, VERSION_LABELS_EN, Version
from qa.plan_format import clause_label, cn_number
from qa.version_notes import EnglishName, unit_names

__all__ = [
    "UNOFFICIAL",
    "LABELS",
    "labels",
    "document_name",
    "task_name",
    "units",
    "citation",
    "clause_name",
    "version_label",
]

UNOFFICIAL = (
    "Task titles, unit and document names are unofficial translations; the Chinese original is authoritative."
)

# The labels of an answer's cards in the CLI text, in either language.
LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "sources": "引用:",
        "related": "可能相关的条款:",
        "lead": "牵头单位:",
        "note": "版本说明:",
        "error": "错误:",
    },
    "en": {
        "sources": "Sources:",
        "related": "Possibly related clauses:",
        "lead": "Lead units: ",
        "note": "Version note: ",
        "error": "Error: ",
    },
}


def labels(english: bool) -> dict[str, str]:
    return LABELS["en" if english else "zh"]


def version_label(version: Version | None, english: bool) -> str:
    """[正式版] / [草案] / [背景材料], or Final plan / Draft / Background."""
    return (VERSION_LABELS_EN if english else VERSION_LABELS)[version]


def document_name(title: str, cite_title: str, english_name: EnglishName) -> str:
    """The glossary's English name of a document (an exact title), else its Chinese citation title."""
    return english_name(title) or cite_title


def task_name(number: int, title: str, english_name: EnglishName, superseded: bool = False) -> str:
    """task 29 "Tighten safety supervision of electric bicycles" (深化电动自行车安全监管)."""
    label = clause_label(number, True, superseded=superseded)
    english = english_name(title)
    if english is None:
        return f'{label} "{title}"'
    # A title that quotes a programme name ("Beautiful Homes") takes curly outer quotes.
    shown = f"“{english}”" if '"' in english else f'"{english}"'
    return f"{label} {shown} ({title})"


def units(names: Sequence[str], english_name: EnglishName) -> str:
    """District Housing Administration (区房管局), District Finance Bureau (区财政局)."""
    return unit_names(names, english_name)


def citation(
    doc_title: str,
    cite_title: str,
    clause: int | str | None,
    title: str,
    chinese: str,
    english_name: EnglishName,
    short: bool = False,
) -> str:
    """Where quoted words come from, in English where the glossary names the document.

    ``chinese`` is the documents' own citation (``Result.citation``), returned unchanged for a
    document the glossary does not name: a half-translated citation would match neither.
    ``short`` names a task by its number only, for a line under a lead sentence that named it.
    """
    english = english_name(doc_title)
    if english is None or not chinese.startswith(cite_title):
        return chinese
    rest = chinese[len(cite_title) :].strip()
    if not rest:
        return english
    if short and isinstance(clause, int):
        return f"{english}, {clause_label(clause, True)}"
    return f"{english}, {clause_name(clause, title, rest, english_name)}"


def clause_name(clause: int | str | None, title: str, label: str, english_name: EnglishName) -> str:
    """A clause named in English: task 29 "…" (…), question 4 "…", part 1 "…", else "label".

    ``label`` is the clause as the documents' citation names it after the document (第29项 …,
    问五:…, 一、…: ``qa.chunking.citation_label``); a task is named by number and title.
    """
    if isinstance(clause, int):
        return task_name(clause, title, english_name)
    numbered = _NUMBERED.fullmatch(label.strip())
    if numbered is not None and (n := cn_number(numbered.group(2))) is not None:
        kind = "question" if numbered.group(1) else "part"
        return f'{kind} {n} "{numbered.group(3)}"'
    return f'"{label.strip()}"'


_NUMBERED = re.compile(r"(问)?([零〇一二两三四五六七八九十]+)[:、](.+)", re.S)
