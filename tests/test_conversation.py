"""Follow-up questions (qa/conversation.py): the context an answer returns and takes back, when a
question follows on, and what it then answers.

The fast tests run on the session's fake assistant (no model); the cue words, the tokenizer and
BM25 are the real ones, so a question reads the same as with the real model. The tests on real
text use the bundled model (marked slow by conftest).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from qa.conversation import Context, Reading, clause_id, follows, load_cues
from qa.errors import InvalidContext, QAError
from qa.tuned import FollowUps

ELEVATOR = "我家是老房子,有加装电梯的计划吗?"
TASK_10 = "第10项 升级“美丽家园”建设"


# --- the decision, on readings --------------------------------------------------------------------


def _reading(**fields: object) -> Reading:
    base = {
        "new_topic": False,
        "own_subject": False,
        "cue": True,
        "pointer": False,
        "ordinal": None,
        "content": 0,
        "new": 0,
        "named": 0,
        "top_bm25": 0.0,
        "top_carried": False,
    }
    return Reading(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),  # 那谁负责?: nothing of its own
        ({"cue": False}, True),  # 什么时候完成?: no cue, and still no subject
        ({"new_topic": True}, False),  # 另外问一下,…
        ({"own_subject": True}, False),  # 第11项呢? / 医保卡怎么激活?
        ({"content": 4, "new": 4, "named": 4}, False),  # 垃圾分类呢?
        ({"content": 2, "new": 2, "named": 2}, False),  # 公园呢?: a subject word of the plan
        ({"content": 2, "new": 2, "named": 0}, True),  # 结论呢?: not a subject of the plan
        ({"content": 6, "new": 6, "named": 0}, False),  # 孩子上小学报名
        (
            {"content": 6, "new": 0, "named": 0, "top_bm25": 26.0, "top_carried": True},
            False,
        ),  # 那应急物资储备呢?
        ({"content": 2, "top_bm25": 30.0, "top_carried": False}, False),  # far better elsewhere, alone
        ({"content": 2, "top_bm25": 30.0, "top_carried": True}, True),
        ({"top_bm25": 30.0, "top_carried": False}, True),  # What about the final plan?: names nothing
        ({"ordinal": 2, "pointer": True}, True),  # 第二个呢?
        ({"listed": True}, False),  # after an abstention, only a question that points at a clause
        ({"listed": True, "pointer": True}, True),  # 这项谁牵头?
        ({"elsewhere": True}, False),  # When was the plan issued? after a task: the notice was not cited
        ({"elsewhere": True, "pointer": True}, True),  # 这个是哪天印发的?: it points back all the same
    ],
)
def test_when_a_question_follows_on(fields: dict[str, object], expected: bool) -> None:
    assert follows(_reading(**fields), FollowUps()) is expected


def test_the_thresholds_decide() -> None:
    reading = _reading(content=2, new=2, named=2)
    assert not follows(reading, FollowUps(plan_words=2.0))
    assert follows(reading, FollowUps(plan_words=3.0))


# --- contexts: what an answer returns and takes back -------------------------------------------


def test_every_answer_carries_its_context(fake_assistant) -> None:  # noqa: ANN001
    answer = fake_assistant.ask("第10项的牵头单位是哪些?", k=3)
    data = json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))
    assert data["follows"] is None
    ctx = data["context"]
    assert set(ctx) == {"clauses", "doc", "version", "subject", "question", "abstained"}
    assert ctx["clauses"][0] == "plan-final#10" and ctx["doc"] == "plan-final" and ctx["version"] == "final"
    assert ctx["subject"] == TASK_10 and ctx["question"] == "第10项的牵头单位是哪些?" and not ctx["abstained"]
    assert ctx["clauses"] == list(dict.fromkeys(clause_id((r.doc_id, r.clause)) for r in answer.results))
    for mode in ("bm25", "dense", "hybrid"):  # the evaluation's ablations answer with one too
        assert fake_assistant.ask("加装电梯", k=2, mode=mode).context.clauses


def test_a_context_round_trips_as_json_and_as_an_object(fake_assistant) -> None:  # noqa: ANN001
    first = fake_assistant.ask("第10项的牵头单位是哪些?", k=3)
    as_json = json.loads(json.dumps(first.to_dict()["context"], ensure_ascii=False))
    by_object = fake_assistant.ask("那谁负责?", context=first.context)
    by_json = fake_assistant.ask("那谁负责?", context=as_json)
    assert by_object.to_dict() == by_json.to_dict()
    assert by_json.to_dict()["follows"] == {"clauses": ["plan-final#10"], "subject": TASK_10}
    assert fake_assistant.conversation.read_context(as_json) == first.context


def test_a_follow_up_says_what_it_took_as_its_subject(fake_assistant) -> None:  # noqa: ANN001
    answer = fake_assistant.ask("那谁负责?", context={"clauses": ["plan-final#10"]})
    assert answer.text.split("\n")[0] == f"接上一问:{TASK_10}"
    assert answer.lead == f"{TASK_10}的牵头单位是:区房管局。"  # the lead sentence is unchanged by it
    assert answer.results[0].doc_id == "plan-final" and answer.results[0].clause == 10
    assert not answer.abstained
    # Its own context keeps the subject for the next follow-up.
    assert answer.context is not None and answer.context.clauses[0] == ("plan-final", 10)
    english = fake_assistant.ask("Who leads it?", context={"clauses": ["plan-final#10"]})
    assert english.text.startswith('Following on from: task 10 "')


def test_a_follow_up_searches_only_the_carried_over_clauses(fake_assistant) -> None:  # noqa: ANN001
    carried = ["plan-final#22", "plan-final#3", "consultation-notice#二"]
    answer = fake_assistant.ask("具体要做哪些?", k=10, context={"clauses": carried})
    assert answer.follows is not None
    assert {clause_id((r.doc_id, r.clause)) for r in answer.results} <= set(carried)
    assert clause_id((answer.results[0].doc_id, answer.results[0].clause)) == "plan-final#22"


def test_the_draft_and_the_change_bring_the_counterparts(fake_assistant) -> None:  # noqa: ANN001
    draft = fake_assistant.ask("草案里呢?", context={"clauses": ["plan-final#11"]})
    assert (draft.results[0].doc_id, draft.results[0].clause) == ("plan-draft", 11)
    assert draft.follows is not None and draft.follows.to_dict()["clauses"] == ["plan-final#11"]
    change = fake_assistant.ask("正式版改了什么?", context={"clauses": ["plan-draft#30"]})
    assert {(r.doc_id, r.clause) for r in change.results} >= {("plan-final", 31), ("plan-draft", 30)}
    # A draft subject stays the draft's when the question names no version.
    who = fake_assistant.ask("谁牵头?", context={"clauses": ["plan-draft#29"]})
    assert (who.results[0].doc_id, who.results[0].clause) == ("plan-draft", 29)


def test_the_second_one_is_the_previous_answers_second_clause(fake_assistant) -> None:  # noqa: ANN001
    # A task and its counterpart in the other plan count as one.
    ctx = {"clauses": ["plan-final#10", "plan-draft#10", "plan-final#25", "plan-final#7"]}
    answer = fake_assistant.ask("第二个呢?", context=ctx)
    assert answer.follows is not None and answer.follows.to_dict()["clauses"] == ["plan-final#25"]
    assert (answer.results[0].doc_id, answer.results[0].clause) == ("plan-final", 25)
    other = fake_assistant.ask(
        "另一个调查呢?", context={"clauses": ["participation-report#四", "participation-report#五"]}
    )
    assert other.results[0].clause == "五"


@pytest.mark.parametrize(
    "question",
    [
        "垃圾分类有什么要求?",
        "公园呢?",
        "另外问一下,停车难怎么解决?",
        "第20项的牵头单位是哪些?",
        "医保卡怎么激活?",
    ],
)
def test_a_question_with_a_subject_of_its_own_starts_afresh(fake_assistant, question: str) -> None:  # noqa: ANN001
    carried = fake_assistant.ask(question, context={"clauses": ["plan-final#10"]})
    alone = fake_assistant.ask(question)
    assert carried.follows is None
    assert carried.to_dict() == alone.to_dict()  # exactly as if asked alone


def test_after_an_abstention_only_a_pointer_follows_on(fake_assistant) -> None:  # noqa: ANN001
    listed = {"clauses": ["plan-final#21"], "abstained": True}
    assert fake_assistant.ask("谁牵头?", context=listed).follows is None
    pointed = fake_assistant.ask("这项谁牵头?", context=listed)
    assert pointed.follows is not None and pointed.results[0].clause == 21
    # An off-topic question abstains with nothing to point at.
    off = fake_assistant.ask("医保卡怎么激活?")
    assert off.abstained and off.context is not None and off.context.clauses == ()
    assert fake_assistant.ask("这个谁负责?", context=off.context).follows is None


def test_an_empty_context_starts_afresh(fake_assistant) -> None:  # noqa: ANN001
    assert fake_assistant.ask("那谁负责?", context={"clauses": []}).follows is None
    assert fake_assistant.ask("那谁负责?", context=None).follows is None
    assert fake_assistant.ask("那谁负责?", context=Context()).follows is None


# --- why a changed task changed, and English follow-ups -----------------------------------------


def _reason_roles(assistant, key: tuple[str, int]) -> list[str]:  # noqa: ANN001
    return [assistant.collection.get(doc).role for doc, _ in assistant.conversation.reasons[key]]


def test_why_a_task_was_added_is_answered_from_the_participation_report(fake_assistant) -> None:  # noqa: ANN001
    added = fake_assistant.versions.listed_tasks("added")[0]
    reasons = fake_assistant.conversation.reasons[added]
    assert _reason_roles(fake_assistant, added)[0] == "participation-report"
    ctx = {"clauses": [clause_id(added)], "question": "电动自行车那一项草案里有吗?"}
    for question in (
        "为什么加的?",
        "为什么要加这一项?",
        "为什么?",
    ):  # the last: the question before asked about versions
        why = fake_assistant.ask(question, context=ctx)
        assert why.follows is not None and why.to_dict()["follows"]["clauses"] == [clause_id(added)], question
        assert (why.results[0].doc_id, why.results[0].clause) == reasons[0], question
        assert added in {(r.doc_id, r.clause) for r in why.results}  # within reach of 谁牵头?
    who = fake_assistant.ask("谁牵头?", context=why.context)
    assert (who.results[0].doc_id, who.results[0].clause) == added and not who.abstained


def test_why_about_an_unchanged_subject_stays_with_the_task(fake_assistant) -> None:  # noqa: ANN001
    added = clause_id(fake_assistant.versions.listed_tasks("added")[0])
    # Not about the change: the subject was set by a question about the task itself.
    plain = fake_assistant.ask(
        "为什么要搞这个?", context={"clauses": [added], "question": "电瓶车在楼道充电谁管?"}
    )
    assert (
        plain.follows is not None and clause_id((plain.results[0].doc_id, plain.results[0].clause)) == added
    )
    assert len(plain.results) == 1
    # A task the same in both plans has no paragraph that explains a change.
    same = next(p.final for p in fake_assistant.versions.pairs if p.status == "same")
    assert ("plan-final", same) not in fake_assistant.conversation.reasons
    kept = fake_assistant.ask("为什么加的?", context={"clauses": [f"plan-final#{same}"]})
    assert (kept.results[0].doc_id, kept.results[0].clause) == ("plan-final", same)


@pytest.mark.parametrize(
    ("question", "carried", "top"),
    [
        # "and …", the count asked and words that point at the report, no subject of its own: the
        # report's paragraph the previous answer also cited.
        (
            "And how many comments came in?",
            ["consultation-notice#二", "consultation-notice", "participation-report#一"],
            "participation-report#一",
        ),
        (
            "What was changed because of them?",
            ["participation-report#一", "participation-report#二"],
            "participation-report#一",
        ),
        # people, like 居民, names nobody in particular: "it" is the questionnaire.
        (
            "And how many people took part in it?",
            ["participation-report#四", "participation-report#五"],
            "participation-report#四",
        ),
        ("who leads it?", ["plan-final#10", "plan-final#25"], "plan-final#10"),
        ("what about the draft?", ["plan-final#10", "plan-final#25"], "plan-draft#10"),
        ("Who leads it now?", ["participation-report#二", "plan-final#32"], "plan-final#32"),
    ],
)
def test_english_questions_without_a_subject_follow_on(
    fake_assistant,  # noqa: ANN001
    question: str,
    carried: list[str],
    top: str,
) -> None:
    answer = fake_assistant.ask(question, context={"clauses": carried})
    assert answer.follows is not None and answer.text.startswith("Following on from: ")
    assert clause_id((answer.results[0].doc_id, answer.results[0].clause)) == top


@pytest.mark.parametrize(
    ("question", "top"),
    [
        ("民意调查呢?", "participation-report#五"),  # the cited part that holds the words it points with
        ("受访者有多少?", "participation-report#四"),  # both parts hold them: the subject stays
        ("一共收到几条意见?", "participation-report#一"),
    ],
)
def test_document_words_pick_the_cited_paragraph_that_holds_them(
    fake_assistant, question: str, top: str
) -> None:  # noqa: ANN001
    carried = [
        "participation-report#四",
        "consultation-notice#二",
        "participation-report#五",
        "participation-report#一",
    ]
    if "意见" in question:
        carried = carried[1:]  # after the notice's deadline
    answer = fake_assistant.ask(question, context={"clauses": carried})
    assert answer.follows is not None
    assert answer.to_dict()["follows"]["clauses"] == [top]
    assert clause_id((answer.results[0].doc_id, answer.results[0].clause)) == top


@pytest.mark.parametrize(
    "question",
    [
        "When was the plan issued?",
        "And what about garbage sorting?",
        "What about parks?",
        "How many lifts will be added to old buildings?",
    ],
)
def test_an_english_question_with_a_subject_of_its_own_starts_afresh(fake_assistant, question: str) -> None:  # noqa: ANN001
    for carried in (["plan-final#29", "plan-final#30", "plan-final#36"], ["participation-report#一"]):
        answer = fake_assistant.ask(question, context={"clauses": carried})
        assert answer.follows is None, (question, carried)
        assert (
            replace(answer, context=None).to_dict()
            == replace(fake_assistant.ask(question), context=None).to_dict()
        )


# --- malformed contexts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "words"),
    [
        (["plan-final#10"], "JSON 对象"),
        ("plan-final#10", "JSON 对象"),
        (5, "JSON 对象"),
        ({"clauses": ["plan-final#10"], "turn": 2}, "未知字段 turn"),
        ({"doc": "plan-final"}, "缺少 clauses"),
        ({"clauses": "plan-final#10"}, "列表"),
        ({"clauses": [10]}, "列表"),
        ({"clauses": ["plan-final#99"]}, "plan-final#99"),
        ({"clauses": ["plan-final#10", "participation-report#九"]}, "participation-report#九"),
        ({"clauses": ["plan-2025#1"]}, "plan-2025#1"),
        ({"clauses": ["plan-final#10"], "doc": "plan-draft"}, "doc"),
        ({"clauses": ["plan-final#10"], "version": "draft"}, "version"),
        ({"clauses": ["plan-final#10"], "subject": "第11项 加强住宅小区物业管理"}, "subject"),
        ({"clauses": ["plan-final#10"], "subject": 10}, "subject"),
        ({"clauses": ["plan-final#10"], "abstained": "no"}, "abstained"),
        ({"clauses": [f"plan-final#{n}" for n in range(1, 22)]}, "最多 20"),
    ],
)
def test_a_malformed_context_is_a_clear_error(fake_assistant, context: object, words: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidContext, match=words) as raised:
        fake_assistant.ask("那谁负责?", context=context)
    assert isinstance(raised.value, QAError) and "\n" not in str(raised.value)


def test_the_error_speaks_the_questions_language(fake_assistant) -> None:  # noqa: ANN001
    with pytest.raises(InvalidContext, match="must be a JSON object"):
        fake_assistant.ask("Who leads it?", context=["plan-final#10"])
    with pytest.raises(InvalidContext, match="has no such clause"):
        fake_assistant.ask("Who leads it?", context={"clauses": ["plan-final#37"]})


def test_clause_ids_name_tasks_parts_and_documents(fake_assistant) -> None:  # noqa: ANN001
    read = fake_assistant.conversation.read_context
    ctx = read({"clauses": ["plan-final#10", "participation-report#四", "draft-faq#1", "legality-review"]})
    assert ctx.clauses == (
        ("plan-final", 10),
        ("participation-report", "四"),
        ("draft-faq", "1"),
        ("legality-review", None),
    )
    assert [clause_id(k) for k in ctx.clauses] == [
        "plan-final#10",
        "participation-report#四",
        "draft-faq#1",
        "legality-review",
    ]
    assert read({"clauses": ["plan-draft#10"]}).subject == "草案第10项 深化精品小区建设"
    assert read({"clauses": ["plan-final#10"]}, english=True).subject.startswith('task 10 "')


def test_a_broken_cue_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "followups.json").write_text('{"anaphora": {}}', encoding="utf-8")
    with pytest.raises(InvalidContext, match="followups.json"):
        load_cues(tmp_path)


# --- on real text, with the bundled model --------------------------------------------------------


def test_who_leads_it_after_the_elevator_question(assistant) -> None:  # noqa: ANN001
    first = assistant.ask(ELEVATOR)
    assert (first.results[0].doc_id, first.results[0].clause) == ("plan-final", 10)
    who = assistant.ask("那谁负责?", context=first.to_dict()["context"])
    assert who.to_dict()["follows"] == {"clauses": ["plan-final#10"], "subject": TASK_10}
    assert who.text.startswith(f"接上一问:{TASK_10}\n")
    assert "区房管局" in who.lead and not who.abstained
    when = assistant.ask("什么时候完成?", context=who.context)
    assert when.follows is not None and when.results[0].clause == 10 and not when.abstained
    draft = assistant.ask("草案里呢?", context=when.context)
    assert (draft.results[0].doc_id, draft.results[0].clause) == ("plan-draft", 10)


@pytest.mark.parametrize(
    ("first", "then", "words"),
    [
        ("Will there be more parking spaces near hospitals?", "And by when?", "停车泊位700个"),
        ("物业服务费每年调整多少个小区?", "草案里呢?", "30个小区物业服务费调整"),
    ],
)
def test_a_follow_up_quotes_the_sentence_about_what_was_asked_before(  # noqa: ANN001
    assistant, first: str, then: str, words: str
) -> None:
    """The task holds other dates and figures (三年内完成…改善项目18个, 推进30个…区域合并); the
    follow-up's "it" is what the question before asked about."""
    answer = assistant.ask(then, context=assistant.ask(first).context)
    assert answer.follows is not None and words in answer.results[0].highlight and words in answer.lead


def test_a_new_topic_mid_conversation_starts_afresh(assistant) -> None:  # noqa: ANN001
    first = assistant.ask(ELEVATOR)
    sorting = assistant.ask("垃圾分类有什么要求?", context=first.context)
    assert sorting.follows is None
    assert (sorting.results[0].doc_id, sorting.results[0].clause) == ("plan-final", 20)
    assert (
        replace(sorting, context=None).to_dict()
        == replace(assistant.ask("垃圾分类有什么要求?"), context=None).to_dict()
    )
    # …and the next follow-up is about the new subject.
    who = assistant.ask("那谁牵头?", context=sorting.context)
    assert who.results[0].clause == 20 and "区绿化市容局" in who.lead


def test_an_english_conversation(assistant) -> None:  # noqa: ANN001
    first = assistant.ask("Will lifts be added to old walk-up buildings?")
    who = assistant.ask("Who leads it?", context=first.context)
    assert who.text.startswith('Following on from: task 10 "')
    assert who.results[0].clause == 10


def test_a_listing_then_the_second_one_then_who(assistant) -> None:  # noqa: ANN001
    listed = assistant.versions.listed_tasks("added")
    first = assistant.ask("Which tasks did the final plan add compared with the draft?")
    assert [(r.doc_id, r.clause) for r in first.results] == list(listed)
    second = assistant.ask("Who leads the second one?", context=first.context)
    assert (second.results[0].doc_id, second.results[0].clause) == listed[1]
    assert second.to_dict()["follows"]["clauses"] == [clause_id(listed[1])]


def test_why_it_was_added_after_a_version_question(assistant) -> None:  # noqa: ANN001
    first = assistant.ask("“一网统管”平台建设是正式版新加的吗?")
    subject = (first.results[0].doc_id, first.results[0].clause)
    assert subject in assistant.versions.listed_tasks("added")
    why = assistant.ask("为什么要加?", context=first.context)
    top = why.results[0]
    assert assistant.collection.get(top.doc_id).role == "participation-report"
    assert (top.doc_id, top.clause) in assistant.conversation.reasons[subject]
    who = assistant.ask("谁牵头?", context=why.context)
    assert (who.results[0].doc_id, who.results[0].clause) == subject


def test_english_follow_ups_about_the_consultation(assistant) -> None:  # noqa: ANN001
    first = assistant.ask("When did the public consultation on the draft end?")
    count = assistant.ask("And how many comments were made?", context=first.context)
    assert count.follows is not None
    assert assistant.collection.get(count.results[0].doc_id).role == "participation-report"
    new = assistant.ask("And what about garbage sorting?", context=count.context)
    assert new.follows is None and new.results[0].clause == 20


def test_asked_about_the_draft_of_a_task_the_draft_did_not_have(assistant) -> None:  # noqa: ANN001
    """The final plan's task is the answer, and the lead says the draft had none."""
    first = assistant.ask("“一网统管”平台建设是谁牵头?")
    answer = assistant.ask("草案里有这个任务吗?", context=first.context)
    top = answer.results[0]
    assert (top.doc_id, top.clause) == ("plan-final", 30) and answer.follows is not None
    assert answer.lead.endswith("与草案相比:正式版新增此项,草案中没有对应任务。")
    assert answer.text.count("草案中没有对应任务") == 1
