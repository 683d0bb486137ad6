"""A tiny two-plan collection and gold-question helpers, shared by the metric and run tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qa.documents import Collection, Document, Version
from qa.evaluation.gold import GoldQuestion, Relevant

__all__ = ["FINAL", "DRAFT", "tiny_collection", "Piece", "question", "span"]

FINAL = (
    "一、市容\n1.整治街区。建设美丽街区5个。(牵头单位:区甲局)\n2.管好停车。新增泊位700个。(牵头单位:区乙局)\n"
)
DRAFT = "一、市容\n1.整治街区。建设美丽街区5个。(牵头单位:区甲局)\n"


def _plan(doc_id: str, text: str, version: Version) -> Document:
    return Document(
        doc_id=doc_id,
        role="superseded-plan" if version == "draft" else "current-plan",
        title=doc_id,
        issuer="区政府",
        issuer_short="区政府",
        date=None,
        version=version,
        authority="superseded" if version == "draft" else "current",
        layout="tasks",
        describes=None,
        text=text,
    )


def tiny_collection() -> Collection:
    return Collection("tiny", (_plan("plan-final", FINAL, "final"), _plan("plan-draft", DRAFT, "draft")))


@dataclass(frozen=True)
class Piece:
    doc_id: str
    clause: int | str | None
    start: int
    end: int


def question(relevant: list[tuple[str, int | str | None]], evidence: list[str], **kw: object) -> GoldQuestion:
    base = GoldQuestion(
        "q", "?", "citizen", "test", tuple(Relevant(d, c) for d, c in relevant), tuple(evidence), None, False
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def span(text: str, part: str) -> tuple[int, int]:
    at = text.index(part)
    return at, at + len(part)
