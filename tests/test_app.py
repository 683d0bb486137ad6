"""The web page: its handlers called directly, then the real page through gradio_client."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError, Status

from qa.answer import Answer
from qa.settings import REPO_ROOT
from qa.web.feedback import read_feedback
from qa.web.page import GENERIC_ERROR, Page, build_demo
from qa.web.serving import launch_options

ELEVATOR = "我家是老房子,没有电梯,有加装电梯的计划吗?"
EVIL = "<img src=x onerror=alert(1)>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def log(tmp_path) -> Path:
    return tmp_path / "feedback.jsonl"


@pytest.fixture()
def page(assistant, log) -> Page:
    """The page's handlers over the session assistant, with a feedback log of their own."""
    return Page(assistant, feedback_log=log)


def _cited(turn: dict) -> list[tuple[str, object]]:
    return [(r["doc_id"], r["clause"]) for r in turn["answer"]["results"]]


def _ask(page: Page, question: str, turns=None, doc="", section="", unit="", k=5, lang="zh"):
    """One question through the page: the chat update, the turns, the box, the hint and the language."""
    return page.respond(question, turns or [], doc, section, unit, k, lang)


def _like(index: int, liked: object) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": [], "liked": liked})


def _tasks(table_html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="qa-task-\d+" data-task="(\d+)">', table_html)]


# --- chat -----------------------------------------------------------------------------------


def test_answer_starts_with_its_first_line_then_one_card_and_the_rest_folded(page):
    chat, turns, box, hint, lang = _ask(page, ELEVATOR)
    assert (box, hint, lang) == ("", "", "zh")
    assert isinstance(chat, gr.Chatbot) and chat.visible is True
    messages = page.messages(turns)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert all(isinstance(m["content"], gr.HTML) for m in messages)
    turn = turns[0]
    assert _cited(turn)[0] == ("plan-final", 10)
    lead = turn["answer"]["lead"]
    assert lead.endswith("推进既有多层住宅加装电梯,三年内新增加装电梯466台。")
    html = turn["answer_html"]
    assert f'data-answer-id="{turn["id"]}"' in html and len(turn["id"]) == 12
    assert f'<div class="qa-answer-text"><p class="qa-lead" lang="zh-CN">{lead}</p>' in html
    assert html.count('<article class="qa-card"') == 5
    # the first card, then the other four behind one native <details>
    assert html.index('<article class="qa-card"') < html.index(
        '<details class="qa-more"><summary>查看其他出处(4)'
    )
    assert html.split('<details class="qa-more">')[1].count('<article class="qa-card"') == 4
    assert '<span class="qa-badge qa-badge-final">正式版</span>' in html
    assert "第10项 升级“美丽家园”建设" in html and "<mark>推进既有多层住宅加装电梯" in html
    # the first card's long version note folds behind its label
    assert '<details class="qa-note"><summary>版本说明</summary><div lang="zh-CN">标题由' in html


def test_conversation_keeps_earlier_turns(page):
    _, turns, *_ = _ask(page, ELEVATOR, k=3)
    _, turns, *_ = _ask(page, "第29项的牵头单位是哪些?", turns, k=3)
    assert len(turns) == 2 and len(page.messages(turns)) == 4
    assert _cited(turns[1])[0] == ("plan-final", 29)
    assert turns[0]["id"] != turns[1]["id"]


def test_english_question_switches_the_page_to_english(page):
    _, turns, _, _, lang = _ask(page, "Who is responsible for garbage sorting?", k=3)
    assert lang == "en"
    html = turns[0]["answer_html"]
    assert 'class="qa-turn qa-answer" lang="en"' in html
    assert '<p class="qa-lead" lang="en">Task 20 ' in html
    assert ">Final plan<" in html and "Lead units:" in html and ">正式版<" not in html
    assert 'lang="en">Q:Who is responsible' in turns[0]["question_html"]
    # the plan's own words inside an English answer stay marked as Chinese
    assert '<blockquote class="qa-highlight" lang="zh-CN">' in html
    assert '<span lang="zh-CN">加强生活垃圾分类常态化管理,' in html
    _, _, _, _, lang = _ask(page, "加装电梯", turns, k=3)
    assert lang == "zh"


def test_document_filter_is_the_doc_argument(page):
    _, turns, *_ = _ask(page, ELEVATOR, doc="plan-draft")
    assert {doc for doc, _ in _cited(turns[0])} == {"plan-draft"}
    assert ">草案<" in turns[0]["answer_html"]


def test_lead_unit_filter_keeps_matching_results_and_says_so(page):
    _, turns, *_ = _ask(page, "电瓶车在楼道充电谁管?", unit="区房管局", k=3)
    results = turns[0]["answer"]["results"]
    assert results and all("区房管局" in r["lead_units"] for r in results)
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    text = turns[0]["answer"]["answer"]
    assert results[0]["highlight"] in text and results[0]["citation"] in text
    # The draft's 25 is the 区房管局 task that mentions e-bikes: quoted, but never as current policy.
    if results[0]["version"] == "draft":
        assert "(草案原文,已被正式版取代)" in turns[0]["answer"]["lead"]
    assert "已按筛选条件(牵头单位: 区房管局)查找" in turns[0]["answer_html"]


def test_lead_unit_filter_understands_other_names_of_a_unit(page):
    # task 7 writes 城管执法局 where the lexicon's canonical name is 区城管执法局
    _, turns, *_ = _ask(page, "薄弱区域环境综合整治", doc="plan-final", unit="区城管执法局")
    assert ("plan-final", 7) in _cited(turns[0])


def test_section_filter(page):
    section = "构筑安全管理体系,提高风险应对能力"
    _, turns, *_ = _ask(page, ELEVATOR, section=section)
    results = turns[0]["answer"]["results"]
    assert results and all(r["section"].endswith(section) for r in results)
    assert ("plan-final", 25) in _cited(turns[0])


def test_filtered_list_of_a_units_tasks_stays_a_list(page):
    _, turns, *_ = _ask(page, "区房管局负责哪些任务?", section="构筑安全管理体系,提高风险应对能力")
    assert (
        turns[0]["answer"]["answer"]
        == "区房管局牵头(含共同牵头)且符合筛选条件的任务共1项:\n第25项 开展房屋安全隐患排查整治"
    )
    _, turns, *_ = _ask(page, "区房管局负责哪些任务?", doc="plan-final", unit="区房管局", k=10)
    assert [r["clause"] for r in turns[0]["answer"]["results"]] == [10, 11, 13, 25, 31, 35]


def test_filters_that_remove_everything_say_so(page):
    _, turns, *_ = _ask(page, ELEVATOR, section="推进绿色低碳发展,加快生态城区建设", unit="区数据局")
    assert turns[0]["answer"]["results"] == []
    html = turns[0]["answer_html"]
    assert (
        "筛选条件(章节: 推进绿色低碳发展,加快生态城区建设、牵头单位: 区数据局)下没有回答这个问题的条款"
        in html
    )
    assert "请放宽或清除筛选条件" in html and "qa-notice" not in html


def test_abstention_shows_the_nearest_clauses_as_possibly_related(page):
    _, turns, *_ = _ask(page, "今天天气怎么样?")
    assert turns[0]["answer"]["abstained"] is True
    html = turns[0]["answer_html"]
    assert '<div class="qa-heading">可能相关</div>' in html and "查看其他可能相关的条款(4)" in html


def test_markup_in_a_question_is_shown_escaped(page):
    _, turns, *_ = _ask(page, EVIL + "<script>alert(2)</script> 加装电梯", k=3)
    html = turns[0]["question_html"] + turns[0]["answer_html"]
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;" in turns[0]["question_html"]
    assert 'lang="zh-CN"' in turns[0]["question_html"]  # markup is not English


@pytest.mark.parametrize(
    ("question", "lang", "hint"),
    [
        ("", "zh", "请先输入问题"),
        ("   ", "en", "Please type a question first"),
        ("？！。", "zh", "问题中没有可识别的文字"),
        ("长" * 501, "zh", "问题太长(501字),请控制在500字以内。"),
        ("why " * 130, "zh", "The question is too long (520 characters); please keep it under 500."),
    ],
)
def test_a_mistake_is_a_hint_under_the_box_and_the_conversation_stays(page, question, lang, hint):
    _, turns, *_ = _ask(page, ELEVATOR, k=1)
    chat, kept, box, shown, new_lang = _ask(page, question, turns, lang=lang)
    # nothing but the hint changes: the conversation, the box and the language stay as they are
    assert all(isinstance(x, type(gr.skip())) for x in (chat, kept, box, new_lang))
    assert hint in shown and 'role="status"' in shown and "Traceback" not in shown
    assert ('lang="en"' in shown) == hint[0].isascii()


def test_unexpected_failure_is_a_generic_hint_and_logged(page, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(page.assistant, "ask", broken)
    *_, hint, _ = _ask(page, ELEVATOR)
    assert GENERIC_ERROR in hint and "secret" not in hint
    assert "secret internals" in caplog.text


def test_clearing_empties_the_conversation(page):
    chat, turns, hint, panel = page.clear()
    assert turns == [] and hint == "" and chat.visible is False and panel.visible is False


def test_a_follow_up_takes_the_previous_answers_subject_and_says_so(page):
    _, turns, *_ = _ask(page, ELEVATOR)
    _, turns, *_ = _ask(page, "那谁负责?", turns)
    follow_up = turns[1]
    assert follow_up["answer"]["follows"] == {
        "clauses": ["plan-final#10"],
        "subject": "第10项 升级“美丽家园”建设",
    }
    assert "区房管局" in follow_up["answer"]["lead"]
    html = follow_up["answer_html"]
    assert '<div class="qa-follows"' in html and "接上一问" in html and "第10项 升级“美丽家园”建设" in html
    assert f'class="qa-new-topic" data-answer-id="{follow_up["id"]}"' in html and "换个话题" in html
    # The lead stays the answer's first line in large type, below the carried-over line.
    assert html.index("qa-follows") < html.index("qa-lead") and "接上一问" not in html.split("qa-lead", 1)[1]


def test_the_conversation_is_each_browsers_own(page):
    _, mine, *_ = _ask(page, ELEVATOR)
    _, theirs, *_ = _ask(page, "垃圾分类有什么要求?")
    _, mine, *_ = _ask(page, "那谁负责?", mine)
    _, theirs, *_ = _ask(page, "那谁负责?", theirs)
    assert mine[-1]["answer"]["follows"]["clauses"] == ["plan-final#10"]
    assert theirs[-1]["answer"]["follows"]["clauses"] == ["plan-final#20"]


def test_clearing_forgets_the_subject(page):
    _, turns, *_ = _ask(page, ELEVATOR)
    _, cleared, *_ = page.clear()
    _, turns, *_ = _ask(page, "那谁负责?", cleared)
    assert turns[0]["answer"]["follows"] is None and "qa-follows" not in turns[0]["answer_html"]


def test_new_topic_asks_the_question_again_on_its_own(page):
    _, turns, *_ = _ask(page, ELEVATOR)
    _, turns, *_ = _ask(page, "那谁负责?", turns)
    old = turns[1]["id"]
    chat, again, box, hint, lang = page.new_topic(old, turns, "", "", "", 5, "zh")
    assert len(again) == 2 and again[0] == turns[0] and again[1]["id"] != old
    assert again[1]["question"] == "那谁负责?" and again[1]["answer"]["follows"] is None
    assert hint == "" and lang == "zh" and isinstance(chat, gr.Chatbot)
    # The conversation goes on from the answer given on its own.
    _, after, *_ = _ask(page, "什么时候完成?", again)
    assert after[-1]["answer"]["follows"] is None or after[-1]["answer"]["follows"]["clauses"] != [
        "plan-final#10"
    ]
    _, same, _, hint, _ = page.new_topic("gone", turns, "", "", "", 5, "zh")
    assert same is not None and "找不到" in hint


# --- API handler ------------------------------------------------------------------------------


def test_ask_is_the_same_object_as_qa_ask_json(page, assistant):
    assert page.ask(ELEVATOR) == assistant.ask(ELEVATOR).to_dict()
    out = page.ask(ELEVATOR, 2, "plan-draft")
    assert len(out["results"]) == 2 and {r["doc_id"] for r in out["results"]} == {"plan-draft"}
    assert set(out) == set(assistant.ask(ELEVATOR).to_dict())


def test_ask_errors_are_plain_chinese_messages(page):
    # The /ask endpoint answers API callers, who read the message as text: nothing is escaped.
    with pytest.raises(gr.Error, match="k 必须是 1 到 20 之间的整数"):
        page.ask(ELEVATOR, 0)
    with pytest.raises(gr.Error) as err:
        page.ask(ELEVATOR, 5, EVIL)
    assert err.value.message.startswith("未知文档 '<img src=x onerror=alert(1)>'")


# --- feedback ---------------------------------------------------------------------------------


def test_one_vote_per_answer_names_the_answer_and_its_comment_follows_it(page, log):
    _, turns, *_ = _ask(page, ELEVATOR, k=3)
    _, turns, *_ = _ask(page, "第29项的牵头单位是哪些?", turns, k=2)
    first, second = turns[0]["id"], turns[1]["id"]

    chat, turns, status, rating, panel = page.vote(turns, "zh", _like(3, True))  # the second answer
    assert "已记录您对“第29项的牵头单位是哪些?”这条回答的评价:有帮助" in status
    assert rating == second and panel.visible is True
    assert chat.feedback_value == [None, "Like"]
    turns, status, box = page.send_comment(turns, rating, "  很清楚  ", "zh")
    assert "已收到您对“第29项的牵头单位是哪些?”这条回答的评论" in status and box == ""
    # one comment per answer: a session writes at most two lines an answer, however often it sends
    for _ in range(5):
        turns, status, _ = page.send_comment(turns, rating, "再说一遍", "zh")
        assert "只记录一条评论" in status

    _, turns, status, rating, _ = page.vote(turns, "zh", _like(1, False))  # the first answer
    assert "没帮助" in status and rating == first
    # a second vote on the same answer is not recorded
    _, turns, status, _, _ = page.vote(turns, "zh", _like(1, True))
    assert "已经评价过" in status

    records, skipped = read_feedback(log)
    assert skipped == 0
    assert [(r["answer_id"], r["vote"], r["comment"]) for r in records] == [
        (second, "up", ""),
        (second, "up", "很清楚"),
        (first, "down", ""),
    ]
    assert (
        records[0]["question"] == "第29项的牵头单位是哪些?" and records[0]["citations"][0] == "plan-final#29"
    )
    assert records[2]["question"] == ELEVATOR and records[2]["citations"][0] == "plan-final#10"
    assert records[2]["answer"] == turns[0]["answer"]["answer"]
    assert "T" in records[2]["time"]


def test_a_comment_needs_a_rated_answer_and_words(page, log):
    _, turns, *_ = _ask(page, ELEVATOR, k=1)
    _, status, _ = page.send_comment(turns, turns[0]["id"], "好", "zh")
    assert "找不到要评价的这条回答" in status
    _, turns, *_ = page.vote(turns, "en", _like(1, True))
    _, status, _ = page.send_comment(turns, turns[0]["id"], "   ", "en")
    assert "Please write a comment" in status
    assert len(read_feedback(log).records) == 1


def test_voting_on_nothing_records_nothing(page, log):
    _, _, status, _, _ = page.vote([], "zh", _like(1, True))
    assert "找不到要评价的这条回答" in status
    assert not log.exists()


def test_undoing_a_like_records_nothing(page, log):
    _, turns, *_ = _ask(page, ELEVATOR, k=1)
    _, _, status, _, _ = page.vote(turns, "zh", _like(1, ""))
    assert "已记录的评价会保留" in status and not log.exists()


# --- clause browser and comparison ------------------------------------------------------------


def test_browser_lists_every_task_with_numbered_targets(page, assistant):
    table, count = page.browse("final", "", "zh")
    assert _tasks(table) == list(range(1, len(assistant.tasks("final")) + 1))
    assert f"正式版共{len(assistant.tasks('final'))}项任务" in count
    assert (
        '<th colspan="4" scope="colgroup" lang="zh-CN">塑造整洁有序的市容风貌,营造便捷温馨的人居环境</th>'
        in table
    )
    assert 'aria-label="第10项 升级“美丽家园”建设"' in table and ">区房管局<" in table
    assert "三年内新增加装电梯466台" in table
    assert len(_tasks(page.browse("draft", "", "zh")[0])) == len(assistant.tasks("draft"))


def test_browser_search_covers_the_text_and_everyday_words(page):
    table, count = page.browse("final", "電梯", "zh")  # Traditional characters are normalised
    assert _tasks(table) == [10, 25] and "符合“電梯”的有2项" in count
    assert _tasks(page.browse("final", "区房管局 消防", "zh")[0]) == [25]
    table, count = page.browse("final", "电瓶车", "zh")  # everyday wording: 电动自行车
    assert 29 in _tasks(table) and "也按计划用语查找:电动自行车" in count
    table, count = page.browse("final", "没有这个词", "zh")
    assert table == "" and "请换一个词" in count


def test_a_term_only_the_draft_has_says_the_final_plan_dropped_it(page):
    table, count = page.browse("final", "建筑垃圾", "zh")
    assert table == ""
    assert "草案第19项有,正式版已删除。版本说明:" in count and "完善建筑垃圾资源化利用体系" in count
    table, count = page.browse("final", "建筑垃圾", "en")
    assert "draft task 19 has it; the final plan dropped it" in count
    assert _tasks(page.browse("draft", "建筑垃圾", "zh")[0]) == [19]


def test_choosing_a_task_shows_the_whole_clause(page):
    html, chosen = page.select_task("final", "zh", gr.EventData(None, {"task": 10}))
    assert chosen == 10
    assert "三年内新增加装电梯466台" in html and "<li>三年内新增加装电梯466台</li>" in html
    assert '版本说明:<span lang="zh-CN">标题由&quot;深化精品小区建设&quot;' in html
    assert '<a class="qa-back" href="#qa-task-10">返回任务列表</a>' in html
    draft = page.task_detail("draft", 29, "en")
    # the English view gives the note in English, around the plans' Chinese words
    assert "This is draft task 29, replaced by task 32 of the final plan." in draft
    assert ">Draft (superseded)<" in draft and "此为草案" not in draft
    assert "点选任务名" in page.task_detail("final", 99, "zh")


def test_comparison_choices_search_and_diffs(page, assistant):
    choices = page.compare_choices("zh")
    assert len(choices) == len(assistant.versions.pairs)
    labels = dict((value, label) for label, value in choices)
    assert labels["final:31"] == "第31项 加强应用场景和城市感知设施建设(由草案第30项、第31项合并)"
    assert labels["final:32"].endswith("(原草案第29项)")
    html = page.compare_task("final:11", "zh")
    assert '<del class="qa-del qa-reworded">每年完成不少于30个小区物业服务费调整' in html
    assert '<ins class="qa-ins qa-reworded">每年完成不少于20个小区物业服务费调整' in html
    new = page.compare_task("final:29", "zh")
    assert (
        "草案中没有此项" in new
        and '公众参与情况报告:<span lang="zh-CN">增设“深化电动自行车安全监管”任务' in new
    )
    # the picker searches titles and text, with everyday words
    dropdown, diff = page.compare_search("物业费", None, "zh")
    keys = [value for _, value in dropdown.choices]
    assert "final:11" in keys and dropdown.value == keys[0] and diff
    dropdown, diff = page.compare_search("没有这个词", "final:11", "zh")
    assert dropdown.choices == [] and "没有符合“没有这个词”的任务" in diff
    assert "Task 31 " in dict((v, k) for k, v in page.compare_choices("en"))["final:31"]


def test_page_words_come_from_the_documents(page, assistant):
    plan = assistant.collection.current_plan
    assert f"<h1>{plan.title} · 问答助手</h1>" in page.header("zh")
    # in English the glossary's name of the plan (the footer says names are unofficial translations)
    assert f"<h1>{page.assistant.lexicon.english(plan.title)} · questions and answers</h1>" in page.header(
        "en"
    )
    footer = page.footer("zh")
    assert plan.cite_title in footer and assistant.collection.superseded_plan.issuer in footer
    assert "503" not in footer and "queue" not in page.footer("en").lower()
    assert "unofficial translations" in page.footer("en") and "unofficial" not in footer
    assert page.version_choices("zh")[0][0] == f"正式版({len(assistant.tasks('final'))}项,现行)"


def test_no_document_id_title_or_task_count_is_written_into_the_page():
    # schemas.py holds the OpenAPI description's examples: they show an integrator this corpus's real
    # ids and answers, and no code decides anything on them.
    sources = [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "qa" / "web").glob("*.py"))]
    for path in (p for p in sources if p.name != "schemas.py"):
        text = path.read_text(encoding="utf-8")
        for literal in ('"plan-final"', '"plan-draft"', "36项", "34项", "城市管理精细化"):
            assert literal not in text, f"{path.name} writes {literal}"


# --- the real app, over HTTP ------------------------------------------------------------------


@pytest.fixture()
def served(assistant, log) -> Iterator[str]:
    demo = build_demo(assistant, feedback_log=log)
    port = _free_port()
    _, url, _ = demo.launch(**launch_options(port=port, prevent_thread_lock=True, quiet=True))
    try:
        yield url
    finally:
        demo.close()


@pytest.mark.slow
def test_api_ask_through_gradio_client(served):
    assert served.startswith("http://127.0.0.1:")
    client = Client(served, verbose=False)
    out = client.predict(ELEVATOR, api_name="/ask")
    assert isinstance(out, dict) and out["question"] == ELEVATOR
    assert (out["results"][0]["doc_id"], out["results"][0]["clause"]) == ("plan-final", 10)
    assert out["results"][0]["version"] == "final"
    two = client.predict(ELEVATOR, 2, "plan-draft", api_name="/ask")
    assert [r["doc_id"] for r in two["results"]] == ["plan-draft", "plan-draft"]

    with pytest.raises(AppError) as err:
        client.predict("", api_name="/ask")
    assert "请输入一个问题" in str(err.value) and "Traceback" not in str(err.value)

    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/ask"]  # the page's own events are private
    assert [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]] == [
        "question",
        "k",
        "doc",
    ]


@pytest.mark.slow
def test_page_fetches_nothing_from_outside(served):
    page = httpx.get(served, timeout=30).text
    assert "fonts.googleapis.com" not in page and "cdn.jsdelivr" not in page
    config = httpx.get(served + "config", timeout=30).json()
    assert config["theme_hash"] and "googleapis" not in str(config.get("stylesheets", []))


class _SlowAssistant:
    """The real assistant, except that it holds every question until released, to fill the queue."""

    def __init__(self, real):
        self.real = real
        self.started = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def ask(self, question, k=None, doc=None, section=None, unit=None):
        self.started.set()
        self.release.wait(timeout=60)
        return Answer(question, True, "x", [])


def _wait_for(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_full_queue_is_refused_with_a_clear_message(assistant):
    """gradio answers HTTP 503 when the queue holds max_size events; the client says so."""
    slow = _SlowAssistant(assistant)
    demo = build_demo(slow, concurrency_limit=1, max_size=1)  # type: ignore[arg-type]
    _, url, _ = demo.launch(**launch_options(port=_free_port(), prevent_thread_lock=True, quiet=True))
    try:
        client = Client(url, verbose=False)
        running = client.submit("一", api_name="/ask")
        assert slow.started.wait(timeout=30)  # the one worker is busy
        waiting = client.submit("二", api_name="/ask")
        _wait_for(lambda: waiting.status().code == Status.IN_QUEUE, "the second question to queue")
        refused = client.submit("三", api_name="/ask")  # the queue (size 1) is full
        with pytest.raises(QueueError, match="Queue is full"):
            refused.result(timeout=30)
        slow.release.set()
        assert running.result(timeout=30)["question"] == "一"
        assert waiting.result(timeout=30)["question"] == "二"
    finally:
        slow.release.set()
        demo.close()


@pytest.mark.slow
def test_qa_serve_starts_the_page_on_loopback(tmp_path):
    port = _free_port()
    env = {**os.environ, "QA_FEEDBACK_LOG": str(tmp_path / "fb.jsonl")}
    qa = Path(sys.executable).with_name("qa")
    proc = subprocess.Popen(
        [str(qa), "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"qa serve exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("qa serve did not start within 180 s")
        out = Client(url, verbose=False).predict("第29项的牵头单位是哪些?", api_name="/ask")
        assert out["results"][0]["clause"] == 29
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_importing_app_builds_nothing():
    """``qa serve`` builds the one page; ``app.py`` builds its own only when run as a script."""
    import app

    assert not any(isinstance(value, (gr.Blocks, Page)) for value in vars(app).values())


def test_a_huge_clause_browser_search_is_cut_before_it_is_normalised(page, monkeypatch):
    import qa.web.page as page_module

    seen: list[int] = []
    real = page_module.normalise

    def counting(text: str) -> str:
        seen.append(len(text))
        return real(text)

    monkeypatch.setattr(page_module, "normalise", counting)
    page.browse("final", "电瓶车 " * 400_000, "zh")  # 2.4 million characters
    assert seen and max(seen) <= page.assistant.settings.max_question_chars
