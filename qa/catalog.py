"""The documents and their clauses as JSON objects.

What ``qa docs --json``, ``qa show DOC_ID [CLAUSE] --json`` print and what the REST API's
``/api/v1/documents`` resources return: one function each, used by both, so they cannot drift.
"""

from __future__ import annotations

from qa.documents import Collection, Document, shorten
from qa.errors import UnknownClause
from qa.structure import Clause, parse_clauses

__all__ = ["document_list", "document_detail", "clause_detail", "find_clause"]


def document_list(collection: Collection) -> list[dict[str, object]]:
    """Every document's metadata, in the collection's order (``qa docs --json``)."""
    return [doc.meta() for doc in collection.documents]


def _clause_dict(clause: Clause) -> dict[str, object]:
    d = clause.as_dict()
    d.pop("kind", None)
    return d


def document_detail(doc: Document) -> dict[str, object]:
    """One document: its metadata, its whole text and its clauses with offsets (``qa show --json``)."""
    meta = doc.meta()
    meta.pop("chars")
    return {**meta, "text": doc.text, "clauses": [_clause_dict(c) for c in parse_clauses(doc)]}


def find_clause(doc: Document, clause: str) -> Clause:
    """The clause of ``doc`` numbered ``clause`` as ``qa show`` prints it: 29 for a task, 一 for a part.

    Raises:
        UnknownClause: ``doc`` has no such clause; the message lists the ones it has.
    """
    clauses = parse_clauses(doc)
    for c in clauses:
        if str(c.clause) == clause.strip():
            return c
    if not clauses:
        raise UnknownClause(f"{doc.cite_title}({doc.doc_id})没有分条款,请查看全文。")
    tasks = [c.clause for c in clauses if isinstance(c.clause, int)]
    if len(tasks) == len(clauses):
        numbers = f"共{len(tasks)}项任务,序号 {min(tasks)}–{max(tasks)}"
    else:
        numbers = "可用的条款:" + "、".join(str(c.clause) for c in clauses)
    raise UnknownClause(f"{doc.cite_title}({doc.doc_id})没有条款 {shorten(clause)};{numbers}。")


def clause_detail(doc: Document, clause: str) -> dict[str, object]:
    """One clause with its document's id and its own text (``qa show DOC_ID CLAUSE --json``).

    Raises:
        UnknownClause: ``doc`` has no such clause.
    """
    c = find_clause(doc, clause)
    return {"doc_id": doc.doc_id, **_clause_dict(c), "text": doc.text[c.start : c.end]}
