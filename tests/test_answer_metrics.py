"""The answer metrics' rule for when a lead holds an evidence string (qa/evaluation/answers.py)."""

from __future__ import annotations

from qa.evaluation.answers import _holds

ENGLISH = {
    "深化电动自行车安全监管": "Tighten safety supervision of electric bicycles",
    "区应急局": "District Emergency Management Bureau",
}


def test_a_task_title_is_held_by_the_task_as_a_lead_names_it() -> None:
    evidence = "29.深化电动自行车安全监管"
    assert _holds("第29项 深化电动自行车安全监管(区应急局牵头):……", evidence, ENGLISH.get)
    assert _holds(
        'Task 29 "Tighten safety supervision of electric bicycles" (led by …): ……', evidence, ENGLISH.get
    )
    # another task's number, or the number without the title, does not hold it
    assert not _holds("第2项 深化电动自行车安全监管:……", evidence, ENGLISH.get)
    assert not _holds("第29项 推动社区治理共同体构建:……", evidence, ENGLISH.get)
    assert not _holds('Task 2 "Tighten safety supervision of electric bicycles": ……', evidence, ENGLISH.get)


def test_a_lead_note_is_held_by_its_units_and_a_sentence_only_whole() -> None:
    assert _holds("第29项 深化电动自行车安全监管(区应急局牵头)", "(牵头单位:区应急局)", ENGLISH.get)
    assert _holds("Task 29 (led by District Emergency Management Bureau)", "(牵头单位:区应急局)", ENGLISH.get)
    assert not _holds("第29项 深化电动自行车安全监管(区消防救援支队牵头)", "(牵头单位:区应急局)", ENGLISH.get)
    assert not _holds(
        "完成拔点攻坚整治", "集中开展电动自行车安全治理攻坚行动,完成拔点攻坚整治。", ENGLISH.get
    )
