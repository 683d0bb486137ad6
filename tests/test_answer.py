"""The assistant end to end, on the real model and index: exact quotes, citations, abstention."""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from qa.answer import NO_ANSWER_EN, NO_ANSWER_ZH, Answer
from qa.assistant import Assistant
from qa.documents import Collection
from qa.errors import InvalidQuestion, QAError, UnknownDocument
from qa.query import parse_query
from qa.retrieve import MODES

GOLD = Path(__file__).resolve().parent.parent / "eval" / "gold.jsonl"
RESULT_KEYS = {
    "rank",
    "doc_id",
    "doc_title",
    "version",
    "clause",
    "title",
    "section",
    "lead_units",
    "text",
    "start",
    "end",
    "highlight",
    "highlight_start",
    "highlight_end",
    "score",
    "citation",
    "version_note",
}
ANSWER_KEYS = {
    "question",
    "abstained",
    "answer",
    "lead",
    "coverage",
    "asks",
    "missing",
    "follows",
    "context",
    "results",
}


def _dev_questions(per_kind: int = 5) -> list[str]:
    """Five dev-split questions of each kind, in file order. Never the test split."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] == "dev" and len(by_kind[row["kind"]]) < per_kind:
            by_kind[row["kind"]].append(row["question"])
    return [q for qs in by_kind.values() for q in qs]


DEV = _dev_questions()
EXTRA = ["第29项", "草案第10项", "区房管局负责哪些任务?", "第11项草案和正式版有什么不同?", "task 29", "房价"]


def test_the_sample_is_dev_only_and_covers_every_kind() -> None:
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]
    dev = {r["question"] for r in rows if r["split"] == "dev"}
    kinds = {r["kind"] for r in rows}
    assert set(DEV) <= dev and len(DEV) == sum(
        min(5, sum(1 for r in rows if r["kind"] == k and r["split"] == "dev")) for k in kinds
    )
    assert {r["kind"] for r in rows if r["question"] in DEV} == kinds


@pytest.fixture(scope="module")
def answers(assistant: Assistant) -> dict[str, Answer]:
    return {q: assistant.ask(q) for q in DEV + EXTRA}


def test_every_quote_and_highlight_is_the_document_at_its_offsets(
    answers: dict[str, Answer], collection: Collection
) -> None:
    checked = 0
    for question, answer in answers.items():
        assert answer.results, question
        for r in answer.results:
            doc = collection.get(r.doc_id)
            assert doc.text[r.start : r.end] == r.text, (question, r.rank)
            assert r.text[r.highlight_start : r.highlight_end] == r.highlight, (question, r.rank)
            assert r.highlight and r.highlight == r.highlight.strip(), (question, r.rank)
            assert 0 <= r.highlight_start < r.highlight_end <= len(r.text)
            checked += 1
    assert checked >= 5 * len(DEV)


def test_json_shape(answers: dict[str, Answer]) -> None:
    for question, answer in answers.items():
        data = json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))
        assert set(data) == ANSWER_KEYS
        assert data["question"] == question
        assert isinstance(data["abstained"], bool) and isinstance(data["answer"], str) and data["answer"]
        assert [r["rank"] for r in data["results"]] == list(range(1, len(data["results"]) + 1))
        for r in data["results"]:
            assert set(r) == RESULT_KEYS
            assert isinstance(r["lead_units"], list) and isinstance(r["score"], float)


def test_results_carry_their_documents_metadata(answers: dict[str, Answer], collection: Collection) -> None:
    for answer in answers.values():
        for r in answer.results:
            doc = collection.get(r.doc_id)
            assert (r.doc_title, r.version) == (doc.title, doc.version)
            assert r.citation.startswith(doc.cite_title)
            if isinstance(r.clause, int):
                assert r.citation == f"{doc.cite_title}第{r.clause}项 {r.title}"
                assert r.text.startswith(f"{r.clause}.")
            if r.doc_id != "plan-final" and r.doc_id != "plan-draft":
                assert r.lead_units == [] and r.version is None


def test_no_more_results_than_k_and_no_duplicates(answers: dict[str, Answer]) -> None:
    for question, answer in answers.items():
        keys = [(r.doc_id, r.start) for r in answer.results]
        assert len(keys) == len(set(keys)), question
        if not answer.listing:  # a listing holds every task the unit leads, whatever k is
            assert len(answer.results) <= 5, question


def test_draft_tasks_say_they_are_superseded(answers: dict[str, Answer]) -> None:
    seen = 0
    for answer in answers.values():
        for r in answer.results:
            if r.doc_id == "plan-draft" and isinstance(r.clause, int):
                assert r.version_note is not None
                assert r.version_note.startswith(f"此为草案第{r.clause}项,")
                assert "取代" in r.version_note or "正式版中已没有" in r.version_note
                seen += 1
    assert seen >= 5


@pytest.mark.parametrize("question", ["草案保障措施里组织领导是怎么写的?", "草案的总体目标是什么?"])
def test_every_draft_result_says_it_is_superseded(assistant: Assistant, question: str) -> None:
    # the draft itself, or a background document that speaks of it (its notes, its FAQ)
    drafts = [r for r in assistant.ask(question).results if r.superseded]
    assert drafts
    for r in drafts:
        assert r.version_note and "草案" in r.version_note
        assert "取代" in r.version_note or "为准" in r.version_note


# --- the composed answer ---------------------------------------------------------------------


def test_answer_leads_with_one_plain_sentence_then_the_citation(assistant: Assistant) -> None:
    answer = assistant.ask("电瓶车在楼道充电谁管?")
    top = answer.results[0]
    lines = answer.text.splitlines()
    assert (top.doc_id, top.clause) == ("plan-final", 29)
    # which task, who leads it, and the plan's own words, exactly as highlighted
    assert lines[0] == answer.lead == f"第29项 {top.title}({'、'.join(top.lead_units)}牵头):{top.highlight}"
    assert top.text[top.highlight_start : top.highlight_end] == top.highlight
    assert lines[1] == "——" + top.citation
    assert answer.coverage == "answered" and answer.asks == "who" and answer.missing is None


def test_a_lead_unit_question_names_the_units_not_the_raw_note(assistant: Assistant) -> None:
    answer = assistant.ask("第29项的牵头单位是哪些?")
    assert answer.lead == "第29项 深化电动自行车安全监管的牵头单位是:区应急局、区建设管理委、区消防救援支队。"
    assert not answer.lead.startswith("(")


def test_an_amount_the_plan_does_not_state_is_a_partial_answer(assistant: Assistant) -> None:
    answer = assistant.ask("加装电梯补贴多少钱?")
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", 10)
    assert answer.coverage == "partial" and answer.asks == "amount" and answer.missing == "具体金额"
    assert answer.abstained is False
    assert answer.lead == f"第10项 {top.title}(区房管局牵头)提到“{top.highlight}”,但没有写明具体金额。"
    assert "466台" in top.highlight


def test_a_figure_question_highlights_the_sentence_with_the_figure(assistant: Assistant) -> None:
    answer = assistant.ask("公共充电桩要新建多少个?")
    top = answer.results[0]
    assert answer.asks == "count" and answer.coverage == "answered"
    assert "1050个" in top.highlight and "1050个" in answer.lead


def test_a_contact_question_gets_the_paragraph_with_the_address(assistant: Assistant) -> None:
    answer = assistant.ask("给区建管委写信提意见,信寄到哪里?")
    top = answer.results[0]
    assert answer.asks == "contact" and answer.coverage == "answered"
    assert top.doc_id == "consultation-notice"
    assert "寄送" in top.highlight or "地址" in top.highlight


def test_english_question_gets_an_english_lead(assistant: Assistant) -> None:
    answer = assistant.ask("Who is responsible for task 29?")
    lines = answer.text.splitlines()
    assert lines[0] == answer.lead and answer.lead.startswith('Task 29 "')
    assert "District Emergency Management Bureau" in answer.lead
    assert "unofficial" in answer.text  # the glossary is marked as an unofficial translation


# --- abstention ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question", ["房价", "天气", "居住证积分", "明天会下雨吗", "股票", "长宁区房价会涨吗?"]
)
def test_abstains_on_unrelated_questions(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.abstained is True
    assert answer.text.startswith(NO_ANSWER_ZH)
    assert "计划中没有找到与此直接相关的内容" in answer.text


def test_an_english_questions_sentence_is_chosen_by_its_own_words_not_the_task_title(
    assistant: Assistant,
) -> None:
    """ "property management" brings in task 11's title; the fee is what was asked about."""
    answer = assistant.ask("Are property management fees going to rise?")
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", 11)
    assert "物业服务费调整" in top.highlight and "物业服务费调整" in answer.lead


def test_abstains_in_english(assistant: Assistant) -> None:
    answer = assistant.ask("How do I apply for a Shanghai residence permit?")
    assert answer.abstained is True
    assert answer.text.startswith(NO_ANSWER_EN)


@pytest.mark.parametrize(
    "question", ["电瓶车在楼道充电谁管?", "加装电梯", "第29项", "区房管局负责哪些任务?", "草案第10项"]
)
def test_answers_clearly_answerable_questions(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.abstained is False
    assert NO_ANSWER_ZH not in answer.text
    assert answer.results


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_ablation_modes_never_abstain(assistant: Assistant, mode: str) -> None:
    answer = assistant.ask("房价", mode=mode)
    assert answer.abstained is False and len(answer.results) == 5


# --- the doc filter --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    ["公开征求意见期间一共收到了几条意见?", "电瓶车在楼道充电谁管?", "第29项", "区房管局负责哪些任务?"],
)
def test_doc_filter_only_returns_that_doc(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question, doc="participation-report")
    assert {r.doc_id for r in answer.results} <= {"participation-report"}


def test_doc_filter_keeps_k(assistant: Assistant) -> None:
    for doc in ("plan-final", "plan-draft", "participation-report"):
        results = assistant.ask("加装电梯", k=3, doc=doc).results
        assert len(results) == 3 and {r.doc_id for r in results} == {doc}


@pytest.mark.parametrize(
    ("question", "doc"), [("电瓶车在楼道充电谁管?", "issuance-notice"), ("加装电梯", "meeting-minutes")]
)
def test_doc_filter_abstains_when_that_doc_does_not_cover_it(
    assistant: Assistant, question: str, doc: str
) -> None:
    assert assistant.ask(question, doc=doc).abstained is True


# --- highlights ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "doc_id", "words"),
    [
        ("来信地址是什么?", "consultation-notice", "长宁路599号"),
        ("政协委员对草案提了几条意见?", "participation-report", "政协委员提出1条意见"),
        ("公开征求意见期间一共收到了几条意见?", "participation-report", "共收到相关意见和建议2条"),
    ],
)
def test_highlight_reaches_the_answering_line(
    assistant: Assistant, question: str, doc_id: str, words: str
) -> None:
    highlights = [r.highlight for r in assistant.ask(question, doc=doc_id).results]
    assert any(words in h for h in highlights)


# --- lead-unit listings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "unit"),
    [("草案里区财政局牵头哪些任务?", "区财政局"), ("草案里区数据局牵头哪些任务?", "区数据局")],
)
def test_a_listing_names_only_tasks_the_unit_leads(assistant: Assistant, question: str, unit: str) -> None:
    answer = assistant.ask(question)
    if "牵头(含共同牵头)的任务共" in answer.text:
        for r in answer.results:
            assert isinstance(r.clause, int) and unit in r.lead_units, (r.doc_id, r.clause, r.lead_units)


# --- user mistakes ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, 21, 100, True, 1.5, "5", 5.0])
def test_bad_k(assistant: Assistant, k: object) -> None:
    with pytest.raises(InvalidQuestion, match="k 必须是 1 到 20 之间的整数"):
        assistant.ask("加装电梯", k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 20])
def test_k_at_the_bounds(assistant: Assistant, k: int) -> None:
    assert len(assistant.ask("加装电梯", k=k).results) == k


def test_unknown_doc(assistant: Assistant) -> None:
    with pytest.raises(UnknownDocument, match="未知文档 'plan-2023'.*plan-final"):
        assistant.ask("加装电梯", doc="plan-2023")


def test_unknown_mode(assistant: Assistant) -> None:
    with pytest.raises(InvalidQuestion, match="未知的检索模式"):
        assistant.ask("加装电梯", mode="bm42")
    assert set(MODES) == {"bm25", "dense", "hybrid", "full"}


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "请输入一个问题"),
        ("   ", "请输入一个问题"),
        ("😀😀", "没有可识别的文字"),
        ("???", "没有可识别的文字"),
        ("电" * 501, "问题太长"),
        ("Who is responsible? " * 30, "too long"),
        (None, "必须是文字"),
    ],
)
def test_invalid_questions_are_typed_errors(assistant: Assistant, question: object, message: str) -> None:
    with pytest.raises(InvalidQuestion, match=message) as info:
        assistant.ask(question)
    assert isinstance(info.value, QAError)


def test_concurrent_questions_get_the_same_answers(assistant: Assistant) -> None:
    questions = ["电瓶车在楼道充电谁管?", "加装电梯", "第29项", "房价"]
    expected = {q: assistant.ask(q).to_dict() for q in questions}
    got: list[tuple[str, dict[str, object]]] = []
    lock = threading.Lock()

    def run(q: str) -> None:
        answer = assistant.ask(q).to_dict()
        with lock:
            got.append((q, answer))

    threads = [threading.Thread(target=run, args=(q,)) for q in questions * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 12
    for q, answer in got:
        assert answer == expected[q]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("第37项讲什么?", "《长宁区城市管理精细化三年行动计划(2024-2026年)》共36项任务,没有第37项。"),
        ("草案第35项", "《长宁区城市管理精细化提升行动计划(2024-2026年)(草案)》共34项任务,没有第35项。"),
    ],
)
def test_a_task_number_past_the_last_says_there_is_none(
    assistant: Assistant, question: str, expected: str
) -> None:
    answer = assistant.ask(question)
    assert answer.abstained
    assert answer.text.startswith(expected)
    assert "可能相关" in answer.text


def test_the_last_task_of_each_plan_is_still_found(assistant: Assistant) -> None:
    assert (assistant.ask("第36项").results[0].doc_id, assistant.ask("第36项").results[0].clause) == (
        "plan-final",
        36,
    )
    first = assistant.ask("草案第34项").results[0]
    assert (first.doc_id, first.clause) == ("plan-draft", 34)


def test_plural_english_words_gain_the_plans_wording(assistant: Assistant) -> None:
    answer = assistant.ask("How many elevators will be installed?")
    assert not answer.abstained
    assert (answer.results[0].doc_id, answer.results[0].clause) == ("plan-final", 10)
    assert "466台" in answer.text


def test_the_email_address_is_the_answer_to_an_email_question(assistant: Assistant) -> None:
    answer = assistant.ask("征求意见的邮箱是多少?")
    assert "cnqjxhb@163.com" in answer.results[0].highlight


def test_a_question_line_is_never_the_highlight(assistant: Assistant) -> None:
    top = assistant.ask("行动计划的总体目标是什么?").results[0]
    assert not top.highlight.endswith(("?", "?"))


def test_draft_stage_documents_are_quoted_as_superseded(assistant: Assistant) -> None:
    answer = assistant.ask("计划分几个部分?")
    assert answer.results[0].doc_id in ("draft-faq", "drafting-notes")
    assert "(草案原文,已被正式版取代)" in answer.lead
    assert "正式版共36项任务" in (answer.results[0].version_note or "")
    assert "版本说明:此材料说明的是草案" in answer.text


def test_a_question_about_a_change_leads_with_the_change(assistant: Assistant) -> None:
    answer = assistant.ask("建筑垃圾资源化利用率还有93%的目标吗?", k=1)
    assert answer.results[0].doc_id == "plan-final"
    # no version named (还有…吗?): the change opens the answer, before the quoted sentence
    assert answer.text.startswith("版本说明:") and "93%" in answer.text.splitlines()[0]


def test_final_plan_first_even_with_one_result(assistant: Assistant) -> None:
    # The draft's task 19 mentions 建筑垃圾 and scores higher; with k=1 the final plan's 19 still wins.
    top = assistant.ask("建筑垃圾资源化利用怎么推进?", k=1).results[0]
    assert (top.doc_id, top.clause) == ("plan-final", 19)


def test_a_question_about_a_background_document_is_answered(assistant: Assistant) -> None:
    answer = assistant.ask("Who issued the final plan?")
    assert not answer.abstained


def test_a_date_question_quotes_the_sentence_asked_about_and_the_plans_period(assistant: Assistant) -> None:
    """The task's "三年内…5000户燃气计量表" names a time, but the question is about 瓶改管: that
    sentence is quoted. Its target (210户) is met within the plan's period, which answers when."""
    answer = assistant.ask("我家还在用煤气罐,啥时候能通上管道燃气?")
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", 22) and answer.asks == "date"
    assert "瓶改管" in top.highlight and "5000户" not in top.highlight
    assert answer.coverage == "answered" and answer.missing is None
    assert answer.lead == f"第22项 {top.title}(区建设管理委牵头):{top.highlight}(计划实施期为2024-2026年)"


@pytest.mark.parametrize(
    "question",
    [
        "煤气罐什么时候开始改管道燃气?",
        "我家那条路的架空线什么时候开工入地?",
        "架空线入地几月份动工?",
        "大件垃圾哪几天可以投放?",
    ],
)
def test_when_work_starts_is_more_than_the_plans_period_says(assistant: Assistant, question: str) -> None:
    """The period dates a target's completion, not the start of work or a month."""
    answer = assistant.ask(question)
    assert answer.coverage == "partial" and answer.missing == "具体时间"
    assert answer.lead.endswith("但没有写明具体时间(计划实施期为2024-2026年)。")


def test_a_tasks_title_is_never_quoted_as_what_it_says(assistant: Assistant) -> None:
    """The lead names the task; quoting "30.深入推进…" after it would say nothing."""
    for question in ("“一网统管”平台建设的牵头单位有哪些?", "电动自行车那条是后来加的吗?"):
        top = assistant.ask(question).results[0]
        assert isinstance(top.clause, int)
        assert not top.highlight.startswith(f"{top.clause}."), question


@pytest.mark.parametrize(
    "question, words",
    [
        ("正式的三年行动计划是哪天印发的?", "2024年8月28日"),
        ("On what date was the final three-year plan issued?", "2024年8月28日"),
        ("寄书面意见,邮编写多少?", "邮编:200050"),
        ("景观照明以哪几个地方为亮点?", "以延安高架、苏州河两岸、中山公园区域为亮点"),
        ("使用满几年的老旧住宅电梯要做安全风险评估?", "使用满15年"),
        # a document question is answered by a name that is not the plan's own
        ("起草草案的时候参照了哪个文件?", "《上海城市管理精细化三年行动计划(2024—2026年)》"),
    ],
)
def test_the_detail_asked_for_is_in_the_lead(assistant: Assistant, question: str, words: str) -> None:
    """A date inside a document's name (《…(2024-2026年)》) is not the date a notice was issued;
    a postcode, places and a duration are what 多少, 哪几个地方 and 满几年 ask for."""
    answer = assistant.ask(question)
    assert answer.coverage == "answered"
    assert words in answer.results[0].highlight and words in answer.lead


@pytest.mark.parametrize(
    "question, clause, missing",
    [
        ("垃圾没分类会被罚款多少钱?", 20, "具体金额"),
        ("举报违章建筑打什么电话?", 14, "联系方式"),
        ("新增的停车泊位怎么收费?", 4, "具体金额"),
        ("社区规划师怎么联系?", 35, "联系方式"),
        ("换智能燃气表要自己掏钱吗?", 22, "具体金额"),
        # The task names 江苏路, but the question named it first: which compounds is still not said.
        ("江苏路社区的完整社区试点会覆盖哪些小区?", 12, "具体地点"),
    ],
)
def test_a_fine_a_fee_or_a_hotline_of_a_covered_subject_is_a_partial_answer(
    assistant: Assistant, question: str, clause: int, missing: str
) -> None:
    """Not a subject of its own: the plan covers rubbish sorting, illegal building and parking."""
    answer = assistant.ask(question)
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", clause)
    assert answer.coverage == "partial" and not answer.abstained and answer.missing == missing
    assert answer.lead.endswith(f"但没有写明{missing}。") and f"“{top.highlight}”" in answer.lead


def test_a_date_the_task_does_not_give_is_partial_with_the_plans_period(assistant: Assistant) -> None:
    answer = assistant.ask("滨水步道什么时候能全线贯通?")
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", 17) and answer.coverage == "partial"
    assert answer.lead.endswith("但没有写明具体时间(计划实施期为2024-2026年)。")


def test_a_partial_answer_from_the_draft_says_it_is_superseded(assistant: Assistant) -> None:
    answer = assistant.ask("草案第10项加装电梯补贴多少钱?", doc="plan-draft")
    top = answer.results[0]
    assert top.superseded and answer.coverage in ("partial", "answered")
    assert "已被正式版取代" in answer.lead


@pytest.mark.parametrize(
    "question, draft, final",
    [
        ("建筑垃圾资源化利用率93%的目标还有吗?", 19, 19),
        ("提升业委会规范化运作率这个提法,正式版是不是删了?", 34, 35),
        # with the draft's task number, the words quoted still decide what is asked about
        ("草案第34项里提升业委会规范化运作率那句,正式版删了吗?", 34, 35),
    ],
)
def test_draft_words_the_final_plan_dropped_are_quoted_as_superseded(
    assistant: Assistant, question: str, draft: int, final: int
) -> None:
    answer = assistant.ask(question)
    current, old = answer.results[0], answer.results[1]
    assert (current.doc_id, current.clause) == ("plan-final", final)
    assert (old.doc_id, old.clause) == ("plan-draft", draft) and old.superseded
    assert old.text[old.highlight_start : old.highlight_end] == old.highlight
    assert old.highlight not in assistant.collection.current_plan.text
    assert answer.lead == (
        f"草案第{draft}项写的“{old.highlight.strip()}”(草案原文,已被正式版取代),"
        f"正式版第{final}项 {current.title}没有原样保留这句话。"
    )
    assert current.version_note and current.version_note in answer.text  # what exactly changed


def test_draft_words_the_final_plan_reworded_are_quoted_with_the_new_wording(assistant: Assistant) -> None:
    """30个 became 20个: the sentence was changed, not dropped, and the lead says what it became."""
    answer = assistant.ask("物业服务费调整的小区数量 草案和定稿有什么变化")
    current, old = answer.results[0], answer.results[1]
    assert (current.clause, old.clause, old.doc_id) == (11, 11, "plan-draft")
    assert "30个小区物业服务费调整" in old.highlight
    new = next(s for s in re.split(r"(?<=。)", current.text) if "20个小区物业服务费调整" in s).strip()
    assert new in assistant.collection.current_plan.text
    assert answer.lead.endswith(f"正式版第11项 {current.title}改为“{new}”")
    assert "没有原样保留" not in answer.lead


def test_a_whole_task_comparison_is_not_read_as_dropped_words(assistant: Assistant) -> None:
    answer = assistant.ask("第10项草案和正式版有什么不同?")
    assert answer.lead.startswith("第10项 ")


def test_two_tasks_that_answer_about_as_well_are_both_named(assistant: Assistant) -> None:
    answer = assistant.ask("长宁的河道能不能治理得像公园一样好看?")
    first, second = answer.results[0], answer.results[1]
    assert {first.clause, second.clause} >= {17}
    assert first.score - second.score <= assistant.thresholds.also_answers
    assert answer.lead.startswith(f"第{first.clause}项 {first.title}")
    assert answer.lead.endswith(
        f"另见第{second.clause}项 {second.title}({'、'.join(second.lead_units)}牵头):{second.highlight}"
    )


def test_a_clear_winner_is_named_alone(assistant: Assistant) -> None:
    answer = assistant.ask("公共充电桩要新建多少个?")
    assert "另见" not in answer.lead


def test_a_question_meaning_a_subject_the_plan_does_not_cover_is_declined(assistant: Assistant) -> None:
    """Closer to one of the kinds of service the plan leaves out (taxes) than to any sentence of
    the documents, though it names none of that kind's entries."""
    question = "出租房子的收入要交多少税"
    query = parse_query(question, 500, assistant.lexicon)
    hits, signals = assistant.retriever.search(query, 5)
    assert not query.off_topic and signals.off_topic_lead > assistant.thresholds.off_topic_lead
    assert assistant.ask(question).abstained


@pytest.mark.parametrize(
    "question",
    [
        "孩子小升初报名什么时候开始?",
        "长宁区民政局周末能办结婚登记吗?",
        "身份证过期了去哪个派出所换?",
        "长宁图书馆借书证怎么办?",
        "快递丢件了找谁?",
        "邻居半夜吵闹,邻里纠纷找谁调解?",
        "周末想去苏州河边夜钓,要办证吗?",  # a river the plan covers, an activity it does not
        "家里的燃气费在哪里交?",
        "区政务服务中心周六上班吗?",
        # named in the sentence the question points back to
        "周末想带上小孙子一起去苏州河边钓鱼,顺便在河边的步道上走走晒晒太阳。这样做会不会被罚款?",
        "How do I get a library card?",
    ],
)
def test_a_question_naming_another_public_service_is_declined(assistant: Assistant, question: str) -> None:
    """Named by its service (小升初, 结婚登记), not by a place or a word of a story."""
    query = parse_query(question, 500, assistant.lexicon)
    assert query.off_topic and query.version is None
    answer = assistant.ask(question)
    assert answer.abstained and answer.coverage == "none"


@pytest.mark.parametrize(
    ("question", "declined"),
    [
        ("加装电梯以后,养老金怎么领?", True),
        ("电动自行车上牌,去哪里办?", True),
        ("电动自行车上牌,到哪里去办理呢?", True),  # the clause that asks names nothing of its own
        ("我骑电动自行车去教堂做礼拜,电动自行车在楼道充电谁管?", False),
        # asked whether, not where or how: a detail of the plan's subject it leaves out
        ("电动自行车集中充电要交电费吗?", False),
    ],
)
def test_the_plans_words_vouch_for_a_service_in_the_story_not_one_asked_about(
    assistant: Assistant, question: str, declined: bool
) -> None:
    """Each matches the plan's own words strongly enough to outweigh a service it names; that
    holds unless the clause that asks is about where or how to get the service."""
    _, signals = assistant.retriever.search(parse_query(question, 500, assistant.lexicon), 5)
    assert signals.off_topic and signals.top_bm25_plain >= assistant.thresholds.off_topic_bm25
    assert assistant.ask(question).abstained is declined


@pytest.mark.parametrize(
    "question",
    [
        "幼儿园门口的人行道坑坑洼洼,能修吗?",
        "我退休了,住的老楼能加装电梯吗?",
        "律师能参与社区规划吗?",
        "派出所门口的人行道坏了谁修?",  # the service names the place beside the pavement
        "献血屋旁边的垃圾桶太臭了",
    ],
)
def test_a_place_or_a_story_word_of_another_service_does_not_decline_a_plan_subject(
    assistant: Assistant, question: str
) -> None:
    assert not assistant.ask(question).abstained


@pytest.mark.parametrize(
    "question", ["家门口人行道砖头都翘起来了,走路老绊脚,有没有人修?", "电瓶车在楼道充电谁管?"]
)
def test_a_plan_subject_is_nearer_the_documents_than_any_subject_they_leave_out(
    assistant: Assistant, question: str
) -> None:
    hits, signals = assistant.retriever.search(parse_query(question, 500, assistant.lexicon), 5)
    assert signals.off_topic_lead < 0
    assert not assistant.ask(question).abstained


@pytest.mark.parametrize(
    "question, doc_id, date",
    [
        ("延长征求意见时间的告知是哪天发的?", "consultation-notice", "2024年6月12日"),
        ("公众参与情况报告是什么时候形成的?", "participation-report", "2024年8月30日"),
        ("When was the legality review issued?", "legality-review", "2024年8月20日"),
        ("合法性审查意见是谁出具的?", "legality-review", "2024年8月20日"),
        ("Which offices issued the final plan?", "issuance-notice", "2024年8月28日"),
    ],
)
def test_when_a_document_was_issued_is_its_sign_off(
    assistant: Assistant, question: str, doc_id: str, date: str
) -> None:
    """The signature answers: the issuer's lines and the date, quoted together on one line."""
    answer = assistant.ask(question)
    top = answer.results[0]
    assert top.doc_id == doc_id and top.highlight.endswith(date) and date in answer.lead
    issuer = top.highlight.split("\n")[0]
    assert "长宁区" in issuer and issuer.endswith(("办公室", "委员会")) and issuer in answer.lead
    assert top.text[top.highlight_start : top.highlight_end] == top.highlight
    assert "\n" not in answer.lead


def test_a_date_the_notice_speaks_of_is_not_its_sign_off(assistant: Assistant) -> None:
    answer = assistant.ask("征求意见截止日期是哪天?")
    assert "2024年6月18日" in answer.results[0].highlight


def test_a_document_question_takes_the_background_paragraph_that_names_one(assistant: Assistant) -> None:
    """The legality review reads most like "根据什么文件" (文件, 法规, 政策规定) but names no
    document; the interpretation's paragraph that names the city's documents answers first."""
    answer = assistant.ask("这个计划是根据什么文件制定的?")
    assert answer.asks == "source" and answer.coverage == "answered"
    top = answer.results[0]
    assert top.doc_id != "legality-review"
    assert "《中共上海市委" in top.highlight or "《上海城市管理" in top.highlight
    assert top.highlight in answer.lead


@pytest.mark.parametrize(
    "question, words",
    [
        ("常务会议那天区府办主任是谁去的?", "区府办主任徐海生出席会议"),
        ("区政府常务会议是谁主持的?", "区长侯继军主持召开"),
        ("常务会议上是哪个单位做的情况汇报?", "会议听取区建设管理委"),
    ],
)
def test_of_two_sentences_naming_people_the_one_sharing_the_questions_words_answers(
    assistant: Assistant, question: str, words: str
) -> None:
    """The minutes name the chair, those attending, whose report was heard and whom the plan goes
    to next; the question's own words (主持, 区府办主任, 汇报) say which of them is asked about."""
    answer = assistant.ask(question)
    assert answer.results[0].doc_id == "meeting-minutes"
    assert words in answer.results[0].highlight and words in answer.lead


def test_a_figure_question_takes_the_paragraph_that_shares_its_words(assistant: Assistant) -> None:
    """The participation report's paragraphs all speak of the draft; 问卷 and 受访者 pick the survey's."""
    answer = assistant.ask("问卷里多少受访者了解草案?")
    assert "79%的受访者了解" in answer.results[0].highlight and "79%" in answer.lead


def test_who_issued_a_document_is_answered_from_its_sign_off(assistant: Assistant) -> None:
    """谁印发 asks for the issuer, as 哪天印发 asks for the date: the part of the notice that is
    signed, not its heading, though the heading shares the word 印发."""
    answer = assistant.ask("三年行动计划最后由谁印发?")
    assert answer.query.asks == "who" and answer.query.asks_dated
    top = answer.results[0]
    assert top.doc_id == "issuance-notice" and "中共上海市长宁区委办公室" in top.text


def test_a_task_number_with_the_words_of_one_sentence_quotes_that_sentence(assistant: Assistant) -> None:
    """第10项 alone gets the task's opening; 第10项 with 加装电梯 gets the sentence about lifts.
    The lead names the task once, not its numbered title again."""
    plain = assistant.ask("第10项是什么?")
    lifts = assistant.ask("第10项里加装电梯466台是哪年完成?")
    assert plain.results[0].clause == lifts.results[0].clause == 10
    assert "466台" not in plain.results[0].highlight
    assert "三年内新增加装电梯466台" in lifts.results[0].highlight and "466台" in lifts.lead
    assert plain.lead.startswith("第10项 升级“美丽家园”建设(区房管局牵头):") and "10.升级" not in plain.lead


@pytest.mark.parametrize("question", ["最终版行动计划是哪个单位发的?", "行动计划是谁发布的?"])
def test_the_document_a_dated_question_names_gives_the_sign_off(assistant: Assistant, question: str) -> None:
    """发的 and 发布 name the issuance notice; the legality review and the interpretation, which read
    more like "行动计划" and carry signatures of their own, do not answer who issued the plan."""
    answer = assistant.ask(question)
    assert answer.results[0].doc_id == "issuance-notice"
    assert "中共上海市长宁区委办公室" in answer.lead and "2024年8月28日" in answer.lead


def test_the_words_that_ask_are_not_what_is_asked_about(assistant: Assistant) -> None:
    """多少项任务 asks for the count; "共有29项任务延续" shares its wording, not its subject."""
    answer = assistant.ask("行动计划一共多少项任务?")
    assert "36项实施内容" in answer.results[0].highlight and "36项" in answer.lead


@pytest.mark.parametrize(
    "question, task",
    [
        ("我家楼下的垃圾箱太臭了", 20),
        ("小区垃圾桶太臭了,有人管吗?", 20),
        ("家门口的河水发臭,区里管不管?", 17),
    ],
)
def test_a_smell_goes_where_the_question_says_it_is(assistant: Assistant, question: str, task: int) -> None:
    """臭 alone once meant the river task; a smelly bin is the rubbish task, a smelly river the river's."""
    top = assistant.ask(question).results[0]
    assert (top.doc_id, top.clause) == ("plan-final", task)


def test_a_dated_question_about_the_draft_gets_the_drafts_own_sign_off(assistant: Assistant) -> None:
    """The draft plan closes with its issuer and date; the participation report that speaks of it
    has a signature of its own, which is not the draft's."""
    answer = assistant.ask("草案是哪天发布的?")
    top = answer.results[0]
    assert top.doc_id == "plan-draft" and top.superseded
    assert top.highlight.endswith("2024年6月12日") and "已被正式版取代" in answer.lead


def test_a_story_does_not_vouch_for_a_question_the_plan_does_not_cover(assistant: Assistant) -> None:
    """The story's 精品小区改造 matches the plan strongly; the question is about pensions."""
    pension = assistant.ask(
        "我在长宁住了二十多年,最近小区在搞精品小区改造,挺好的。想问一下今年养老金什么时候调整?"
    )
    assert pension.abstained and pension.coverage == "none"
    path = assistant.ask(
        "我退休好几年了,每天傍晚都去河边散步,可是走一段就断了,要绕到马路上去。沿河的步道以后能不能连起来?"
    )
    assert not path.abstained and (path.results[0].doc_id, path.results[0].clause) == ("plan-final", 17)


def test_the_notice_issuing_the_plan_is_the_issuance_notice(assistant: Assistant) -> None:
    """ "issuing" and "issuance" name the issuance notice as "issued" does, not the consultation's."""
    answer = assistant.ask("Which offices signed the notice issuing the final plan?")
    assert answer.results[0].doc_id == "issuance-notice" and "2024年8月28日" in answer.lead


def test_a_background_document_is_named_short_in_the_lead_and_in_full_in_its_citation(
    assistant: Assistant,
) -> None:
    answer = assistant.ask("征求意见期间政协委员提了几条意见?")
    top = answer.results[0]
    doc = assistant.collection.get(top.doc_id)
    assert doc.role == "participation-report" and doc.short_name
    assert answer.lead.startswith(f"{doc.short_name}:") and doc.title not in answer.lead
    assert top.citation.startswith(doc.cite_title)


def test_a_sentence_ending_in_a_colon_is_quoted_with_what_it_introduces(assistant: Assistant) -> None:
    """The report says it changed the draft "as follows:"; what it changed is on the next line."""
    answer = assistant.ask("政协委员提的意见让草案改了哪些内容?")
    top = answer.results[0]
    assert top.doc_id == "participation-report"
    assert top.highlight.startswith("2024年5月我委书面征求政协委员") and "夯实数字治理" in top.highlight
    assert top.text[top.highlight_start : top.highlight_end] == top.highlight
    assert "夯实数字治理" in answer.lead
    # a numbered list is quoted whole: both of the forum's changes
    forum = assistant.ask("座谈会上参会代表提的意见让草案改了什么?").results[0]
    assert forum.doc_id == "participation-report" and "1、细化完善" in forum.highlight
    assert "2、建设城市管理精细化优秀实践区方面,补充实施内容" in forum.highlight


def test_a_second_detail_asked_and_not_given_makes_the_answer_partial(assistant: Assistant) -> None:
    """Who buys old paper is answered by the task's lead units; where the points are is not said."""
    answer = assistant.ask("旧报纸纸箱子卖给谁?回收点在哪里?")
    assert answer.asks == "who" and answer.coverage == "partial" and answer.missing == "具体地点"
    assert (answer.results[0].doc_id, answer.results[0].clause) == ("plan-final", 20)
    assert answer.lead.endswith("但没有写明具体地点。")
    # 多少 in 多少钱 asks for the sum only, and an e-mail address answers 邮箱是多少 whole
    assert assistant.ask("征求意见的电子邮箱是多少?").coverage == "answered"


@pytest.mark.parametrize(
    ("question", "clause", "words"),
    [
        ("第11项草案和正式版有什么不同?", 11, "每年完成不少于20个小区物业服务费调整"),
        ("How did task 19 change from the draft?", 19, "全区建筑垃圾资源化综合利用率达到93%"),
    ],
)
def test_how_a_task_changed_is_answered_by_its_changes(
    assistant: Assistant, question: str, clause: int, words: str
) -> None:
    """The lead names the task and lists every change; the note is not repeated after it."""
    answer = assistant.ask(question)
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", clause) and top.version_note
    assert answer.lead.endswith(top.version_note) and words in answer.lead
    assert answer.text.count(top.version_note) == 1


def test_a_task_asked_by_number_for_a_figure_quotes_the_sentence_with_it(assistant: Assistant) -> None:
    answer = assistant.ask("第23项的目标数字是多少?")
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", 23) and answer.asks == "count"
    assert "135公里" in top.highlight and "135公里" in answer.lead


def test_the_reports_own_word_for_the_online_consultation_finds_it(assistant: Assistant) -> None:
    """公示 is the participation report's word for the weeks the draft was online (通过政府网站
    进行公示): asked about them, the report's paragraph is among the results, with its dates."""
    answer = assistant.ask("行动计划草案公示了多久?")
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("participation-report", "一")
    assert "2024年5月10日至2024年6月18日" in top.highlight


def test_which_roads_is_not_answered_by_how_many(assistant: Assistant) -> None:
    """哪几条路 asks which roads: the lead quotes the 18 roads and says where is not stated, not
    that no figure is given right after quoting one."""
    answer = assistant.ask("18条精品道路具体是哪几条路?")
    assert answer.coverage == "partial" and answer.asks == "place" and answer.missing == "具体地点"
    assert "18条精品道路" in answer.lead and "具体数字" not in answer.lead


@pytest.mark.parametrize(
    ("question", "clause", "words"),
    [
        ("新式里弄卫生设施改造总量是多少平方米?", 10, "17.7万平方米"),
        ("建筑垃圾资源化综合利用率的目标是多少?", 19, "93%"),
    ],
)
def test_a_detail_only_the_draft_stated_is_quoted_as_superseded(
    assistant: Assistant, question: str, clause: int, words: str
) -> None:
    """Asked of the plan with no word about versions, a figure the final plan deleted is not
    answered by another figure of the current task: the draft's sentence is quoted as superseded,
    the current task follows it, and the detail is not stated now."""
    answer = assistant.ask(question)
    first, second = answer.results[0], answer.results[1]
    assert (first.doc_id, first.clause) == ("plan-final", clause)
    assert (second.doc_id, second.clause) == ("plan-draft", clause) and words in second.highlight
    assert answer.coverage == "partial" and answer.missing == "具体数字"
    assert answer.lead.startswith(f"草案第{clause}项写的“") and "(草案原文,已被正式版取代)" in answer.lead
    assert words not in assistant.collection.current_plan.text


def test_a_reworded_sentence_is_answered_from_the_current_plan(assistant: Assistant) -> None:
    """30个 became 20个: the draft's sentence is hardly closer, and the current one answers."""
    answer = assistant.ask("物业服务费调整每年多少个小区?")
    assert [r.version for r in answer.results[:2]] == ["final", "final"]
    assert answer.coverage == "answered" and "20个小区物业服务费调整" in answer.lead


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("正式计划一共有多少项任务?", "36项"),
        ("这个三年行动计划有几项任务", "36项"),
        ("草案一共有多少项重点任务?", "34项"),
        ("How many tasks did the draft have?", "34项"),
    ],
)
def test_the_plans_count_of_tasks_is_the_documents_sentence_that_states_it(
    assistant: Assistant, question: str, count: str
) -> None:
    """Not "共有29项任务延续至本轮", which shares more of the question's words: the count is the
    plan's own, as many tasks as it numbers."""
    answer = assistant.ask(question)
    assert count in answer.results[0].highlight and count in answer.lead
    version = "draft" if count == "34项" else "final"
    assert len(assistant.tasks(version)) == int(count.removesuffix("项"))


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("和第二轮三年行动计划相比,有多少项任务是延续下来的?", "29项"),  # names what it counts
        ("常务会议上说新一轮行动计划有多少项实施内容?", "35项"),  # asks what the minutes say
    ],
)
def test_a_count_of_some_tasks_is_not_the_plans_count(
    assistant: Assistant, question: str, words: str
) -> None:
    assert not parse_query(question, 500, assistant.lexicon).counts_tasks
    assert words in assistant.ask(question).lead


def test_a_short_two_clause_finding_is_quoted_whole(assistant: Assistant) -> None:
    """The legality review's finding is one sentence of two clauses: not cut at its semicolon."""
    answer = assistant.ask("合法性审查的结论是什么?")
    assert answer.lead.endswith("规章和政策规定;未发现文件存在违法或者明显不当情形。")


def test_a_lists_items_are_still_quoted_one_by_one(assistant: Assistant) -> None:
    """一是…;二是…: each item answers by itself, the FAQ's sentence is not quoted whole."""
    answer = assistant.ask("草案分几个部分,每部分有几项任务?")
    top = answer.results[0]
    assert top.doc_id == "draft-faq" and top.highlight.endswith("共14项重点任务组成;")


@pytest.mark.parametrize(
    ("first", "follow_up", "words"),
    [
        ("草案公开征求意见是什么时候?", "意见寄到哪里?", "长宁路599号5楼"),
        ("区政府常务会议哪天讨论的行动计划?", "谁主持的?", "区长侯继军主持"),
    ],
)
def test_a_follow_up_about_a_document_quotes_its_paragraph_that_answers(
    assistant: Assistant, first: str, follow_up: str, words: str
) -> None:
    """The subject carried over is the notice (or the minutes): its paragraph holding the address
    (or the chair) answers, not the sign-off the first answer happened to lead with."""
    previous = assistant.ask(first)
    answer = assistant.ask(follow_up, context=previous.context)
    assert answer.follows is not None and answer.results[0].doc_id == previous.results[0].doc_id
    assert words in answer.lead


def test_a_follow_ups_subject_title_does_not_choose_its_sentence(assistant: Assistant) -> None:
    """ "草案里是多少?" after the property-fee question: the carried-over task's title (加强住宅
    小区物业管理) would favour the sentence about merging 住宅小区物业管理 areas; the previous
    question's words choose the fee sentence."""
    previous = assistant.ask("物业服务费调整有什么要求?")
    answer = assistant.ask("草案里是多少?", context=previous.context)
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-draft", 11)
    assert "每年完成不少于30个小区物业服务费调整" in answer.lead


def test_how_many_years_is_answered_by_a_duration(assistant: Assistant) -> None:
    """满15年 answers 用了多少年: the answer does not say no figure is given right after quoting it."""
    answer = assistant.ask("小区电梯用了多少年就要做安全风险评估?")
    assert answer.coverage == "answered" and "满15年" in answer.lead


@pytest.mark.parametrize(
    ("question", "missing"),
    [("新增的700个公共停车位具体在哪些位置?", "具体地点"), ("换智能燃气表收不收费?", "具体金额")],
)
def test_which_places_or_whether_it_costs_asks_for_the_detail(
    assistant: Assistant, question: str, missing: str
) -> None:
    """哪些位置 asks where the spaces are, 收不收费 whether there is a charge: the plan states
    neither, and the answer says so rather than answering with the count."""
    answer = assistant.ask(question)
    assert answer.coverage == "partial" and answer.missing == missing


def test_a_hotline_named_as_a_source_of_data_asks_no_number(assistant: Assistant) -> None:
    """热线的数据 speaks of the hotline; 举报打哪个热线 asks for its number."""
    answer = assistant.ask("我在银行做数据分析,想知道区里网格和热线的数据会怎么汇聚、怎么用来改进城市管理?")
    assert answer.coverage == "answered" and answer.missing is None
    asked = assistant.ask("发现有人违章搭建 举报打哪个热线")
    assert asked.coverage == "partial" and asked.missing == "联系方式"


def test_when_work_gets_started_in_english_is_more_than_the_period_says(assistant: Assistant) -> None:
    answer = assistant.ask("When will work on burying overhead lines get started?")
    assert answer.coverage == "partial" and answer.missing == "a date"


def test_words_only_the_draft_has_keep_the_draft_task_beside_at_k_1(assistant: Assistant) -> None:
    answer = assistant.ask("新式里弄卫生设施改造总量是多少平方米?", k=1)
    assert [(r.doc_id, r.clause) for r in answer.results] == [("plan-final", 10), ("plan-draft", 10)]
    assert answer.lead.startswith("草案第10项写的“") and answer.coverage == "partial"


def test_an_english_hotline_named_as_a_source_of_data_asks_no_number(assistant: Assistant) -> None:
    answer = assistant.ask("How will the grid and hotline data be combined to improve city management?")
    assert answer.coverage == "answered" and answer.missing is None
