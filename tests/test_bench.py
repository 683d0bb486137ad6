"""``qa bench``: the shape and sanity of its figures (no timing thresholds: machines differ)."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from qa.errors import QAError
from qa.evaluation import bench
from qa.evaluation.gold import load_gold
from qa.settings import load_settings
from tests.fake_embedder import FakeEmbedder


@pytest.fixture(scope="module")
def small_gold():
    gold = load_gold()
    dev = [q for q in gold if q.split == "dev"][:4]
    test = [q for q in gold if q.split == "test" and not q.abstain][:6]
    abstain = [q for q in gold if q.split == "test" and q.abstain][:1]
    return dev + test + abstain


@pytest.fixture(scope="module")
def result(tmp_path_factory, small_gold):
    settings = load_settings(index_dir=tmp_path_factory.mktemp("bench") / "index")
    out = bench.run_bench(settings, embedder=FakeEmbedder(), gold=small_gold, cold_start=False)
    assert not settings.index_dir.exists(), "the benchmark builds in a temporary folder of its own"
    return out


def test_keys(result):
    assert set(bench.KEYS) <= set(result)
    assert set(bench.KEYS) <= set(result["baseline"])
    assert set(result["ratios"]) == set(bench.KEYS)
    assert {"cpu", "cores", "python"} <= set(result["machine"])
    assert result["embedder"] == "fake/char-ngram-64"
    json.dumps(result)  # what --json prints


def test_values_are_sane(result, small_gold):
    for side in (result, result["baseline"]):
        assert side["build_s"] > 0
        assert 0 <= side["p50_ms"] <= side["p95_ms"]
        assert 0 <= side["hit_at_1"] <= side["hit_at_5"] <= 1
        assert side["cold_start_s"] is None and side["rss_mb"] is None  # skipped in this run
        assert side["n_latency"] == len(small_gold)
        assert side["n_test"] == 6
    assert result["machine"]["cores"] == os.cpu_count()
    assert datetime.fromisoformat(result["date"]).tzinfo is not None


def test_ratios_divide_ours_by_the_baseline():
    ours = {"build_s": 10.0, "hit_at_1": 0.8, "p50_ms": 20.0, "rss_mb": None}
    base = {"build_s": 5.0, "hit_at_1": 0.4, "p50_ms": 0.0, "rss_mb": 100.0}
    r = bench.ratios(ours, base)
    assert r["build_s"] == 2.0 and r["hit_at_1"] == 2.0
    assert r["p50_ms"] is None and r["rss_mb"] is None and r["hit_at_5"] is None


def test_cold_start_with_the_real_index(assistant):
    """A fresh process loads the built index (the ``assistant`` fixture built it) and answers."""
    cold = bench.measure_cold_start(assistant.settings, "assistant")
    assert cold.seconds > 0
    assert 20 < cold.rss_mb < 4000
    assert set(cold.parts) == {"import_s", "load_s", "first_ask_s"}
    assert sum(cold.parts.values()) < cold.seconds  # the parts happen inside the timed span
    assert cold.st_imported is False  # peak memory without the sentence-transformers extra


@pytest.mark.slow  # a child process
def test_cold_start_refuses_to_time_a_build(tmp_path):
    settings = load_settings(index_dir=tmp_path / "index")
    with pytest.raises(QAError, match="冷启动测量失败"):
        bench.measure_cold_start(settings, "assistant")
    assert not (tmp_path / "index").exists()


def test_cli_prints_json_and_a_table(monkeypatch, capsys, result):
    from qa.cli import main

    monkeypatch.setattr(bench, "run_bench", lambda settings, progress=False: result)
    assert main(["bench", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == result
    assert main(["bench"]) == 0
    table = capsys.readouterr().out
    assert "朴素基线" in table and "hit@1 (test)" in table and result["machine"]["cpu"] in table
