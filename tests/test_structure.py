from __future__ import annotations

import re

import pytest

from qa.structure import parse_clauses, parse_sections

# Every task of the final plan, its title and lead units, as the source writes them.
FINAL_TASKS = {
    1: ("推动“美丽街区”建设创新升级", ["区建设管理委"]),
    2: ("深化架空线入地和杆箱整治", ["区建设管理委"]),
    3: ("提升道路设施品质", ["区建设管理委", "区绿化市容局"]),
    4: ("优化交通出行环境", ["区建设管理委"]),
    5: ("推进无障碍环境建设", ["区建设管理委"]),
    6: ("建设城市管理精细化优秀实践区", ["区建设管理委", "区东虹办", "新泾镇"]),
    7: ("加强薄弱环节、薄弱区域环境综合整治", ["区绿化市容局", "城管执法局", "区建设管理委"]),
    8: ("强化户外广告、店招店牌管理", ["区绿化市容局"]),
    9: ("优化景观照明", ["区绿化市容局"]),
    10: ("升级“美丽家园”建设", ["区房管局"]),
    11: ("加强住宅小区物业管理", ["区房管局"]),
    12: ("完善社区服务功能", ["区规划资源局", "区建设管理委", "区发改委", "各街镇"]),
    13: (
        "推动空间开放和功能融合",
        ["区规划资源局", "区绿化市容局", "区建设管理委", "区房管局", "区文化旅游局"],
    ),
    14: ("持续推进违法建筑治理", ["区城管执法局"]),
    15: ("深化海绵城市建设", ["区建设管理委"]),
    16: ("推进新一轮雨污混接整治工作", ["区建设管理委"]),
    17: ("开展河湖品质提升", ["区建设管理委"]),
    18: ("加快公园城市建设", ["区绿化市容局"]),
    19: ("推进无废城市建设", ["区生态环境局"]),
    20: ("优化生活垃圾全程分类体系", ["区绿化市容局"]),
    21: ("坚持绿色低碳发展理念", ["区发改委", "区建设管理委", "区虹桥办", "区生态环境局", "相关街镇"]),
    22: ("开展燃气安全专项整治", ["区建设管理委"]),
    23: ("推进城市基础设施生命线工程建设", ["区建设管理委"]),
    24: ("加强建设工程安全管理", ["区建设管理委"]),
    25: ("开展房屋安全隐患排查整治", ["区市场监管局", "区房管局", "区消防救援支队"]),
    26: ("强化地下空间安全使用管理", ["区国动办"]),
    27: ("推进完善应急预案体系建设", ["区应急局", "区消防救援支队"]),
    28: ("提升安全生产和自然灾害风险应对综合能力", ["区应急局"]),
    29: ("深化电动自行车安全监管", ["区应急局", "区建设管理委", "区消防救援支队"]),
    30: ("深入推进“一网统管”平台建设", ["区城运中心", "区数据局"]),
    31: (
        "加强应用场景和城市感知设施建设",
        [
            "区建设管理委",
            "区城运中心",
            "区数据局",
            "区绿化市容局",
            "区城管执法局",
            "区房管局",
            "区生态环境局",
        ],
    ),
    32: ("加强数据治理", ["区数据局"]),
    33: ("做深做细城市体检", ["区建设管理委", "区城运中心", "区数据局"]),
    34: ("强化城市管理执法支撑", ["区城管执法局"]),
    35: ("推动社区治理共同体构建", ["区房管局", "区规划资源局"]),
    36: ("强化资金保障", ["区发改委", "区财政局", "区建设管理委"]),
}

FINAL_SECTIONS = [
    "一、塑造整洁有序的市容风貌,营造便捷温馨的人居环境",
    "二、推进绿色低碳发展,加快生态城区建设",
    "三、构筑安全管理体系,提高风险应对能力",
    "四、夯实数字治理基础,强化场景实战应用",
    "五、完善城市治理体系,加强工作系统支撑",
]
# First task of each final section: the sections are 1-14, 15-21, 22-29, 30-32, 33-36.
SECTION_STARTS = [1, 15, 22, 30, 33]


def test_task_counts(collection):
    assert len(parse_clauses(collection.get("plan-draft"))) == 34
    assert len(parse_clauses(collection.get("plan-final"))) == 36


def test_final_titles_and_lead_units(collection, source_text):
    tasks = {c.clause: c for c in parse_clauses(collection.get("plan-final"))}
    assert sorted(tasks) == list(range(1, 37))
    for n, (title, units) in FINAL_TASKS.items():
        assert tasks[n].title == title, n
        assert list(tasks[n].lead_units) == units, n
        # ... and the source itself says so, in the final plan's part of it.
        final_part = source_text[source_text.index("长宁区城市管理精细化三年行动计划(2024-2026年)\n") :]
        assert f"\n{n}.{title}。" in final_part
        assert f"(牵头单位:{'、'.join(units)})" in final_part


def test_examples_from_the_brief(collection):
    tasks = {c.clause: c for c in parse_clauses(collection.get("plan-final"))}
    assert tasks[29].lead_units == ("区应急局", "区建设管理委", "区消防救援支队")
    assert tasks[36].lead_units == ("区发改委", "区财政局", "区建设管理委")


def test_clause_offsets_are_exact(collection):
    for doc in collection.documents:
        for c in parse_clauses(doc):
            text = doc.text[c.start : c.end]
            assert text == text.strip()
            if c.kind == "task":
                assert text.startswith(f"{c.clause}.{c.title}。")
                assert re.search(r"\(牵头单位:[^)]*\)$", text), (doc.doc_id, c.clause)
            else:
                assert c.title.rstrip("?") in text


def test_glued_headings_start_the_next_section(collection):
    doc = collection.get("plan-final")
    tasks = {c.clause: c for c in parse_clauses(doc)}
    for glued_after, heading in ((14, FINAL_SECTIONS[1]), (21, FINAL_SECTIONS[2])):
        task = tasks[glued_after]
        assert heading not in doc.text[task.start : task.end]
        assert doc.text[task.end : task.end + len(heading)] == heading
        assert tasks[glued_after + 1].section == heading
    assert [s.heading for s in parse_sections(doc)] == FINAL_SECTIONS
    bounds = SECTION_STARTS + [37]
    for i, heading in enumerate(FINAL_SECTIONS):
        for n in range(bounds[i], bounds[i + 1]):
            assert tasks[n].section == heading, n


def test_draft_sections_and_units(collection):
    tasks = {c.clause: c for c in parse_clauses(collection.get("plan-draft"))}
    assert tasks[11].title == "加强住宅小区物业管理"
    assert (
        "每年完成不少于30个小区物业服务费调整"
        in collection.get("plan-draft").text[tasks[11].start : tasks[11].end]
    )
    assert tasks[25].lead_units == ("区市场监管局", "区房管局", "区应急局", "区消防救援支队")
    assert tasks[1].section == "(一)塑造整洁有序的市容风貌,营造便捷温馨的人居环境"
    assert tasks[34].section == "(五)完善城市治理体系,加强工作系统支撑"


@pytest.mark.parametrize(
    ("doc_id", "ids"),
    [
        ("draft-faq", ["1", "2", "3", "4"]),
        ("drafting-notes", ["一", "二"]),
        ("consultation-notice", ["一", "二"]),
        ("participation-report", ["一", "二", "三", "四", "五"]),
        ("interpretation", ["一", "二", "三", "四", "五", "六"]),
        ("legality-review", []),
        ("meeting-minutes", []),
        ("issuance-notice", []),
    ],
)
def test_parts_and_question_answer_pairs(collection, doc_id, ids):
    assert [c.clause for c in parse_clauses(collection.get(doc_id))] == ids


def test_question_answer_pairs_hold_question_and_answer(collection):
    doc = collection.get("draft-faq")
    pairs = parse_clauses(doc)
    assert all(c.kind == "qa" for c in pairs)
    assert pairs[3].title.startswith("《长宁区城市管理精细化提升行动计划") and pairs[3].title.endswith(
        "有哪些主要内容"
    )
    body = doc.text[pairs[3].start : pairs[3].end]
    assert "答:行动计划主要由五部分组成" in body and "共3项重点任务组成。" in body
    assert "2024年6月12日" not in body  # the signature closes the document, not the last answer
    report = {c.clause: c for c in parse_clauses(collection.get("participation-report"))}
    assert report["一"].title == "向社会公开征求意见"
    text = collection.get("participation-report").text
    assert "增设“深化电动自行车安全监管”任务" in text[report["一"].start : report["一"].end]
    assert "19份问卷" in text[report["四"].start : report["四"].end]
