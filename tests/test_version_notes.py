"""Version notes from the real comparison of the two plans, in Chinese and in English."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa.compare import PlanVersions, TaskPair, compare_plans, describe_pair
from qa.documents import Collection
from qa.lexicon import Lexicon, load_lexicon
from qa.version_notes import Change, VersionNote, quoted, render_note, unit_names

HERE = Path(__file__).resolve().parent
SNAPSHOT = json.loads((HERE / "version_notes_zh.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(HERE.parent / "corpus" / "lexicon")


@pytest.fixture(scope="module")
def versions(collection: Collection, lexicon: Lexicon) -> PlanVersions:
    return compare_plans(collection, lexicon.unit_aliases, lexicon.english)


def _described(versions: PlanVersions, lexicon: Lexicon, pair: TaskPair) -> VersionNote:
    note = describe_pair(pair, versions.draft, versions.final, lexicon.unit_aliases)
    assert note is not None
    return note


def _pair(versions: PlanVersions, final: int) -> TaskPair:
    pair = versions.pair_of(versions.final.doc_id, final)
    assert pair is not None
    return pair


def test_chinese_notes_are_byte_identical_to_before(versions: PlanVersions) -> None:
    notes = {f"{doc}#{n}": text for (doc, n), text in versions.notes.items()}
    assert notes == SNAPSHOT["notes"]
    assert [c.summary for c in versions.changes] == SNAPSHOT["changes"]


def test_task_10_title_change_is_an_english_sentence_quoting_both_titles(
    versions: PlanVersions, lexicon: Lexicon
) -> None:
    pair = _pair(versions, 10)
    assert pair.draft_title != pair.final_title  # the real plans retitled it
    note = versions.notes_en[(versions.final.doc_id, 10)]
    assert f'Title changed from "{pair.draft_title}" to "{pair.final_title}".' in note
    assert not re.search(r"标题由|改为|已删除|草案|正式版", note.replace(pair.draft_title, ""))


@pytest.mark.parametrize("english", [False, True])
def test_every_change_is_listed_in_either_language(
    versions: PlanVersions, lexicon: Lexicon, english: bool
) -> None:
    """Each recorded change's words are in the note, in the order recorded; nothing summarised."""
    for pair in versions.pairs:
        if pair.status == "same":
            continue
        described = _described(versions, lexicon, pair)
        note = render_note(described, english, lexicon.english)
        assert not re.search(r"等\d+处|and \d+ more", note), note
        at = 0
        for change in described.changes:
            if change.kind in ("units_added", "units_dropped"):
                words = unit_names(change.units, lexicon.english) if english else "、".join(change.units)
            elif change.kind == "retitled":
                words = f'"{change.draft}"'
            else:
                words = quoted(change.draft or change.final)
            found = note.find(words, at)
            assert found >= 0, (pair, words, note)
            at = found
        # as many sentences (English) or clauses (Chinese) as changes, after the head
        if english and described.changes:
            body = note.split(". ", 1)[1] if described.merged or described.renumbered else note
            assert len(re.findall(r"(?<![.…])\.(?= [A-Z]|$)", body)) >= len(described.changes)


def test_lead_units_are_named_in_english_with_the_chinese_in_brackets(
    versions: PlanVersions, lexicon: Lexicon
) -> None:
    changed = [
        (pair, change)
        for pair in versions.pairs
        if pair.final is not None and pair.status != "same"
        for change in _described(versions, lexicon, pair).changes
        if change.kind in ("units_added", "units_dropped")
    ]
    assert changed  # the real plans add and drop lead units
    for pair, change in changed:
        note = versions.notes_en[(versions.final.doc_id, pair.final)]  # type: ignore[index]
        label = "Lead units added: " if change.kind == "units_added" else "Lead units no longer include: "
        names = ", ".join(f"{lexicon.english(u)} ({u})" for u in change.units)
        assert label + names in note


def test_renumbered_merged_new_and_dropped_tasks_in_english(versions: PlanVersions, lexicon: Lexicon) -> None:
    by_status: dict[str, TaskPair] = {}
    for pair in versions.pairs:
        by_status.setdefault(pair.status, pair)
    final_id, draft_id = versions.final.doc_id, versions.draft.doc_id
    renumbered = by_status["renumbered"]
    assert versions.notes_en[(final_id, renumbered.final)].startswith(  # type: ignore[index]
        f"Draft task {renumbered.draft} is task {renumbered.final} in the final plan."
    )
    merged = by_status["merged"]
    assert versions.notes_en[(final_id, merged.final)].startswith(  # type: ignore[index]
        f"Task {merged.final} of the final plan merges draft tasks {' and '.join(map(str, merged.drafts))}"
    )
    added = by_status["added"]
    assert versions.notes_en[(final_id, added.final)].startswith(  # type: ignore[index]
        "New in the final plan; the draft had no such task."
    )
    # a superseded task's note first names the task that replaced it
    d = renumbered.drafts[0]
    assert versions.notes_en[(draft_id, d)].startswith(
        f"This is draft task {d}, replaced by task {renumbered.final} of the final plan. "
    )
    if "removed" in by_status:
        removed = by_status["removed"]
        assert versions.notes_en[(draft_id, removed.draft)].startswith(  # type: ignore[index]
            f"This is draft task {removed.draft}; the final plan no longer has this task. "
        )
    assert set(versions.notes_en) == set(versions.notes)


def test_render_note_from_records() -> None:
    """The fixed phrases around the plans' words, on records made by hand."""
    note = VersionNote(
        "changed",
        ((34, "推动城市治理共同体构建"),),
        35,
        renumbered=True,
        changes=(
            Change("retitled", "推动城市治理共同体构建", "推动社区治理共同体构建"),
            Change("deleted", "着重提升业委会规范化运作率。", sentence=True),
            Change("units_added", units=("区房管局", "某局")),
        ),
    )
    names = {"区房管局": "District Housing Administration"}.get
    assert render_note(note, True, names) == (
        "Draft task 34 is task 35 in the final plan. "
        'Title changed from "推动城市治理共同体构建" to "推动社区治理共同体构建". '
        'The final plan deleted the sentence "着重提升业委会规范化运作率". '
        "Lead units added: District Housing Administration (区房管局), 某局."
    )
    assert render_note(note) == (
        "草案第34项,正式版为第35项。"
        '标题由"推动城市治理共同体构建"改为"推动社区治理共同体构建";'
        '草案中"着重提升业委会规范化运作率"一句在正式版中已删除;牵头单位增加区房管局、某局。'
    )
