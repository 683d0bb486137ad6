"""The gold-set run: scoring one question, every configuration end to end, the gate and ``qa eval``."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa.answer import Answer
from qa.documents import Collection
from qa.evaluation import run as evaluation_run
from qa.evaluation.gold import GoldQuestion, Relevant, load_conversations, load_gold
from qa.evaluation.metrics import METRICS, EvalRun, Judge, Outcome
from qa.evaluation.run import check_thresholds, thresholds_from, tuned_source
from qa.settings import Settings
from qa.tuned import Tuned, Weights, load_tuned
from tests.conftest import CORPUS
from tests.tiny_plans import FINAL as _FINAL
from tests.tiny_plans import Piece, tiny_collection
from tests.tiny_plans import question as _q
from tests.tiny_plans import span as _span


@pytest.fixture
def tiny() -> Collection:
    return tiny_collection()


# --- the gate -------------------------------------------------------------------------------------


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
    o = evaluation_run.score_question(q, "full", late, judge)
    assert late.calls == [5, 10]
    assert o.first_rank == 7 and o.gains == (0, 0, 0, 0, 0) and o.top_doc == "plan-draft"
    early = StubAsker([miss, Piece("plan-final", 2, *task2)])
    o = evaluation_run.score_question(q, "full", early, judge)
    assert early.calls == [5]
    assert (o.first_rank, o.gains, o.ideal) == (2, (0, 2), (2,))
    assert o.latency_ms > 0


# --- end to end with a fake embedder --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_gold() -> list[GoldQuestion]:
    gold = load_gold()
    return [
        next(q for q in gold if q.split == s and q.kind == k)
        for s in ("dev", "test")
        for k in ("citizen", "out-of-scope", "version")
    ]


def test_run_answers_every_question_once_per_configuration(
    fake_assistant, small_gold, tmp_path: Path
) -> None:  # noqa: ANN001
    from qa.evaluation.baseline import Baseline

    baseline = Baseline(
        replace(fake_assistant.settings, index_dir=tmp_path / "index"), fake_assistant.embedder
    )
    result = evaluation_run.run(
        ["bm25", "full", "baseline"], assistant=fake_assistant, baseline=baseline, gold=small_gold
    )
    assert len(result.outcomes) == 3 * len(small_gold)
    assert {o.config for o in result.outcomes} == {"bm25", "full", "baseline"}
    assert all(o.latency_ms > 0 for o in result.outcomes)
    assert not any(o.abstained for o in result.outcomes if o.config != "full")
    test_only = evaluation_run.run(["bm25"], split="test", assistant=fake_assistant, gold=small_gold)
    assert {o.split for o in test_only.outcomes} == {"test"} and test_only.metrics()["n"] == 3

    m = result.metrics()
    assert set(m) == {
        "n",
        "splits",
        "by_kind",
        "configs",
        "abstention_by_kind",
        "tuned",
        "answers",
        "conversations",
    }
    # the full pipeline's own answers are scored for coverage, lead and length, by split
    from qa.evaluation.answers import ANSWER_METRICS

    assert set(m["answers"]) == {"dev", "test"}
    assert all(tuple(v) == ANSWER_METRICS for v in m["answers"].values())
    assert m["answers"]["test"]["draft_as_current"] == 0.0
    assert "answers" not in test_only.metrics()  # no full pipeline, no answers to score
    assert "conversations" not in test_only.metrics()  # nor conversations
    assert set(m["splits"]) == {"dev", "test"} and list(m["configs"]) == ["bm25", "full", "baseline"]
    assert set(m["by_kind"]) == set(m["abstention_by_kind"]) == {"citizen", "out-of-scope", "version"}
    for block in (*m["splits"].values(), *m["by_kind"].values(), *m["configs"].values()):
        assert tuple(block) == METRICS
    assert m["abstention_by_kind"]["out-of-scope"]["n"] == 2
    # The assistant runs on its corpus's tuned.json: the run names the file and carries its provenance.
    assert m["tuned"]["file"] == str(fake_assistant.settings.corpus_dir / "tuned.json")
    assert m["tuned"]["provenance"] == dict(fake_assistant.tuned.provenance or {})
    assert result.tuning["weights"]["dense"] == fake_assistant.retriever.weights.dense
    assert set(result.tuning) == {"weights", "thresholds", "followups", "file", "provenance"}
    # The full pipeline also answered every conversation, turn by turn, with both splits reported.
    assert {t.conversation for t in result.turns} == {c.id for c in load_conversations()}
    assert set(m["conversations"]) == {"dev", "test"}
    assert set(m["conversations"]["test"]) == {"first", "follow_ups", "new_topics", "carry_over_accuracy"}
    assert not test_only.turns  # no full pipeline, no conversations


def _reading(corpus_dir: Path, tuned: Tuned | None = None) -> SimpleNamespace:
    """What tuned_source reads of an assistant: its settings, its tuned values, the values in use."""
    tuned = tuned or load_tuned(corpus_dir)
    return SimpleNamespace(
        settings=Settings(corpus_dir=corpus_dir),
        tuned=tuned,
        retriever=SimpleNamespace(weights=tuned.weights),
        thresholds=tuned.thresholds,
        conversation=SimpleNamespace(thresholds=tuned.followups),
    )


def test_tuned_source_names_the_file_only_when_its_values_are_in_use(tmp_path: Path) -> None:
    here = _reading(CORPUS)
    assert tuned_source(here) == {"file": "corpus/tuned.json", "provenance": dict(here.tuned.provenance)}
    here.retriever.weights = Weights(dense=here.tuned.weights.dense + 0.1)  # as a search sets them
    assert tuned_source(here)["file"] is None
    handed = _reading(CORPUS, Tuned(provenance={"split": "dev"}))  # values given to Assistant
    assert tuned_source(handed) == {"file": None, "provenance": {"split": "dev"}}
    assert tuned_source(_reading(tmp_path)) == {"file": None, "provenance": None}  # no file: code defaults
    shutil.copy(CORPUS / "tuned.json", tmp_path / "tuned.json")
    assert tuned_source(_reading(tmp_path))["file"] == str(tmp_path / "tuned.json")


def test_unknown_configuration_and_split_are_refused(fake_assistant, small_gold) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="unknown configuration"):
        evaluation_run.run(["rerank"], assistant=fake_assistant, gold=small_gold)
    with pytest.raises(ValueError, match="unknown split"):
        evaluation_run.run(["full"], split="train", assistant=fake_assistant, gold=small_gold)


# --- qa eval --------------------------------------------------------------------------------------


_PROVENANCE = {
    "date": "2026-12-01T10:00:00+08:00",
    "commit": "abc1234",
    "split": "dev",
    "grid": {"dense": [0.6]},
}


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
    return EvalRun(outcomes, gold, settings, "fake", {"file": "corpus/tuned.json", "provenance": _PROVENANCE})


def test_cli_json_prints_exactly_the_metrics_object(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(corpus_dir=CORPUS)
    monkeypatch.setattr(evaluation_run, "run", lambda *a, **kw: _canned_run(settings))
    args = argparse.Namespace(json=True, no_write=True, check=False)
    assert evaluation_run.cli_eval(args, settings) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(json.dumps(_canned_run(settings).metrics()))
    assert out["n"] == 3
    assert out["splits"]["test"]["hit_at_1"] == 0.0 and out["splits"]["dev"]["hit_at_1"] == 1.0
    assert out["splits"]["test"]["abstain_recall"] == 1.0
    assert out["by_kind"]["out-of-scope"]["hit_at_1"] is None
    assert list(out["configs"]) == ["full"]
    assert out["abstention_by_kind"]["out-of-scope"]["abstain_recall"] == 1.0
    assert out["abstention_by_kind"]["citizen"]["false_abstain_rate"] == 0.0
    assert out["tuned"] == {"file": "corpus/tuned.json", "provenance": _PROVENANCE}


def test_cli_table_names_the_tuned_values_and_abstention_by_kind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(corpus_dir=CORPUS)
    monkeypatch.setattr(evaluation_run, "run", lambda *a, **kw: _canned_run(settings))
    args = argparse.Namespace(json=False, no_write=True, check=False)
    assert evaluation_run.cli_eval(args, settings) == 0
    out = capsys.readouterr().out
    assert "`corpus/tuned.json` (date = 2026-12-01T10:00:00+08:00, commit = abc1234, split = dev)" in out
    assert "abstention of the full pipeline by kind" in out and "declined" in out


def test_cli_check_fails_below_a_threshold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = Settings(corpus_dir=CORPUS)
    monkeypatch.setattr(evaluation_run, "run", lambda *a, **kw: _canned_run(settings))
    gate = tmp_path / "thresholds.json"
    monkeypatch.setattr(evaluation_run, "THRESHOLDS_PATH", gate)
    args = argparse.Namespace(json=False, no_write=True, check=True)
    gate.write_text(json.dumps({"min": {"hit_at_1": 0.5}, "max": {"false_abstain_rate": 0.0}}))
    assert evaluation_run.cli_eval(args, settings) == 1
    assert "hit_at_1 = 0.000 is below the minimum 0.5" in capsys.readouterr().err
    gate.write_text(json.dumps({"min": {"hit_at_5": 1.0}, "max": {"false_abstain_rate": 0.0}}))
    assert evaluation_run.cli_eval(args, settings) == 0


def test_qa_eval_is_a_subcommand(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    monkeypatch.setattr(evaluation_run, "run", lambda *a, settings, **kw: _canned_run(settings))
    assert main(["eval", "--json", "--no-write"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3
