"""The documents of the collection, with their metadata and roles, loaded from ``corpus/``.

Code asks for a document by what it is (the current plan, the superseded plan, the participation
report), never by its doc_id: ``corpus/manifest.json`` gives each document its ``role``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from qa.errors import UnknownDocument

__all__ = [
    "Document",
    "Collection",
    "load_collection",
    "shorten",
    "Version",
    "Authority",
    "Layout",
    "CURRENT_PLAN",
    "SUPERSEDED_PLAN",
    "VERSION_LABELS",
    "VERSION_LABELS_EN",
    "AUTHORITY_LABELS",
]

Version = Literal["draft", "final"]
Authority = Literal["current", "superseded", "background"]
Layout = Literal["tasks", "questions", "parts"]

CURRENT_PLAN = "current-plan"
SUPERSEDED_PLAN = "superseded-plan"

VERSION_LABELS: dict[Version | None, str] = {"final": "正式版", "draft": "草案", None: "背景材料"}
VERSION_LABELS_EN: dict[Version | None, str] = {"final": "Final plan", "draft": "Draft", None: "Background"}
AUTHORITY_LABELS: dict[Authority, str] = {
    "current": "现行有效",
    "superseded": "已被正式版取代",
    "background": "背景材料",
}


def shorten(value: object, limit: int = 40) -> str:
    """``repr`` of a user's value cut to ``limit`` characters, so an error message stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Document:
    doc_id: str
    role: str  # current-plan, superseded-plan, participation-report, … (see corpus/manifest.json)
    title: str
    issuer: str
    issuer_short: str
    date: str | None
    version: Version | None  # the plans only
    authority: Authority
    layout: Layout | None  # how its clauses are numbered; None: a single statement
    describes: str | None  # the role of the plan it speaks of, when that is not the current plan
    text: str
    # How an answer's first sentence names a background document whose title is long (公众参与情况报告
    # for 关于《…(草案)》的公众参与情况报告): on a phone the title filled the first line.
    short_name: str = ""

    @property
    def is_plan(self) -> bool:
        return self.version is not None

    @property
    def is_current(self) -> bool:
        return self.role == CURRENT_PLAN

    @property
    def is_superseded(self) -> bool:
        """The superseded plan, or a background document that speaks of it (its notes, its FAQ)."""
        return self.role == SUPERSEDED_PLAN or self.describes == SUPERSEDED_PLAN

    @property
    def cite_title(self) -> str:
        """The title as a citation shows it: plan names go inside 《》, other titles already read well."""
        return f"《{self.title}》" if self.is_plan else self.title

    @property
    def lead_name(self) -> str:
        """The document as a lead sentence names it: its short name, else its citation title."""
        return self.short_name or self.cite_title

    def meta(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "role": self.role,
            "title": self.title,
            "issuer": self.issuer,
            "date": self.date,
            "version": self.version,
            "authority": self.authority,
            "chars": len(self.text),
        }


@dataclass(frozen=True)
class Collection:
    title: str
    documents: tuple[Document, ...]

    def get(self, doc_id: str) -> Document:
        for doc in self.documents:
            if doc.doc_id == doc_id:
                return doc
        valid = ", ".join(d.doc_id for d in self.documents)
        raise UnknownDocument(f"未知文档 {shorten(doc_id)};可用的文档编号: {valid}")

    def by_role(self, role: str) -> Document:
        for doc in self.documents:
            if doc.role == role:
                return doc
        raise UnknownDocument(f"文档集中没有角色为 {shorten(role)} 的文档;请检查 corpus/manifest.json。")

    @property
    def current_plan(self) -> Document:
        return self.by_role(CURRENT_PLAN)

    @property
    def superseded_plan(self) -> Document:
        return self.by_role(SUPERSEDED_PLAN)

    def plan(self, version: Version) -> Document:
        """The plan of that version: the current one for "final", the superseded one for "draft"."""
        return self.current_plan if version == "final" else self.superseded_plan

    @property
    def doc_ids(self) -> list[str]:
        return [d.doc_id for d in self.documents]


def _choice(value: object, allowed: object, field: str, doc_id: str) -> object:
    if value is not None and value not in get_args(allowed):
        raise UnknownDocument(f"corpus/manifest.json:{doc_id} 的 {field} 不能是 {shorten(value)}。")
    return value


def load_collection(corpus_dir: Path) -> Collection:
    """Read ``manifest.json`` and each ``<doc_id>.txt`` exactly as stored (no normalisation)."""
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    docs = []
    for meta in manifest["documents"]:
        with open(corpus_dir / f"{meta['doc_id']}.txt", encoding="utf-8", newline="") as fh:
            text = fh.read()
        doc_id = meta["doc_id"]
        docs.append(
            Document(
                doc_id=doc_id,
                role=meta["role"],
                title=meta["title"],
                issuer=meta["issuer"],
                issuer_short=meta["issuer_short"],
                date=meta["date"],
                version=_choice(meta["version"], Version, "version", doc_id),  # type: ignore[arg-type]
                authority=_choice(meta["authority"], Authority, "authority", doc_id),  # type: ignore[arg-type]
                layout=_choice(meta.get("layout"), Layout, "layout", doc_id),  # type: ignore[arg-type]
                describes=meta.get("describes"),
                text=text,
                short_name=meta.get("short_name", ""),
            )
        )
    return Collection(manifest["collection"]["title"], tuple(docs))
