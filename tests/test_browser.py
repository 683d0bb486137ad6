"""The page in a real headless Chromium, on a phone (390×844) and a desk (1366×768).

What a reader sees: the top of each new answer with the question box still in view, the box and
example questions on a phone's first screen, a hint instead of a dialog for a mistake, the labels
in the language of the question, a task opened beside (or scrolled to) the table, no script run
from a question, nothing fetched from outside, and no serious or critical axe-core finding on any
tab. Screenshots of each tab go to test-output/screenshots/; with QA_UPDATE_SCREENSHOTS=1 also to
docs/screenshots/ (the README shows the chat one).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
AXE = REPO_ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"
ELEVATOR = "我家是老房子,没有电梯,有加装电梯的计划吗?"
EVIL = "<img src=x onerror=alert(1)>"
OUT = REPO_ROOT / "test-output" / "screenshots"
DOCS = REPO_ROOT / "docs" / "screenshots"
TIMEOUT = 60_000
SIZES = {"phone": (390, 844), "desktop": (1366, 768)}


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
            f"{CHROMIUM} is missing: make browser-deps (apt-get install -y chromium fonts-wqy-zenhei)"
        )
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def open_page(browser, url) -> Iterator[Callable[..., Any]]:
    """Opens the page at a size; afterwards no dialog was shown and nothing left the machine."""
    opened: list[Any] = []

    def open_(size: str = "desktop", zoom: int = 1) -> Any:
        width, height = SIZES[size]
        context = browser.new_context(
            viewport={"width": width // zoom, "height": height // zoom},
            device_scale_factor=zoom,  # 200% zoom: half the CSS pixels, twice the device pixels
            locale="zh-CN",
        )
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
        opened.append((context, page))
        return page

    yield open_
    for context, page in opened:
        outside, dialogs = page.outside, page.dialogs
        context.close()
        assert outside == [] and dialogs == []


def _screenshot(page, name: str, full_page: bool = False) -> None:
    page.wait_for_timeout(300)  # a frame more, after the last change
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / name), full_page=full_page)
    if os.environ.get("QA_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(OUT / name, DOCS / name)


def _ask(page, question: str, press_enter: bool = False) -> Any:
    """Ask and wait until the page has shown the new answer; returns the new answer's element."""
    before = page.locator("#qa-chat .qa-answer").count()
    page.fill("#qa-question textarea", question)
    if press_enter:
        page.press("#qa-question textarea", "Enter")
    else:
        page.click("#qa-ask")
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .qa-answer').length > n", arg=before)
    answer = page.locator("#qa-chat .qa-answer").last
    answer_id = answer.get_attribute("data-answer-id")
    page.wait_for_function("id => window.qaShown === id", arg=answer_id)  # the page has scrolled to it
    page.wait_for_timeout(200)
    return answer


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 1


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(300)


def _axe(page) -> list[str]:
    """The serious and critical axe-core findings on the page as it is now."""
    if not AXE.is_file():
        pytest.skip(f"{AXE} is missing: make browser-deps (npm ci in tests/)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .filter(v => v.impact === 'serious' || v.impact === 'critical')
             .map(v => v.id + ': ' + v.help + ' at ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"""
    )
    return list(found)


# --- the chat --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_new_answer_is_shown_from_its_top_with_the_box_in_view(open_page, size):
    page = open_page(size)
    answer = _ask(page, ELEVATOR)
    lead = answer.locator(".qa-lead")
    assert lead.inner_text().endswith("推进既有多层住宅加装电梯,三年内新增加装电梯466台。")
    assert _in_view(page, lead) and _in_view(page, page.locator("#qa-question textarea"))
    _screenshot(page, "chat.png" if size == "desktop" else "chat-phone.png")

    answer = _ask(page, "第29项的牵头单位是哪些?", press_enter=True)  # a follow-up, with Enter
    assert "区应急局" in answer.locator(".qa-lead").inner_text()
    assert _in_view(page, answer.locator(".qa-lead")) and _in_view(
        page, page.locator("#qa-question textarea")
    )
    assert _no_sideways_scroll(page)


@pytest.mark.parametrize("size", SIZES)
def test_a_follow_up_names_its_subject_and_a_new_topic_drops_it(open_page, size):
    page = open_page(size)
    _ask(page, ELEVATOR)
    answer = _ask(page, "那谁负责?")
    follows = answer.locator(".qa-follows")
    assert follows.inner_text().startswith("接上一问:第10项 升级“美丽家园”建设")
    assert "区房管局" in answer.locator(".qa-lead").inner_text()
    link = follows.locator(".qa-new-topic")
    assert link.inner_text() == "换个话题" and link.is_visible()
    _screenshot(page, "follow-up.png" if size == "desktop" else "follow-up-phone.png")
    old = answer.get_attribute("data-answer-id")
    link.click()  # the question again, on its own, in the same place
    page.wait_for_function("id => !document.querySelector(`#qa-chat [data-answer-id='${id}']`)", arg=old)
    page.wait_for_timeout(300)
    answers = page.locator("#qa-chat .qa-answer")
    assert answers.count() == 2 and answers.last.locator(".qa-follows").count() == 0
    page.click("#qa-clear")  # 清空对话 forgets the subject too
    page.wait_for_function("() => !document.querySelector('#qa-chat .qa-answer')")
    assert _ask(page, "那谁负责?").locator(".qa-follows").count() == 0


def test_two_browsers_do_not_share_a_conversation(open_page):
    """Each browser session keeps its own subject: one resident's lifts are not another's."""
    first, second = open_page(), open_page()  # two browser contexts: two residents
    _ask(first, ELEVATOR)
    stranger = _ask(second, "那谁负责?")
    assert stranger.locator(".qa-follows").count() == 0
    assert "接上一问" not in stranger.inner_text()
    own = _ask(first, "那谁负责?")
    assert own.locator(".qa-follows").inner_text().startswith("接上一问:第10项")
    assert "区房管局" in own.locator(".qa-lead").inner_text()


def test_the_phone_opens_on_the_box_and_example_questions(open_page):
    page = open_page("phone")
    assert _in_view(page, page.locator("#qa-question textarea")) and _in_view(page, page.locator("#qa-ask"))
    examples = page.locator(".qa-examples button.qa-example")
    assert sum(_in_view(page, examples.nth(i)) for i in range(examples.count())) >= 2
    assert page.locator("h1").count() == 1
    # text a resident can read: nothing under 16 px on the page's own blocks
    small = page.evaluate(
        """() => [...document.querySelectorAll('.contain *')]
             .filter(e => e.offsetParent !== null && [...e.childNodes].some(
               n => n.nodeType === 3 && n.textContent.trim()))
             .filter(e => parseFloat(getComputedStyle(e).fontSize) < 15.5)
             .map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 20))"""
    )
    assert small == []
    for tab in ("问答", "条款浏览", "草案与正式版对比"):
        _tab(page, tab)
        assert _no_sideways_scroll(page), tab


def test_the_layout_holds_at_200_percent_zoom(open_page):
    page = open_page("desktop", zoom=2)
    answer = _ask(page, "电瓶车在楼道充电谁管?")
    assert _in_view(page, answer.locator(".qa-lead")) and _in_view(
        page, page.locator("#qa-question textarea")
    )
    assert page.locator("#qa-chat").bounding_box()["height"] <= page.viewport_size["height"]
    for tab in ("问答", "条款浏览", "草案与正式版对比"):
        _tab(page, tab)
        assert _no_sideways_scroll(page), tab


def test_an_empty_question_is_a_hint_in_place_not_a_dialog(open_page):
    page = open_page("phone")
    _ask(page, ELEVATOR)
    page.fill("#qa-question textarea", "")
    page.press("#qa-question textarea", "Enter")
    hint = page.locator("#qa-hint .qa-hint", has_text="请先输入问题")
    hint.wait_for()
    assert hint.is_visible()
    assert page.locator("#qa-chat .qa-answer").count() == 1  # the conversation stays
    assert page.locator(".toast-body").count() == 0 and "Error" not in page.locator("#qa-chat").inner_text()
    # nothing lies over the box: the element at its centre is the box itself
    covered = page.evaluate(
        """() => { const box = document.querySelector('#qa-question textarea');
                   const r = box.getBoundingClientRect();
                   return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) !== box; }"""
    )
    assert not covered
    page.fill("#qa-question textarea", "长" * 501)
    page.click("#qa-ask")
    page.locator("#qa-hint .qa-hint", has_text="问题太长(501字)").wait_for()
    assert page.input_value("#qa-question textarea") == "长" * 501  # kept, to be shortened


def test_an_english_question_switches_the_labels_and_the_switch_works_both_ways(open_page):
    page = open_page("desktop")
    answer = _ask(page, "Who is responsible for garbage sorting?")
    assert answer.get_attribute("lang") == "en"
    page.get_by_role("tab", name="Browse tasks").wait_for()
    assert page.locator("#qa-ask").inner_text() == "Ask"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#qa-question textarea").get_attribute("placeholder").startswith("e.g.")

    page.locator("#qa-lang").get_by_text("中文").click()
    page.get_by_role("tab", name="条款浏览").wait_for()
    assert page.locator("#qa-ask").inner_text() == "提问"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert answer.get_attribute("lang") == "en"  # an answer keeps its question's language

    page.locator("#qa-lang").get_by_text("English").click()
    page.get_by_role("tab", name="Draft vs final").wait_for()
    assert page.locator("#qa-filters").inner_text().strip().startswith("Filters")


@pytest.mark.parametrize("size", SIZES)
def test_an_english_answer_has_english_cards(open_page, size):
    """An English-speaking resident reads English labels and names around the plan's Chinese words."""
    page = open_page(size)
    answer = _ask(page, "Which department leads the work on adding lifts to old residential buildings?")
    assert answer.locator(".qa-heading").inner_text() == "Sources"
    card = answer.locator(".qa-card").first
    assert card.locator(".qa-badge").inner_text() == "Final plan"
    units = card.locator(".qa-meta", has_text="Lead units").inner_text()
    assert units.startswith("Lead units: District ") and "(区" in units
    assert card.locator(".qa-clause-title").inner_text().startswith("Task ")
    assert "unofficial translations" in answer.inner_text()
    shown = answer.inner_text()
    for quoted in answer.locator("blockquote, .qa-clause-text").all_inner_texts():
        shown = shown.replace(quoted, "")
    for label in ("引用", "牵头单位", "版本说明", "正式版", "背景材料"):
        assert label not in shown, label
    assert _in_view(page, answer.locator(".qa-lead")) and _no_sideways_scroll(page)
    _screenshot(page, "chat-english.png" if size == "desktop" else "chat-english-phone.png")
    answer.locator("details.qa-more summary").first.click()
    assert _axe(page) == []
    # the task browser in English names the task and its units the same way
    _tab(page, "Browse tasks")
    page.locator("#qa-browse-table button[data-task='10']").click()
    detail = page.locator("#qa-browse-detail .qa-detail")
    detail.wait_for()
    assert "Lead units: District Housing Administration (区房管局)" in detail.inner_text()
    assert _axe(page) == [] and _no_sideways_scroll(page)


def test_the_card_cites_final_task_10_and_each_answer_takes_one_vote(open_page, log):
    page = open_page("desktop")
    answer = _ask(page, ELEVATOR)
    card = answer.locator("article.qa-card").first
    text = card.inner_text()
    assert "正式版" in text and "第10项" in text and "区房管局" in text
    assert card.locator(".qa-badge").inner_text() == "正式版"
    assert card.locator("blockquote").inner_text() in "推进既有多层住宅加装电梯,三年内新增加装电梯466台。"
    card.locator("summary", has_text="查看完整条款").click()  # the whole clause unfolds
    assert "三年内新增加装电梯466台" in card.locator(".qa-clause-text").inner_text()
    more = answer.locator("details.qa-more")
    assert more.locator("> summary").inner_text() == "查看其他出处(4)" and more.get_attribute("open") is None

    first_id = answer.get_attribute("data-answer-id")
    page.locator("#qa-chat button[aria-label='赞']").last.click()
    page.locator("#qa-rate-status", has_text="有帮助").wait_for()
    page.fill("#qa-comment textarea", "很清楚")
    page.click("#qa-send")
    page.locator("#qa-rate-status", has_text="已收到您对").wait_for()

    _ask(page, "第29项的牵头单位是哪些?")
    page.locator("#qa-chat button[aria-label='踩']").first.click()  # on the first answer again
    page.locator("#qa-rate-status", has_text="已经评价过").wait_for()
    page.locator("#qa-chat button[aria-label='踩']").last.click()  # on the second answer
    page.locator("#qa-rate-status", has_text="第29项的牵头单位是哪些").wait_for()

    records = read_feedback(log).records
    assert [(r["answer_id"] == first_id, r["vote"], r["comment"]) for r in records[-3:]] == [
        (True, "up", ""),
        (True, "up", "很清楚"),
        (False, "down", ""),
    ]
    assert (
        records[-1]["question"] == "第29项的牵头单位是哪些?"
        and records[-1]["citations"][0] == "plan-final#29"
    )
    assert records[-3]["question"] == ELEVATOR and records[-3]["citations"][0] == "plan-final#10"


def test_markup_typed_in_the_chat_is_shown_not_run(open_page):
    page = open_page("desktop")
    _ask(page, EVIL)
    page.wait_for_timeout(1500)  # give an injected handler every chance to fire
    assert page.dialogs == []
    chat = page.locator("#qa-chat")
    assert EVIL in chat.inner_text()  # shown as the characters typed
    assert chat.locator("img[src='x']").count() == 0
    assert page.evaluate("typeof window.__qa_pwned") == "undefined"
    _ask(page, "<script>window.__qa_pwned = 1</script>加装电梯")
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__qa_pwned") == "undefined"
    assert "<script>window.__qa_pwned = 1</script>" in chat.inner_text()


# --- the clause browser and the comparison ---------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_choosing_a_task_shows_its_whole_text_in_view(open_page, size):
    page = open_page(size)
    _tab(page, "条款浏览")
    page.locator("#qa-browse-table button[data-task='30']").click()
    detail = page.locator("#qa-browse-detail .qa-detail[data-clause='30']")
    detail.wait_for()
    page.wait_for_timeout(500)  # the panel has been scrolled into view
    clause = detail.locator(".qa-clause-text")
    assert clause.inner_text().startswith("30.深入推进“一网统管”平台建设")
    assert _in_view(page, clause)
    if size == "desktop":  # beside the table: the row chosen stays in view too
        assert _in_view(page, page.locator("#qa-task-30"))
    family = page.evaluate("getComputedStyle(document.querySelector('.qa-tasks td')).fontFamily")
    assert "mono" not in family.lower()
    _screenshot(page, "browser.png" if size == "desktop" else "browser-phone.png")


def test_the_clause_search_understands_everyday_words(open_page):
    page = open_page("phone")
    _tab(page, "条款浏览")
    page.fill("#qa-browse-search textarea, #qa-browse-search input", "电瓶车")
    page.locator("#qa-browse-count", has_text="符合“电瓶车”的有").wait_for()
    assert page.locator("#qa-browse-table tr[data-task='29']").is_visible()
    page.fill("#qa-browse-search textarea, #qa-browse-search input", "建筑垃圾")
    page.locator("#qa-browse-count", has_text="草案第19项有,正式版已删除").wait_for()
    page.get_by_label("草案", exact=False).first.check()
    page.locator("#qa-browse-count", has_text="草案共34项任务,符合“建筑垃圾”的有1项").wait_for()


@pytest.mark.parametrize("size", SIZES)
def test_comparison_tab_shows_the_diff_and_its_picker_searches_the_text(open_page, size):
    page = open_page(size)
    _tab(page, "草案与正式版对比")
    diff = page.locator("#qa-diff")
    diff.locator("table.qa-diff").wait_for()
    assert diff.locator("del.qa-del").count() >= 1 and diff.locator("ins.qa-ins").count() >= 1

    page.fill("#qa-compare-search textarea, #qa-compare-search input", "物业服务费")
    page.locator("#qa-diff ins.qa-ins", has_text="每年完成不少于20个小区物业服务费调整").wait_for()
    assert "每年完成不少于30个小区物业服务费调整" in diff.locator("del.qa-del").all_inner_texts()[-1]
    changes = page.locator("#qa-changes")
    assert "与草案相比共24项有变化" in changes.inner_text()
    assert "增设“深化电动自行车安全监管”任务" in changes.inner_text()
    assert _no_sideways_scroll(page)
    _screenshot(page, "compare.png" if size == "desktop" else "compare-phone.png")


# --- accessibility ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_no_serious_or_critical_accessibility_finding_on_any_tab(open_page, size):
    page = open_page(size)
    assert _axe(page) == []  # the first screen
    _ask(page, ELEVATOR)
    page.locator("#qa-chat details.qa-more summary").first.click()
    assert _axe(page) == []
    _tab(page, "条款浏览")
    page.locator("#qa-browse-table button[data-task='10']").click()
    page.locator("#qa-browse-detail .qa-detail").wait_for()
    assert _axe(page) == []
    _tab(page, "草案与正式版对比")
    assert _axe(page) == []
    page.locator("#qa-lang").get_by_text("English").click()
    page.get_by_role("tab", name="Ask", exact=True).wait_for()
    assert _axe(page) == []
