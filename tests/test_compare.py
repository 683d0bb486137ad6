from __future__ import annotations

from pathlib import Path

import pytest

from qa.compare import (
    REASON_ROLES,
    PlanVersions,
    TaskPair,
    align_tasks,
    change_reason,
    compare_plans,
    diff_task,
    pair_texts,
    reason_paragraphs,
    version_note,
)
from qa.documents import Collection, Document
from qa.lexicon import load_lexicon

ALIASES = load_lexicon(Path(__file__).resolve().parent.parent / "corpus" / "lexicon").unit_aliases

# Every final task and where it came from, checked by reading the two plans side by side:
# (draft tasks, status, text changed). Draft 30 and 31 became final 31; final 29, 30 and 36 are new.
ALIGNMENT = {
    **{n: ((n,), "same", False) for n in (1, 3, 4, 8, 13, 15, 16, 18, 20, 22, 23, 24)},
    **{n: ((n,), "changed", True) for n in (2, 5, 6, 7, 9, 10, 11, 12, 14, 17, 19, 21, 25, 26, 27, 28)},
    29: ((), "added", True),
    30: ((), "added", True),
    31: ((30, 31), "merged", True),
    32: ((29,), "renumbered", True),
    33: ((32,), "renumbered", True),
    34: ((33,), "renumbered", False),
    35: ((34,), "renumbered", True),
    36: ((), "added", True),
}


@pytest.fixture(scope="module")
def plans(collection: Collection) -> tuple[Document, Document]:
    return collection.get("plan-draft"), collection.get("plan-final")


@pytest.fixture(scope="module")
def pairs(plans: tuple[Document, Document]) -> dict[int | None, TaskPair]:
    return {p.final: p for p in align_tasks(*plans, ALIASES)}


def test_alignment_matches_the_documents(pairs: dict[int | None, TaskPair]) -> None:
    got = {
        f: (p.draft_merged or ((p.draft,) if p.draft else ()), p.status, p.text_changed)
        for f, p in pairs.items()
    }
    assert got == ALIGNMENT


def test_alignment_is_in_final_order_and_covers_every_draft_task(plans: tuple[Document, Document]) -> None:
    aligned = align_tasks(*plans, ALIASES)
    assert [p.final for p in aligned] == list(range(1, 37))
    drafts = sorted(n for p in aligned for n in (p.draft_merged or ((p.draft,) if p.draft else ())))
    assert drafts == list(range(1, 35))


def test_merged_and_renumbered_pairs_carry_titles(pairs: dict[int | None, TaskPair]) -> None:
    assert pairs[31].draft == 30 and pairs[31].final_title == "加强应用场景和城市感知设施建设"
    assert (pairs[32].draft_title, pairs[32].final_title) == ("加强数据治理", "加强数据治理")
    assert pairs[28].draft_title == "提升全社会安全防范和风险应对综合能力"
    assert pairs[30].final_title == "深入推进“一网统管”平台建设"
    assert pairs[30].section == "夯实数字治理基础,强化场景实战应用"


def test_diff_spans_rebuild_both_texts_for_every_pair(plans: tuple[Document, Document]) -> None:
    for pair in align_tasks(*plans, ALIASES):
        draft_text, final_text = pair_texts(pair, *plans)
        spans = diff_task(draft_text, final_text)
        assert "".join(s.draft for s in spans) == draft_text, pair
        assert "".join(s.final for s in spans) == final_text, pair
        assert all(s.op in {"equal", "added", "removed", "reworded"} for s in spans)


def test_diff_rewords_a_phrase_and_drops_a_whole_sentence(
    plans: tuple[Document, Document], pairs: dict[int | None, TaskPair]
) -> None:
    changed = [s for s in diff_task(*pair_texts(pairs[11], *plans)) if s.op != "equal"]
    assert (
        "reworded",
        "每年完成不少于30个小区物业服务费调整。",
        "每年完成不少于20个小区物业服务费调整。",
    ) in [(s.op, s.draft, s.final) for s in changed]
    removed = [s for s in diff_task(*pair_texts(pairs[19], *plans)) if s.op == "removed"]
    assert [s.draft for s in removed] == [
        "完善建筑垃圾资源化利用体系,全区建筑垃圾资源化综合利用率达到93%,推进废弃混凝土全量利用。"
    ]


def test_diff_of_small_texts() -> None:
    assert [s.op for s in diff_task("甲。乙。", "甲。乙。")] == ["equal"]
    assert [(s.op, s.draft, s.final) for s in diff_task("甲,乙。", "甲,乙。丙。")] == [
        ("equal", "甲,乙。", "甲,乙。"),
        ("added", "", "丙。"),
    ]
    assert diff_task("", "") == []


def test_version_notes_quote_the_plans(
    plans: tuple[Document, Document], pairs: dict[int | None, TaskPair]
) -> None:
    def note(final: int) -> str:
        text = version_note(pairs[final], *plans, ALIASES)
        assert text is not None
        return text

    assert "不少于30个小区" in note(11) and "不少于20个小区" in note(11)
    assert "93%" in note(19) and "已删除" in note(19)
    assert "牵头单位不再包括区应急局" in note(25)
    assert "牵头单位增加新泾镇" in note(6)
    assert note(32).startswith("草案第29项,正式版为第32项。")
    assert note(34) == "草案第33项,正式版为第34项。内容未变。"
    assert note(31).startswith(
        '正式版第31项由草案第30项"加强应用场景建设"和第31项"建设完善城市感知设施"合并而成。'
    )
    assert '标题由"提升全社会安全防范和风险应对综合能力"改为"提升安全生产和自然灾害风险应对综合能力"' in note(
        28
    )
    assert note(29).startswith("正式版新增此项,草案中没有")
    assert "等" not in note(10).replace("等级", "") and note(10).count(";") >= 3  # every change, none cut
    # Task 6 moved "打造长宁城市管理精细化特色示范样板" to the end of its sentence: not a deletion.
    assert "示范样板" not in note(6)


def test_version_note_is_none_for_an_identical_task(
    plans: tuple[Document, Document], pairs: dict[int | None, TaskPair]
) -> None:
    assert version_note(pairs[1], *plans, ALIASES) is None
    # Task 13 differs only by the rename 区文旅局 -> 区文化旅游局.
    assert version_note(pairs[13], *plans, ALIASES) is None


def test_change_reasons_quote_the_participation_report(
    collection: Collection, pairs: dict[int | None, TaskPair]
) -> None:
    report = collection.get("participation-report")
    ebike = "增设“深化电动自行车安全监管”任务,推进电动自行车停放场所和充电设施建设,加强电动自行车安全停放"
    assert change_reason(pairs[29], report) == ebike
    assert change_reason(pairs[35], report) == "细化完善“推动社区治理共同体构建”分年度实施计划"
    assert change_reason(pairs[6], report) == "建设城市管理精细化优秀实践区方面,补充实施内容"
    for final in (30, 31, 32):
        assert change_reason(pairs[final], report) == (
            "优化“夯实数字治理基础,强化场景实战应用”,完善“一网统管”平台建设、应用场景和城市感知设施建设、数据治理相关任务"
        )
    assert change_reason(pairs[11], report) is None
    assert change_reason(pairs[1], report) is None
    for pair in pairs.values():
        reason = change_reason(pair, report)
        assert reason is None or reason in report.text


def test_plan_changes_list_every_difference_in_final_order(collection: Collection) -> None:
    report = collection.get("participation-report").text
    changes = list(compare_plans(collection, ALIASES).changes)
    assert [c.pair.final for c in changes] == [
        f for f, (_, status, _) in ALIGNMENT.items() if status != "same"
    ]
    assert all(c.summary for c in changes)
    assert all(r in report for c in changes for r in c.reasons)
    by_final = {c.pair.final: c for c in changes}
    assert by_final[29].reason is not None and "电动自行车" in by_final[29].reason
    assert "整合各行业管理部门的资源" in by_final[31].reasons[1]
    assert by_final[36].reason is None


def _plan(doc_id: str, tasks: list[str]) -> Document:
    body = "\n\n".join(f"{n}.{t}(牵头单位:区房管局)" for n, t in enumerate(tasks, 1))
    draft = "draft" in doc_id
    return Document(
        doc_id=doc_id,
        role="superseded-plan" if draft else "current-plan",
        title=doc_id,
        issuer="",
        issuer_short="",
        date=None,
        version="draft" if draft else "final",
        authority="current",
        layout="tasks",
        describes=None,
        text=body,
    )


def test_a_removed_task_keeps_its_draft_position_and_a_merge_lists_both() -> None:
    draft = _plan(
        "plan-draft",
        [
            "整治架空线。实现全区市政道路架空线入地率达到90%以上。",
            "建设口袋公园。三年内新建口袋公园20个,方便居民休憩。",
            "改造老旧电梯。三年内新增加装电梯466台,方便老人出行。",
            "治理积水小区。疏通易积水小区排水管道和窨井。",
        ],
    )
    final = _plan(
        "plan-final",
        [
            "整治架空线。实现全区市政道路架空线入地率达到90%以上。",
            "改造电梯和积水小区。三年内新增加装电梯466台,方便老人出行。疏通易积水小区排水管道和窨井。",
        ],
    )
    got = [(p.draft, p.final, p.status, p.draft_merged) for p in align_tasks(draft, final, ALIASES)]
    assert got == [(1, 1, "same", ()), (2, None, "removed", ()), (3, 2, "merged", (3, 4))]
    removed = align_tasks(draft, final, ALIASES)[1]
    assert version_note(removed, draft, final, ALIASES) == '草案第2项"建设口袋公园"在正式版中已删除。'


def test_listings_name_every_row_of_a_status(collection: Collection) -> None:
    versions = compare_plans(collection, ALIASES)

    def rows(status: str) -> tuple[tuple[str, int], ...]:
        return tuple(("plan-final", f) for f, (_, s, _) in ALIGNMENT.items() if s == status)

    assert (
        versions.listed_tasks("added")
        == rows("added")
        == (("plan-final", 29), ("plan-final", 30), ("plan-final", 36))
    )
    assert versions.listed_tasks("merged") == rows("merged") == (("plan-final", 31),)
    assert versions.listed_tasks("renumbered") == rows("renumbered")
    # Changed: every task with a draft counterpart whose words or lead units differ.
    assert versions.listed_tasks("changed") == tuple(
        ("plan-final", f) for f, (drafts, _, changed) in ALIGNMENT.items() if drafts and changed
    )
    # Retitled, read from the two plans: 深化精品小区建设, 提升全社会安全防范…, 推动城市治理共同体构建.
    assert versions.listed_tasks("renamed") == (("plan-final", 10), ("plan-final", 28), ("plan-final", 35))
    # No task was dropped outright: asked what was removed, the merged row answers.
    assert versions.listed("removed") == ()
    assert versions.listing("removed") == ("merged", versions.listed("merged"))
    assert versions.listed_tasks("removed") == (("plan-final", 31),)


def test_a_removed_task_is_listed_by_its_draft_number() -> None:
    draft = _plan(
        "plan-draft", ["整治架空线。实现架空线入地率达到90%以上。", "建设口袋公园。三年内新建口袋公园20个。"]
    )
    final = _plan("plan-final", ["整治架空线。实现架空线入地率达到90%以上。"])
    versions = PlanVersions(draft, final, tuple(align_tasks(draft, final, ALIASES)))
    assert versions.listing("removed")[0] == "removed"
    assert versions.listed_tasks("removed") == (("plan-draft", 2),)
    assert versions.listed_tasks("added") == versions.listed_tasks("merged") == ()


def test_reason_paragraphs_name_the_task_or_hold_the_reports_item(collection: Collection) -> None:
    versions = compare_plans(collection, ALIASES)
    reasons = reason_paragraphs(versions, collection)
    report = collection.by_role("participation-report").doc_id
    # 增设“深化电动自行车安全监管”任务 is in the report's first part (public consultation).
    assert reasons[("plan-final", 29)][0] == (report, "一")
    # 细化完善“推动社区治理共同体构建”…: the third part (the forum); draft 34 is the same task.
    assert reasons[("plan-final", 35)] == reasons[("plan-draft", 34)] == ((report, "三"),)
    assert ("plan-final", 16) not in reasons  # the same in both plans: nothing to explain
    roles = {d.doc_id: d.role for d in collection.documents}
    for found in reasons.values():
        assert found and all(roles[doc] in REASON_ROLES for doc, _ in found)
    changed = {("plan-final", c.pair.final) for c in versions.changes if c.pair.final is not None}
    assert {k for k in reasons if k[0] == "plan-final"} <= changed
