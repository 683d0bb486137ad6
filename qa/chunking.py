"""Chunks: one per task, Q&A pair, part or paragraph, each an exact slice of its document.

A long unit is split with langchain-text-splitters on Chinese separators, keeping the
separator at the end of each piece so a sentence never loses its 。; every piece keeps its
parent's ids and gets its offsets by locating it in the parent, so
``document.text[chunk.start:chunk.end] == chunk.text`` holds for every chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.documents import Document
from qa.plan_format import clause_label
from qa.structure import Clause, is_signature, lines_with_offsets, parse_clauses, parse_sections

__all__ = ["Chunk", "chunk_document", "chunk_collection", "citation_label", "CHINESE_SEPARATORS"]

# Sentence ends come first so a heading stays with the sentence after it instead of becoming a
# piece of its own; the source writes ASCII punctuation (",", ";", "?") as often as full-width.
CHINESE_SEPARATORS = [
    "。",
    "\n\n",
    "\n",
    "\uff1b",
    ";",
    "\uff01",
    "!",
    "\uff1f",
    "?",
    "\uff0c",
    ",",
    "、",
    "",
]


_MIN_PIECE = 40


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    clause: int | str | None  # task number, part id, or None for a free paragraph
    title: str
    section: str
    lead_units: tuple[str, ...]
    start: int
    end: int
    text: str
    citation: str

    def as_dict(self) -> dict[str, object]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "clause": self.clause,
            "title": self.title,
            "section": self.section,
            "lead_units": list(self.lead_units),
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "citation": self.citation,
        }


def citation_label(doc: Document, clause: Clause | None, section: str = "") -> str:
    """E.g. 《长宁区城市管理精细化三年行动计划(2024-2026年)》第29项 深化电动自行车安全监管."""
    if clause is None:
        return f"{doc.cite_title} {section}".rstrip()
    if clause.kind == "task":
        return f"{doc.cite_title}{clause_label(int(clause.clause))} {clause.title}"
    if clause.kind == "qa":
        return f"{doc.cite_title} 问{clause.clause}:{clause.title}"
    return f"{doc.cite_title} {clause.clause}、{clause.title}"


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    clause: Clause | None
    section: str


def _free_units(doc: Document, clauses: Sequence[Clause]) -> list[_Unit]:
    """Paragraphs outside every clause. A heading or the title line joins the paragraph after it;
    signature lines join the paragraph before; a heading directly above a clause is left to the
    clause's section field rather than made a chunk of its own."""
    headings = {s.start: s.heading for s in parse_sections(doc)}
    segments: list[tuple[int, int, str]] = [(c.start, c.end, "clause") for c in clauses]
    for at, line in lines_with_offsets(doc.text):
        end = at + len(line.rstrip())
        for c in clauses:  # what is left of the line once clauses are taken out of it
            if c.start <= at < c.end:
                at = c.end
        rest = doc.text[at:end]
        if not rest.strip():
            continue
        at += len(rest) - len(rest.lstrip())
        line = doc.text[at:end]
        if is_signature(line):
            role = "signature"
        elif at in headings or (at == 0 and "。" not in line):
            role = "heading"
        else:
            role = "para"
        segments.append((at, end, role))
    segments.sort()

    units: list[_Unit] = []
    pending: list[int] = []
    section = ""
    extendable = False  # whether a signature may still join the last paragraph
    for start, end, role in segments:
        if start in headings:
            section = headings[start]
        if role == "clause":
            pending, extendable = [], False
        elif role == "heading":
            pending.append(start)
        elif role == "signature":
            if extendable:
                units[-1] = _Unit(units[-1].start, end, None, units[-1].section)
            else:
                # After a numbered part (二、征求意见截止日期…) the issuer and date stand on their own:
                # 这份告知是哪天发的? is answered by them, not by the part.
                units.append(_Unit(start, end, None, section))
                extendable = True
        else:
            units.append(_Unit(pending[0] if pending else start, end, None, section))
            pending, extendable = [], True
    return units


def _splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=CHINESE_SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )


def _pieces(text: str, splitter: RecursiveCharacterTextSplitter, limit: int) -> list[tuple[int, int]]:
    """(start, end) of each piece of ``text``, located in ``text`` itself."""
    if len(text) <= limit:
        return [(0, len(text))]
    spans = []
    cursor = 0
    for piece in splitter.split_text(text):
        at = text.find(piece, cursor)
        if at < 0:  # the splitter never rewrites text, so this is a bug worth failing loudly on
            raise ValueError(f"piece not found in its parent: {piece[:30]!r}")
        spans.append((at, at + len(piece)))
        cursor = at + 1
    # A heading split off on its own ("一、总体要求\n\n(一)指导思想") says nothing by itself: it
    # joins the piece after it, as it would in the unsplit text.
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and merged[-1][1] - merged[-1][0] < _MIN_PIECE and s <= merged[-1][1] + 2:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def chunk_document(doc: Document, chunk_size: int = 400, chunk_overlap: int = 40) -> list[Chunk]:
    """All chunks of one document, in document order."""
    clauses = parse_clauses(doc)
    units = [_Unit(c.start, c.end, c, c.section) for c in clauses] + _free_units(doc, clauses)
    units.sort(key=lambda u: u.start)
    splitter = _splitter(chunk_size, chunk_overlap)
    chunks = []
    para_no = 0
    for unit in units:
        if unit.clause is None:
            para_no += 1
            base_id = f"{doc.doc_id}#p{para_no}"
        else:
            base_id = f"{doc.doc_id}#{unit.clause.clause}"
        text = doc.text[unit.start : unit.end]
        spans = _pieces(text, splitter, chunk_size)
        for i, (s, e) in enumerate(spans, start=1):
            c = unit.clause
            chunks.append(
                Chunk(
                    chunk_id=base_id if len(spans) == 1 else f"{base_id}.{i}",
                    doc_id=doc.doc_id,
                    clause=c.clause if c else None,
                    title=c.title if c else "",
                    section=unit.section,
                    lead_units=c.lead_units if c else (),
                    start=unit.start + s,
                    end=unit.start + e,
                    text=text[s:e],
                    citation=citation_label(doc, c, unit.section),
                )
            )
    return chunks


def chunk_collection(docs: Sequence[Document], chunk_size: int = 400, chunk_overlap: int = 40) -> list[Chunk]:
    """Chunks of every document, documents in collection order."""
    return [ch for doc in docs for ch in chunk_document(doc, chunk_size, chunk_overlap)]
