"""The English glossary and the question-kind cues in ``corpus/lexicon/``: their shape, and that they fit
the documents they were taken from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from qa.documents import Collection, Version, load_collection
from qa.lexicon import load_lexicon
from qa.query import names_entry, parse_query
from qa.structure import parse_clauses, parse_sections

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
LEXICON = CORPUS / "lexicon"
LEXICON_DATA = load_lexicon(LEXICON)

GLOSSARY_KINDS = ("task-title", "unit", "document", "section", "measure", "object", "process", "time")
# Most specific first: a question takes the first kind with a cue in it.
ASK_KINDS = (
    "amount",
    "date",
    "count",
    "contact",
    "source",
    "who",
    "place",
    "why",
    "how",
    "list",
    "yesno",
    "what",
)
PLANS = ("final", "draft")

# The short name each document goes by, as its own text (or, for the legality review, its title) writes it;
# keyed by role, as corpus/manifest.json gives it.
DOCUMENT_NAMES = {
    "current-plan": "长宁区城市管理精细化三年行动计划(2024-2026年)",
    "superseded-plan": "草案",
    "drafting-notes": "起草说明",
    "consultation-notice": "征求意见",
    "draft-faq": "起草制定过程",
    "legality-review": "合法性审查",
    "meeting-minutes": "常务会议",
    "participation-report": "公众参与情况报告",
    "issuance-notice": "通知",
    "interpretation": "文字解读",
}

# Questions as people ask them, and the kind the first-cue rule of asks.json gives each.
ASKED = [
    ("物业费要交多少钱?", "amount"),
    ("How much is the property fee?", "amount"),
    ("意见征求啥时候截止?", "date"),
    ("When is the deadline for comments?", "date"),
    ("三年内加装电梯多少台?", "count"),
    ("How many lifts will be installed?", "count"),
    ("意见寄到哪里?", "contact"),
    ("Where do I send comments?", "contact"),
    ("草案起草时借鉴了哪个文件?", "source"),
    ("Which documents is the plan based on?", "source"),
    ("电瓶车充电谁负责?", "who"),
    ("Which department is in charge of e-bikes?", "who"),
    ("哪些地方要建绿道?", "place"),
    ("Which streets get new greenways?", "place"),
    ("为啥要出台这个计划?", "why"),
    ("Why was the plan revised?", "why"),
    ("老小区加装电梯咋办?", "how"),
    ("How do I apply for a lift?", "how"),
    ("区房管局有哪些任务?", "list"),
    ("Which tasks does the housing administration lead?", "list"),
    ("我们小区会不会加装电梯?", "yesno"),
    ("公园晚上开放吗?", "yesno"),
    ("Will old compounds get lifts?", "yesno"),
    ("海绵城市是什么?", "what"),
    ("What does sponge city mean?", "what"),
    # A weak cue (多少, 哪里) gives way to the noun that names what is asked, but not to the mere
    # shape of a yes/no question.
    ("征求意见的电子邮箱是多少?", "contact"),
    ("寄书面意见,邮编写多少?", "contact"),
    ("景观照明以哪几个地方为亮点?", "place"),
    ("区里有没有说充电桩要建多少?", "count"),
    ("公共停车泊位增加多少?", "count"),
    ("旧衣服回收点在哪里?", "place"),
    ("商场公园能不能多弄几个?", "yesno"),
    ("哪些公园会24小时开放?", "place"),
    ("新增的停车泊位怎么收费?", "amount"),
    # 附近 sets the scene; it does not ask where.
    ("附近充电桩太少了,以后会多建吗?", "yesno"),
    # 好几户 and 前几天 count vaguely or point back; a verb asked as V不V asks yes or no.
    ("小区里好几户乱搭棚子,区里到底管不管?", "yesno"),
    ("我前几天看到河里漂着垃圾,有人清理吗?", "yesno"),
    ("垃圾分类以后还查不查?", "yesno"),
    ("十几个小区一起改造,要几年?", "date"),
    ("常务会议有哪几位领导出席?", "who"),
    ("对乱停车有什么管理办法?", "how"),
    ("第23项的目标数字是多少?", "count"),
    ("数字化城市管理平台是干什么的?", "what"),  # 数字化 is not a figure
    ("燃气检查会提前几天通知?", "date"),  # 提前几天 asks, 前几天 does not
    ("换智能燃气表要自己掏钱吗?", "amount"),
    ("电梯安全评估谁来做?费用谁出?", "amount"),
]


@pytest.fixture(scope="module")
def collection() -> Collection:
    return load_collection(CORPUS)


@pytest.fixture(scope="module")
def glossary() -> dict[str, Any]:
    return json.loads((LEXICON / "glossary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def asks() -> dict[str, Any]:
    return json.loads((LEXICON / "asks.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sentences(collection: Collection) -> list[str]:
    parts = (re.split(r"[。;;!!??\n]", doc.text) for doc in collection.documents)
    return [s.strip() for part in parts for s in part if s.strip()]


def _entries(glossary: dict[str, Any], kind: str) -> set[str]:
    return {e["zh"] for e in glossary["entries"] if e["kind"] == kind}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9][a-z0-9'&+-]*", text.lower())


def _contains(words: list[str], cue: list[str], at_start: bool = False) -> bool:
    spans = range(1) if at_start else range(len(words) - len(cue) + 1)
    return any(words[i : i + len(cue)] == cue for i in spans)


# ---------------------------------------------------------------------------------------------- glossary


def test_glossary_shape(glossary: dict[str, Any]) -> None:
    assert set(glossary) == {"_about", "entries"}
    assert isinstance(glossary["_about"], str) and glossary["_about"].strip()
    assert glossary["entries"]
    for entry in glossary["entries"]:
        assert set(entry) == {"zh", "en", "kind"}, entry
        assert entry["kind"] in GLOSSARY_KINDS, entry
        zh, en = entry["zh"], entry["en"]
        assert isinstance(zh, str) and zh and zh == zh.strip(), entry
        assert isinstance(en, list) and en, entry
        assert all(isinstance(w, str) and w and w == w.strip() for w in en), entry
        assert all(w == w.lower() for w in en[1:]), f"alternatives are lower-case: {entry}"
        assert len(set(en)) == len(en), f"an English word repeats: {entry}"
    assert {e["kind"] for e in glossary["entries"]} == set(GLOSSARY_KINDS)


def test_display_forms_are_cased_consistently(glossary: dict[str, Any]) -> None:
    """Titles and sections read as sentences, units and documents as names (title case)."""
    small = {"a", "an", "the", "and", "or", "of", "for", "in", "on", "to", "by", "with"}
    for entry in glossary["entries"]:
        display = entry["en"][0]
        if entry["kind"] in ("task-title", "section"):
            assert display.lstrip('"')[0].isupper(), entry
        elif entry["kind"] in ("unit", "document"):
            words = [w.lstrip('("') for w in display.split()]
            assert all(w in small or w[0].isupper() or w[0].isdigit() for w in words if w), entry


def test_no_chinese_form_twice_within_a_kind(glossary: dict[str, Any]) -> None:
    seen: set[tuple[str, str]] = set()
    for entry in glossary["entries"]:
        key = (entry["kind"], entry["zh"])
        assert key not in seen, f"{entry['zh']} appears twice as {entry['kind']}"
        seen.add(key)


def test_every_chinese_form_is_in_a_document(glossary: dict[str, Any], collection: Collection) -> None:
    # A document's name may also be its title as the manifest gives it (how answers cite it).
    titles = {doc.title for doc in collection.documents}
    missing = [
        e["zh"]
        for e in glossary["entries"]
        if not any(e["zh"] in doc.text for doc in collection.documents)
        and not (e["kind"] == "document" and e["zh"] in titles)
    ]
    assert missing == [], "copy these from corpus/*.txt character for character"


@pytest.mark.parametrize("version", PLANS)
def test_every_task_title_has_an_entry(
    glossary: dict[str, Any], collection: Collection, version: Version
) -> None:
    titles = _entries(glossary, "task-title")
    clauses = parse_clauses(collection.plan(version))
    assert clauses
    assert [c.clause for c in clauses if c.title not in titles] == []


@pytest.mark.parametrize("version", PLANS)
def test_every_lead_unit_has_an_entry(
    glossary: dict[str, Any], collection: Collection, version: Version
) -> None:
    units = _entries(glossary, "unit")
    written = {u for c in parse_clauses(collection.plan(version)) for u in c.lead_units}
    assert written
    assert sorted(written - units) == []


def test_both_names_of_a_renamed_unit_have_entries(glossary: dict[str, Any]) -> None:
    # The draft and the final plan name the same commissions differently; questions use either.
    assert {"区建管委", "区建设管理委", "区文旅局", "区文化旅游局", "城管执法局"} <= _entries(
        glossary, "unit"
    )


def test_every_section_of_the_final_plan_has_an_entry(
    glossary: dict[str, Any], collection: Collection
) -> None:
    headings = [
        re.sub(r"^[一二三四五六七八九十]+、", "", s.heading) for s in parse_sections(collection.current_plan)
    ]
    assert len(headings) == 5
    assert [h for h in headings if h not in _entries(glossary, "section")] == []


@pytest.mark.parametrize("role", list(DOCUMENT_NAMES))
def test_every_document_has_an_entry(glossary: dict[str, Any], collection: Collection, role: str) -> None:
    name = DOCUMENT_NAMES[role]
    doc = collection.by_role(role)
    assert name in _entries(glossary, "document")
    assert name in doc.text or name in doc.title


# ---------------------------------------------------------------------------------------------- asks


def test_asks_shape(asks: dict[str, Any]) -> None:
    assert set(asks) == {"_about", "weak", "indefinite", "dated", "kinds"}
    assert asks["dated"]["zh"] and asks["dated"]["en"]
    assert set(asks["indefinite"]["zh"]) <= set(asks["weak"]["zh"]), "an indefinite cue is a weak cue"
    every = {field: {c for spec in asks["kinds"].values() for c in spec[field]} for field in ("zh", "en")}
    for field in ("zh", "en"):
        assert set(asks["weak"][field]) <= every[field], "a weak cue is a cue of some kind"
    assert isinstance(asks["_about"], str) and asks["_about"].strip()
    assert tuple(asks["kinds"]) == ASK_KINDS, "kinds run from most specific to least; see _about"
    for kind, spec in asks["kinds"].items():
        assert set(spec) - {"missing", "strict", "states", "patterns", "in_names", "by_period"} == {
            "zh",
            "en",
            "answers",
        }, kind
        if "missing" in spec:  # what an answer says is not stated, in both languages
            assert set(spec["missing"]) == {"zh", "en"} and all(spec["missing"].values()), kind
            # only a strict cue may lead to "not stated", and a narrower pattern decides it
            assert spec["strict"]["zh"] and spec["strict"]["en"] and spec["states"], kind
        if "by_period" in spec:  # a target the plan's period dates, and the cues asking more
            assert set(spec["by_period"]) == {"targets", "unless"}, kind
            assert spec["by_period"]["targets"] and set(spec["by_period"]["unless"]) == {"zh", "en"}, kind
        targets = spec.get("by_period", {}).get("targets", ())
        for pattern in (*spec.get("states", ()), *spec.get("patterns", ()), *targets):
            re.compile(pattern)
        for field in ("zh", "en", "answers"):
            values = spec[field]
            assert isinstance(values, list) and values, (kind, field)
            assert all(isinstance(v, str) and v and v == v.strip() for v in values), (kind, field)
            assert len(set(values)) == len(values), f"{kind}.{field} repeats a value"
        assert all(cue == cue.lower() for cue in spec["en"]), kind


@pytest.mark.parametrize("field", ["zh", "en"])
def test_no_cue_belongs_to_two_kinds(asks: dict[str, Any], field: str) -> None:
    owner: dict[str, str] = {}
    for kind, spec in asks["kinds"].items():
        for cue in spec[field]:
            key = cue.lower()
            assert key not in owner or owner[key] == kind, f"{cue!r} is a cue of {owner[key]} and {kind}"
            owner[key] = kind


def test_no_cue_is_hidden_by_an_earlier_kind(asks: dict[str, Any]) -> None:
    """A cue that contains an earlier kind's cue could never decide its own kind."""
    kinds = list(asks["kinds"].items())
    hidden = []
    for i, (kind, spec) in enumerate(kinds):
        for earlier, before in kinds[:i]:
            hidden += [(cue, earlier) for cue in spec["zh"] for b in before["zh"] if b in cue and b != "吗"]
            hidden += [
                (cue, earlier)
                for cue in spec["en"]
                for b in before["en"]
                if _contains(_words(cue), _words(b), at_start=earlier == "yesno")
            ]
    assert hidden == []


@pytest.mark.parametrize("question, kind", ASKED)
def test_first_kind_with_a_cue_is_what_the_question_asks(question: str, kind: str) -> None:
    """The rule asks.json states, as the parser applies it (patterns, weak cues and all)."""
    assert parse_query(question, 500, LEXICON_DATA).asks == kind


@pytest.mark.parametrize("kind", [k for k in ASK_KINDS if k != "amount"])
def test_answer_patterns_find_real_sentences(asks: dict[str, Any], sentences: list[str], kind: str) -> None:
    for pattern in asks["kinds"][kind]["answers"]:
        regex = re.compile(pattern)
        hits = [s for s in sentences if regex.search(s)]
        assert hits, f"{kind}: {pattern} finds nothing in the documents"
        assert len(hits) < len(sentences) / 2, f"{kind}: {pattern} matches too much to point at an answer"


def test_amount_patterns_take_money_only(asks: dict[str, Any], sentences: list[str]) -> None:
    """The documents name no sum of money, so the amount patterns are checked on sums written the usual
    ways, and must find nothing in the documents, whose only 元 are in 单元, 神经元 and 多元 (and whose
    figures are square metres, units and per cent). If the documents ever name a sum, check it here."""
    patterns = [re.compile(p) for p in asks["kinds"]["amount"]["answers"]]
    for money in ("每台补贴24万元", "罚款200元", "投入1.5亿元", "补贴五十万元", "每月3 元"):
        assert any(p.search(money) for p in patterns), money
    for not_money in ("以生态清洁小流域为单元", "构建神经元感知网络", "多元共治", "约230万平方米", "466台"):
        assert not any(p.search(not_money) for p in patterns), not_money
    assert [s for s in sentences if any(p.search(s) for p in patterns)] == []


def test_every_official_wording_of_an_everyday_word_is_in_a_document(collection: Collection) -> None:
    # An everyday word (喂奶, 墙皮) adds the plan's own wording to the question; wording found in no
    # document would add words that match nothing.
    everyday = json.loads((LEXICON / "everyday.json").read_text(encoding="utf-8"))["terms"]
    missing = [
        (key, official)
        for key, words in everyday.items()
        for official in words
        if not any(official in doc.text for doc in collection.documents)
    ]
    assert missing == [], "copy the plan's wording from corpus/*.txt character for character"


def test_no_off_topic_subject_is_in_a_document(collection: Collection) -> None:
    # A subject the documents name is one they may cover: 入学 hides in 深入学习, 旅游 in 区文化旅游局.
    categories = json.loads((LEXICON / "off_topics.json").read_text(encoding="utf-8"))["categories"]
    words = [w for entries in categories.values() for w in entries]
    assert len(words) == len(set(words)), "an entry belongs to one category"
    # An entry with … (幼儿园…报名) is its parts in order within one sentence.
    sentences = [s.lower() for doc in collection.documents for s in re.split(r"[。;;!!??\n]", doc.text)]
    assert [w for w in words if any(names_entry(s, w) for s in sentences)] == []
