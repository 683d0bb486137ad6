"""corpus/tuned.json through qa/tuned.py: its sections, the optional follow-up one, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.tuned import TUNED_FILE, FollowUps, Tuned, Weights, load_tuned, save_tuned
from tests.conftest import CORPUS


def test_the_repositorys_file_has_every_section() -> None:
    tuned = load_tuned(CORPUS)
    assert isinstance(tuned.followups, FollowUps)
    assert tuned.provenance is not None and tuned.provenance["followups"]["split"] == "dev"


def test_a_file_without_the_followups_section_takes_the_defaults(tmp_path: Path) -> None:
    data = json.loads((CORPUS / TUNED_FILE).read_text(encoding="utf-8"))
    data.pop("followups")
    (tmp_path / TUNED_FILE).write_text(json.dumps(data), encoding="utf-8")
    assert load_tuned(tmp_path).followups == FollowUps()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    tuned = Tuned(Weights(dense=0.5), followups=FollowUps(plan_words=3.0), provenance={"split": "dev"})
    save_tuned(tmp_path, tuned)
    assert load_tuned(tmp_path) == tuned


@pytest.mark.parametrize(
    ("followups", "words"),
    [({"plan_words": "many"}, "必须是数字"), ({"turns": 2}, "未知的参数 turns"), (3, "缺少")],
)
def test_a_bad_followups_section_names_the_fix(tmp_path: Path, followups: object, words: str) -> None:
    data = json.loads((CORPUS / TUNED_FILE).read_text(encoding="utf-8"))
    data["followups"] = followups
    (tmp_path / TUNED_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(QAError, match=words):
        load_tuned(tmp_path)
