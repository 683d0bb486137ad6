"""The web page: its handlers called directly, then the real page through gradio_client."""

from __future__ import annotations

import os
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
from qa.web.page import BROWSE_HEADERS, GENERIC_ERROR, Page, build_demo
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


# --- chat -----------------------------------------------------------------------------------


def test_respond_answers_with_cards_citing_final_task_10(page):
    messages, turns, box = page.respond(ELEVATOR, [], "", "", "", 5)
    assert box == ""
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert all(isinstance(m["content"], gr.HTML) for m in messages)
    turn = turns[0]
    assert _cited(turn)[0] == ("plan-final", 10)
    assert turn["answer"]["answer"].startswith(turn["answer"]["lead"])
    assert turn["answer"]["lead"].endswith("推进既有多层住宅加装电梯,三年内新增加装电梯466台。")
    html = turn["answer_html"]
    assert html.count('<article class="qa-card"') == 5
    assert '<span class="qa-badge qa-badge-final">正式版</span>' in html
    assert "第10项 升级“美丽家园”建设" in html and "<mark>推进既有多层住宅加装电梯" in html


def test_conversation_keeps_earlier_turns(page):
    _, turns, _ = page.respond(ELEVATOR, [], "", "", "", 3)
    messages, turns, _ = page.respond("第29项的牵头单位是哪些?", turns, "", "", "", 3)
    assert len(turns) == 2 and len(messages) == 4
    assert _cited(turns[1])[0] == ("plan-final", 29)


def test_english_question_gets_english_labels(page):
    _, turns, _ = page.respond("Who is responsible for garbage sorting?", [], "", "", "", 3)
    html = turns[0]["answer_html"]
    assert "From the documents (quoted in Chinese)" in html
    assert ">Final plan<" in html and "Lead units:" in html and ">正式版<" not in html


def test_document_filter_is_the_doc_argument(page):
    _, turns, _ = page.respond(ELEVATOR, [], "plan-draft", "", "", 5)
    assert {doc for doc, _ in _cited(turns[0])} == {"plan-draft"}
    assert ">草案<" in turns[0]["answer_html"]


def test_lead_unit_filter_keeps_matching_results_and_retells_the_answer(page):
    _, turns, _ = page.respond("电瓶车在楼道充电谁管?", [], "", "", "区房管局", 3)
    results = turns[0]["answer"]["results"]
    assert results and all("区房管局" in r["lead_units"] for r in results)
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    text = turns[0]["answer"]["answer"]
    assert results[0]["highlight"] in text and results[0]["citation"] in text
    # The draft's 25 is the 区房管局 task that mentions e-bikes: quoted, but never as current policy.
    if results[0]["version"] == "draft":
        assert "(草案原文,已被正式版取代)" in turns[0]["answer"]["lead"]
    assert "已按筛选条件(牵头单位: 区房管局)保留" in turns[0]["answer_html"]


def test_lead_unit_filter_understands_other_names_of_a_unit(page):
    # task 7 writes 城管执法局 where the lexicon's canonical name is 区城管执法局
    _, turns, _ = page.respond("薄弱区域环境综合整治", [], "plan-final", "", "区城管执法局", 5)
    assert ("plan-final", 7) in _cited(turns[0])


def test_section_filter(page):
    section = "构筑安全管理体系,提高风险应对能力"
    _, turns, _ = page.respond(ELEVATOR, [], "", section, "", 5)
    results = turns[0]["answer"]["results"]
    assert results and all(r["section"].endswith(section) for r in results)
    assert ("plan-final", 25) in _cited(turns[0])


def test_filtered_list_of_a_units_tasks_stays_a_list(page):
    _, turns, _ = page.respond("区房管局负责哪些任务?", [], "", "构筑安全管理体系,提高风险应对能力", "", 5)
    assert (
        turns[0]["answer"]["answer"]
        == "区房管局牵头(含共同牵头)且符合筛选条件的任务共1项:\n第25项 开展房屋安全隐患排查整治"
    )
    _, turns, _ = page.respond("区房管局负责哪些任务?", [], "plan-final", "", "区房管局", 10)
    assert [r["clause"] for r in turns[0]["answer"]["results"]] == [10, 11, 13, 25, 31, 35]


def test_filters_that_remove_everything_say_so(page):
    _, turns, _ = page.respond(ELEVATOR, [], "", "推进绿色低碳发展,加快生态城区建设", "区数据局", 5)
    assert turns[0]["answer"]["results"] == []
    assert (
        "筛选条件(章节: 推进绿色低碳发展,加快生态城区建设、牵头单位: 区数据局)下没有回答这个问题的条款"
        in turns[0]["answer_html"]
    )
    assert "请放宽或清除筛选条件" in turns[0]["answer_html"]


def test_abstention_shows_the_nearest_clauses_as_possibly_related(page):
    _, turns, _ = page.respond("今天天气怎么样?", [], "", "", "", 5)
    assert turns[0]["answer"]["abstained"] is True
    assert '<div class="qa-heading">可能相关</div>' in turns[0]["answer_html"]


def test_markup_in_a_question_is_shown_escaped(page):
    _, turns, _ = page.respond(EVIL + "<script>alert(2)</script> 加装电梯", [], "", "", "", 3)
    html = turns[0]["question_html"] + turns[0]["answer_html"]
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;" in turns[0]["question_html"]


@pytest.mark.parametrize("question", ["", "   ", "？！。"])
def test_bad_question_is_a_chinese_gr_error(page, question):
    with pytest.raises(gr.Error) as err:
        page.respond(question, [], "", "", "", 5)
    assert "问题" in err.value.message and "Traceback" not in err.value.message


def test_unexpected_failure_is_a_generic_error_and_logged(page, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(page.assistant, "ask", broken)
    with pytest.raises(gr.Error) as err:
        page.respond(ELEVATOR, [], "", "", "", 5)
    assert err.value.message == GENERIC_ERROR and "secret" not in err.value.message
    assert "secret internals" in caplog.text


# --- API handler ------------------------------------------------------------------------------


def test_ask_is_the_same_object_as_qa_ask_json(page, assistant):
    assert page.ask(ELEVATOR) == assistant.ask(ELEVATOR).to_dict()
    out = page.ask(ELEVATOR, 2, "plan-draft")
    assert len(out["results"]) == 2 and {r["doc_id"] for r in out["results"]} == {"plan-draft"}
    assert set(out) == {"question", "abstained", "answer", "results"}


def test_ask_errors_are_plain_chinese_messages(page):
    # The /ask endpoint answers API callers, who read the message as text: nothing is escaped.
    with pytest.raises(gr.Error, match="k 必须是 1 到 20 之间的整数"):
        page.ask(ELEVATOR, 0)
    with pytest.raises(gr.Error) as err:
        page.ask(ELEVATOR, 5, EVIL)
    assert err.value.message.startswith("未知文档 '<img src=x onerror=alert(1)>'")


# --- feedback ---------------------------------------------------------------------------------


def test_votes_are_logged_with_question_answer_and_cited_clauses(page, log):
    _, turns, _ = page.respond(ELEVATOR, [], "", "", "", 3)
    _, turns, _ = page.respond("第29项的牵头单位是哪些?", turns, "", "", "", 2)
    status, box = page.vote_latest(turns, "up", "  很清楚  ")
    assert "👍 已记录" in status and box == ""
    like = gr.LikeData(None, {"index": 1, "value": [], "liked": False})  # the first answer's message
    status, _ = page.vote(turns, "", like)
    assert "👎 已记录" in status

    records, skipped = read_feedback(log)
    assert skipped == 0 and [r["vote"] for r in records] == ["up", "down"]
    assert records[0]["question"] == "第29项的牵头单位是哪些?" and records[0]["comment"] == "很清楚"
    assert records[0]["citations"][0] == "plan-final#29"
    assert records[1]["question"] == ELEVATOR and records[1]["citations"][0] == "plan-final#10"
    assert records[1]["answer"] == turns[0]["answer"]["answer"]
    assert "T" in records[1]["time"]


def test_voting_before_asking_is_a_clear_error(page, log):
    with pytest.raises(gr.Error, match="请先提问"):
        page.vote_latest([], "up", "")
    assert not log.exists()


def test_undoing_a_like_records_nothing(page, log):
    _, turns, _ = page.respond(ELEVATOR, [], "", "", "", 1)
    status, _ = page.vote(turns, "留着", gr.LikeData(None, {"index": 1, "value": [], "liked": ""}))
    assert "已取消" in status and not log.exists()


# --- clause browser and comparison ------------------------------------------------------------


def test_browser_lists_every_task_with_numbered_targets(page):
    table, count = page.browse_rows("final", "")
    assert table["headers"] == BROWSE_HEADERS
    assert [row[0] for row in table["data"]] == list(range(1, 37)) and "36" in count
    row10 = table["data"][9]
    assert row10[1] == "升级“美丽家园”建设" and row10[3] == "区房管局"
    assert "三年内新增加装电梯466台" in row10[4].split(";")
    assert len(page.browse_rows("draft", "")[0]["data"]) == 34


def test_browser_search_filters_rows(page):
    table, count = page.browse_rows("final", "電梯")  # Traditional characters are normalised
    assert [row[0] for row in table["data"]] == [10, 25]
    assert "符合“電梯”的有2项" in count
    table, count = page.browse_rows("final", "区房管局 消防")
    assert [row[0] for row in table["data"]] == [25]
    table, count = page.browse_rows("final", "没有这个词")
    assert table["data"] == [] and "请换一个词" in count


def test_selecting_a_row_shows_the_whole_clause(page):
    evt = gr.SelectData(None, {"index": [1, 1], "value": "x", "row_value": [10, "升级“美丽家园”建设"]})
    html = page.select_clause("final", evt)
    assert "三年内新增加装电梯466台" in html and "<li>三年内新增加装电梯466台</li>" in html
    assert "版本说明:标题由&quot;深化精品小区建设&quot;" in html
    draft = page.clause_detail("draft", 29)
    assert "此为草案第29项,已被正式版第32项取代。" in draft and ">草案<" in draft
    with pytest.raises(gr.Error, match="没有第99项任务"):
        page.clause_detail("final", 99)


def test_comparison_choices_and_diffs(page):
    choices = page.compare_choices()
    assert len(choices) == 36
    labels = dict((value, label) for label, value in choices)
    assert labels["final:31"] == "第31项 加强应用场景和城市感知设施建设(由草案第30项、第31项合并)"
    assert labels["final:32"].endswith("(原草案第29项)")
    html = page.compare_task("final:11")
    assert '<del class="qa-del qa-reworded">每年完成不少于30个小区物业服务费调整' in html
    assert '<ins class="qa-ins qa-reworded">每年完成不少于20个小区物业服务费调整' in html
    new = page.compare_task("final:29")
    assert "草案中没有此项" in new and "公众参与情况报告:增设“深化电动自行车安全监管”任务" in new
    with pytest.raises(gr.Error, match="请选择一项任务"):
        page.compare_task("final:99")


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
