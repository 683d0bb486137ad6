"""The ten documents of the collection, with their metadata, loaded from ``corpus/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qa.errors import UnknownDocument

__all__ = ["Document", "Collection", "load_collection", "shorten", "VERSION_LABELS", "AUTHORITY_LABELS"]

VERSION_LABELS = {"final": "正式版", "draft": "草案", None: "背景材料"}
AUTHORITY_LABELS = {"current": "现行有效", "superseded": "已被正式版取代", "background": "背景材料"}


def shorten(value: object, limit: int = 40) -> str:
    """``repr`` of a user's value cut to ``limit`` characters, so an error message stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    issuer: str
    issuer_short: str
    date: str | None
    version: str | None  # "draft", "final" or None
    authority: str  # "current", "superseded" or "background"
    text: str

    @property
    def is_plan(self) -> bool:
        return self.version is not None

    @property
    def cite_title(self) -> str:
        """The title as a citation shows it: plan names go inside 《》, other titles already read well."""
        return f"《{self.title}》" if self.is_plan else self.title

    def meta(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
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

    @property
    def doc_ids(self) -> list[str]:
        return [d.doc_id for d in self.documents]


def load_collection(corpus_dir: Path) -> Collection:
    """Read ``manifest.json`` and each ``<doc_id>.txt`` exactly as stored (no normalisation)."""
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    docs = []
    for meta in manifest["documents"]:
        with open(corpus_dir / f"{meta['doc_id']}.txt", encoding="utf-8", newline="") as fh:
            text = fh.read()
        docs.append(
            Document(
                doc_id=meta["doc_id"],
                title=meta["title"],
                issuer=meta["issuer"],
                issuer_short=meta["issuer_short"],
                date=meta["date"],
                version=meta["version"],
                authority=meta["authority"],
                text=text,
            )
        )
    return Collection(manifest["collection"]["title"], tuple(docs))
