"""Fusion and routing: exact rankings on a tiny plan with the fake embedder, routing on the real one."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.index import passage_text
from qa.query import parse_query
from qa.retrieve import MODES, Filters, Hit, Retriever
from qa.settings import load_settings
from qa.tuned import Weights
from tests.conftest import CORPUS
from tests.fake_embedder import FakeEmbedder

# A plan of four tasks and its draft of three: draft 1-3 became final 1-3 (1 retitled, 2 and 3
# reworded, 3 with new lead units); final 4 is new. The report mentions e-bikes too, without
# a lead unit, so "who is responsible" has a background chunk to beat.
PLAN_FINAL = """测试三年行动计划(2024-2026年)

一、营造便捷温馨的人居环境

1.升级美丽家园建设。推进既有多层住宅加装电梯,三年内新增加装电梯466台。(牵头单位:区房管局)

2.加强住宅小区物业管理。每年完成不少于20个小区物业服务费调整。(牵头单位:区房管局)

3.加强薄弱区域环境综合整治。开展医院周边市容环境整治。(牵头单位:区绿化市容局、城管执法局)

二、构筑安全管理体系

4.深化电动自行车安全监管。推进电动自行车停放场所和充电设施建设。(牵头单位:区应急局、区建设管理委、区消防救援支队)
"""
PLAN_DRAFT = """测试提升行动计划(2024-2026年)(草案)

一、营造便捷温馨的人居环境

1.深化精品小区建设。推进既有多层住宅加装电梯,三年内新增加装电梯400台。(牵头单位:区房管局)

2.加强住宅小区物业管理。每年完成不少于30个小区物业服务费调整。(牵头单位:区房管局)

3.加强薄弱区域环境综合整治。开展医院周边非机动车停放综合治理。(牵头单位:区绿化市容局、区建管委)
"""
REPORT = """关于测试提升行动计划(草案)的公众参与情况报告

一、向社会公开征求意见

共收到相关意见和建议2条。增设深化电动自行车安全监管任务。

二、问卷调查

受访者中有80%了解本计划。
"""
DOCS = [
    (
        "plan-draft",
        PLAN_DRAFT,
        "测试提升行动计划(2024-2026年)(草案)",
        "draft",
        "superseded",
        "superseded-plan",
    ),
    (
        "participation-report",
        REPORT,
        "关于测试提升行动计划(草案)的公众参与情况报告",
        None,
        "background",
        "participation-report",
    ),
    ("plan-final", PLAN_FINAL, "测试三年行动计划(2024-2026年)", "final", "current", "current-plan"),
]
TINY_CHUNKS = [
    "plan-draft#1",
    "plan-draft#2",
    "plan-draft#3",
    "participation-report#一",
    "participation-report#二",
    "plan-final#1",
    "plan-final#2",
    "plan-final#3",
    "plan-final#4",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("tiny")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copytree(CORPUS / "lexicon", corpus / "lexicon")
    meta = []
    for doc_id, text, title, version, authority, role in DOCS:
        (corpus / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        meta.append(
            {
                "doc_id": doc_id,
                "role": role,
                "layout": "tasks" if version else "parts",
                "describes": None,
                "title": title,
                "issuer": "测试",
                "issuer_short": "测试",
                "date": None,
                "version": version,
                "authority": authority,
            }
        )
    manifest = {"collection": {"title": "测试"}, "documents": meta}
    (corpus / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return Assistant(load_settings(corpus_dir=corpus, index_dir=root / "idx"), embedder=FakeEmbedder())


def ids(hits: list[Hit]) -> list[str]:
    return [h.chunk.chunk_id for h in hits]


def search(
    assistant: Assistant, question: str, k: int = 20, doc: str | None = None, mode: str = "full"
) -> list[Hit]:
    query = parse_query(question, lexicon=assistant.lexicon if mode == "full" else None)
    return assistant.retriever.search(query, k, Filters(doc=doc), mode)[0]


def scores_by_id(retriever: Retriever, assistant: Assistant, question: str) -> dict[str, float]:
    hits, _ = retriever.search(parse_query(question, lexicon=assistant.lexicon), 20, None, "full")
    return {h.chunk.chunk_id: h.score for h in hits}


def test_tiny_corpus_chunks(tiny: Assistant) -> None:
    assert [ch.chunk_id for ch in tiny.index.chunks] == TINY_CHUNKS


# --- exact rankings with the fake embedder ---------------------------------------------------


def test_bm25_mode_scores_only_chunks_with_the_word(tiny: Assistant) -> None:
    hits = search(tiny, "受访者", mode="bm25")
    assert ids(hits)[0] == "participation-report#二"
    assert [h.score > 0 for h in hits] == [True] + [False] * 8
    hits = search(tiny, "电动自行车", mode="bm25")
    assert ids(hits)[:2] == ["plan-final#4", "participation-report#一"]
    assert [h.score > 0 for h in hits] == [True, True] + [False] * 7


@pytest.mark.parametrize("chunk_id", TINY_CHUNKS)
def test_dense_mode_finds_a_chunk_from_its_own_passage(tiny: Assistant, chunk_id: str) -> None:
    position = [ch.chunk_id for ch in tiny.index.chunks].index(chunk_id)
    passage = passage_text(tiny.index.chunks[position], tiny.collection)
    hits = search(tiny, passage, mode="dense")
    assert hits[0].chunk.chunk_id == chunk_id
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert all(h.score < 1 - 1e-3 for h in hits[1:])


def test_dense_mode_order_is_the_brute_force_order(tiny: Assistant) -> None:
    fake = FakeEmbedder()
    question = "住宅小区物业服务费调整"
    brute = np.array(
        [fake.vector(passage_text(ch, tiny.collection)) for ch in tiny.index.chunks]
    ) @ fake.vector(question)
    expected = [TINY_CHUNKS[i] for i in np.argsort(-brute, kind="stable")]
    hits = search(tiny, question, mode="dense")
    assert ids(hits) == expected
    np.testing.assert_allclose([h.score for h in hits], np.sort(brute)[::-1], atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_k_limits_results_in_every_mode(tiny: Assistant, mode: str) -> None:
    # In full mode the three draft copies of current tasks take no slot: 6 of the 9 chunks remain.
    available = 6 if mode == "full" else 9
    for k in (1, 3, 9, 20):
        assert len(search(tiny, "加装电梯多少台?", k=k, mode=mode)) == min(k, available)


def test_final_plan_first_and_its_draft_copy_takes_no_slot(tiny: Assistant) -> None:
    for question, final in (
        ("加装电梯多少台?", "plan-final#1"),
        ("物业服务费调整多少个小区?", "plan-final#2"),
    ):
        got = ids(search(tiny, question))
        assert got[0] == final
        # every superseded task whose current counterpart is shown is left out
        assert not [c for c in got if c.startswith("plan-draft#")], question


def test_draft_first_when_the_draft_is_asked_for(tiny: Assistant) -> None:
    for question in ("草案里加装电梯多少台?", "征求意见稿里加装电梯多少台?", "原来加装电梯多少台?"):
        got = ids(search(tiny, question))
        assert got[0] == "plan-draft#1", question
        assert got.index("plan-final#1") > 0
    assert ids(search(tiny, "草案里加装电梯多少台?"))[:2] == ["plan-draft#1", "plan-final#1"]


def test_comparison_shows_the_pair_final_first(tiny: Assistant) -> None:
    assert ids(search(tiny, "加装电梯草案和正式版有什么不同?"))[:2] == ["plan-final#1", "plan-draft#1"]
    assert ids(search(tiny, "第2项草案和正式版有什么不同"))[:2] == ["plan-final#2", "plan-draft#2"]


def test_draft_penalty_is_exact(tiny: Assistant) -> None:
    none = Retriever(
        tiny.index, tiny._embed_query, tiny.tokenizer, tiny.collection, {}, Weights(draft_penalty=0.0)
    )
    some = Retriever(
        tiny.index, tiny._embed_query, tiny.tokenizer, tiny.collection, {}, Weights(draft_penalty=0.8)
    )
    for question, penalised in (("加装电梯多少台?", "plan-draft"), ("草案里加装电梯多少台?", "plan-final")):
        a, b = scores_by_id(none, tiny, question), scores_by_id(some, tiny, question)
        for chunk_id in TINY_CHUNKS:
            expected = 0.8 if chunk_id.startswith(penalised + "#") else 0.0
            assert a[chunk_id] - b[chunk_id] == pytest.approx(expected), (question, chunk_id)
    a, b = (
        scores_by_id(none, tiny, "加装电梯草案和正式版有什么不同?"),
        scores_by_id(some, tiny, "加装电梯草案和正式版有什么不同?"),
    )
    assert a == pytest.approx(b)


def test_final_first_even_without_the_penalty(tiny: Assistant) -> None:
    # Without the penalty the draft's 400台 outscores the final's 466台; the final plan still comes
    # first and its superseded copy takes no slot of its own.
    unpaired = Retriever(
        tiny.index, tiny._embed_query, tiny.tokenizer, tiny.collection, {}, Weights(draft_penalty=0.0)
    )
    scores = scores_by_id(unpaired, tiny, "加装电梯多少台?")
    assert scores["plan-draft#1"] > scores["plan-final#1"]
    retriever = Retriever(
        tiny.index,
        tiny._embed_query,
        tiny.tokenizer,
        tiny.collection,
        tiny.retriever._counterparts,
        Weights(draft_penalty=0.0),
    )
    hits, _ = retriever.search(parse_query("加装电梯多少台?", lexicon=tiny.lexicon), 5, None, "full")
    assert ids(hits)[0] == "plan-final#1" and "plan-draft#1" not in ids(hits)


def test_unit_boost_is_exact(tiny: Assistant) -> None:
    none = Retriever(
        tiny.index, tiny._embed_query, tiny.tokenizer, tiny.collection, {}, Weights(unit_boost=0.0)
    )
    some = Retriever(
        tiny.index, tiny._embed_query, tiny.tokenizer, tiny.collection, {}, Weights(unit_boost=0.5)
    )
    # "谁负责": every task chunk (they carry lead units) gains the boost, background chunks do not.
    a, b = scores_by_id(none, tiny, "电动自行车谁负责?"), scores_by_id(some, tiny, "电动自行车谁负责?")
    for chunk_id in TINY_CHUNKS:
        expected = 0.0 if chunk_id.startswith("participation-report") else 0.5
        assert b[chunk_id] - a[chunk_id] == pytest.approx(expected), chunk_id
    # Without a "who" the boost does nothing.
    assert scores_by_id(none, tiny, "电动自行车") == pytest.approx(scores_by_id(some, tiny, "电动自行车"))


def test_who_is_responsible_puts_the_task_first(tiny: Assistant) -> None:
    for question in ("电动自行车谁负责?", "电动自行车归哪个部门管?", "电瓶车充电谁管?"):
        top = search(tiny, question)[0]
        assert top.chunk.chunk_id == "plan-final#4", question
        assert top.chunk.lead_units == ("区应急局", "区建设管理委", "区消防救援支队")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("区房管局负责哪些任务?", ["plan-final#1", "plan-final#2"]),
        ("房管局牵头哪些任务?", ["plan-final#1", "plan-final#2"]),
        ("城管执法局负责哪些任务?", ["plan-final#3"]),  # the plan writes 城管执法局, without 区
        ("区城管执法局负责哪些任务?", ["plan-final#3"]),
        ("区建设管理委牵头哪些任务?", ["plan-final#4"]),
        ("草案里区房管局牵头哪些任务?", ["plan-draft#1", "plan-draft#2"]),
        ("草案里区建设管理委牵头哪些任务?", ["plan-draft#3"]),  # the draft writes 区建管委
    ],
)
def test_a_units_tasks_exactly_in_plan_order(tiny: Assistant, question: str, expected: list[str]) -> None:
    hits = search(tiny, question, k=5)
    assert ids(hits) == expected
    assert [h.score for h in hits] == [100.0 - i for i in range(len(expected))]


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("第2项", "plan-final#2"),
        ("第二项讲什么", "plan-final#2"),
        ("task 4", "plan-final#4"),
        ("草案第2项", "plan-draft#2"),
        ("征求意见稿第3项", "plan-draft#3"),
    ],
)
def test_clause_number_pins_its_task_first(tiny: Assistant, question: str, first: str) -> None:
    query = parse_query(question, lexicon=tiny.lexicon)
    hits, signals = tiny.retriever.search(query, 5, None, "full")
    assert ids(hits)[0] == first
    assert signals.routed is True
    assert len(set(ids(hits))) == len(hits) == 5


def test_a_clause_the_plan_does_not_have_is_not_routed(tiny: Assistant) -> None:
    _, signals = tiny.retriever.search(parse_query("草案第4项", lexicon=tiny.lexicon), 5, None, "full")
    assert signals.routed is False


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "question", ["加装电梯多少台?", "第2项", "区房管局负责哪些任务?", "电动自行车谁负责?"]
)
def test_doc_filter_only_returns_that_doc(tiny: Assistant, question: str, mode: str) -> None:
    for doc in ("plan-draft", "participation-report", "plan-final"):
        hits = search(tiny, question, doc=doc, mode=mode)
        assert {h.chunk.doc_id for h in hits} <= {doc}
    assert len(search(tiny, "加装电梯多少台?", doc="participation-report", mode=mode)) == 2


def test_each_hit_carries_its_sentence_closest_to_the_question(tiny: Assistant) -> None:
    hits = search(tiny, "物业服务费每年调整多少个小区?", k=3)
    top = hits[0]
    assert top.chunk.chunk_id == "plan-final#2"
    assert top.chunk.text[slice(*top.sentence)] == "每年完成不少于20个小区物业服务费调整。"
    for hit in hits:  # never the title alone, never the lead-unit note
        sentence = hit.chunk.text[slice(*hit.sentence)]
        assert "牵头单位" not in sentence and sentence in hit.chunk.text
        said = [hit.chunk.text[slice(*s)] for s in hit.sentences]
        assert not any(re.match(r"\d+\.", s) for s in said), "a task's numbered title is not evidence"
        # closeness runs with the sentences, closest first
        assert len(hit.closeness) == len(hit.sentences)
        assert list(hit.closeness) == sorted(hit.closeness, reverse=True)
        assert hit.close_to_best(0.0)[0] == hit.sentence
        assert hit.close_to_best(10.0) == hit.sentences


@pytest.mark.parametrize("mode", MODES)
def test_section_and_unit_filters_apply_before_ranking(tiny: Assistant, mode: str) -> None:
    query = parse_query("加装电梯多少台?", lexicon=tiny.lexicon if mode == "full" else None)
    # k=1: a filter applied after fetching the top hit would leave nothing.
    hits, signals = tiny.retriever.search(query, 1, Filters(section="构筑安全管理体系"), mode)
    assert ids(hits) == ["plan-final#4"] and signals.searched == 1
    hits, _ = tiny.retriever.search(query, 9, Filters(unit="区消防救援支队"), mode)
    assert ids(hits) == ["plan-final#4"]
    hits, _ = tiny.retriever.search(query, 9, Filters(unit="城管执法局"), mode)  # 区城管执法局 by alias
    assert ids(hits) == ["plan-final#3"]


def test_filters_that_leave_nothing_return_nothing(tiny: Assistant) -> None:
    query = parse_query("加装电梯多少台?", lexicon=tiny.lexicon)
    hits, signals = tiny.retriever.search(
        query, 5, Filters(doc="participation-report", unit="区房管局"), "full"
    )
    assert hits == [] and signals.searched == 0


# --- the real model and index ----------------------------------------------------------------


def test_real_index_vectors_are_the_models_and_faiss_equals_brute_force(assistant: Assistant) -> None:
    index = assistant.index
    matrix = index.dense.reconstruct_n(0, index.dense.ntotal)
    sample = [0, 17, len(index.chunks) // 2, len(index.chunks) - 1]
    again = assistant.embedder.embed_passages(
        [passage_text(index.chunks[i], assistant.collection) for i in sample]
    )
    np.testing.assert_allclose(matrix[sample], again, atol=2e-3)
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    for question in ("电瓶车在楼道充电谁管?", "加装电梯", "草案征求意见截止到哪一天?"):
        q = assistant.embedder.embed_queries([question])[0]
        brute = matrix @ q
        np.testing.assert_allclose(index.dense_scores(q), brute, atol=1e-5)
        hits = search(assistant, question, k=10, mode="dense")
        np.testing.assert_allclose([h.score for h in hits], np.sort(brute)[::-1][:10], atol=1e-5)


def _top(assistant: Assistant, question: str, k: int = 5) -> list[tuple[str, int | str | None]]:
    return [(r.doc_id, r.clause) for r in assistant.ask(question, k=k).results]


TASK_29_LEADS = ["区应急局", "区建设管理委", "区消防救援支队"]


@pytest.mark.parametrize(
    "question",
    ["第29项", "第二十九条", "task 29", "第２９项", "Who is responsible for task 29?", "第29项的牵头单位"],
)
def test_clause_routing_real(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    top = answer.results[0]
    assert (top.doc_id, top.clause, top.lead_units) == ("plan-final", 29, TASK_29_LEADS)
    assert not answer.abstained


def test_lead_units_of_task_29_in_the_answer(assistant: Assistant) -> None:
    answer = assistant.ask("第29项的牵头单位")
    assert "牵头单位是:区应急局、区建设管理委、区消防救援支队" in answer.text
    assert "第29项 深化电动自行车安全监管" in answer.text


def test_draft_clause_routing_real(assistant: Assistant) -> None:
    assert _top(assistant, "草案第10项")[0] == ("plan-draft", 10)
    assert _top(assistant, "草案第11项讲什么?")[0] == ("plan-draft", 11)
    # Draft 29 became final 32: the number is the draft's.
    assert _top(assistant, "草案第29项")[0] == ("plan-draft", 29)


def _before(
    results: list[tuple[str, int | str | None]], first: tuple[str, int], second: tuple[str, int]
) -> None:
    assert results[0] == first
    if second in results:
        assert results.index(first) < results.index(second)


def test_version_routing_final_by_default(assistant: Assistant) -> None:
    _before(_top(assistant, "物业服务费调整每年多少个小区?"), ("plan-final", 11), ("plan-draft", 11))
    _before(_top(assistant, "加装电梯"), ("plan-final", 10), ("plan-draft", 10))


@pytest.mark.parametrize(
    "question",
    [
        "草案里物业服务费调整每年多少个小区?",
        "征求意见稿里物业服务费调整每年多少个小区?",
        "原来物业服务费调整每年多少个小区?",
    ],
)
def test_version_routing_draft_when_asked(assistant: Assistant, question: str) -> None:
    _before(_top(assistant, question), ("plan-draft", 11), ("plan-final", 11))


@pytest.mark.parametrize(
    "question",
    [
        "物业服务费调整草案和正式版有什么不同",
        "第11项草案和正式版有什么不同?",
        "物业费调整每年多少个小区,草案和正式版有什么不同?",
    ],
)
def test_comparison_returns_both_final_first(assistant: Assistant, question: str) -> None:
    results = assistant.ask(question).results
    assert [(r.doc_id, r.clause) for r in results[:2]] == [("plan-final", 11), ("plan-draft", 11)]
    for r in results[:2]:
        assert r.version_note is not None
        assert "每年完成不少于30个小区" in r.version_note and "每年完成不少于20个小区" in r.version_note
    draft_note = results[1].version_note
    assert draft_note is not None and draft_note.startswith("此为草案第11项,已被正式版第11项取代。")


def test_lead_unit_listing_real(assistant: Assistant) -> None:
    # The answer and the results list every task the unit leads.
    answer = assistant.ask("区房管局负责哪些任务?", k=10)
    assert [(r.doc_id, r.clause) for r in answer.results] == [
        ("plan-final", n) for n in (10, 11, 13, 25, 31, 35)
    ]
    assert all("区房管局" in r.lead_units for r in answer.results)
    # a listing holds every task the unit leads, whatever k is
    assert len(assistant.ask("区房管局负责哪些任务?", k=5).results) == 6
    assert answer.text.splitlines()[0].endswith("区房管局牵头(含共同牵头)的任务共6项:")
    assert [line.split()[0] for line in answer.text.splitlines()[1:]] == [
        "第10项",
        "第11项",
        "第13项",
        "第25项",
        "第31项",
        "第35项",
    ]


@pytest.mark.parametrize(
    "question", ["城管执法局负责哪些任务?", "区城管执法局负责哪些任务?", "城管局牵头哪些任务?"]
)
def test_unit_written_with_or_without_district_prefix(assistant: Assistant, question: str) -> None:
    results = assistant.ask(question).results
    assert [(r.doc_id, r.clause) for r in results] == [("plan-final", n) for n in (7, 14, 31, 34)]
    assert "城管执法局" in results[0].lead_units  # task 7 writes it without 区


@pytest.mark.parametrize(
    "question",
    [
        "电瓶车在楼道充电谁管?",
        "Who is responsible for e-bike charging safety in residential buildings?",
        "加装电梯归哪个部门管?",
    ],
)
def test_who_is_responsible_puts_a_task_with_lead_units_first(assistant: Assistant, question: str) -> None:
    top = assistant.ask(question).results[0]
    assert top.doc_id == "plan-final" and isinstance(top.clause, int) and top.lead_units


def test_renamed_unit_in_the_draft(assistant: Assistant) -> None:
    assert _top(assistant, "草案里区文化旅游局牵头哪些任务?") == [("plan-draft", 13)]
