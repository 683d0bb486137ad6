"""Understand a question before retrieval: clean it, then find what it asks for.

Traditional characters become Simplified and full-width forms half-width (the corpus writes
half-width punctuation), clause references go straight to their task, draft wording selects
the draft, "who is responsible" favours lead units, and everyday words gain the plan's wording.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Literal

from qa.compare import ListedStatus
from qa.documents import Version
from qa.errors import InvalidQuestion
from qa.lexicon import AskCue, AskKind, Lexicon, StatusCues
from qa.plan_format import cn_number

__all__ = [
    "Query",
    "VersionIntent",
    "normalise",
    "parse_query",
    "is_english",
    "asking_clause",
    "find_focus",
    "version_status",
    "question_too_long",
    "MEANINGFUL",
]


# Zero-width and bidi controls carry no meaning and can hide text; Cc/Cf characters go too.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# 条 only where it is not counting comments (第2条意见 is the report's second comment, not task 2).
_CLAUSE_ZH = re.compile(r"第\s*([0-9零〇一二两三四五六七八九十]+)\s*(?:项|条(?!意见|建议)|个任务|号任务)")
_CLAUSE_BARE = re.compile(r"(?<![0-9.%])([0-9]{1,2})\s*号任务")
_CLAUSE_EN = re.compile(r"(?:\b(?:task|item|clause|article|number)\s*#?|\bno\.|#)\s*([0-9]{1,2})\b", re.I)
# 原来 points at the draft where it opens the question (原来物业费…) or a version word follows it
# (原来的第11项, 原来写的); a resident's 原来那些 are the streets as they are.
_DRAFT = re.compile(
    r"草案|征求意见稿|(?:^|[,,。;;??!!\s])原(?:来|先)|原(?:来|先)的?(?:版|稿|写|说|提法|方案|计划|第)"
    r"|最初|初稿|起草时|\bdraft\b|\boriginal(?:ly)?\b",
    re.I,
)
# Words that set two things side by side; 不同意 disagrees.
_COMPARING = r"区别|不同(?!意)|差异|一样吗|对比"
_COMPARE = re.compile(
    _COMPARING
    + r"|变化|还是这样吗|改动|修改|改了|还在吗|还有吗|还有[^,。??]{1,15}吗|还在[^,。??]{1,15}吗|还保留|保留吗|删了|删除|删掉|新增了|是新增|新加的|后来加|加的吗|怎么改(?![造进善建变签期装道])|放到哪|变成"
    r"|\bchang(?:e|ed|es)\b|\bdiffer|\bcompare|\bstill\b"
    # "How many lifts will be added?" adds lifts; added, removed or dropped ask about the versions
    # only with a version word (added in the final plan, dropped from the draft, added later?).
    r"|\b(?:removed|added|dropped|deleted)\b(?=.*\b(?:draft|final|version|original)\b)"
    r"|\b(?:draft|final|version|original)\b.*\b(?:removed|added|dropped|deleted)\b|\badded later\s*\??\s*$",
    re.I,
)
_VERSION_WORD = re.compile(
    r"正式版|正式稿|定稿|终稿|最终版|" + _COMPARING + r"|\b(?:final|version|draft|differ\w*|compared?)\b",
    re.I,
)
_WANTS_UNITS = re.compile(
    r"谁负责|谁管|谁来管|归谁|找谁|哪个部门|哪些部门|哪个单位|哪些单位|牵头|负责单位|责任单位|主管部门"
    r"|\bwho\b.*\b(?:responsible|charge|lead|leads|leading|led|handles?|manages?|runs?|oversees?)\b|\blead units?\b"
    r"|\b(?:which|what) (?:department|office|agency|unit|bureau)|\bled by\b",
    re.I,
)
# 这个行动计划一共有多少项任务?: the plan's own count of its tasks. A part's, a unit's, the added or
# the carried-over tasks name what they count, and are answered by the documents' words for them.
_COUNTS_TASKS = re.compile(r"(?:多少|几)(?:项|个|条)(?:重点)?(?:任务|实施内容)|\bhow many tasks\b", re.I)
# …and counts all of them: 一共, 总共, or the plan itself having them (计划有几项, the draft have).
_WHOLE_PLAN = re.compile(
    r"一共|总共|共有|共计|总计|(?:计划|草案|正式版|定稿)(?:里|中)?(?:有|包括|包含|分)"
    r"|\b(?:in total|altogether|in the (?:\w+ )*(?:plan|draft)|(?:plan|draft) (?:have|has|had|contain\w*))\b",
    re.I,
)
_COUNTS_SOME_TASKS = re.compile(
    r"部分|方面|板块|领域|延续|上一轮|上轮|第二轮|牵头|负责|新增|新加|增加|删|合并|保留|改了|每|各|哪|涉及|有关|关于|\d{4}年"
    r"|\b(?:each|per|part|section|carried|lead|leads|added|removed|new|about|related|involve\w*)\b",
    re.I,
)
_LISTS_TASKS = re.compile(
    r"哪些任务|哪几项|哪些项|负责什么|负责哪些|管什么|管哪些|牵头哪些|哪些工作|什么任务"
    r"|\b(?:which|what) tasks\b|\bwhat (?:does|do) .+ (?:lead|do|handle|manage)\b"
    # "What is the District Emergency Management Bureau responsible for?": the unit's whole remit,
    # not "Is it responsible for lifts?", which names a subject after "for".
    r"|\bwhat (?:is|are) .+ (?:responsible for|in charge of)\s*[?.!]*$|\blist (?:all )?(?:the )?tasks\b",
    re.I,
)
# The plan's own period: "这个计划什么时候结束?", "how long does the plan run?".
_PLAN_PERIOD = re.compile(
    r"(?:^|这个|该|本|整个|这份|此|三年|精细化)(?:行动)?计划.{0,4}(?:什么时候|何时|哪年|哪一年|啥时候|到)?"
    r"(?:结束|到期|截止|完成|为期|持续|执行到|实施到|有效期|期限|多久|几年|多长时间|哪一年|哪年)"
    r"|\b(?:the|this) plan\b.{0,30}\b(?:end|ends|last|lasts|run|runs|expire|expires|until)\b"
    r"|\bhow long\b.{0,20}\b(?:the|this) plan\b",
    re.I,
)
_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
_CJK = re.compile(r"[\u3400-\u9fff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MARKUP = re.compile(r"<[^<>]*>")
# Addresses are not language: a link to the district's site keeps a Chinese question Chinese. A
# markdown link keeps its text and loses its target; URLs, web and e-mail addresses go whole. No
# \b: in Python a Chinese character is a word character, so 见https://… has no word boundary.
_ADDRESS = re.compile(
    r"\]\([!-~ ]*?\)"  # [text](target "title")
    r"|(?:https?|ftp)://[!-~]*"
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    r"|(?<![A-Za-z0-9.-])(?:[A-Za-z0-9-]+\.)+(?:cn|com|net|org|gov|edu|info|io)(?![A-Za-z0-9])(?:/[!-~]*)?"
    r"|&[A-Za-z]+;",  # an HTML entity such as &nbsp;
    re.I,
)
# Enough of a question to tell its language; never more, so refusing a huge one costs nothing.
_LANGUAGE_SAMPLE = 500
# A question needs one character that is a word's: a digit, a Latin letter or a Chinese character,
# full-width forms and compatibility ideographs included (they normalise to those). Checked on
# the question as written, so the API's schema states the very same rule (``MEANINGFUL``).
MEANINGFUL = "[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"
_MEANINGFUL = re.compile(MEANINGFUL)
# A letter of any script: with no Chinese or Latin ones, the question is in another language.
_LETTER = re.compile(r"[^\W\d_]")


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """Simplified characters, half-width forms, no control or zero-width characters, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = _t2s().convert(text)  # type: ignore[attr-defined]
    return re.sub(r"\s+", " ", text).strip()


def is_english(text: str) -> bool:
    """More Latin words than Chinese characters: answer and explain in English.

    Markup and addresses are not language: ``<img src=x onerror=…> 加装电梯`` and
    ``[通知](https://www.shcn.gov.cn/…)里说的加装电梯`` are Chinese questions.
    """
    text = _ADDRESS.sub(" ", _MARKUP.sub(" ", text))
    return len(_ENGLISH_WORD.findall(text)) * 2 > len(_CJK.findall(text))


VersionIntent = Literal["draft", "compare"]


@dataclass(frozen=True, kw_only=True)
class Query:
    raw: str
    text: str
    english: bool
    clause: int | None = None
    clause_in_draft: bool = False  # "草案第25项": the number is the draft's numbering
    version: VersionIntent | None = None  # None: the current plan is the authority
    # Names a version or a comparison (草案, 正式版, 区别, draft): asked how a task changed, the
    # changes are then the whole answer; 怎么改 or still alone may be about the task itself.
    names_versions: bool = False
    wants_units: bool = False
    unit: str | None = None  # canonical lead unit the question names
    lists_tasks: bool = False  # "区房管局负责哪些任务?": every task that unit leads
    # "正式版比草案新增了哪几项任务?": every task the final plan added (removed, merged …)
    version_status: ListedStatus | None = None
    expansions: tuple[str, ...] = field(default=())
    roles: tuple[str, ...] = ()  # roles of the background documents it points at (印发 -> issuance-notice)
    off_topic: bool = False  # names a subject the plan does not cover (房价, 落户, 医保 …)
    # Names it in the clause that asks where or how to get it done (电动自行车上牌去哪里办?), not
    # only in the story around it (想去教堂做礼拜,滨水步道什么时候贯通?): the plan's words beside it
    # then do not vouch for it. Asked whether, who or how much (充电要交电费吗?), it may be a detail
    # of the plan's subject the plan leaves out, a partial answer.
    off_topic_asked: bool = False
    asks: AskKind = "what"  # what the question asks for: an amount, a date, who, …
    # In a long message, the sentence that asks (offsets into ``raw``); the rest is its story.
    focus: tuple[int, int] | None = None
    # The whole sentence the focus is in: what the message asks for is read here (a focus may be
    # the last clause only: "…, and did it find any problems?").
    asking: tuple[int, int] | None = None
    # Where the asking sentence's subject is named: the sentence before it too when it points back.
    subject: tuple[int, int] | None = None
    glossary_terms: tuple[str, ...] = ()  # the plan's words an English question names (glossary)
    about_period: bool = False  # asks when the plan itself runs or ends
    counts_tasks: bool = False  # asks how many tasks the plan has (not a part's, a unit's …)
    asks_dated: bool = False  # asks when or by whom a document was issued (告知是哪天发的? 谁印发的?)
    asks_detail: bool = False  # asks for the detail itself (多少钱, 哪些街道), not only its subject
    # Details of other kinds it asks for as well (回收点在哪里…卖给谁 asks who, and where): an
    # answer that has one but not the other says which it does not give.
    also_asks: tuple[AskKind, ...] = ()

    @property
    def focus_text(self) -> str | None:
        return _span_text(self.raw, self.focus)

    @property
    def asking_text(self) -> str:
        """The sentence that asks, in a long message; the whole question otherwise."""
        return _span_text(self.raw, self.asking) or self.text

    @property
    def subject_text(self) -> str:
        """The asking sentence with the sentence it points back to, if it does."""
        return _span_text(self.raw, self.subject) or self.asking_text

    @property
    def numbered_version(self) -> Version:
        """The plan whose numbering a clause number refers to: the draft's only when it says so."""
        return "draft" if self.clause_in_draft or self.version == "draft" else "final"

    def listing_version(self, doc_version: Version | None = None) -> Version:
        """The plan whose tasks a unit listing enumerates: the draft only when asked for, or when
        the search is limited to the draft (``doc_version``)."""
        return "draft" if self.version == "draft" or doc_version == "draft" else "final"

    @property
    def expanded(self) -> str:
        """The question followed by the plan's wording for its everyday words."""
        return " ".join((self.text, *self.expansions))


def parse_query(raw: object, max_chars: int = 500, lexicon: Lexicon | None = None) -> Query:
    """Validate and understand a question.

    Raises:
        InvalidQuestion: not text, empty, longer than ``max_chars``, or without a single letter,
            digit or Chinese character; the message is in the asker's language.
    """
    if not isinstance(raw, str):
        raise InvalidQuestion("问题必须是文字。")
    # First, and in constant time: normalising two million characters takes a second of CPU.
    if len(raw) > max_chars:
        raise question_too_long(raw, len(raw), max_chars)
    if _SURROGATE.search(raw):
        # What invalid UTF-8 on a command line decodes to: not text, and unprintable as UTF-8.
        raise InvalidQuestion("问题含有无效的字符编码(不是有效的 UTF-8 文本)。")
    text = normalise(raw)
    english = is_english(text)
    if not text:
        raise InvalidQuestion(
            "Please type a question." if english else "请输入一个问题,例如:电动自行车在楼道充电谁管?"
        )
    if not _MEANINGFUL.search(raw):
        if _LETTER.search(raw):  # Arabic, Russian, Korean …: say it in both languages it reads
            raise InvalidQuestion(
                "本助手只读中文和英文,请用中文或英文提问。This assistant reads Chinese and English only; "
                "please ask in one of them."
            )
        raise InvalidQuestion(
            "The question has no words in it; please ask in Chinese or English."
            if english
            else "问题中没有可识别的文字,请用中文或英文提问。"
        )
    clause, clause_in_draft = _clause_number(text)
    version: VersionIntent | None = None
    if _COMPARE.search(text):
        version = "compare"
    elif _DRAFT.search(text):
        version = "draft"
    unit = lists = None
    focus = find_focus(raw)
    asking_span = _sentence_of(raw, focus)
    # A long message's asking sentence: what it asks for comes from here, the subjects it names
    # from here and the sentence it points back to (``subject``).
    asking = _span_text(raw, asking_span) or text
    # An asking sentence that points back (这种情况怎么办? Will I get fined for it?) names its
    # subject in the sentence before it.
    subject_span = _referred_to(raw, asking_span)
    expansions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    off_topic = off_topic_asked = False
    if lexicon is not None:
        unit = _named_unit(text, lexicon)
        # The plan's wording is added for the words of the asking sentence only: a long message's
        # story (公交车、私家车、电动车全挤在一起) stays context and does not bring its own subjects,
        # nor names one the plan does not cover (退休后每天去河边走走 asks about the riverside path).
        expansions = _expansions(_span_text(raw, focus) or text, lexicon)
        roles = tuple(
            role for role, words in lexicon.doc_intents.items() if any(_mentions(text, w) for w in words)
        )
        named = _span_text(raw, subject_span) or asking
        off_topic = _names_a_service(named, lexicon)
    lists = unit is not None and bool(_LISTS_TASKS.search(text)) and clause is None
    status: ListedStatus | None = None
    if lexicon is not None and clause is None and not lists:
        status = version_status(text, lexicon.version_status)
    asks: AskKind = "what"
    glossary_terms: tuple[str, ...] = ()
    if lexicon is not None:
        # 我退休好几年了…步道能不能连起来? asks yes or no; the story's 几年 asks nothing.
        asks = "list" if lists or status is not None else _asks(asking, lexicon)
        if english:
            glossary_terms = _glossary_terms(text, lexicon)
        if off_topic and asks in _GETTING_DONE:
            off_topic_asked = _names_a_service(asking_clause(asking), lexicon)
    return Query(
        raw=raw,
        text=text,
        english=english,
        clause=clause,
        clause_in_draft=clause_in_draft,
        version=version,
        names_versions=bool(_DRAFT.search(text) or _VERSION_WORD.search(text)),
        wants_units=bool(_WANTS_UNITS.search(text)) or lists,
        unit=unit,
        lists_tasks=lists,
        version_status=status,
        expansions=expansions,
        roles=roles,
        off_topic=off_topic,
        off_topic_asked=off_topic_asked,
        asks=asks,
        focus=focus,
        asking=asking_span,
        subject=subject_span,
        glossary_terms=glossary_terms,
        asks_detail=_asks_detail(asking, asks, lexicon),
        also_asks=_also_asked(asking, asks, lexicon),
        about_period=asks == "date" and clause is None and unit is None and bool(_PLAN_PERIOD.search(text)),
        counts_tasks=clause is None
        and unit is None
        and not roles  # 常务会议上说有多少项实施内容? asks what the minutes say (35项)
        and status is None
        and bool(_COUNTS_TASKS.search(text))
        and bool(_WHOLE_PLAN.search(text))
        and not _COUNTS_SOME_TASKS.search(text),
        asks_dated=asks in ("date", "who")
        and lexicon is not None
        and any(_mentions(text.lower(), w) for w in lexicon.dated_cues),
    )


def question_too_long(start: str, length: int, max_chars: int) -> InvalidQuestion:
    """The error for a question of ``length`` characters that begins with ``start``.

    Only the first few hundred characters of ``start`` are read, to tell the asker's language,
    so the cost does not grow with the question.
    """
    english = is_english(normalise(_SURROGATE.sub("", start[:_LANGUAGE_SAMPLE])))
    return InvalidQuestion(
        f"The question is too long ({length} characters); please keep it under {max_chars}."
        if english
        else f"问题太长({length}字),请控制在{max_chars}字以内。"
    )


def _clause_number(text: str) -> tuple[int | None, bool]:
    """The task number a question refers to, and whether it is the draft's numbering."""
    for pattern in (_CLAUSE_ZH, _CLAUSE_BARE, _CLAUSE_EN):
        m = pattern.search(text)
        if m:
            n = cn_number(m.group(1))
            if n is not None and 1 <= n <= 99:  # past the last task is answered "there is no such task"
                before = text[max(0, m.start() - 8) : m.start()]
                return n, bool(_DRAFT.search(before))
    return None, False


def _named_unit(text: str, lexicon: Lexicon) -> str | None:
    # Longest alias first, so 区建设管理委 is not read as the shorter 建设管理委 of another entry.
    for alias in sorted(lexicon.unit_aliases, key=len, reverse=True):
        if len(alias) >= 3 and alias in text:
            return lexicon.unit_aliases[alias]
    return _english_unit(text.lower(), lexicon)


def _english_unit(lowered: str, lexicon: Lexicon) -> str | None:
    """A lead unit named in English, through the glossary's names for the units (longest first,
    so "District Housing Administration" is not read as a shorter name of another unit)."""
    names = sorted(
        (
            (form.lower(), lexicon.unit_aliases[entry.zh])
            for entry in lexicon.glossary
            if entry.kind == "unit" and entry.zh in lexicon.unit_aliases
            for form in entry.en
        ),
        key=lambda pair: -len(pair[0]),
    )
    for form, unit in names:
        # Short names (drc) and everyday words alone are too loose to name a unit.
        if len(form) >= _UNIT_NAME_CHARS and _mentions(lowered, form):
            return unit
    return None


# An English unit name this long names a unit ("housing bureau"); shorter ones ("drc") do not.
_UNIT_NAME_CHARS = 8


def _mentions(text: str, word: str) -> bool:
    """Whether ``text`` contains ``word``; Latin words must match whole, case-insensitively."""
    pattern = _latin_word(word)
    return word in text if pattern is None else pattern.search(text) is not None


def names_entry(text: str, entry: str) -> bool:
    """Whether ``text`` names a word list's ``entry``; an entry "幼儿园…报名" is its parts in that
    order (幼儿园怎么报名, 幼儿园的报名通知), so the place alone (幼儿园门口的人行道) is not it."""
    if "…" not in entry:
        return _mentions(text, entry)
    at = 0
    for part in entry.split("…"):
        at = text.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


def _names_a_service(text: str, lexicon: Lexicon) -> bool:
    return any(names_service(text, w, lexicon.off_topic_around) for w in lexicon.off_topics)


def names_service(text: str, entry: str, around: re.Pattern[str] | None) -> bool:
    """Whether ``text`` names an off-topic ``entry`` as the service itself, not as the place
    beside which something is: 派出所 in 派出所门口的人行道坏了 or 献血 in 献血屋旁边的垃圾桶 is
    where the plan's subject lies (``around``: what follows such a place, ``Lexicon.off_topic_around``)."""
    if around is None or "…" in entry or _latin_word(entry) is not None:
        return names_entry(text, entry)
    at = text.find(entry)
    while at >= 0:  # str.find, not a regex per entry: the list is longer than re's cache
        if around.match(text, at + len(entry)) is None:
            return True
        at = text.find(entry, at + 1)
    return False


@cache
def _latin_word(word: str) -> re.Pattern[str] | None:
    # Asked of every entry of every word list for every question: a Chinese word is told from a
    # Latin one once, not each time.
    return _whole_word(word) if _ENGLISH_WORD.search(word) else None


@cache
def _whole_word(word: str) -> re.Pattern[str]:
    """Whole words only, plural or not: "elevators" is "elevator". Compiled once per word: the
    glossary's thousands of English forms overflow the re module's own cache, and recompiling
    them made every English question cost a tenth of a second."""
    return re.compile(rf"\b{re.escape(word)}(?:s|es)?\b", re.I)


def version_status(text: str, cues: StatusCues) -> ListedStatus | None:
    """The status a question asks the final plan to list against the draft (新增了哪几项任务?
    which tasks were merged?), or None: it needs a status, a listing and a task cue, no other
    baseline than the draft, and at most ``cues.max_residue`` characters or words of its own."""
    lowered = text.lower()

    def says(words: tuple[str, ...]) -> bool:
        return any(_mentions(lowered, w) for w in words)

    status = next((s for s, words in cues.statuses if says(words)), None)
    if status is None or not says(cues.listing) or not says(cues.tasks) or says(cues.other_rounds):
        return None
    every = (
        *(w for _, ws in cues.statuses for w in ws),
        *cues.listing,
        *cues.tasks,
        *cues.plans,
        *cues.fillers,
    )
    residue = lowered
    for word in sorted(set(every), key=len, reverse=True):  # 行动计划 before 计划
        if _ENGLISH_WORD.search(word):
            residue = re.sub(rf"\b{re.escape(word)}(?:s|es)?\b", " ", residue)
        else:
            residue = residue.replace(word, " ")
    own = len(_CJK.findall(residue)) + len(_ENGLISH_WORD.findall(residue))
    return status if own <= cues.max_residue else None


def _expansions(text: str, lexicon: Lexicon) -> tuple[str, ...]:
    out: list[str] = []
    for key, official in lexicon.everyday.items():
        if _mentions(text, key):
            out.extend(t for t in official if t not in out and t not in text)
    return tuple(out)


# What a question asks for when it asks how to get a service: where to go, how, whom to call.
_GETTING_DONE = ("place", "how", "contact")

# A message of this many characters or more is read for the sentence that asks.
_LONG_MESSAGE = 40
# Where a message's sentences end; a comma ends a clause that can carry the question too.
_MESSAGE_SENTENCE = re.compile(r"[^。!?!?;;\n]+[。!?!?;;\n]*")
_MESSAGE_CLAUSE = re.compile(r"[^,,。!?!?;;\n]+[,,。!?!?;;\n]*")
_ASKING = re.compile(
    r"[??]|吗|呢|能不能|会不会|有没有|是不是|可不可以|是否|能否|谁|多少|几[个台条项户年月天]|什么|啥|怎么|怎样|如何|哪"
    r"|\b(?:who|what|when|where|which|how|why|can|could|will|would|is there|are there|does|do)\b",
    re.I,
)
# A question sentence this short ("谁管?") needs the clause before it to have a subject.
_SHORT_QUESTION = 8


def _span_text(raw: str, span: tuple[int, int] | None) -> str | None:
    """The normalised text of a span of the message, if there is one."""
    return normalise(raw[span[0] : span[1]]) if span else None


# Typed on a phone, a message's sentences are often parted by spaces alone (罚单 罚款200块 在哪交);
# between Chinese characters a space ends a sentence.
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])[ \t\u3000]+(?=[\u4e00-\u9fff])")


def _punctuated(raw: str) -> str:
    """``raw`` with each space between Chinese characters read as a full stop, offsets unchanged."""
    return _SPACE_BETWEEN_HAN.sub(lambda m: "。" * len(m.group()), raw)


# Words with which a question points back at what the message said before it.
_REFERS_BACK = re.compile(r"这种|这样|这个情况|这事|这件事|那种|\b(?:it|this|that|they|them)\b", re.I)


def _referred_to(raw: str, asking: tuple[int, int] | None) -> tuple[int, int] | None:
    """The asking sentence with the sentence before it, when the asking sentence points back."""
    if asking is None or not _REFERS_BACK.search(raw[asking[0] : asking[1]]):
        return asking
    before = [
        m.start()
        for m in _MESSAGE_SENTENCE.finditer(_punctuated(raw))
        if m.end() <= asking[0] and m.group().strip(" \t\r\n\u3000。")
    ]
    return (before[-1], asking[1]) if before else asking


def _sentence_of(raw: str, focus: tuple[int, int] | None) -> tuple[int, int] | None:
    """The span of the sentence of ``raw`` that ends the focus (the focus may be its last clause)."""
    if focus is None:
        return None
    for m in _MESSAGE_SENTENCE.finditer(_punctuated(raw)):
        if m.start() <= focus[1] - 1 < m.end():
            return min(m.start(), focus[0]), focus[1]
    return focus


# An English full stop after a word: within an asking sentence it ends a clause as a comma does.
_ENGLISH_STOP = re.compile(r"(?<=[A-Za-z])\.(?=\s)")
# Words of a clause that asks without naming what it asks about (到哪里去办理呢?, 具体应该怎么弄?):
# question words, the verbs of getting something done and particles; the rest is its subject.
_SUBJECTLESS = re.compile(
    rf"(?:{_ASKING.pattern})|[去到找在要想能可以应该该具体一下这件事个还又再先都就才呢吗啊呀吧了的得么办理弄申请预约报名交里时候好样处儿"
    r"\s,,。!?!?;;]",
    re.I,
)


def asking_clause(sentence: str) -> str:
    """The clause of an asking sentence that asks: its last clause with a question word, with the
    clause before it when it is too short to name a subject (电动车上牌,谁管?) or names none
    (电动车上牌,到哪里去办理呢?); the whole sentence when no clause asks."""
    # An English full stop ends a clause too (I fish there every week. Where do I get a permit?).
    text = _ENGLISH_STOP.sub("。", _punctuated(sentence))
    clauses = [m.span() for m in _MESSAGE_CLAUSE.finditer(text) if text[m.start() : m.end()].strip()]
    asking = [i for i, (a, b) in enumerate(clauses) if _ASKING.search(text[a:b])]
    if not asking:
        return sentence
    i = asking[-1]
    start, end = clauses[i]
    if i > 0 and (end - start < _SHORT_QUESTION or not _SUBJECTLESS.sub("", text[start:end]).strip()):
        start = clauses[i - 1][0]
    return sentence[start:end]


def find_focus(raw: str) -> tuple[int, int] | None:
    """In a long message, the span of ``raw`` that asks: its last sentence with a question in it.

    A story comes first and the question last; the question is what retrieval should weigh
    most, with the story kept as context. None for a short message, or when the question is
    the whole message anyway.
    """
    if len(raw.strip()) < _LONG_MESSAGE:
        return None
    raw = _punctuated(raw)
    sentences = [m.span() for m in _MESSAGE_SENTENCE.finditer(raw) if raw[m.start() : m.end()].strip()]
    asking = [span for span in sentences if _ASKING.search(raw[span[0] : span[1]])]
    if not asking:
        return None
    start, end = asking[-1]
    if end - start < _SHORT_QUESTION * 2:
        # Within the sentence, a short asking clause takes the clause before it along.
        clauses = [(start + m.start(), start + m.end()) for m in _MESSAGE_CLAUSE.finditer(raw[start:end])]
        if len(clauses) > 1:
            start = clauses[-2][0]
    elif end - start > _SHORT_QUESTION:
        clauses = [(start + m.start(), start + m.end()) for m in _MESSAGE_CLAUSE.finditer(raw[start:end])]
        tail = [c for c in clauses if _ASKING.search(raw[c[0] : c[1]])]
        if tail and tail[-1][1] - tail[-1][0] >= _SHORT_QUESTION:
            start = max(start, tail[-1][0] if len(clauses) < 3 else clauses[-2][0])
    if end - start < _SHORT_QUESTION and len(sentences) > 1:
        previous = [s for s in sentences if s[1] <= start]
        if previous:
            start = previous[-1][0]
    while start < end and raw[start].isspace():
        start += 1
    while end > start and raw[end - 1].isspace():
        end -= 1
    if end - start >= len(raw.strip()) * 0.8:
        return None
    return start, end


def _asks(text: str, lexicon: Lexicon) -> AskKind:
    """The first kind in the lexicon's order with a cue in the question; "what" when none.

    Weak cues (多少, 哪里) give way to a cue of another kind that names what is asked (邮箱是多少
    asks contact, 哪几个地方 asks place), though not to the mere shape of a yes/no question
    (有没有说要建多少 asks count), unless it means "a few" there (能不能多弄几个?)."""
    named = _first_kind(text, lexicon, lexicon.weak_cues)
    if named is not None and named not in ("yesno", "what"):
        return named
    # 能不能多弄几个? asks yes or no: in that shape 几个 means "a few".
    skip = lexicon.indefinite_cues if named == "yesno" else frozenset()
    return _first_kind(text, lexicon, skip) or "what"


def _first_kind(text: str, lexicon: Lexicon, skip: frozenset[str]) -> AskKind | None:
    lowered = text.lower()
    for cue in lexicon.asks:
        if any(p.search(text) for p in cue.patterns):
            return cue.kind
        for word in cue.zh:
            if word in skip:
                continue
            # 吗 asks yes or no only where it ends the question.
            if word == "吗":
                if re.search(r"吗\s*[??]?\s*$", text):
                    return cue.kind
            elif _asked_by(text, word):
                return cue.kind
        for word in cue.en:
            if word in skip:
                continue
            if cue.kind == "yesno":
                # "does …?" asks yes or no; "what does …" asks what.
                if re.match(rf"\s*{re.escape(word)}\b", lowered):
                    return cue.kind
            elif _mentions(lowered, word):
                return cue.kind
    return None


# 好几户, 十几个, 这几天, 前几年: a 几 after these counts vaguely or points back; it asks no number.
# 提前几天 still asks (how many days ahead?).
_VAGUE_JI = re.compile(r"(?:[好十这那后]|(?<!提)前)$")
# 哪几条路 asks which roads, not how many; 哪几天 and 哪几年 still ask when.
_WHEN_JI = ("几天", "几年", "几月", "几号", "几时", "几点")


def _asked_by(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` as a question cue: 几户 asks in 有几户, not in 好几户."""
    if not word.startswith("几"):
        return word in text
    return any(
        not _VAGUE_JI.search(text[: m.start()])
        and not (text[: m.start()].endswith("哪") and not word.startswith(_WHEN_JI))
        for m in re.finditer(re.escape(word), text)
    )


# At most this many of the plan's words are added for an English question: the longest English
# phrases matched first, so "lift installation" wins over "installation".
_MAX_GLOSSARY_TERMS = 6


def _glossary_terms(text: str, lexicon: Lexicon) -> tuple[str, ...]:
    """The plan's own words for the English words of a question, through the glossary."""
    found: list[tuple[int, str]] = []
    lowered = text.lower()
    for entry in lexicon.glossary:
        for form in (entry.en[0].lower(), *entry.en[1:]):
            if len(form) >= 3 and _mentions(lowered, form):
                found.append((len(form), entry.zh))
                break
    out: list[str] = []
    for _, zh in sorted(found, key=lambda f: -f[0]):
        if zh not in out:
            out.append(zh)
    return tuple(out[:_MAX_GLOSSARY_TERMS])


def _strictly_asked(text: str, cue: AskCue, skip: frozenset[str] = frozenset()) -> bool:
    """Whether a pattern or a strict cue of ``cue`` (other than ``skip``) asks in ``text``."""
    lowered = text.lower()
    return any(p.search(text) for p in cue.patterns) or any(
        (_mentions(lowered, w) if _latin_word(w) else _asked_by(text, w)) for w in cue.strict if w not in skip
    )


def _also_asked(text: str, asks: AskKind, lexicon: Lexicon | None) -> tuple[AskKind, ...]:
    """The other kinds of detail the question asks for by a strict cue of theirs, weak cues aside
    (多少 in 多少钱 asks no figure besides the sum)."""
    if lexicon is None:
        return ()
    return tuple(
        cue.kind
        for cue in lexicon.asks
        if cue.kind != asks and cue.missing is not None and _strictly_asked(text, cue, lexicon.weak_cues)
    )


def _asks_detail(text: str, asks: AskKind, lexicon: Lexicon | None) -> bool:
    """Whether the question asks for the detail itself, by a strict cue of its kind: 要罚多少钱 does,
    物业公司收了钱不干活 does not. Only then may an answer say the detail is not stated."""
    cue = lexicon.cue(asks) if lexicon is not None else None
    return cue is not None and _strictly_asked(text, cue)
