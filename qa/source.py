"""Split the collection's single source file into its ten documents.

The source holds the documents one after another; ``corpus/manifest.json`` names each one and the
line it starts with. A document's text is the exact slice of the source from that line to the
start of the next document, without surrounding whitespace: matching may normalise, storage never does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SourceDocument", "split_source", "write_corpus"]


@dataclass(frozen=True)
class SourceDocument:
    doc_id: str
    text: str
    source_start: int  # offset of text[0] in the source, for provenance


def _line_starts(source: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(source):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def split_source(source: str, manifest: dict) -> list[SourceDocument]:
    """Cut ``source`` at the first line, in order, that starts with each document's marker.

    Raises:
        ValueError: a marker is not found after the previous document's start.
    """
    line_starts = _line_starts(source)
    starts: list[int] = []
    line_no = 0
    for meta in manifest["documents"]:
        marker = meta["starts_with"]
        while line_no < len(line_starts):
            at = line_starts[line_no]
            line_no += 1
            if source.startswith(marker, at):
                starts.append(at)
                break
        else:
            raise ValueError(f"start of {meta['doc_id']!r} not found: {marker!r}")
    starts.append(len(source))
    docs = []
    for meta, begin, end in zip(manifest["documents"], starts, starts[1:], strict=False):
        raw = source[begin:end]
        text = raw.strip()
        docs.append(SourceDocument(meta["doc_id"], text, begin + raw.index(text[:1])))
    return docs


def write_corpus(corpus_dir: Path) -> list[Path]:
    """Re-create ``corpus/<doc_id>.txt`` from the untouched source named in the manifest."""
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    source = (corpus_dir / manifest["collection"]["source"]).read_text(encoding="utf-8")
    written = []
    for doc in split_source(source, manifest):
        path = corpus_dir / f"{doc.doc_id}.txt"
        path.write_text(doc.text, encoding="utf-8", newline="")
        written.append(path)
    return written
