"""Metrics against hand-computed values, the relevance rule on a tiny plan, and the run/report plumbing."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from qa import evaluate, tuning
from qa.answer import Answer
from qa.documents import Collection, Document
from qa.evaluate import EvalRun, check_thresholds, thresholds_from
from qa.gold import GoldQuestion, Relevant, load_gold
from qa.metrics import (
    METRICS,
    Judge,
    Outcome,
    abstention_rates,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    prefer_at_1,
    summarise,
)
from qa.report import write_report
from qa.settings import Settings
from tests.conftest import CORPUS
from tests.fake_embedder import FakeEmbedder

# --- pure metrics ---------------------------------------------------------------------------------


def test_hit_at_k() -> None:
    ranks = [1, 3, None, 6]
    assert hit_at_k(ranks, 1) == 0.25
    assert hit_at_k(ranks, 5) == 0.5
    assert hit_at_k(ranks, 10) == 0.75
    assert hit_at_k([], 1) is None


def test_mrr_at_k() -> None:
    ranks = [1, 3, None, 6]
    assert mrr_at_k(ranks, 10) == pytest.approx((1 + 1 / 3 + 0 + 1 / 6) / 4)  # 0.375
    assert mrr_at_k(ranks, 5) == pytest.approx((1 + 1 / 3) / 4)
    assert mrr_at_k([], 10) is None


def test_ndcg_at_k() -> None:
    # DCG = 2/log2(3) + 1/log2(4) = 1.26186 + 0.5; IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.63093
    assert ndcg_at_k([0, 2, 1, 0, 0], [2, 1]) == pytest.approx(1.761860 / 2.630930, abs=1e-6)
    assert ndcg_at_k([2, 1, 0, 0, 0], [2, 1]) == pytest.approx(1.0)
    assert ndcg_at_k([1, 0, 0, 0, 0], [2]) == pytest.approx(0.5)
    assert ndcg_at_k([0, 0, 0, 0, 0, 2], [2], k=5) == 0.0  # rank 6 is past the cut
    assert ndcg_at_k([0, 0], []) == 0.0


def test_prefer_at_1() -> None:
    got = ["plan-final", "plan-draft", None]
    assert prefer_at_1(got, ["plan-final", "plan-final", "plan-final"]) == pytest.approx(1 / 3)
    assert prefer_at_1([], []) is None


def test_abstention_rates() -> None:
    abstained = [True, True, False, False, True]
    should = [True, False, True, False, False]
    precision, recall, false_rate = abstention_rates(abstained, should)
    assert precision == pytest.approx(1 / 3)
    assert recall == 0.5
    assert false_rate == pytest.approx(2 / 3)
    assert abstention_rates([False, False], [True, False]) == (None, 0.0, 0.0)
    assert abstention_rates([False], [False]) == (None, None, 0.0)


def test_percentile_interpolates() -> None:
    assert percentile([40.0, 10.0, 30.0, 20.0], 50) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)  # 30 + 0.85 * 10
    assert percentile([], 50) is None


# --- relevance on a tiny plan ---------------------------------------------------------------------

_FINAL = (
    "一、市容\n1.整治街区。建设美丽街区5个。(牵头单位:区甲局)\n2.管好停车。新增泊位700个。(牵头单位:区乙局)\n"
)
_DRAFT = "一、市容\n1.整治街区。建设美丽街区5个。(牵头单位:区甲局)\n"


def _doc(doc_id: str, text: str, version: str | None) -> Document:
    return Document(doc_id, doc_id, "区政府", "区政府", None, version, "current", text)


@pytest.fixture
def tiny() -> Collection:
    return Collection("tiny", (_doc("plan-final", _FINAL, "final"), _doc("plan-draft", _DRAFT, "draft")))


@dataclass(frozen=True)
class Piece:
    doc_id: str
    clause: int | str | None
    start: int
    end: int


def _q(relevant: list[tuple[str, int | str | None]], evidence: list[str], **kw: object) -> GoldQuestion:
    base = GoldQuestion(
        "q", "?", "citizen", "test", tuple(Relevant(d, c) for d, c in relevant), tuple(evidence), None, False
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _span(text: str, part: str) -> tuple[int, int]:
    at = text.index(part)
    return at, at + len(part)


def test_targets_locate_clauses_and_evidence(tiny: Collection) -> None:
    judge = Judge(tiny)
    (t,) = judge.targets(_q([("plan-final", 1)], ["建设美丽街区5个", "新增泊位700个"]))
    assert (t.start, t.end) == _span(_FINAL, "1.整治街区。建设美丽街区5个。(牵头单位:区甲局)")
    # The parking evidence is in task 2, outside the target, so it is not the target's evidence.
    assert t.evidence == (_span(_FINAL, "建设美丽街区5个"),)
    assert t.best_grade == 2
    (whole,) = judge.targets(_q([("plan-draft", None)], []))
    assert (whole.start, whole.end, whole.best_grade) == (0, len(_DRAFT), 1)


def test_grades_follow_the_rule(tiny: Collection) -> None:
    judge = Judge(tiny)
    (t,) = judge.targets(_q([("plan-final", 1)], ["建设美丽街区5个"]))
    task1, task2 = (
        _span(_FINAL, "1.整治街区。建设美丽街区5个。(牵头单位:区甲局)"),
        _span(_FINAL, "2.管好停车。新增泊位700个。(牵头单位:区乙局)"),
    )
    assert judge.grade(Piece("plan-final", 1, *task1), t) == 2  # the clause, evidence inside
    assert judge.grade(Piece("plan-final", 1, task1[0], task1[0] + 6), t) == 1  # the clause id only
    assert judge.grade(Piece("plan-final", 2, *task2), t) == 0
    # A piece with no clause id counts when at least half of the shorter of the two is shared: a
    # 26-character piece straddling the end of the 26-character task needs 13 characters of it.
    assert task1[1] - task1[0] == 26
    (bare,) = judge.targets(_q([("plan-final", 1)], []))
    assert judge.grade(Piece("plan-final", None, task1[1] - 13, task1[1] + 13), bare) == 1
    assert judge.grade(Piece("plan-final", None, task1[1] - 12, task1[1] + 14), bare) == 0
    assert judge.grade(Piece("plan-final", None, task1[0] + 2, task1[0] + 8), bare) == 1  # wholly inside
    assert judge.grade(Piece("plan-final", None, task1[0], task1[0] + 16), t) == 2  # holds the evidence
    assert (
        judge.grade(Piece("plan-final", None, task1[0], task1[0] + 12), t) == 1
    )  # evidence cut: clause only
    tail = (_FINAL.index("(牵头单位:区甲局)"), task2[1])  # only the closing lead unit of task 1
    assert judge.grade(Piece("plan-final", None, *tail), t) == 0
    # The same words in the superseded draft earn nothing.
    assert judge.grade(Piece("plan-draft", 1, 0, len(_DRAFT)), t) == 0


def test_lead_unit_evidence_counts_only_in_its_own_task(tiny: Collection) -> None:
    judge = Judge(tiny)
    (t,) = judge.targets(_q([("plan-final", 2)], ["(牵头单位:区乙局)"]))
    tail_of_2 = _span(_FINAL, "(牵头单位:区乙局)")
    assert judge.grade(Piece("plan-final", None, tail_of_2[0] - 3, tail_of_2[1]), t) == 2
    (t1,) = judge.targets(_q([("plan-final", 1)], ["(牵头单位:区乙局)"]))
    assert t1.evidence == ()
    assert judge.grade(Piece("plan-final", None, tail_of_2[0] - 3, tail_of_2[1]), t1) == 0


def test_null_clause_means_any_chunk_of_the_document(tiny: Collection) -> None:
    judge = Judge(tiny)
    (t,) = judge.targets(_q([("plan-draft", None)], []))
    assert judge.grade(Piece("plan-draft", None, 0, 3), t) == 1
    assert judge.grade(Piece("plan-final", None, 0, 3), t) == 0


def test_each_target_is_credited_once(tiny: Collection) -> None:
    judge = Judge(tiny)
    targets = judge.targets(_q([("plan-final", 1), ("plan-final", 2)], ["建设美丽街区5个"]))
    task1, task2 = (
        _span(_FINAL, "1.整治街区。建设美丽街区5个。(牵头单位:区甲局)"),
        _span(_FINAL, "2.管好停车。新增泊位700个。(牵头单位:区乙局)"),
    )
    results = [
        Piece("plan-final", 1, *task1),
        Piece("plan-final", 1, *task1),  # the same clause again
        Piece("plan-draft", 1, 0, len(_DRAFT)),
        Piece("plan-final", 2, *task2),
    ]
    assert judge.gains(targets, results) == [2, 0, 0, 1]
    assert [t.best_grade for t in targets] == [2, 1]


def test_evidence_beats_a_weaker_match_for_the_same_result(tiny: Collection) -> None:
    judge = Judge(tiny)
    # One piece spanning both tasks: evidence of task 2 gives 2, task 1 gets the half-rule 1.
    targets = judge.targets(_q([("plan-final", 1), ("plan-final", 2)], ["新增泊位700个"]))
    everything = Piece("plan-final", None, 0, len(_FINAL))
    assert judge.gains(targets, [everything, everything]) == [2, 1]


# --- summarise and thresholds ---------------------------------------------------------------------


def _o(
    qid: str, first: int | None, *, should: bool = False, abstained: bool = False, **kw: object
) -> Outcome:
    base = Outcome(
        qid, "full", "test", "citizen", should, abstained, first, (0, 0, 0, 0, 0), (2,), None, None, 10.0
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_summarise_by_hand() -> None:
    outcomes = [
        _o("a", 1, gains=(2, 0, 0, 0, 0), top_doc="plan-final", prefer_doc="plan-final", latency_ms=10.0),
        _o("b", 2, gains=(0, 1, 0, 0, 0), top_doc="plan-draft", prefer_doc="plan-final", latency_ms=20.0),
        _o("c", None, abstained=True, top_doc="interpretation", prefer_doc="interpretation", latency_ms=30.0),
        _o("d", None, should=True, abstained=True, ideal=(), latency_ms=40.0),
        _o("e", None, should=True, abstained=False, ideal=(), latency_ms=50.0),
    ]
    m = summarise(outcomes)
    assert set(m) == set(METRICS)
    assert m["hit_at_1"] == pytest.approx(1 / 3)
    assert m["hit_at_5"] == pytest.approx(2 / 3)
    assert m["mrr_at_10"] == pytest.approx((1 + 0.5 + 0) / 3)
    # ideal (2,): a = 1; b = (1/log2 3)/2 = 0.315465; c = 0
    assert m["ndcg_at_5"] == pytest.approx((1 + 0.5 / math.log2(3)) / 3)
    assert m["prefer_at_1"] == pytest.approx(2 / 3)
    assert m["abstain_precision"] == 0.5  # c wrongly, d rightly
    assert m["abstain_recall"] == 0.5
    assert m["false_abstain_rate"] == pytest.approx(1 / 3)
    assert m["p50_ms"] == 30.0
    assert m["p95_ms"] == pytest.approx(48.0)


def test_summarise_gives_none_where_no_question_applies() -> None:
    m = summarise([_o("d", None, should=True, abstained=True, ideal=())])
    assert m["hit_at_1"] is None and m["prefer_at_1"] is None and m["false_abstain_rate"] is None
    assert m["abstain_recall"] == 1.0


def test_thresholds_round_minimums_down_and_the_maximum_up() -> None:
    metrics = {
        "hit_at_1": 0.5789,
        "hit_at_5": 0.57,  # 0.57 * 100 is 56.99999999999999: must not become 0.56
        "mrr_at_10": 2 / 3,
        "prefer_at_1": 1.0,
        "abstain_recall": 0.0,
        "false_abstain_rate": 0.0357,
    }
    t = thresholds_from(metrics)
    assert t["min"] == {
        "hit_at_1": 0.57,
        "hit_at_5": 0.57,
        "mrr_at_10": 0.66,
        "prefer_at_1": 1.0,
        "abstain_recall": 0.0,
    }
    assert t["max"] == {"false_abstain_rate": 0.04}
    assert check_thresholds(metrics, t) == []


def test_check_thresholds_names_each_miss() -> None:
    t = {"min": {"hit_at_1": 0.6, "hit_at_5": 0.8}, "max": {"false_abstain_rate": 0.02}}
    failures = check_thresholds({"hit_at_1": 0.59, "hit_at_5": None, "false_abstain_rate": 0.03}, t)
    assert len(failures) == 3
    assert failures[0].startswith("hit_at_1 = 0.590 is below the minimum 0.6")
    assert "hit_at_5" in failures[1] and "false_abstain_rate" in failures[2]
    assert check_thresholds({"hit_at_1": 0.6, "hit_at_5": 0.8, "false_abstain_rate": 0.02}, t) == []


# --- scoring one question -------------------------------------------------------------------------


class StubAsker:
    """Answers from a fixed ranking; records the k of every call."""

    def __init__(self, ranking: list[Piece]) -> None:
        self.ranking = ranking
        self.calls: list[int] = []

    def __call__(self, question: str, k: int) -> Answer:
        self.calls.append(k)
        return Answer(question, False, "", [_result(i, p) for i, p in enumerate(self.ranking[:k], start=1)])


def _result(rank: int, p: Piece):  # noqa: ANN202 - a Result with only what the judge reads
    from qa.answer import Result

    return Result(rank, p.doc_id, "", None, p.clause, "", "", [], "", p.start, p.end, "", 0, 0, 0.0, "", None)


def test_score_looks_past_rank_5_only_when_the_top_5_miss(tiny: Collection) -> None:
    judge = Judge(tiny)
    q = _q([("plan-final", 2)], ["新增泊位700个"], prefer_doc="plan-final")
    task2 = _span(_FINAL, "2.管好停车。新增泊位700个。(牵头单位:区乙局)")
    miss = Piece("plan-draft", 1, 0, 5)
    late = StubAsker([miss] * 6 + [Piece("plan-final", 2, *task2)])
    o = evaluate.score_question(q, "full", late, judge)
    assert late.calls == [5, 10]
    assert o.first_rank == 7 and o.gains == (0, 0, 0, 0, 0) and o.top_doc == "plan-draft"
    early = StubAsker([miss, Piece("plan-final", 2, *task2)])
    o = evaluate.score_question(q, "full", early, judge)
    assert early.calls == [5]
    assert (o.first_rank, o.gains, o.ideal) == (2, (0, 2), (2,))
    assert o.latency_ms > 0


# --- end to end with a fake embedder --------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_assistant(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - Assistant, imported lazily
    from qa.assistant import Assistant

    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("eval") / "index")
    return Assistant(settings, embedder=FakeEmbedder(dim=256))


@pytest.fixture(scope="module")
def small_gold() -> list[GoldQuestion]:
    gold = load_gold()
    picked = [
        next(q for q in gold if q.split == s and q.kind == k)
        for s in ("dev", "test")
        for k in ("citizen", "out-of-scope", "version")
    ]
    return picked


def test_run_answers_every_question_once_per_configuration(
    fake_assistant, small_gold, tmp_path: Path
) -> None:  # noqa: ANN001
    from qa.baseline import Baseline

    baseline = Baseline(
        replace(fake_assistant.settings, index_dir=tmp_path / "index"), fake_assistant.embedder
    )
    result = evaluate.run(
        ["bm25", "full", "baseline"], assistant=fake_assistant, baseline=baseline, gold=small_gold
    )
    assert len(result.outcomes) == 3 * len(small_gold)
    assert {o.config for o in result.outcomes} == {"bm25", "full", "baseline"}
    assert all(o.latency_ms > 0 for o in result.outcomes)
    assert not any(o.abstained for o in result.outcomes if o.config != "full")
    test_only = evaluate.run(["bm25"], split="test", assistant=fake_assistant, gold=small_gold)
    assert {o.split for o in test_only.outcomes} == {"test"} and test_only.metrics()["n"] == 3

    m = result.metrics()
    assert set(m) == {"n", "splits", "by_kind", "configs"}
    assert set(m["splits"]) == {"dev", "test"} and set(m["configs"]) == {"bm25", "full", "baseline"}
    assert set(m["by_kind"]) == {"citizen", "out-of-scope", "version"}
    for block in (*m["splits"].values(), *m["by_kind"].values(), *m["configs"].values()):
        assert tuple(block) == METRICS

    out = tmp_path / "eval"
    write_report(result, out)
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    assert "Commit:" in text and "fake/char-ngram-256" in text and "misses at rank 1" in text
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["metrics"] == json.loads(json.dumps(m))
    assert {q["id"] for q in saved["questions"]} == {q.id for q in small_gold}
    assert set(saved["questions"][0]["configs"]) == {"bm25", "full", "baseline"}
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_configuration_and_split_are_refused(fake_assistant, small_gold) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="unknown configuration"):
        evaluate.run(["rerank"], assistant=fake_assistant, gold=small_gold)
    with pytest.raises(ValueError, match="unknown split"):
        evaluate.run(["full"], split="train", assistant=fake_assistant, gold=small_gold)


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
    before_w, before_a = fake_assistant.retriever.weights, fake_assistant.thresholds
    tuned = tuning.tune(fake_assistant, gold=small_gold, grid=grid)
    test_questions = {q.question for q in small_gold if q.split == "test"}
    assert asked and not test_questions & set(asked)
    assert tuned.weights["dense"] in (0.4, 0.6) and tuned.weights["draft_penalty"] in (0.0, 0.8)
    assert tuned.abstention["min_dense"] in (0.5, 2.0) and tuned.abstention["min_bm25"] in (3.0, 1e9)
    # The search leaves the assistant as it found it.
    assert (fake_assistant.retriever.weights, fake_assistant.thresholds) == (before_w, before_a)


def test_tuned_values_reproduce_their_dev_metrics(fake_assistant, small_gold) -> None:  # noqa: ANN001
    from qa.tuned import Thresholds, Weights

    grid = {
        "dense": (0.3, 0.7),
        "draft_penalty": (0.0, 1.6),
        "unit_boost": (0.0,),
        "min_dense": (0.5,),
        "min_bm25": (5.0,),
    }
    tuned = tuning.tune(fake_assistant, gold=small_gold, grid=grid)
    old = fake_assistant.retriever.weights, fake_assistant.thresholds
    fake_assistant.retriever.weights = Weights(**tuned.weights)
    fake_assistant.thresholds = Thresholds(**tuned.abstention)
    try:
        again = summarise(
            evaluate.run(["full"], split="dev", assistant=fake_assistant, gold=small_gold).outcomes
        )
    finally:
        fake_assistant.retriever.weights, fake_assistant.thresholds = old
    for key in METRICS:
        if not key.endswith("_ms"):
            assert again[key] == tuned.after[key], key


# --- the command line -----------------------------------------------------------------------------


def _canned_run(settings: Settings) -> EvalRun:
    gold = [
        GoldQuestion("a", "问", "citizen", "test", (Relevant("plan-final", 1),), (), "plan-final", False),
        GoldQuestion("b", "问", "out-of-scope", "test", (), (), None, True),
        GoldQuestion("c", "问", "citizen", "dev", (Relevant("plan-final", 1),), (), "plan-final", False),
    ]
    outcomes = [
        Outcome(
            "a", "full", "test", "citizen", False, False, 2, (0, 1), (1,), "plan-final", "plan-final", 5.0
        ),
        Outcome("b", "full", "test", "out-of-scope", True, True, None, (), (), None, None, 6.0),
        Outcome("c", "full", "dev", "citizen", False, False, 1, (1,), (1,), "plan-final", "plan-final", 7.0),
    ]
    return EvalRun(outcomes, gold, settings, "fake", {})


def test_cli_json_prints_exactly_the_metrics_object(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(corpus_dir=CORPUS)
    monkeypatch.setattr(evaluate, "run", lambda *a, **kw: _canned_run(settings))
    args = argparse.Namespace(json=True, no_write=True, check=False)
    assert evaluate.cli_eval(args, settings) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3
    assert out["splits"]["test"]["hit_at_1"] == 0.0 and out["splits"]["dev"]["hit_at_1"] == 1.0
    assert out["splits"]["test"]["abstain_recall"] == 1.0
    assert out["by_kind"]["out-of-scope"]["hit_at_1"] is None
    assert list(out["configs"]) == ["full"]


def test_cli_check_fails_below_a_threshold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = Settings(corpus_dir=CORPUS)
    monkeypatch.setattr(evaluate, "run", lambda *a, **kw: _canned_run(settings))
    gate = tmp_path / "thresholds.json"
    monkeypatch.setattr(evaluate, "THRESHOLDS_PATH", gate)
    args = argparse.Namespace(json=False, no_write=True, check=True)
    gate.write_text(json.dumps({"min": {"hit_at_1": 0.5}, "max": {"false_abstain_rate": 0.0}}))
    assert evaluate.cli_eval(args, settings) == 1
    assert "hit_at_1 = 0.000 is below the minimum 0.5" in capsys.readouterr().err
    gate.write_text(json.dumps({"min": {"hit_at_5": 1.0}, "max": {"false_abstain_rate": 0.0}}))
    assert evaluate.cli_eval(args, settings) == 0


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


def test_the_half_rule_agrees_with_clause_ids_on_the_assistants_chunks(collection: Collection) -> None:
    # The rule that lets the baseline's pieces count must not change how the assistant is judged.
    from qa.chunking import chunk_collection
    from qa.metrics import Target
    from qa.structure import parse_clauses

    for ch in chunk_collection(collection.documents, 400, 40):
        for clause in parse_clauses(collection.get(ch.doc_id)):
            target = Target(ch.doc_id, clause.clause, clause.start, clause.end, ())
            by_span = Judge.grade(Piece(ch.doc_id, None, ch.start, ch.end), target)
            assert by_span == (1 if ch.clause == clause.clause else 0), (ch.chunk_id, clause.clause)
