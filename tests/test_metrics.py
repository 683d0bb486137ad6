"""Metrics against hand-computed values, the relevance rule on a tiny plan, and a run's summaries."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from qa.documents import Collection
from qa.evaluation.gold import GoldQuestion
from qa.evaluation.metrics import (
    ABSTENTION_KEYS,
    METRICS,
    EvalRun,
    Judge,
    Outcome,
    Target,
    abstention_counts,
    abstention_rates,
    format_metric,
    format_values,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    prefer_at_1,
    summarise,
)
from qa.settings import Settings
from tests.conftest import CORPUS
from tests.tiny_plans import DRAFT as _DRAFT
from tests.tiny_plans import FINAL as _FINAL
from tests.tiny_plans import Piece, tiny_collection
from tests.tiny_plans import question as _q
from tests.tiny_plans import span as _span


@pytest.fixture
def tiny() -> Collection:
    return tiny_collection()


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


# --- summarise ------------------------------------------------------------------------------------


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


def test_abstention_counts_by_hand() -> None:
    outcomes = [
        _o("a", 1),
        _o("b", None, abstained=True),  # answerable, declined
        _o("c", None, should=True, abstained=True, ideal=()),
        _o("d", None, should=True, abstained=False, ideal=()),
    ]
    m = abstention_counts(outcomes)
    assert tuple(m) == ABSTENTION_KEYS
    assert (m["n"], m["should_abstain"], m["abstained"], m["right_abstentions"], m["declined"]) == (
        4,
        2,
        2,
        1,
        1,
    )
    assert all(isinstance(m[k], int) for k in ("n", "should_abstain", "abstained", "right_abstentions"))
    assert m["abstain_precision"] == 0.5 and m["abstain_recall"] == 0.5 and m["false_abstain_rate"] == 0.5
    nothing = abstention_counts([_o("a", 1)])
    assert nothing["abstain_precision"] is None and nothing["abstain_recall"] is None
    assert nothing["false_abstain_rate"] == 0.0


# --- one run's summaries --------------------------------------------------------------------------


def _run(outcomes: list[Outcome], kinds: dict[str, str]) -> EvalRun:
    gold = [GoldQuestion(q, "?", k, "test", (), (), None, False) for q, k in kinds.items()]
    return EvalRun(outcomes, gold, Settings(corpus_dir=CORPUS), "fake", {"file": None, "provenance": None})


def test_run_reports_abstention_for_every_kind() -> None:
    outcomes = [
        _o("a", 1),
        _o("b", None, abstained=True),
        _o("c", None, should=True, abstained=True, ideal=(), kind="out-of-scope"),
        _o("d", None, should=True, abstained=False, ideal=(), kind="out-of-scope"),
        _o("e", None, should=True, abstained=True, ideal=(), kind="out-of-scope", config="baseline"),
    ]
    m = _run(outcomes, {"a": "citizen", "b": "citizen", "c": "out-of-scope", "d": "out-of-scope"}).metrics()
    by_kind = m["abstention_by_kind"]
    assert list(by_kind) == ["citizen", "out-of-scope"]  # KINDS order
    citizen, oos = by_kind["citizen"], by_kind["out-of-scope"]
    assert (citizen["n"], citizen["declined"], citizen["false_abstain_rate"]) == (2, 1, 0.5)
    assert citizen["abstain_precision"] == 0.0 and citizen["abstain_recall"] is None
    # Only the full pipeline counts: the baseline's outcome for "e" is not in the table.
    assert (oos["n"], oos["abstain_precision"], oos["abstain_recall"], oos["false_abstain_rate"]) == (
        2,
        1.0,
        0.5,
        None,
    )
    assert set(m) == {"n", "splits", "by_kind", "configs", "abstention_by_kind", "tuned"}
    assert m["tuned"] == {"file": None, "provenance": None}


def test_run_lists_configurations_in_the_order_they_answered() -> None:
    outcomes = [_o("a", 1, config="full"), _o("a", 1, config="bm25"), _o("a", 2, config="full")]
    assert _run(outcomes, {"a": "citizen"}).configs() == ["full", "bm25"]


def test_kinds_follow_the_known_order_then_the_alphabet() -> None:
    kinds = {"a": "zzz", "b": "out-of-scope", "c": "long", "d": "citizen", "e": "aaa"}
    assert _run([], kinds).kinds() == ["citizen", "long", "out-of-scope", "aaa", "zzz"]


def test_formatting() -> None:
    assert format_metric(None) == "—"
    assert format_metric(0.12345) == "0.123" and format_metric(12.345, "p50_ms") == "12.3"
    assert format_metric(3) == "3"
    assert format_values({"dense": 0.6, "unit_boost": 0.5}) == "dense = 0.6, unit_boost = 0.5"
    assert format_values({}) == "—"


def test_the_half_rule_agrees_with_clause_ids_on_the_assistants_chunks(collection: Collection) -> None:
    # The rule that lets the baseline's pieces count must not change how the assistant is judged.
    from qa.chunking import chunk_collection
    from qa.structure import parse_clauses

    for ch in chunk_collection(collection.documents, 400, 40):
        for clause in parse_clauses(collection.get(ch.doc_id)):
            target = Target(ch.doc_id, clause.clause, clause.start, clause.end, ())
            by_span = Judge.grade(Piece(ch.doc_id, None, ch.start, ch.end), target)
            assert by_span == (1 if ch.clause == clause.clause else 0), (ch.chunk_id, clause.clause)
