from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from qa.source import split_source, write_corpus
from tests.conftest import CORPUS


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_documents_reproduce_the_source_in_order(collection, source_text):
    title = collection.title
    body = source_text.split("\n", 1)[1]
    assert source_text.split("\n", 1)[0] == title
    joined = "".join(d.text for d in collection.documents)
    assert _squash(joined) == _squash(body)


def test_every_document_is_an_exact_slice_of_the_source(collection, source_text):
    pos = 0
    for doc in collection.documents:
        at = source_text.index(doc.text, pos)
        assert at >= pos
        pos = at + len(doc.text)


def test_stored_corpus_equals_a_fresh_split(tmp_path: Path):
    shutil.copytree(CORPUS, tmp_path / "corpus", ignore=shutil.ignore_patterns("*.txt", "lexicon"))
    shutil.copytree(CORPUS / "source", tmp_path / "corpus" / "source", dirs_exist_ok=True)
    written = write_corpus(tmp_path / "corpus")
    assert len(written) == 10
    for path in written:
        assert path.read_bytes() == (CORPUS / path.name).read_bytes(), path.name


def test_missing_marker_is_reported(source_text):
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    manifest["documents"][3]["starts_with"] = "这一行并不存在"
    try:
        split_source(source_text, manifest)
    except ValueError as err:
        assert "draft-faq" in str(err)
    else:
        raise AssertionError("a missing start marker must fail")
