"""Tuning on the dev split, and ``qa tune`` writing corpus/tuned.json (into a copy of the corpus)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from qa.answer import Answer
from qa.evaluation import run as evaluation_run
from qa.evaluation import tuning
from qa.evaluation.gold import Conversation, GoldQuestion, load_conversations, load_gold
from qa.evaluation.metrics import METRICS, summarise
from qa.tuned import TUNED_FILE, FollowUps, Thresholds, Weights, load_tuned
from tests.conftest import CORPUS, FakeIndex
from tests.fake_embedder import FakeEmbedder

_TINY_GRID = {"dense": (0.4, 0.6), "draft_penalty": (0.0, 0.8), "min_dense": (0.5, 2.0), "min_bm25": (3.0,)}
_TINY_FOLLOWUP_GRID = {"plan_words": (2.0, 9.0), "own_words": (4.0,), "subject_boost": (1.0, 2.0)}


@pytest.fixture(scope="module")
def few_conversations() -> list[Conversation]:
    """Two dev conversations (one changes topic) and one test conversation."""
    by_id = {c.id: c for c in load_conversations()}
    return [by_id["conv-001"], by_id["conv-003"], by_id["conv-004"]]


@pytest.fixture(scope="module")
def small_gold() -> list[GoldQuestion]:
    gold = load_gold()
    return [
        next(q for q in gold if q.split == s and q.kind == k)
        for s in ("dev", "test")
        for k in ("citizen", "out-of-scope", "version")
    ]


def test_tune_reads_only_the_dev_split(fake_assistant, small_gold, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    asked: list[str] = []
    real_ask = fake_assistant.ask

    def spy(question: object, k: int | None = None, doc: str | None = None, mode: str = "full") -> Answer:
        asked.append(str(question))
        return real_ask(question, k=k, doc=doc, mode=mode)

    monkeypatch.setattr(fake_assistant, "ask", spy)
    grid = {
        "dense": (0.4, 0.6),
        "draft_penalty": (0.0, 0.8),
        "unit_boost": (0.5,),
        "min_dense": (0.5, 2.0),
        "min_bm25": (3.0, 1e9),
    }
    before_w, before_t = fake_assistant.retriever.weights, fake_assistant.thresholds
    result = tuning.tune(fake_assistant, small_gold, grid=grid)
    test_questions = {q.question for q in small_gold if q.split == "test"}
    assert asked and not test_questions & set(asked)
    assert result.n_dev == 3
    assert result.weights.dense in (0.4, 0.6) and result.weights.draft_penalty in (0.0, 0.8)
    assert result.thresholds.min_dense in (0.5, 2.0) and result.thresholds.min_bm25 in (3.0, 1e9)
    # Fields the grid does not name keep the assistant's values.
    assert result.weights.doc_boost == before_w.doc_boost
    assert result.thresholds.off_topic_bm25 == before_t.off_topic_bm25
    # The search leaves the assistant as it found it.
    assert (fake_assistant.retriever.weights, fake_assistant.thresholds) == (before_w, before_t)


def test_tuned_values_reproduce_their_dev_metrics(fake_assistant, small_gold) -> None:  # noqa: ANN001
    grid = {"dense": (0.3, 0.7), "draft_penalty": (0.0, 1.6), "unit_boost": (0.0,), "min_dense": (0.5,)}
    result = tuning.tune(fake_assistant, small_gold, grid=grid)
    assert isinstance(result.weights, Weights) and isinstance(result.thresholds, Thresholds)
    old = fake_assistant.retriever.weights, fake_assistant.thresholds
    fake_assistant.retriever.weights, fake_assistant.thresholds = result.weights, result.thresholds
    try:
        again = summarise(
            evaluation_run.run(["full"], split="dev", assistant=fake_assistant, gold=small_gold).outcomes
        )
    finally:
        fake_assistant.retriever.weights, fake_assistant.thresholds = old
    for key in METRICS:
        if not key.endswith("_ms"):
            assert again[key] == result.after[key], key


def test_tune_needs_dev_questions(fake_assistant, small_gold) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="no dev question"):
        tuning.tune(fake_assistant, [q for q in small_gold if q.split == "test"], grid=_TINY_GRID)


def test_tuning_moves_the_defaults_only_for_more_than_one_question() -> None:
    # (objective, distance from the defaults in grid steps, candidate)
    scored = [(3.80, 0.0, "defaults"), (3.83, 1.0, "near"), (3.85, 3.0, "best")]
    assert tuning._nearest_within(scored, 3.85 - 0.03, higher_is_better=True) == "near"
    assert tuning._nearest_within(scored, 3.85 - 0.01, higher_is_better=True) == "best"
    assert tuning._nearest_within(scored, 3.85 - 0.06, higher_is_better=True) == "defaults"
    costs = [(4.0, 0.0, "defaults"), (2.0, 2.0, "fewer"), (3.0, 1.0, "between")]
    assert tuning._nearest_within(costs, 2.0 + 1.0, higher_is_better=False) == "between"
    dev = [GoldQuestion(str(i), "?", "citizen", "dev", (), (), None, i >= 8) for i in range(10)]
    assert tuning._one_question(dev) == 4.0 / 8


# --- qa tune --------------------------------------------------------------------------------------


@pytest.fixture
def index_dir(fake_index_copy: FakeIndex) -> Path:
    return fake_index_copy.settings.index_dir


@pytest.fixture
def corpus_copy(tmp_path: Path, small_gold, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: ANN001
    """A copy of corpus/ to tune into, a tiny grid, a few gold questions and the fake embedder.

    The copy has the same documents, so a copy of the session's fake index (``index_dir``) serves it.
    """
    from qa.assistant import Assistant

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    monkeypatch.setattr(tuning, "GRID", _TINY_GRID)
    monkeypatch.setattr(tuning, "load_gold", lambda: small_gold)
    monkeypatch.setattr(tuning, "FOLLOWUP_GRID", _TINY_FOLLOWUP_GRID)
    few = [c for c in load_conversations() if c.id in ("conv-001", "conv-003", "conv-004")]
    monkeypatch.setattr(tuning, "load_conversations", lambda: few)
    monkeypatch.setattr(tuning, "_assistant", lambda settings: Assistant(settings, embedder=FakeEmbedder()))
    return corpus


def _tune(corpus: Path, index_dir: Path, *options: str) -> int:
    from qa.cli import main

    return main(["--corpus-dir", str(corpus), "--index-dir", str(index_dir), "tune", *options])


def test_qa_tune_writes_tuned_json_that_round_trips(
    corpus_copy: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = (CORPUS / TUNED_FILE).read_bytes()
    assert _tune(corpus_copy, index_dir, "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["file"] == str(corpus_copy / TUNED_FILE)
    tuned = load_tuned(corpus_copy)
    assert tuned.weights == Weights(**printed["weights"]) and tuned.thresholds == Thresholds(
        **printed["thresholds"]
    )
    assert tuned.weights.dense in (0.4, 0.6) and tuned.thresholds.min_dense in (0.5, 2.0)
    p = dict(tuned.provenance or {})
    assert p == printed["provenance"]
    assert p["split"] == "dev" and p["n_questions"] == 3
    assert p["grid"] == {k: list(v) for k, v in _TINY_GRID.items()}
    assert set(p["objective"]) == {"before", "after", "best"}
    assert datetime.fromisoformat(str(p["date"])).tzinfo is not None
    assert isinstance(p["commit"], str) and p["commit"]
    assert (corpus_copy / TUNED_FILE).stat().st_mode & 0o777 == 0o644  # readable by whoever serves it
    # The follow-up thresholds, from the dev conversations, with their own provenance.
    assert tuned.followups == FollowUps(**printed["followups"])
    assert tuned.followups.plan_words in (2.0, 9.0) and tuned.followups.subject_boost in (1.0, 2.0)
    assert p["followups"]["split"] == "dev" and p["followups"]["n_turns"] == 4
    assert p["followups"]["grid"] == {k: list(v) for k, v in _TINY_FOLLOWUP_GRID.items()}
    assert (CORPUS / TUNED_FILE).read_bytes() == ours, "the repository's corpus/ is never tuned by a test"


def test_qa_tune_dry_run_writes_nothing(
    corpus_copy: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (corpus_copy / TUNED_FILE).read_bytes()
    assert _tune(corpus_copy, index_dir, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "Tuned on the dev split only (3 questions)" in out and "--dry-run" in out
    assert (corpus_copy / TUNED_FILE).read_bytes() == before
    assert sorted(p.name for p in corpus_copy.glob(".tuned-*")) == []


# --- follow-ups -----------------------------------------------------------------------------------


def test_tune_followups_reads_only_the_dev_conversations(
    fake_assistant, few_conversations, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    asked: list[str] = []
    real_ask = fake_assistant.ask

    def spy(question: object, *args: object, **kwargs: object) -> Answer:
        asked.append(str(question))
        return real_ask(question, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fake_assistant, "ask", spy)
    before = fake_assistant.conversation.thresholds
    found = tuning.tune_followups(fake_assistant, few_conversations, _TINY_FOLLOWUP_GRID)
    test_questions = {t.question for c in few_conversations if c.split == "test" for t in c.turns}
    assert asked and not test_questions & set(asked)
    assert found.n_turns == 4  # the later turns of the two dev conversations
    # 那谁负责? follows on and 另外问一下,垃圾分类… does not, whichever plan_words: no mistake.
    assert found.after["carry_over_mistakes"] == 0.0 and found.after["wrong_carry_over"] == 0.0
    assert found.followups.plan_words == before.plan_words  # ties keep the starting value
    assert found.followups.new_words == before.new_words  # not in the grid: kept
    assert fake_assistant.conversation.thresholds == before  # the assistant keeps its values


def test_tune_followups_needs_dev_conversations(fake_assistant, few_conversations) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="no dev dialogue"):
        tuning.tune_followups(fake_assistant, [c for c in few_conversations if c.split == "test"])


def test_qa_tune_followups_only_keeps_everything_else(
    corpus_copy: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = load_tuned(corpus_copy)
    assert _tune(corpus_copy, index_dir, "--followups-only") == 0
    assert "Follow-ups tuned on the dev conversations only (4 later turns)" in capsys.readouterr().out
    after = load_tuned(corpus_copy)
    assert (after.weights, after.thresholds) == (before.weights, before.thresholds)
    p = dict(after.provenance or {})
    assert {k: v for k, v in p.items() if k != "followups"} == {
        k: v for k, v in (before.provenance or {}).items() if k != "followups"
    }
    assert p["followups"]["split"] == "dev" and p["followups"]["commit"]
