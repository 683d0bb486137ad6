"""Which tasks the final plan added, removed, merged … (qa/version_listing.py, through the assistant).

The listing is checked against the plan comparison (``PlanVersions``), not against a list written
here: the results are exactly the tasks with that status, in order, whatever k is, and a follow-up
such as 第二个是干什么的? takes the second of them. Fast: the session's fake assistant, whose
listing does not depend on the embedder.
"""

from __future__ import annotations

import pytest

from qa import english
from qa.compare import TaskPair
from qa.conversation import clause_id
from qa.version_listing import version_listing

QUESTIONS = [
    ("正式版比草案新增了哪几项任务?", "added"),
    ("Which tasks are new in the final plan compared with the draft?", "added"),
    ("正式版把草案的哪几项任务合并了?", "merged"),
    ("和草案相比,正式版有哪些任务改了名字?", "renamed"),
    ("Which tasks have a new number in the final plan?", "renumbered"),
    ("正式版比草案改了哪些任务?", "changed"),
    ("正式版删掉了草案的哪些任务?", "removed"),
]


def _keys(answer) -> list[tuple[str, object]]:  # noqa: ANN001
    return [(r.doc_id, r.clause) for r in answer.results]


@pytest.mark.parametrize(("question", "status"), QUESTIONS)
def test_a_listing_returns_exactly_the_tasks_with_that_status(
    fake_assistant, question: str, status: str
) -> None:  # noqa: ANN001
    versions = fake_assistant.versions
    expected = list(versions.listed_tasks(status))
    assert expected  # every status has rows in the real plans (removed: the merged one)
    answer = fake_assistant.ask(question, k=1)  # a listing is never cut short by k
    assert answer.query.version_status == status
    assert _keys(answer) == expected
    assert answer.listing and not answer.abstained and answer.coverage == "answered"
    assert answer.text.startswith(answer.lead)
    shown, pairs = versions.listing(status)
    titles = [p.final_title or p.draft_title for p in pairs]
    if answer.english:
        titles = [fake_assistant.lexicon.english(t) or t for t in titles]
    # the tasks are the answer: the lead names every one of them, not only the heading over them
    assert all(t in answer.lead for t in titles)
    assert english.UNOFFICIAL not in answer.lead
    assert len(answer.text.split("\n")) >= len(pairs) + 1
    if shown != status:  # nothing removed outright: said, then the merged tasks
        assert answer.text.startswith("正式版没有整项删除草案中的任务。")


def test_the_listing_names_what_the_draft_called_a_renamed_task(fake_assistant) -> None:  # noqa: ANN001
    answer = fake_assistant.ask("和草案相比,正式版有哪些任务改了名字?")
    for pair in fake_assistant.versions.listed("renamed"):
        assert (
            f"第{pair.final}项 {pair.final_title}(原为草案第{pair.drafts[0]}项 {pair.draft_title})"
            in answer.text
        )


def test_the_second_one_after_a_listing_is_the_second_listed_task(fake_assistant) -> None:  # noqa: ANN001
    listed = fake_assistant.versions.listed_tasks("added")
    first = fake_assistant.ask("正式版比草案新增了哪几项任务?")
    second = fake_assistant.ask("第二个是干什么的?", context=first.context)
    assert second.follows is not None
    assert second.to_dict()["follows"]["clauses"] == [clause_id(listed[1])]
    assert _keys(second)[0] == listed[1]
    # 干什么的 is answered as 第30项是干什么的?: the title and the sentence after it, not the title alone.
    title = fake_assistant.versions.listed("added")[1].final_title
    assert second.results[0].highlight.startswith(f"{listed[1][1]}.{title}。")
    assert len(second.results[0].highlight) > len(f"{listed[1][1]}.{title}。")
    who = fake_assistant.ask("谁牵头?", context=second.context)
    task = next(c for c in fake_assistant.tasks("final") if ("plan-final", c.clause) == listed[1])
    assert _keys(who)[0] == listed[1] and "、".join(task.lead_units) in who.lead
    english = fake_assistant.ask("Which tasks are new in the final plan compared with the draft?")
    other = fake_assistant.ask("Who leads the third one?", context=english.context)
    assert other.follows is not None and _keys(other)[0] == listed[2]


def test_a_listing_mid_conversation_starts_afresh(fake_assistant) -> None:  # noqa: ANN001
    carried = fake_assistant.ask("正式版比草案新增了哪几项任务?", context={"clauses": ["plan-final#10"]})
    assert carried.follows is None
    assert carried.to_dict() == fake_assistant.ask("正式版比草案新增了哪几项任务?").to_dict()


def test_a_filter_keeps_the_listed_tasks_within_it(fake_assistant) -> None:  # noqa: ANN001
    versions = fake_assistant.versions
    pair = versions.listed("added")[0]
    answer = fake_assistant.ask("正式版比草案新增了哪几项任务?", section=pair.section)
    kept = [("plan-final", p.final) for p in versions.listed("added") if p.section == pair.section]
    assert 0 < len(kept) < len(versions.listed("added"))  # the added tasks lie in several sections
    assert _keys(answer) == kept
    assert f"其中符合筛选条件的有{len(kept)}项" in answer.text


# --- the text, on rows made here ---------------------------------------------------------------


def _pair(
    draft: int | None, final: int | None, status: str, draft_title: str = "", final_title: str = ""
) -> TaskPair:
    return TaskPair(draft, final, status, 1.0, True, (), draft_title, final_title)  # type: ignore[arg-type]


def test_the_text_of_each_kind_of_listing() -> None:
    titles = {3: "改造老旧电梯", 4: "治理积水小区"}.__getitem__
    added = version_listing("added", "added", [_pair(None, 5, "added", final_title="建设口袋公园")], titles)
    assert added.split("\n") == ["与草案相比,正式版新增1项任务(草案中没有对应任务):", "第5项 建设口袋公园"]
    removed = version_listing(
        "removed", "removed", [_pair(2, None, "removed", draft_title="建设口袋公园")], titles
    )
    assert removed.split("\n")[1] == "草案第2项 建设口袋公园"
    merged = TaskPair(3, 2, "merged", 0.8, True, (3, 4), "改造老旧电梯", "改造电梯和积水小区")
    text = version_listing("removed", "merged", [merged], titles)
    assert text.split("\n") == [
        "正式版没有整项删除草案中的任务。",
        "正式版将草案的2项任务合并为1项:",
        "第2项 改造电梯和积水小区(由草案第3项 改造老旧电梯和草案第4项 治理积水小区合并而成)",
    ]
    english = version_listing("merged", "merged", [merged], titles, lambda t: f"<{t}>")
    assert english.split("\n")[1] == (
        'Task 2 "<改造电梯和积水小区>" (改造电梯和积水小区); merged from draft task 3 "<改造老旧电梯>" (改造老旧电梯)'
        ' and draft task 4 "<治理积水小区>" (治理积水小区)'
    )


def test_none_of_a_status_is_said_in_one_sentence() -> None:
    assert version_listing("added", "added", [], str) == "与草案相比,正式版没有新增的任务。"
    assert version_listing("renamed", "renamed", [], str, lambda t: None) == (
        "Compared with the draft, the final plan gives no task a new title."
    )
