"""The naive baseline: exact offsets, save/load, rebuild on mismatch, and answers in the assistant's shape."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.documents import Collection
from qa.errors import InvalidQuestion
from qa.evaluation.baseline import Baseline, baseline_dir, build_seconds, split_document
from qa.settings import Settings
from tests.conftest import CORPUS
from tests.fake_embedder import FakeEmbedder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(corpus_dir=CORPUS, index_dir=tmp_path / "idx")


def test_baseline_folder_is_a_sibling_of_the_index(settings: Settings) -> None:
    assert baseline_dir(settings) == settings.index_dir.parent / "idx-baseline"


def test_pieces_are_exact_slices_within_the_size_limit(collection: Collection) -> None:
    for doc in collection.documents:
        pieces = split_document(doc)
        assert pieces, doc.doc_id
        for p in pieces:
            assert doc.text[p.start : p.end] == p.text
            assert 0 < len(p.text) <= 250
        starts = [p.start for p in pieces]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_pieces_cover_every_character_that_is_not_whitespace(collection: Collection) -> None:
    doc = collection.get("plan-final")
    covered = np.zeros(len(doc.text), dtype=bool)
    for p in split_document(doc):
        covered[p.start : p.end] = True
    missed = [ch for ch, c in zip(doc.text, covered, strict=True) if not c and not ch.isspace()]
    assert missed == []


def test_default_separators_cut_a_long_paragraph_mid_sentence(collection: Collection) -> None:
    # The recipe knows no Chinese punctuation: a task longer than 250 characters on one line is cut
    # at a character boundary, not after a 。 (the point of comparing against it).
    doc = collection.get("plan-final")
    long_lines = [line for line in doc.text.split("\n") if len(line) > 250]
    assert long_lines
    pieces = split_document(doc)
    inside = [p for p in pieces if any(p.text in line and p.text != line for line in long_lines)]
    assert any(not p.text.endswith(("。", ")")) for p in inside)


def test_build_then_load_round_trip(settings: Settings) -> None:
    fake = FakeEmbedder(dim=64)
    first = Baseline(settings, fake)
    assert first.built
    assert (baseline_dir(settings) / "manifest.json").exists()

    again = FakeEmbedder(dim=64)
    second = Baseline(settings, again)
    assert not second.built
    assert [c for c, _ in again.calls] == []  # loaded, nothing re-embedded
    assert second.chunks == first.chunks
    q = "公共充电桩"
    assert second.ask(q).to_dict() == first.ask(q).to_dict()
    leftovers = [
        p.name for p in settings.index_dir.parent.iterdir() if "building" in p.name or ".old-" in p.name
    ]
    assert leftovers == []


def test_rebuilds_when_the_embedder_changes(settings: Settings) -> None:
    Baseline(settings, FakeEmbedder(dim=64))
    other = Baseline(settings, FakeEmbedder(dim=32))
    assert other.built
    manifest = json.loads((baseline_dir(settings) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"] == "fake/char-ngram-32" and manifest["dim"] == 32


def test_rebuilds_when_the_manifest_or_a_file_does_not_match(settings: Settings) -> None:
    Baseline(settings, FakeEmbedder())
    path = baseline_dir(settings) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**manifest, "corpus_hash": "0" * 64}), encoding="utf-8")
    assert Baseline(settings, FakeEmbedder()).built

    (baseline_dir(settings) / "chunks.jsonl").write_text("damaged\n", encoding="utf-8")
    assert Baseline(settings, FakeEmbedder()).built
    assert not Baseline(settings, FakeEmbedder()).built


def test_rebuilds_when_the_corpus_changes(settings: Settings, tmp_path: Path) -> None:
    Baseline(settings, FakeEmbedder())
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for p in CORPUS.iterdir():
        if p.is_file():
            (corpus / p.name).write_bytes(p.read_bytes())
    (corpus / "lexicon").mkdir()
    for p in (CORPUS / "lexicon").iterdir():
        (corpus / "lexicon" / p.name).write_bytes(p.read_bytes())
    assert not Baseline(replace(settings, corpus_dir=corpus), FakeEmbedder()).built
    with open(corpus / "legality-review.txt", "a", encoding="utf-8") as fh:
        fh.write("\n")
    assert Baseline(replace(settings, corpus_dir=corpus), FakeEmbedder()).built


def test_ask_returns_the_assistants_shapes_with_whole_chunk_highlights(
    settings: Settings, collection: Collection
) -> None:
    base = Baseline(settings, FakeEmbedder(dim=256))
    target = next(c for c in base.chunks if c.doc_id == "consultation-notice")
    answer = base.ask(target.text, k=3)
    assert not answer.abstained
    assert [r.rank for r in answer.results] == [1, 2, 3]
    top = answer.results[0]
    assert (top.doc_id, top.start, top.end) == (target.doc_id, target.start, target.end)
    assert top.score == pytest.approx(1.0, abs=1e-4)
    for r in answer.results:
        doc = collection.get(r.doc_id)
        assert doc.text[r.start : r.end] == r.text
        assert r.clause is None and r.highlight == r.text
        assert (r.highlight_start, r.highlight_end) == (0, len(r.text))
        assert r.citation == doc.cite_title and r.version_note is None
    assert answer.text.startswith(target.text)


def test_ranking_matches_a_numpy_brute_force(settings: Settings) -> None:
    fake = FakeEmbedder(dim=128)
    base = Baseline(settings, fake)
    question = "电动自行车充电安全谁来管?"
    matrix = np.vstack([fake.vector(c.text) for c in base.chunks])
    scores = matrix @ fake.vector(question)
    got = base.ask(question, k=5).results
    assert [r.score for r in got] == pytest.approx(sorted(scores, reverse=True)[:5], abs=1e-4)
    # Identical pieces (the draft repeats the final plan's lines) tie, so each piece is checked
    # against its own brute-force score rather than an order among equals.
    by_span = {(c.doc_id, c.start): float(s) for c, s in zip(base.chunks, scores, strict=True)}
    assert [by_span[(r.doc_id, r.start)] for r in got] == pytest.approx([r.score for r in got], abs=1e-4)


@pytest.mark.parametrize("k", [0, 21, True])
def test_bad_k_is_refused(settings: Settings, k: int) -> None:
    with pytest.raises(InvalidQuestion):
        Baseline(settings, FakeEmbedder()).ask("充电桩", k=k)


def test_empty_question_is_refused(settings: Settings) -> None:
    with pytest.raises(InvalidQuestion):
        Baseline(settings, FakeEmbedder()).ask("   ")


def test_build_seconds_times_a_fresh_build(settings: Settings) -> None:
    Baseline(settings, FakeEmbedder())
    fake = FakeEmbedder()
    seconds = build_seconds(settings, fake)
    assert seconds > 0
    assert [kind for kind, _ in fake.calls] and all(kind == "passage" for kind, _ in fake.calls)
