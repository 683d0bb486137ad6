from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

from qa.answer import Answer, Result
from qa.compare import DiffSpan, TaskChange, TaskPair, align_tasks, compare_plans, diff_task, pair_texts
from qa.documents import Collection
from qa.lexicon import load_lexicon
from qa.structure import parse_clauses
from qa.targets import numbered_targets
from qa.web.cards import (
    TaskRow,
    badge,
    clause_label,
    render_answer,
    render_changes,
    render_clause,
    render_diff,
    render_pair,
    render_question,
    render_result,
    render_task_table,
)

ALIASES = load_lexicon(Path(__file__).resolve().parent.parent / "corpus" / "lexicon").unit_aliases

EVIL = "<img src=x onerror=alert(1)>"
TASK_10 = "10.升级“美丽家园”建设。推进既有多层住宅加装电梯,三年内新增加装电梯466台。(牵头单位:区房管局)"


def _result(**changes: object) -> Result:
    start = TASK_10.index("推进")
    end = TASK_10.index("(牵头")
    fields: dict[str, object] = {
        "rank": 1,
        "doc_id": "plan-final",
        "doc_title": "长宁区城市管理精细化三年行动计划(2024-2026年)",
        "version": "final",
        "clause": 10,
        "title": "升级“美丽家园”建设",
        "section": "一、塑造整洁有序的市容风貌,营造便捷温馨的人居环境",
        "lead_units": ["区房管局"],
        "text": TASK_10,
        "start": 1536,
        "end": 1536 + len(TASK_10),
        "highlight": TASK_10[start:end],
        "highlight_start": start,
        "highlight_end": end,
        "score": 4.5,
        "citation": "《长宁区城市管理精细化三年行动计划(2024-2026年)》第10项 升级“美丽家园”建设",
        "version_note": '标题由"深化精品小区建设"改为"升级“美丽家园”建设"。',
    }
    fields.update(changes)
    return Result(**fields)  # type: ignore[arg-type]


def _text(markup: str) -> str:
    return re.sub(r"<[^>]+>", "", markup)


def test_card_shows_badge_task_units_highlight_clause_and_note(collection):
    card = render_result(_result(), collection.current_plan)
    assert '<span class="qa-badge qa-badge-final">正式版</span>' in card
    assert "《长宁区城市管理精细化三年行动计划(2024-2026年)》" in card
    assert "第10项 升级“美丽家园”建设" in card
    assert "牵头单位:区房管局" in card
    assert (
        '<blockquote class="qa-highlight" lang="zh-CN">推进既有多层住宅加装电梯,三年内新增加装电梯466台。</blockquote>'
        in card
    )
    # the highlight sits inside the whole clause, at its offsets
    assert "<details><summary>查看完整条款</summary>" in card
    assert "建设。<mark>推进既有多层住宅加装电梯,三年内新增加装电梯466台。</mark>(牵头单位:区房管局)" in card
    assert '版本说明:<span lang="zh-CN">标题由&quot;深化精品小区建设&quot;' in card


def test_card_badges_for_draft_and_background(collection):
    assert ">草案<" in render_result(_result(version="draft"), collection.superseded_plan)
    notes = collection.by_role("drafting-notes")
    background = render_result(
        _result(version=None, clause="一", doc_id=notes.doc_id, version_note=None), notes
    )
    assert ">背景材料<" in background and "一、升级" in background and "版本说明" not in background
    assert f'<span class="qa-doc" lang="zh-CN">{notes.title}</span>' in background  # only plans go in 《》


def test_card_labels_switch_to_english(collection):
    card = render_result(_result(), collection.current_plan, english=True)
    assert ">Final plan<" in card and "Task 10 " in card and "Lead units:" in card
    assert "Version note:" in card and "正式版<" not in card


def test_english_cards_name_the_plan_task_and_units_through_the_glossary(collection):
    lexicon = load_lexicon(Path(__file__).resolve().parent.parent / "corpus" / "lexicon")
    note = 'Title changed from "深化精品小区建设" to "升级“美丽家园”建设".'
    card = render_result(_result(version_note=note), collection.current_plan, True, lexicon.english)
    text = html.unescape(_text(card))
    plan = lexicon.english(collection.current_plan.title)
    assert plan and f'<span class="qa-doc" lang="en">{plan}</span>' in card
    assert f"Lead units: {lexicon.english('区房管局')} (区房管局)" in text
    assert f"Task 10 “{lexicon.english('升级“美丽家园”建设')}” (升级“美丽家园”建设)" in text
    # the English note is English, with the plans' words marked as Chinese inside it
    assert '<span lang="en">Title changed from &quot;<span lang="zh-CN">深化精品小区建设' in card
    for label in ("牵头单位:", "版本说明", "正式版", "第10项"):
        assert label not in text.replace(TASK_10, "")  # the whole clause, folded, is the plan's own
    answer = Answer("Who leads task 10?", True, "The plan does not directly address this.", [_result()])
    markup = render_answer(answer, collection, True, english_name=lexicon.english)
    # an abstention's text says nothing of translations: the cards do
    assert "unofficial translations" in markup and "Possibly related" in markup
    # without the glossary (or in Chinese) the card keeps the documents' names
    assert "《长宁区城市管理精细化三年行动计划(2024-2026年)》" in render_result(
        _result(), collection.current_plan, True
    )
    assert badge("draft", english=True).endswith(">Draft (superseded)</span>")
    assert clause_label(7, "x", english=True) == "Task 7 x"


def test_every_user_and_corpus_text_is_escaped(collection):
    evil_doc = replace(collection.current_plan, doc_id='"><script>', title=EVIL)
    evil = _result(
        doc_title=EVIL,
        title="<script>alert(1)</script>",
        section=EVIL,
        lead_units=[EVIL],
        text=EVIL + TASK_10,
        highlight_start=0,
        highlight_end=len(EVIL),
        highlight=EVIL,
        version_note="<b>x</b>",
        doc_id='"><script>',
    )
    markup = render_answer(
        Answer(EVIL, False, EVIL + "\n<script>alert(2)</script>", [evil]), Collection("x", (evil_doc,))
    ) + render_question(EVIL)
    assert "<img" not in markup and "<script" not in markup and "<b>" not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert 'data-doc="&quot;&gt;&lt;script&gt;"' in markup


def test_answer_first_line_then_the_first_card_and_the_others_folded(collection):
    answer = Answer(
        "q",
        False,
        "推进既有多层住宅加装电梯。\n——《计划》第10项",
        [_result(), _result(rank=2), _result(rank=3)],
    )
    markup = render_answer(answer, collection, answer_id="a1")
    assert markup.startswith('<div class="qa-turn qa-answer" lang="zh-CN" data-answer-id="a1">')
    assert (
        '<div class="qa-answer-text"><p class="qa-lead" lang="zh-CN">推进既有多层住宅加装电梯。</p>'
        '<p lang="zh-CN">——《计划》第10项</p></div>' in markup
    )
    first, folded = markup.split('<details class="qa-more"><summary>查看其他出处(2)</summary>')
    assert first.count('<article class="qa-card"') == 1 and folded.count('<article class="qa-card"') == 2
    assert "引用的条款" in markup and "可能相关" not in markup


def test_a_long_line_of_the_answer_folds_behind_its_label(collection):
    note = (
        "版本说明:"
        + "草案为“每年完成不少于30个小区物业服务费调整”,正式版改为“每年完成不少于20个小区物业服务费调整”。"
        * 2
    )
    markup = render_answer(Answer("q", False, "推进。\n" + note, []), collection)
    assert '<details class="qa-fold" lang="zh-CN"><summary>版本说明</summary><p lang="zh-CN">草案为' in markup
    short = render_answer(Answer("q", False, "推进。\n牵头单位:区房管局", []), collection)
    assert '<p lang="zh-CN">牵头单位:区房管局</p>' in short and "<details" not in short


def test_abstention_lists_the_nearest_clauses_as_possibly_related(collection):
    answer = Answer("今天天气怎么样?", True, "计划中没有找到与此直接相关的内容。", [_result()])
    markup = render_answer(answer, collection)
    assert "qa-abstained" in markup
    assert '<div class="qa-heading">可能相关</div>' in markup
    english = render_answer(Answer("weather?", True, "x", [_result()]), collection, english=True)
    assert "Possibly related" in english


def test_notice_comes_before_the_answer(collection):
    markup = render_answer(Answer("q", False, "没有", []), collection, notice="筛选条件<排除>了全部条款")
    assert markup.index("qa-notice") < markup.index("qa-answer-text")
    assert "筛选条件&lt;排除&gt;了全部条款" in markup
    assert "qa-card" not in markup


def test_diff_marks_added_removed_and_reworded_on_the_right_side():
    spans = [
        DiffSpan("equal", "推进加装电梯,", "推进加装电梯,"),
        DiffSpan("removed", "三年实现全覆盖。", ""),
        DiffSpan("added", "", "新增<466>台。"),
        DiffSpan("reworded", "每年30个", "每年20个"),
    ]
    markup = render_diff(spans)
    draft, final = re.findall(r'<td data-label="[^"]*" lang="zh-CN">(.*?)</td>', markup)
    assert '<del class="qa-del">三年实现全覆盖。</del>' in draft and "<ins" not in draft
    assert '<ins class="qa-ins">新增&lt;466&gt;台。</ins>' in final and "qa-del" not in final
    assert '<del class="qa-del qa-reworded">每年30个</del>' in draft
    assert '<ins class="qa-ins qa-reworded">每年20个</ins>' in final
    assert _text(draft) == "推进加装电梯,三年实现全覆盖。每年30个"


def test_diff_of_a_new_task_says_the_draft_had_none():
    markup = render_diff([DiffSpan("added", "", "29.深化电动自行车安全监管。")])
    assert "草案中没有此项" in markup and '<ins class="qa-ins">29.深化电动自行车安全监管。</ins>' in markup


def test_real_pair_and_changes_list(collection):
    draft, final = collection.get("plan-draft"), collection.get("plan-final")
    pair = next(p for p in align_tasks(draft, final, ALIASES) if p.final == 11)
    change = next(c for c in compare_plans(collection, ALIASES).changes if c.pair.final == 11)
    markup = render_pair(pair, change.summary, change.reasons, diff_task(*pair_texts(pair, draft, final)))
    assert "草案 第11项 → 正式版 第11项" in markup
    assert '<del class="qa-del qa-reworded">每年完成不少于30个小区物业服务费调整' in markup
    assert '<ins class="qa-ins qa-reworded">每年完成不少于20个小区物业服务费调整' in markup

    listing = render_changes(compare_plans(collection, ALIASES).changes)
    assert "与草案相比共24项有变化" in listing
    assert listing.count("<tr data-status=") == 24
    assert (
        '<tr data-status="merged"><td class="qa-status">合并</td><td data-label="草案">第30项、第31项</td>'
        '<td data-label="正式版">第31项</td>' in listing
    )
    # the participation report's own words as the reason for the new task 29
    assert '理由(公众参与情况报告):<span lang="zh-CN">增设“深化电动自行车安全监管”任务' in listing


def test_renumbered_pair_without_text_changes_says_so():
    pair = TaskPair(33, 34, "renumbered", 0.99, False, (), "强化城市管理执法支撑", "强化城市管理执法支撑")
    markup = render_pair(pair, "草案第33项,正式版为第34项。内容未变。", (), [DiffSpan("equal", "a", "a")])
    assert "调整序号(内容未变)" in markup
    changes = render_changes([TaskChange(pair, "内容未变。", ())])
    assert "调整序号1项" in changes and "qa-reason" not in changes


def test_clause_for_the_browser(collection):
    doc = collection.get("plan-final")
    clause = next(c for c in parse_clauses(doc) if c.clause == 10)
    markup = render_clause(doc, clause, numbered_targets(doc.text[clause.start : clause.end]), "改了标题")
    assert ">正式版<" in markup and "第10项 升级“美丽家园”建设" in markup
    assert "<li>三年内新增加装电梯466台</li>" in markup
    assert '版本说明:<span lang="zh-CN">改了标题</span>' in markup
    assert '<a class="qa-back" href="#qa-task-10">返回任务列表</a>' in markup


def test_clause_and_task_table_in_english_name_things_through_the_glossary(collection):
    lexicon = load_lexicon(Path(__file__).resolve().parent.parent / "corpus" / "lexicon")
    doc = collection.current_plan
    clause = next(c for c in parse_clauses(doc) if c.clause == 10)
    note = 'Title changed from "深化精品小区建设" to "升级“美丽家园”建设".'
    markup = render_clause(doc, clause, (), note, True, lexicon.english)
    text = html.unescape(_text(markup))
    assert f"{lexicon.english(doc.title)}Final plan" in text
    assert f"Lead units: {lexicon.english('区房管局')} (区房管局)" in text
    assert "Version note: Title changed from" in text and "unofficial translations" in text
    rows = [TaskRow(c, ()) for c in parse_clauses(doc) if c.kind == "task"]
    table = html.unescape(_text(render_task_table(rows, True, "", lexicon.english)))
    for c in rows:
        assert f"{lexicon.english(c.clause.title)} ({c.clause.title})" in table
    # without the glossary the table is as it was: the plan's own words
    assert lexicon.english(rows[0].clause.title) not in render_task_table(rows, True)


def test_numbered_targets_are_phrases_with_digits():
    assert numbered_targets(TASK_10) == ["三年内新增加装电梯466台"]
    # a short date phrase keeps the phrase it dates
    text = (
        "16.推进整治。计划用三年时间,至2026年底,全面完成雨污混接普查和整治,形成清单。(牵头单位:区建设管理委)"
    )
    assert numbered_targets(text) == ["至2026年底,全面完成雨污混接普查和整治"]
    assert numbered_targets("7.加强整治。消除管理盲区。(牵头单位:区绿化市容局)") == []


def test_chinese_quoted_in_english_text_is_marked_chinese(collection):
    text = 'Task 20 "Sorting" (led by X): 加强生活垃圾分类,达标率95%以上。 (quoted in Chinese)'
    markup = render_answer(Answer("q", False, text, []), collection, english=True)
    assert (
        '<p class="qa-lead" lang="en">Task 20 &quot;Sorting&quot; (led by X): '
        '<span lang="zh-CN">加强生活垃圾分类,达标率95%以上。</span> (quoted in Chinese)</p>'
    ) in markup
    assert 'lang="en">Q:Who leads <span lang="zh-CN">第29项</span>?</div>' in render_question(
        "Who leads 第29项?"
    )
