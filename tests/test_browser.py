"""The page in a real headless Chromium: ask, read the card, compare, browse, vote, no script runs.

Screenshots of each tab go to test-output/screenshots/; with QA_UPDATE_SCREENSHOTS=1 also to
docs/screenshots/ (the README shows the chat one).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.settings import REPO_ROOT
from qa.web.feedback import read_feedback
from qa.web.page import build_demo
from qa.web.serving import launch_options

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ELEVATOR = "我家是老房子,没有电梯,有加装电梯的计划吗?"
EVIL = "<img src=x onerror=alert(1)>"
OUT = REPO_ROOT / "test-output" / "screenshots"
DOCS = REPO_ROOT / "docs" / "screenshots"
TIMEOUT = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "feedback.jsonl"


@pytest.fixture(scope="module")
def url(assistant, log) -> Iterator[str]:
    demo = build_demo(assistant, feedback_log=log)
    _, local_url, _ = demo.launch(**launch_options(port=_free_port(), prevent_thread_lock=True, quiet=True))
    try:
        yield local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"{CHROMIUM} is missing: apt-get install -y chromium fonts-wqy-zenhei (make browser-deps)"
        )
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.dialogs = []  # any alert() would land here
    page.outside = []  # any request that leaves the machine would land here
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on(
        "request",
        lambda r: None if r.url.startswith((url, "data:", "blob:")) else page.outside.append(r.url),
    )
    page.goto(url)
    page.wait_for_selector("#qa-question textarea")
    try:
        yield page
    finally:
        context.close()


def _screenshot(page, name: str) -> None:
    # wait until no component is dimmed as "pending" (gradio's loading state), then a frame more
    page.wait_for_function("() => !document.querySelector('.pending')")
    page.wait_for_timeout(300)
    OUT.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(OUT / name), full_page=True)
    if os.environ.get("QA_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(OUT / name, DOCS / name)


def _ask(page, question: str, turn: int) -> None:
    page.fill("#qa-question textarea", question)
    page.click("#qa-ask")
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-turn.qa-question').length >= n", arg=turn
    )
    page.locator("#qa-chat .qa-answer-text").nth(turn - 1).wait_for()


def test_chat_card_cites_final_task_10_and_vote_is_logged(page, log):
    _ask(page, ELEVATOR, 1)
    card = page.locator("#qa-chat article.qa-card").first
    text = card.inner_text()
    assert "正式版" in text and "第10项" in text and "区房管局" in text
    assert card.locator(".qa-badge").inner_text() == "正式版"
    assert (
        card.locator("mark").inner_text(timeout=1000) in "推进既有多层住宅加装电梯,三年内新增加装电梯466台。"
    )
    card.locator("summary").click()  # the whole clause unfolds
    assert "三年内新增加装电梯466台" in card.locator(".qa-clause-text").inner_text()

    # show the question and the top of its answer, as a reader sees it after scrolling up
    page.locator("#qa-chat .qa-turn.qa-question").first.evaluate(
        "e => { e.scrollIntoView({block: 'start'}); e.closest('[class*=bubble-wrap]')?.scrollBy(0, -48); }"
    )
    _screenshot(page, "chat.png")

    page.fill("#qa-comment textarea", "很清楚")
    page.click("#qa-up")
    page.get_by_text("👍 已记录").wait_for()
    records, _ = read_feedback(log)
    assert records[-1]["vote"] == "up" and records[-1]["comment"] == "很清楚"
    assert records[-1]["citations"][0] == "plan-final#10"

    _ask(page, "第29项的牵头单位是哪些?", 2)  # the chatbot's own 👎 on the first answer
    page.locator("#qa-chat button[aria-label='踩']").first.click()  # 'Dislike' in English
    page.get_by_text("👎 已记录").wait_for()
    records, _ = read_feedback(log)
    assert records[-1]["vote"] == "down" and records[-1]["question"] == ELEVATOR
    assert page.outside == [] and page.dialogs == []


def test_markup_typed_in_the_chat_is_shown_not_run(page):
    _ask(page, EVIL, 1)
    page.wait_for_timeout(1500)  # give an injected handler every chance to fire
    assert page.dialogs == []
    chat = page.locator("#qa-chat")
    assert EVIL in chat.inner_text()  # shown as the characters typed
    assert chat.locator("img[src='x']").count() == 0
    assert page.evaluate("typeof window.__qa_pwned") == "undefined"
    _ask(page, "<script>window.__qa_pwned = 1</script>加装电梯", 2)
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__qa_pwned") == "undefined"
    assert "<script>window.__qa_pwned = 1</script>" in chat.inner_text()
    assert page.dialogs == [] and page.outside == []


def test_empty_question_shows_a_chinese_error_not_a_traceback(page):
    page.fill("#qa-question textarea", "   ")
    page.click("#qa-ask")
    toast = page.get_by_text("请输入一个问题")
    toast.first.wait_for()
    assert "Traceback" not in page.content()


def test_comparison_tab_shows_the_diff(page):
    page.get_by_role("tab", name="草案与正式版对比").click()
    diff = page.locator("#qa-diff")
    diff.locator("table.qa-diff").wait_for()
    assert diff.locator("del.qa-del").count() >= 1 and diff.locator("ins.qa-ins").count() >= 1

    dropdown = page.locator("#qa-compare-task input")
    dropdown.click()
    dropdown.fill("第11项")
    page.get_by_role("option", name="第11项 加强住宅小区物业管理(修改)").click()
    page.locator("#qa-diff ins.qa-ins", has_text="每年完成不少于20个小区物业服务费调整").wait_for()
    assert "每年完成不少于30个小区物业服务费调整" in diff.locator("del.qa-del").all_inner_texts()[-1]
    changes = page.locator("#qa-changes")
    assert "与草案相比共24项有变化" in changes.inner_text()
    assert "增设“深化电动自行车安全监管”任务" in changes.inner_text()
    _screenshot(page, "compare.png")
    assert page.outside == []


def test_clause_browser_searches_and_shows_the_clause(page):
    page.get_by_role("tab", name="条款浏览").click()
    table = page.locator("#qa-browse-table")
    table.get_by_text("三年内新增加装电梯466台").first.wait_for()
    page.fill("#qa-browse-search textarea, #qa-browse-search input", "电梯")
    page.get_by_text("符合“电梯”的有2项").wait_for()
    table.get_by_text("升级“美丽家园”建设").first.click()
    detail = page.locator("#qa-clause-detail")
    detail.get_by_text("推进既有多层住宅加装电梯").first.wait_for()
    assert "牵头单位:区房管局" in detail.inner_text()
    _screenshot(page, "browser.png")

    page.get_by_label("草案", exact=False).first.check()
    page.get_by_text("草案共34项任务,符合“电梯”的有2项").wait_for()
    assert page.outside == []
