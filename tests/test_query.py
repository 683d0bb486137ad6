"""Question understanding: normalisation, clause / version / lead-unit intent, wording, validation."""

from __future__ import annotations

import pytest

from qa.errors import InvalidQuestion
from qa.lexicon import Lexicon, load_lexicon
from qa.query import Query, asking_clause, is_english, names_service, normalise, parse_query
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(CORPUS / "lexicon")


def parse(text: str, lexicon: Lexicon | None = None) -> Query:
    return parse_query(text, lexicon=lexicon)


# --- normalise -------------------------------------------------------------------------------


def test_traditional_becomes_simplified() -> None:
    assert normalise("電動自行車在樓道充電誰管?") == "电动自行车在楼道充电谁管?"
    assert normalise("物業費以後每年都會調整嗎") == "物业费以后每年都会调整吗"


def test_full_width_becomes_half_width() -> None:
    assert normalise("第２９项") == "第29项"
    assert normalise("Ｔａｓｋ　２９?") == "Task 29?"
    # The corpus writes half-width punctuation: a full-width question mark and parentheses match it.
    assert normalise("谁管？（牵头单位）") == "谁管?(牵头单位)"


def test_zero_width_and_bidi_characters_are_removed_not_spaced() -> None:
    assert normalise("第2\u200b9项") == "第29项"
    assert normalise("\ufeff电动\u200d自行车\u2060") == "电动自行车"
    assert normalise("第29项\u202e") == "第29项"


def test_control_characters_and_runs_of_space_become_one_space() -> None:
    assert normalise("第29\x00项") == "第29 项"
    assert normalise("  加装\t\n\r电梯  ") == "加装 电梯"
    assert normalise("电梯\x07\x1b ") == "电梯"


def test_normalise_is_idempotent() -> None:
    for text in ("電動自行車", "第２９项", "a\u200bb  c", "Who leads task 29?"):
        once = normalise(text)
        assert normalise(once) == once


# --- language --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("Who is responsible for e-bike charging?", True),
        ("Who leads 第29项?", True),  # two Latin words against two Chinese characters
        ("电瓶车在楼道充电谁管?", False),
        ("task 29 是什么内容?", False),
        ("12345", False),
        ("", False),
    ],
)
def test_is_english(text: str, english: bool) -> None:
    assert is_english(text) is english


# --- clause numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "clause"),
    [
        ("第29项", 29),
        ("第 29 项的内容", 29),
        ("第二十九条", 29),
        ("第十项讲什么", 10),
        ("第十五项", 15),
        ("第三十项", 30),
        ("第三十六项", 36),
        ("第一项", 1),
        ("第两项", 2),
        ("第29个任务", 29),
        ("29号任务是什么", 29),
        ("第２９项", 29),  # full-width digits
        ("第2\u200b9项", 29),  # a zero-width space inside the number
        ("task 29", 29),
        ("Task29", 29),
        ("What is item 7 about?", 7),
        ("clause 12", 12),
        ("article 3", 3),
        ("No. 12", 12),
        ("number 5", 5),
        ("task #29", 29),
    ],
)
def test_clause_numbers(question: str, clause: int) -> None:
    assert parse(question).clause == clause


@pytest.mark.parametrize(
    "question",
    [
        "第0项",
        "第100项",
        "task 290",
        "三年内新增加装电梯466台",
        "覆盖率力争达到60%",
        "2024年的计划",
        "电瓶车在楼道充电谁管?",
        "草案是34项任务,正式版变成多少项了?",  # a count of tasks, not task 34
        "36项实施内容",
    ],
)
def test_no_clause_number(question: str) -> None:
    assert parse(question).clause is None


@pytest.mark.parametrize(
    ("question", "clause", "in_draft"),
    [
        ("草案第25项", 25, True),
        ("草案第10项里讲的小区积水问题,正式版还有吗?", 10, True),
        ("原来的第11项", 11, True),
        ("第25项", 25, False),
        ("第11项草案和正式版有什么不同?", 11, False),  # 草案 comes after the number
        ("task 29 in the draft", 29, False),
    ],
)
def test_clause_number_in_the_drafts_numbering(question: str, clause: int, in_draft: bool) -> None:
    q = parse(question)
    assert (q.clause, q.clause_in_draft) == (clause, in_draft)


@pytest.mark.parametrize("question", ["#29", "What does #29 say?"])
def test_hash_clause_reference(question: str) -> None:
    assert parse(question).clause == 29


# --- version intent --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "version"),
    [
        ("物业服务费调整每年多少个小区?", None),
        ("草案里物业服务费调整每年多少个小区?", "draft"),
        ("征求意见稿里物业服务费怎么写的?", "draft"),
        ("原来物业服务费调整每年多少个小区?", "draft"),
        ("原来写的是每年多少个小区?", "draft"),
        # the streets as they are, not the draft
        ("小区旁边那条街说要弄成美丽街区,是只修修原来那些,还是会新建?", None),
        ("最初的计划有几项任务?", "draft"),
        ("What did the draft say about fees?", "draft"),
        ("草案和正式版有什么不同", "compare"),
        ("第11项草案和正式版有什么区别?", "compare"),
        ("建筑垃圾资源化利用率93%的目标还在吗?", "compare"),
        ("提升业委会规范化运作率这个提法,正式版是不是删了?", "compare"),
        ("How did task 11 change from the draft?", "compare"),
        ("草案说每年调整30个小区的物业费,正式版还是这样吗?", "compare"),
        # 不同意 disagrees; it asks nothing about the versions
        ("业主们不同意动用维修资金怎么办?", None),
        # lifts to be added to buildings are not a task the final plan added
        ("How many lifts will be added to old buildings?", None),
        ("How many charging points are to be added?", None),
        ("How many lifts have been added so far?", None),
        ("Are charging points being added near the station?", None),
        ("Was the e-bike task added later?", "compare"),
        ("Was the 93% target dropped from the final plan?", "compare"),
        ("Which tasks were added in the final plan?", "compare"),
        # 怎么改造 asks how a thing is renovated, 还是这样难 complains: neither is about the versions
        ("公厕怎么改造?", None),
        ("电动车充电还是这样难,怎么办?", None),
        # 改签 rebooks a ticket, 改期 moves a date: neither asks how the plan changed
        ("航班延误了,怎么改签退票?", None),
        ("活动怎么改期?", None),
        ("第11项正式版怎么改的?", "compare"),
    ],
)
def test_version_intent(question: str, version: str | None) -> None:
    assert parse(question).version == version


# --- lead units ------------------------------------------------------------------------------


def test_who_is_responsible_wants_lead_units(lexicon: Lexicon) -> None:
    for question in (
        "电瓶车在楼道充电谁管?",
        "第29项的牵头单位",
        "加装电梯归哪个部门?",
        "Who is responsible for e-bike charging safety?",
        "Who leads it now?",  # "leads", not only "lead"
    ):
        assert parse(question, lexicon).wants_units, question
    assert not parse("加装电梯多少台?", lexicon).wants_units


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("区房管局负责哪些任务?", "区房管局"),
        ("房管局负责哪些任务?", "区房管局"),
        ("城管执法局负责哪些任务?", "区城管执法局"),
        ("区城管执法局负责哪些任务?", "区城管执法局"),
        ("区建管委牵头哪些任务?", "区建设管理委"),
        ("区建设管理委员会牵头哪些任务?", "区建设管理委"),
        ("区文旅局牵头哪些任务?", "区文化旅游局"),
    ],
)
def test_named_unit_lists_its_tasks(lexicon: Lexicon, question: str, unit: str) -> None:
    q = parse(question, lexicon)
    assert (q.unit, q.lists_tasks, q.wants_units) == (unit, True, True)


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("Which tasks does the District Housing Administration lead?", "区房管局"),
        ("What is the District Emergency Management Bureau responsible for?", "区应急局"),
        ("What tasks is the landscaping bureau in charge of?", "区绿化市容局"),
        ("List the tasks of the fire brigade", "区消防救援支队"),
        ("Which tasks does 区房管局 lead?", "区房管局"),
    ],
)
def test_unit_named_in_english_lists_its_tasks(lexicon: Lexicon, question: str, unit: str) -> None:
    q = parse(question, lexicon)
    assert (q.unit, q.lists_tasks, q.asks) == (unit, True, "list")


def test_responsible_for_a_subject_is_not_a_listing(lexicon: Lexicon) -> None:
    q = parse("Is the housing bureau responsible for lifts?", lexicon)
    assert q.unit == "区房管局" and not q.lists_tasks


@pytest.mark.parametrize(
    "question",
    [
        "Who leads task 29?",
        "What unit leads task 29?",
        "Which units lead task 29?",
        "Which department is in charge of task 29?",
        "Who is responsible for task 29?",
        "What is task 29 led by?",
    ],
)
def test_who_leads_a_task_asks_who(lexicon: Lexicon, question: str) -> None:
    q = parse(question, lexicon)
    assert (q.asks, q.clause, q.wants_units, q.lists_tasks) == ("who", 29, True, False)


def test_unit_with_a_clause_number_does_not_list_tasks(lexicon: Lexicon) -> None:
    q = parse("区房管局负责的第11项讲什么?", lexicon)
    assert (q.unit, q.clause, q.lists_tasks) == ("区房管局", 11, False)


@pytest.mark.parametrize(
    ("question", "status"),
    [
        ("正式版比草案新增了哪几项任务?", "added"),
        ("哪些任务是新加的?", "added"),
        ("Which tasks are new in the final plan compared with the draft?", "added"),
        ("Are there any new tasks in the final plan?", "added"),
        ("正式版删掉了草案的哪些任务?", "removed"),
        ("Which tasks were dropped from the draft?", "removed"),
        ("草案里哪些任务被合并了?", "merged"),
        ("和草案相比,正式版有哪些任务改了名字?", "renamed"),  # 改了名字 is renamed before 改了 is changed
        ("Which tasks were renamed in the final plan?", "renamed"),
        ("哪些任务的编号变了?", "renumbered"),
        ("正式版比草案改了哪些任务?", "changed"),
        ("哪些任务是草案里没有的?", "added"),  # named by what the other version lacks
        ("草案里哪些任务正式版中没有?", "removed"),
        ("Which draft tasks are not in the final plan?", "removed"),
    ],
)
def test_a_question_asks_the_final_plan_to_list_a_status(
    lexicon: Lexicon, question: str, status: str
) -> None:
    q = parse(question, lexicon)
    assert (q.version_status, q.asks) == (status, "list")


@pytest.mark.parametrize(
    "question",
    [
        "这一轮行动计划新增了哪些任务?",  # against the previous round's plan: the interpretation answers
        "哪些任务新增了充电桩?",  # a subject of its own
        "哪项任务新增了公园?",
        "正式版哪些地方改了?",  # no task word: what changed in one task
        "新增了哪些?",
        "正式版改了什么?",
        "What was changed because of them?",
        "Which task covers new parks?",
        "What changed in the final version?",
        "草案第30项在正式版合并到哪一项了?",  # a clause number of its own
        "区房管局新增了哪些任务?",  # a unit's tasks
    ],
)
def test_no_status_listing(lexicon: Lexicon, question: str) -> None:
    assert parse(question, lexicon).version_status is None


def test_without_lexicon_no_unit_and_no_expansion() -> None:
    q = parse("区房管局负责哪些任务?")
    assert (q.unit, q.lists_tasks, q.expansions) == (None, False, ())


# --- everyday -> official wording ------------------------------------------------------------


def test_everyday_words_gain_the_plans_wording(lexicon: Lexicon) -> None:
    q = parse("电瓶车在楼道充电谁管?", lexicon)
    assert q.expansions[0] == "电动自行车"
    assert "违规入室停放和充电" in q.expansions
    assert q.expanded == " ".join((q.text, *q.expansions))
    assert q.expanded.startswith("电瓶车在楼道充电谁管? 电动自行车")


def test_expansion_after_traditional_to_simplified(lexicon: Lexicon) -> None:
    assert "电动自行车" in parse("電瓶車在樓道充電誰管?", lexicon).expansions


def test_no_expansion_when_the_official_word_is_already_there(lexicon: Lexicon) -> None:
    q = parse("电动自行车在哪里充电?", lexicon)
    assert "电动自行车" not in q.expansions
    assert len(set(q.expansions)) == len(q.expansions)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\u200b\u200b", "\u3000"])
def test_empty_question_is_refused_in_chinese(question: str) -> None:
    with pytest.raises(InvalidQuestion, match="请输入一个问题"):
        parse(question)


def test_overlong_question_is_refused_in_the_askers_language() -> None:
    assert parse("电" * 500).text == "电" * 500
    with pytest.raises(InvalidQuestion, match="问题太长\\(501字\\)"):
        parse("电" * 501)
    with pytest.raises(InvalidQuestion, match="too long \\(504 characters\\).*under 500"):
        parse("Who is responsible? " * 25 + "abcd")


def test_max_chars_is_a_parameter() -> None:
    with pytest.raises(InvalidQuestion, match="10字以内"):
        parse_query("电" * 11, max_chars=10)


@pytest.mark.parametrize("question", ["😀", "😀🎉👍", "???", "?!。,、", "……——", "()【】"])
def test_question_without_words_is_refused(question: str) -> None:
    with pytest.raises(InvalidQuestion, match="没有可识别的文字"):
        parse(question)


@pytest.mark.parametrize("question", [None, 29, b"\xe7\xac\xac29\xe9\xa1\xb9", ["第29项"]])
def test_non_text_question_is_refused(question: object) -> None:
    with pytest.raises(InvalidQuestion, match="必须是文字"):
        parse_query(question)


def test_query_keeps_the_raw_question() -> None:
    q = parse("第２９项？")
    assert (q.raw, q.text, q.clause, q.english) == ("第２９项？", "第29项?", 29, False)


def test_what_a_unit_manages_is_a_listing() -> None:
    lexicon = load_lexicon(CORPUS / "lexicon")
    q = parse_query("区应急局管什么", lexicon=lexicon)
    assert q.unit == "区应急局" and q.lists_tasks
    assert parse_query("What does 区房管局 lead?", lexicon=lexicon).lists_tasks


def test_task_numbers_past_36_are_still_read() -> None:
    assert parse_query("第37项").clause == 37
    assert parse_query("第九十九项").clause == 99


@pytest.mark.parametrize("question", ["公众提的第2条意见是什么?", "There are no 3 things I like"])
def test_counting_words_are_not_task_numbers(question: str) -> None:
    assert parse_query(question).clause is None


def test_which_one_task_is_not_a_listing() -> None:
    q = parse_query("加装电梯是房管局的哪一项任务?", lexicon=load_lexicon(CORPUS / "lexicon"))
    assert q.unit == "区房管局" and not q.lists_tasks


def test_a_long_messages_story_brings_no_plan_wording_of_its_own(lexicon: Lexicon) -> None:
    """The asking sentence gets the plan's words for its everyday words; the story stays context."""
    story = "我家小区门口早上七八点总是堵成一锅粥,公交车、私家车、电动车全挤在一起,上班天天迟到。"
    q = parse(story + "区里有没有治堵的计划?", lexicon)
    assert q.focus is not None and q.raw[q.focus[0] : q.focus[1]] == "区里有没有治堵的计划?"
    assert "电动车" in q.text  # still part of what is searched
    alone = parse("电动车全挤在一起怎么办?", lexicon)
    assert alone.expansions and not set(alone.expansions) & set(q.expansions)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("متى تنتهي الخطة؟", "This assistant reads Chinese and English only"),
        ("Когда закончится план?", "请用中文或英文提问"),
        ("계획은 언제 끝나나요?", "This assistant reads Chinese and English only"),
        ("？！。", "问题中没有可识别的文字"),
    ],
)
def test_a_question_without_chinese_or_latin_words_is_refused_in_words_its_asker_can_read(
    question: str, message: str
) -> None:
    """Another script gets the refusal in both languages the assistant reads; punctuation alone
    gets the Chinese one."""
    with pytest.raises(InvalidQuestion, match=message):
        parse_query(question, 500, None)


def test_a_long_messages_story_names_no_subject_and_asks_nothing(lexicon: Lexicon) -> None:
    """退休 (a pension subject) and 好几年 (a duration) are the story's; the sentence that asks is
    about the riverside path, yes or no."""
    q = parse(
        "我退休好几年了,每天傍晚都去河边散步,可是走一段就断了,要绕到马路上去。沿河的步道以后能不能连起来?",
        lexicon,
    )
    assert not q.off_topic and q.asks == "yesno"
    assert q.asking_text == "沿河的步道以后能不能连起来?"
    pension = parse(
        "我在长宁住了二十多年,最近小区在搞精品小区改造,挺好的。想问一下今年养老金什么时候调整?", lexicon
    )
    assert pension.off_topic and pension.asks == "date"


def test_the_asking_sentence_is_whole_where_the_focus_is_its_last_clause(lexicon: Lexicon) -> None:
    q = parse("When was the legality review signed off, and did it find any problems?", lexicon)
    assert q.focus is not None and q.raw[q.focus[0] : q.focus[1]].startswith("and did it")
    assert q.asking_text.startswith("When was") and q.asks == "date"


def test_spaces_between_chinese_words_part_a_long_messages_sentences(lexicon: Lexicon) -> None:
    """Typed on a phone without punctuation, the story's sentences are parted by spaces; the last
    one asks, and the offsets still point into the message as typed."""
    q = parse(
        "我家在老公房六楼 我妈腿脚不好每天爬楼很吃力 邻居们说别的小区都装了电梯 我们楼也在商量 区里这几年打算装多少台",
        lexicon,
    )
    assert q.focus is not None and q.raw[q.focus[0] : q.focus[1]] == "区里这几年打算装多少台"
    assert q.asking_text == "区里这几年打算装多少台" and q.asks == "count"


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("18条精品道路具体是哪几条路?", "place"),  # which roads, not how many
        ("区里有哪几个公园24小时开放?", "place"),
        ("哪几个部门负责加装电梯?", "who"),  # the noun after 哪几个 names what is asked
        ("哪几家单位牵头河道整治", "who"),
        ("草案分哪几个部分", "what"),  # a part is not a place
        ("精品道路一共有几条?", "count"),
        ("大件垃圾哪几天可以投放?", "date"),  # 哪几天 still asks when
        ("架空线入地哪几年完成?", "date"),
    ],
)
def test_which_ones_is_asked_by_the_noun_after_it(lexicon: Lexicon, question: str, asks: str) -> None:
    assert parse(question, lexicon).asks == asks


def test_a_service_beside_which_something_is_names_a_place(lexicon: Lexicon) -> None:
    """派出所 names the service in 派出所在哪里, the place in 派出所门口的人行道."""
    around = lexicon.off_topic_around
    assert names_service("身份证去哪个派出所换", "派出所", around)
    assert not names_service("派出所门口的人行道坏了", "派出所", around)
    assert not names_service("献血屋旁边的垃圾桶", "献血", around)  # 献血屋: a place of two more characters
    assert names_service("献血屋旁边的垃圾桶,献血要预约吗", "献血", around)  # named once as the service
    assert not names_service("派出所门前那条马路积水", "派出所", around)
    assert not names_service("派出所前面的人行道坑坑洼洼", "派出所", around)
    assert names_service("入伍前面要体检吗", "入伍", around)  # 前面 alone is also "before"
    assert names_service("幼儿园怎么报名", "幼儿园…报名", around)


@pytest.mark.parametrize(
    ("sentence", "clause"),
    [
        ("电动自行车上牌去哪里办?", "电动自行车上牌去哪里办?"),
        ("电动车上牌,谁管?", "电动车上牌,谁管?"),  # too short to name a subject alone
        ("电动车上牌,到哪里去办理呢?", "电动车上牌,到哪里去办理呢?"),  # names no subject of its own
        ("我去派出所办事,看到人行道坏了,去哪里报修?", "看到人行道坏了,去哪里报修?"),
        ("想周末去教堂做礼拜,滨水步道什么时候能贯通?", "滨水步道什么时候能贯通?"),
        (
            "我家门口,很脏,楼道的灯坏了去哪里报修?还有,谢谢。",
            "楼道的灯坏了去哪里报修?",
        ),  # the last clause that asks
        ("I fish there every week. Where do I get a permit?", " Where do I get a permit?"),
        ("我家门口,很脏。", "我家门口,很脏。"),  # no clause asks: the whole sentence
    ],
)
def test_the_clause_that_asks(sentence: str, clause: str) -> None:
    assert asking_clause(sentence) == clause


def test_a_question_that_points_back_names_its_subject_in_the_sentence_before(lexicon: Lexicon) -> None:
    story = "周末想带上小孙子一起去苏州河边钓鱼,顺便在河边的步道上走走晒晒太阳。"
    query = parse(story + "这样做会不会被罚款?", lexicon)
    assert query.asking_text == "这样做会不会被罚款?"
    assert query.subject_text == story + "这样做会不会被罚款?"
    assert query.off_topic and not query.off_topic_asked  # named, though not in the asking sentence
    plain = parse(story + "河边步道什么时候能贯通?", lexicon)  # asks about something of its own
    assert plain.subject_text == plain.asking_text == "河边步道什么时候能贯通?"
    assert not plain.off_topic
    english = parse("Can I go fishing along Suzhou Creek? Will I get fined for it?", lexicon)
    assert english.asking_text == "Will I get fined for it?" and english.off_topic
    # A line of only a line break is not the sentence pointed back to.
    apart = parse(story + "\r\n这样做会不会被罚款?", lexicon)
    assert apart.off_topic and "钓鱼" in apart.subject_text


def test_a_service_named_where_the_question_asks_is_told_from_one_in_its_story(lexicon: Lexicon) -> None:
    asked = parse("加装电梯以后,养老金怎么领?", lexicon)
    assert asked.off_topic and asked.off_topic_asked
    whether = parse("电动自行车集中充电要交电费吗?", lexicon)  # asked whether, not where or how
    assert whether.off_topic and not whether.off_topic_asked
    story = parse("我骑电动自行车去教堂做礼拜,电动自行车在楼道充电谁管?", lexicon)
    assert story.off_topic and not story.off_topic_asked


@pytest.mark.parametrize(
    ("question", "counts"),
    [
        ("正式计划一共有多少项任务?", True),
        ("这个三年行动计划有几项任务", True),
        ("How many tasks did the draft have?", True),
        ("有多少个任务跟垃圾分类有关?", False),  # some of the tasks
        ("加装电梯涉及哪几项任务?", False),
        ("How many tasks are about parking?", False),
        ("2025年要完成几项任务?", False),
        ("正式版和草案各有多少项任务?", False),
    ],
)
def test_the_plans_count_of_tasks_is_asked_only_of_all_of_them(
    lexicon: Lexicon, question: str, counts: bool
) -> None:
    assert parse(question, lexicon).counts_tasks is counts


def test_before_and_after_are_not_places_beside_a_service(lexicon: Lexicon) -> None:
    """入伍前面 is before enlisting, not a place in front of it."""
    assert names_service("入伍前面要体检吗?", "入伍", lexicon.off_topic_around)
