"""Follow-up questions: a conversation, not a row of separate searches.

After 我家是老房子,有加装电梯的计划吗? the question 那谁负责? has no subject of its own: it is about
the clause the previous answer quoted. Every answer therefore returns a ``Context`` (the clauses it
cited, best first, with their document, version and subject), and a question asked with one is read
against it:

* It **starts afresh** when a cue says so (另外问一下, different question), when it names a clause
  number, a lead unit's tasks or a subject the plan does not cover, when it names subject words of
  the plan the carried-over clause does not contain (垃圾分类 or 公园 after elevators), when it has
  more words of its own than a few characters, when it has words of its own and on its own
  matches a clause outside the carried-over ones strongly, or when its words point at a document
  the previous answer did not cite (印发 after a task) and nothing in it points back. What it asks (谁负责, 什么时候), its cue
  words and generic words (具体, 情况, 三年, the plan's and the versions' names) are not its own.
* After an abstention the clauses were only listed as possibly related: it follows on only when it
  points at one (这项谁牵头?); an off-topic question carries nothing over.
* Otherwise it **follows on**: retrieval looks only at the clauses the previous answer cited (with
  their counterparts in the other plan when the question asks for the draft or the change), the
  subject first by ``FollowUps.subject_boost``; the question's own words still say what it asks
  (who, when, how many, the draft). 第二个呢 / the other one takes the previous answer's second clause
  (after a listing of what the final plan added, the second task listed). Words that point at a
  document (收到几条意见, comments came in) take that document's cited paragraph as the subject.
* Asked why of a task the final plan added or changed (为什么加的?, why was it changed?, or 为什么?
  after a question about the versions), the process documents' paragraph that names the task
  (``Conversation.reasons``, from ``qa.compare.reason_paragraphs``) leads, the task next.

The rewrite is never silent: the answer names what it took as the subject (``FollowUp.label``, the
接上一问 line, ``follows`` in the JSON). The cue words are data (``corpus/lexicon/followups.json``),
the thresholds too (``corpus/tuned.json``, calibrated on the conversations' dev split).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from qa.chunking import citation_label
from qa.compare import TaskKey
from qa.documents import Collection, Version
from qa.errors import InvalidContext, InvalidQuestion
from qa.lexicon import Lexicon
from qa.plan_format import clause_label
from qa.query import Query, VersionIntent, names_service, parse_query
from qa.retrieve import Hit, Retriever, Scope, Signals
from qa.structure import Clause
from qa.tokens import Tokenizer
from qa.tuned import FollowUps

if TYPE_CHECKING:
    from qa.answer import Result

__all__ = [
    "ClauseKey",
    "Context",
    "FollowUp",
    "FollowUpCues",
    "Reading",
    "Conversation",
    "load_cues",
    "follows",
    "clause_id",
    "CONTEXT_FIELDS",
    "FOLLOWUPS_FILE",
]

FOLLOWUPS_FILE = "followups.json"
# A clause as the context names it: (doc_id, clause number or part id), or (doc_id, None) for the
# document's unnumbered text (a single-statement document, a plan's preamble).
ClauseKey = tuple[str, int | str | None]
CONTEXT_FIELDS = ("clauses", "doc", "version", "subject", "question", "abstained")
# An answer cites at most 20 clauses (k ≤ 20); a context naming more did not come from one.
_MAX_CLAUSES = 20
_MAX_TEXT = 500
_CJK = re.compile(r"[\u3400-\u9fff]")
# Glossary entries that name a subject of the plan (not a date, a section or a document).
_SUBJECT_KINDS = ("object", "measure", "task-title", "process", "unit")


def clause_id(key: ClauseKey) -> str:
    """``plan-final#10``, ``participation-report#四``; the bare doc_id for unnumbered text."""
    doc_id, clause = key
    return doc_id if clause is None else f"{doc_id}#{clause}"


@dataclass(frozen=True)
class Context:
    """What an answer answered, for the next question to follow on from.

    ``clauses`` are the clauses it cited, best first; the first is its subject. ``doc``,
    ``version`` and ``subject`` describe that first clause; ``question`` is the question that set
    the subject (a follow-up keeps its predecessor's). ``abstained``: the clauses were only listed
    as possibly related, so a question follows on from them only when it points at one (这项谁牵头?).
    """

    clauses: tuple[ClauseKey, ...] = ()
    doc: str | None = None
    version: Version | None = None
    subject: str | None = None
    question: str | None = None
    abstained: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "clauses": [clause_id(k) for k in self.clauses],
            "doc": self.doc,
            "version": self.version,
            "subject": self.subject,
            "question": self.question,
            "abstained": self.abstained,
        }


@dataclass(frozen=True)
class FollowUp:
    """A question read as a follow-up: the subject it took, and how it is searched."""

    subject: tuple[ClauseKey, ...]  # the carried-over clause(s) it is about
    label: str  # that subject as the answer names it: 第10项 升级“美丽家园”建设
    query: Query  # the question, with what it inherits from the subject
    scope: Scope  # the chunks it searches and the subject's lead among them
    context: Context  # the context it followed

    def to_dict(self) -> dict[str, object]:
        return {"clauses": [clause_id(k) for k in self.subject], "subject": self.label}

    def announce(self, english: bool) -> str:
        """The line before the lead sentence that says what the question was taken to be about."""
        return f"Following on from: {self.label}" if english else f"接上一问:{self.label}"


@dataclass(frozen=True)
class FollowUpCues:
    """The cue words of ``corpus/lexicon/followups.json``; see its ``_about``."""

    anaphora: tuple[str, ...]
    anaphora_start: tuple[str, ...]
    ellipsis: tuple[str, ...]
    more: tuple[str, ...]
    ordinals: Mapping[str, int]
    new_topic: tuple[str, ...]
    final: tuple[str, ...]
    change: tuple[str, ...]
    generic: tuple[str, ...]


def load_cues(lexicon_dir: Path) -> FollowUpCues:
    """The follow-up cue words in ``lexicon_dir/followups.json``.

    Raises:
        InvalidContext: the file is missing or not the expected object (names the fix).
    """
    path = lexicon_dir / FOLLOWUPS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))

        def words(name: str) -> tuple[str, ...]:
            entry = data[name]
            return tuple(entry["zh"]) + tuple(w.lower() for w in entry["en"])

        ordinals = {**data["ordinals"]["zh"], **{k.lower(): v for k, v in data["ordinals"]["en"].items()}}
        return FollowUpCues(
            anaphora=words("anaphora"),
            anaphora_start=words("anaphora_start"),
            ellipsis=words("ellipsis"),
            more=words("more"),
            ordinals={k: int(v) for k, v in ordinals.items()},
            new_topic=words("new_topic"),
            final=words("final"),
            change=words("change"),
            generic=words("generic"),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InvalidContext(f"无法读取 {path}({err!r});请按 corpus/lexicon/ 的格式修正。") from None


def _mentions(text: str, word: str) -> bool:
    """``word`` in ``text``: Chinese as a substring, English as whole words."""
    if _CJK.search(word):
        return word in text
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


@dataclass(frozen=True)
class Reading:
    """How a question reads against a context: the evidence for following on or starting afresh."""

    new_topic: bool  # a cue says it starts afresh
    own_subject: bool  # a clause number, a unit's task list or a subject the plan does not cover
    cue: bool  # it points back (那, 这项, it) or leaves its subject out (呢, what about)
    pointer: bool  # it points at one clause (这项, 这个, 第二个, it)
    ordinal: int | None  # 第二个, the other one: the place of the previous result it means
    content: int  # characters of its own subject words
    new: int  # of them, characters the carried-over subject does not contain
    named: int  # of those, characters of the plan's subject words (公园, 燃气, 问卷调查, a lead unit)
    top_bm25: float  # how well it matches on its own, anywhere
    top_carried: bool  # on its own, it ranks a carried-over clause first
    version: str | None = None  # "draft", "final" or "compare": the version it asks for
    listed: bool = False  # the context's clauses were only listed as possibly related
    # Its words point at a document (印发, 问卷, comments came in) of which the previous answer cited
    # nothing: what it asks is there, out of the carried-over clauses' reach.
    elsewhere: bool = False

    def as_dict(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def follows(reading: Reading, thresholds: FollowUps) -> bool:
    """Whether a question with this reading follows on from the context (see the module docstring)."""
    if reading.new_topic or reading.own_subject or (reading.listed and not reading.pointer):
        return False
    if reading.elsewhere and not reading.pointer:  # When was the plan issued? after a task
        return False
    if reading.ordinal is not None:
        return True
    if (
        reading.named >= thresholds.plan_words
        or reading.new >= thresholds.new_words
        or reading.content >= thresholds.own_words
    ):
        return False
    # How well it matches on its own counts only when it names something: the plan's title and
    # version words (What about the final plan?) match the documents strongly and name no subject.
    return not (reading.content > 0 and reading.top_bm25 >= thresholds.own_bm25 and not reading.top_carried)


@dataclass
class Conversation:
    """Reads questions against a context and builds the context an answer returns."""

    collection: Collection
    clauses: Mapping[str, Sequence[Clause]]
    lexicon: Lexicon
    tokenizer: Tokenizer
    retriever: Retriever
    counterparts: Mapping[TaskKey, TaskKey]
    thresholds: FollowUps
    cues: FollowUpCues
    # A task the final plan added or changed -> the process documents' paragraphs that say why
    # (``qa.compare.reason_paragraphs``).
    reasons: Mapping[ClauseKey, Sequence[ClauseKey]] = field(default_factory=dict)
    _positions: dict[ClauseKey, list[int]] = field(default_factory=dict, init=False, repr=False)
    _clause: dict[ClauseKey, Clause] = field(default_factory=dict, init=False, repr=False)
    _removable: tuple[str, ...] = field(default=(), init=False, repr=False)
    _vocabulary: tuple[str, ...] = field(default=(), init=False, repr=False)
    _other: dict[ClauseKey, ClauseKey] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._other = {k: v for k, v in self.counterparts.items()}  # a task's counterpart in the other plan
        for i, ch in enumerate(self.retriever.index.chunks):
            self._positions.setdefault((ch.doc_id, ch.clause), []).append(i)
        for doc_id, clauses in self.clauses.items():
            for c in clauses:
                self._clause[(doc_id, c.clause)] = c
        asked = [w for cue in self.lexicon.asks for w in (*cue.zh, *cue.en)]
        cues = self.cues
        words = {
            *cues.anaphora,
            *cues.ellipsis,
            *cues.ordinals,
            *cues.final,
            *cues.change,
            *cues.generic,
            *asked,
            *(w for ws in self.lexicon.doc_intents.values() for w in ws),
        }
        # Longest first, so 什么时候 goes before 什么 and 行动计划 before 计划.
        self._removable = tuple(sorted(words, key=len, reverse=True))
        # The plan's subject words: what its tasks, targets, processes and units are called, and the
        # everyday words for them. 公园 names a subject; 结论 or 情况 does not.
        lex = self.lexicon
        subjects = {
            *(g.zh for g in lex.glossary if g.kind in _SUBJECT_KINDS),
            *lex.terms,
            *lex.everyday,
            *(w for ws in lex.everyday.values() for w in ws),
            *lex.unit_aliases,
        }
        generic = set(self.cues.generic)
        self._vocabulary = tuple(
            sorted({w.lower() for w in subjects if len(w) >= 2 and w not in generic}, key=len, reverse=True)
        )

    # --- the context an answer returns ------------------------------------------------------------

    def context_of(
        self, results: Sequence[Result], query: Query, abstained: bool, follow: FollowUp | None = None
    ) -> Context:
        """The context of an answer: the clauses it cited, best first. An abstention's clauses were
        only possibly related, and none when the question named a subject the plan does not cover."""
        if not results or (abstained and query.off_topic):
            return Context()
        # A listing cites every task it lists, whatever k; a context names at most _MAX_CLAUSES.
        keys = tuple(dict.fromkeys((r.doc_id, r.clause) for r in results))[:_MAX_CLAUSES]
        top = results[0]
        # A follow-up keeps the question that set its subject: 那谁负责? names none.
        question = follow.context.question if follow is not None else query.raw
        return Context(
            clauses=keys,
            doc=top.doc_id,
            version=top.version,
            subject=self.label(keys[0], query.english),
            question=None if question is None else question[:_MAX_TEXT],
            abstained=abstained,
        )

    def label(self, key: ClauseKey, english: bool = False) -> str:
        """A clause as a follow-up names it: 第10项 升级“美丽家园”建设; task 10 "…"; a document's title."""
        doc = self.collection.get(key[0])
        clause = self._clause.get(key)
        if clause is not None and clause.kind == "task":
            label = clause_label(int(clause.clause), english, superseded=doc.is_superseded)
            if english:
                title = self.lexicon.english(clause.title) or clause.title
                return f'{label} "{title}"'
            return f"{label} {clause.title}"
        if english:
            return self.lexicon.english(doc.title) or doc.cite_title
        return citation_label(doc, clause)

    # --- reading a context --------------------------------------------------------------------------

    def read_context(self, raw: object, english: bool = False) -> Context | None:
        """The context a question is asked with, checked; None for none.

        Accepts a ``Context`` or the object an answer's JSON holds under ``context``.

        Raises:
            InvalidContext: not an object, unknown or missing fields, wrong types, clauses that do
                not exist, or doc, version or subject that do not describe the first clause; in
                the asker's language.
        """
        if raw is None:
            return None
        if isinstance(raw, Context):
            raw = raw.to_dict()

        def fail(zh: str, en: str) -> InvalidContext:
            return InvalidContext(en if english else zh)

        if not isinstance(raw, Mapping):
            raise fail(
                f"对话上下文必须是一个 JSON 对象(上一次回答中的 context),收到的是 {type(raw).__name__}。",
                f"The context must be a JSON object (the context of a previous answer), not {type(raw).__name__}.",
            )
        unknown = sorted(str(k) for k in raw if k not in CONTEXT_FIELDS)
        if unknown:
            raise fail(
                f"对话上下文中有未知字段 {', '.join(unknown)[:80]};可用字段:{', '.join(CONTEXT_FIELDS)}。",
                f"The context has unknown fields {', '.join(unknown)[:80]}; it may hold {', '.join(CONTEXT_FIELDS)}.",
            )
        if "clauses" not in raw:
            raise fail(
                "对话上下文缺少 clauses(上一次回答引用的条款编号列表)。",
                "The context lacks clauses (the list of clause ids the previous answer cited).",
            )
        ids = raw["clauses"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise fail(
                '对话上下文的 clauses 必须是条款编号字符串的列表,例如 ["plan-final#10"]。',
                'The context\'s clauses must be a list of clause id strings, e.g. ["plan-final#10"].',
            )
        if len(ids) > _MAX_CLAUSES:
            raise fail(
                f"对话上下文的 clauses 最多 {_MAX_CLAUSES} 个,收到 {len(ids)} 个。",
                f"The context names at most {_MAX_CLAUSES} clauses, not {len(ids)}.",
            )
        if not isinstance(raw.get("abstained", False), bool):
            raise fail(
                "对话上下文的 abstained 必须是 true 或 false。",
                "The context's abstained must be true or false.",
            )
        for name in ("doc", "version", "subject", "question"):
            value = raw.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > _MAX_TEXT):
                raise fail(
                    f"对话上下文的 {name} 必须是字符串或 null。",
                    f"The context's {name} must be a string or null.",
                )
        keys = tuple(dict.fromkeys(self._key(i, english) for i in ids))
        if not keys:
            return Context(question=raw.get("question"), abstained=bool(raw.get("abstained", False)))
        first = keys[0]
        doc = self.collection.get(first[0])
        checks = (
            ("doc", raw.get("doc"), {first[0]}),
            ("version", raw.get("version"), {doc.version}),
            ("subject", raw.get("subject"), {self.label(first), self.label(first, True)}),
        )
        for name, value, allowed in checks:
            if value is not None and value not in allowed:
                raise fail(
                    f"对话上下文的 {name}({str(value)[:40]})与第一个条款 {clause_id(first)} 不符。",
                    f"The context's {name} ({str(value)[:40]}) does not describe its first clause {clause_id(first)}.",
                )
        return Context(
            clauses=keys,
            doc=first[0],
            version=doc.version,
            subject=self.label(first, english),
            question=raw.get("question"),
            abstained=bool(raw.get("abstained", False)),
        )

    def _key(self, text: str, english: bool) -> ClauseKey:
        doc_id, _, part = text.strip().partition("#")
        if doc_id not in self.collection.doc_ids:
            raise InvalidContext(
                f"The context names {text[:40]!r}, which is not a clause of the documents "
                f"({', '.join(self.collection.doc_ids)})."
                if english
                else f"对话上下文中的 {text[:40]!r} 不是文档中的条款(文档编号:{', '.join(self.collection.doc_ids)})。"
            )
        key: ClauseKey = (doc_id, None)
        if part:
            key = next((k for k in self._positions if k[0] == doc_id and str(k[1]) == part), (doc_id, part))
        if key not in self._positions:
            raise InvalidContext(
                f"The context names {text[:40]!r}: {doc_id} has no such clause."
                if english
                else f"对话上下文中的 {text[:40]!r} 不存在:{doc_id} 中没有这个条款。"
            )
        return key

    # --- following on -------------------------------------------------------------------------------

    def reading(self, query: Query, context: Context, hits: Sequence[Hit], signals: Signals) -> Reading:
        """How ``query`` reads against ``context``, given what it matches on its own."""
        text = query.text.lower()
        cues = self.cues
        start = text.lstrip(" ,.!?,。!?")
        ordinal = next((n for w, n in cues.ordinals.items() if _mentions(text, w)), None)
        pointer = ordinal is not None or any(_mentions(text, w) for w in cues.anaphora)
        cue = (
            pointer
            or any(_mentions(text, w) for w in cues.ellipsis)
            or any(
                start.startswith(w) and (_CJK.search(w) or re.match(rf"{w}\b", start))
                for w in cues.anaphora_start
            )
        )
        version = self._version(query)
        content, new, named = self._subject_words(query, context)
        top = hits[0].chunk if hits else None
        return Reading(
            new_topic=any(_mentions(text, w) for w in cues.new_topic),
            own_subject=self._own_subject(query),
            cue=cue or version is not None,
            pointer=pointer,
            ordinal=ordinal,
            content=content,
            new=new,
            named=named,
            top_bm25=signals.top_bm25,
            top_carried=top is not None and (top.doc_id, top.clause) in context.clauses,
            version=version,
            listed=context.abstained,
            elsewhere=bool(query.roles) and not any(self._role(k) in query.roles for k in context.clauses),
        )

    def follow(
        self, query: Query, context: Context | None, hits: Sequence[Hit], signals: Signals
    ) -> FollowUp | None:
        """The question as a follow-up of ``context``, or None when it starts afresh."""
        if context is None or not context.clauses:
            return None
        reading = self.reading(query, context, hits, signals)
        if not follows(reading, self.thresholds):
            return None
        carried = list(context.clauses)
        subject = carried[0]
        distinct = self._distinct(carried)
        if reading.ordinal is not None and reading.ordinal <= len(distinct):
            subject = distinct[reading.ordinal - 1]
        elif query.wants_units and subject not in self._tasks():
            # 谁牵头? after an answer from the participation report: the task it cited.
            subject = next((k for k in carried if k in self._tasks()), subject)
        elif query.roles:
            subject = self._pointed_at(query, carried, subject)
        reasons = self._reasons(query, context, subject, reading)
        rewritten = self._rewrite(
            query, context, subject, reading.version, titled=not reasons, same_subject=reading.ordinal is None
        )
        if (
            reading.ordinal is not None
            and query.asks == "what"
            and rewritten.version is None
            and rewritten.clause is None
            and subject in self._tasks()
        ):
            # 第二个是干什么的? after a listing is 第30项是干什么的?: the task's title and the sentence
            # that says what it does, as for a task asked by number, not its title sentence alone.
            rewritten = replace(rewritten, clause=int(str(subject[1])))
        keys = list(carried)
        if rewritten.version is not None or reading.version == "final":
            keys += [self._other[k] for k in carried if k in self._other]
        favoured = {subject, *([self._other[subject]] if subject in self._other else [])}
        # 为什么加的? about a task the final plan added: the paragraph that says why leads, by the
        # subject's lead once more, and the task comes next, for the next question (谁牵头?). The
        # task's title is not added to the question: the task itself would match it best.
        keys += reasons
        boosts: dict[int, float] = {}
        for key in dict.fromkeys(keys):
            boost = self.thresholds.subject_boost * ((key in favoured) + 2 * (key in reasons))
            for p in self._positions.get(key, []):
                boosts[p] = boost
        label = self.label(subject, query.english)
        return FollowUp((subject,), label, rewritten, Scope(boosts), context)

    def _reasons(
        self, query: Query, context: Context, subject: ClauseKey, reading: Reading
    ) -> list[ClauseKey]:
        """The paragraphs that say why the final plan added or changed the subject task, when the
        question asks why of the change: it names the change (为什么加的? why was it changed?), or
        the subject was set by a question about the versions (电动自行车那一项草案里有吗? 为什么?)."""
        found = self.reasons.get(subject) or self.reasons.get(self._other.get(subject, subject), ())
        if query.asks != "why" or not found:
            return []
        text = query.text.lower()
        about_change = reading.version == "compare" or any(_mentions(text, w) for w in self.cues.change)
        if not about_change and context.question:
            try:
                about_change = parse_query(context.question).version is not None
            except InvalidQuestion:
                about_change = False
        return [k for k in found if k in self._positions] if about_change else []

    def _distinct(self, keys: Sequence[ClauseKey]) -> list[ClauseKey]:
        """The clauses as a reader counts them: a task and its counterpart in the other plan are one."""
        out: list[ClauseKey] = []
        for key in keys:
            if self._other.get(key) not in out:
                out.append(key)
        return out

    def _pointed_at(self, query: Query, carried: Sequence[ClauseKey], subject: ClauseKey) -> ClauseKey:
        """The cited paragraph a question's document words point at (``Query.roles``).

        一共收到几条意见? after the consultation notice's deadline points at the participation
        report: its paragraph the previous answer also cited. 民意调查呢? after the report's
        questionnaire part points at the part that holds those words. The paragraph that holds
        the most of them wins, then the one the question's words match best (an English
        question's words are not in the Chinese text); a subject of that document that holds
        as many stays (受访者呢? after the questionnaire).
        """
        candidates = [k for k in carried if self._role(k) in query.roles]
        if not candidates:
            return subject
        text = query.text.lower()
        pointing = [
            w for role in query.roles for w in self.lexicon.doc_intents.get(role, ()) if _mentions(text, w)
        ]
        words = self.tokenizer.tokens(query.text) + self.tokenizer.tokens(" ".join(query.glossary_terms))
        bm25 = self.retriever.index.bm25_scores([w for w in words if not w.startswith("#")])

        def holds(key: ClauseKey) -> int:
            chunks = self.retriever.index.chunks
            inside = " ".join(chunks[p].text for p in self._positions.get(key, []))
            return sum(len(w) for w in pointing if w in inside)

        def score(key: ClauseKey) -> tuple[int, float]:
            return holds(key), max((float(bm25[p]) for p in self._positions.get(key, [])), default=0.0)

        best = max(candidates, key=score)  # max keeps the first of equals: the order cited
        if subject in candidates and holds(subject) >= holds(best):
            return subject
        return best

    def _role(self, key: ClauseKey) -> str:
        return self.collection.get(key[0]).role

    def _tasks(self) -> set[ClauseKey]:
        return {k for k, c in self._clause.items() if c.kind == "task"}

    def _rewrite(
        self,
        query: Query,
        context: Context,
        subject: ClauseKey,
        version: str | None,
        titled: bool = True,
        same_subject: bool = True,
    ) -> Query:
        """The question with the subject's words added (``titled``), with the question that set the
        subject where it keeps that subject (``same_subject``: not 第二个 after a listing), and the
        draft kept when the subject is the draft's and the question does not ask for another
        version."""
        clause = self._clause.get(subject)
        words = [clause.title] if clause is not None and titled else []
        if context.question and titled and same_subject:
            # "And by when?" after the parking near hospitals: the sentence that answers is the one
            # about what was asked before, not the task's first sentence with a date.
            words.append(context.question)
        draft = self.collection.superseded_plan.doc_id
        asked: VersionIntent | None = version if version in ("draft", "compare") else None  # type: ignore[assignment]
        if asked is None and version != "final" and subject[0] == draft:
            asked = "draft"
        rewritten = replace(query, expansions=(*query.expansions, *words), version=asked)
        if query.wants_units and clause is not None and clause.kind == "task" and query.clause is None:
            # 那谁负责? is 第10项谁负责?: the task's lead-unit note is the answer.
            rewritten = replace(rewritten, clause=int(clause.clause), clause_in_draft=subject[0] == draft)
        return rewritten

    def _version(self, query: Query) -> str | None:
        """The version a follow-up asks for. 还有别的吗? asks for more on the subject, not whether
        the final plan still has it, unless it names a version."""
        text = query.text.lower()
        final = any(_mentions(text, w) for w in self.cues.final)
        if query.version == "compare" and not final and any(_mentions(text, w) for w in self.cues.more):
            for word in self.cues.more:
                text = text.replace(word, " ")
            try:  # what is left still says 草案 when it asks about the draft
                return parse_query(text).version
            except InvalidQuestion:
                return None
        if query.version is not None:
            return query.version
        return "final" if final else None

    def _subject_words(self, query: Query, context: Context) -> tuple[int, int, int]:
        """Characters of the question's own subject words; of those the carried-over subject lacks;
        and of those, the plan's subject words. What it asks (谁负责, 什么时候), cue words and
        generic words are not subject words; an English question's subject words are the plan's
        words its own words name (the glossary)."""
        text = self._cleaned(query)
        carried = self._text(context)
        if query.english:
            words = self._glossary_words(text)
            lacking = [w for w in words if w not in carried]
            plan_words = [w for w in lacking if w.lower() in self._vocabulary]
            return sum(map(len, words)), sum(map(len, lacking)), sum(map(len, plan_words))
        words = [w for w in self.tokenizer.tokens(text) if not w.startswith("#") and len(w) >= 2]
        spans = [(w, text.find(w)) for w in dict.fromkeys(words) if _CJK.search(w)]
        spans += [(w, text.find(w)) for w in self._vocabulary if w in text]
        covered = [False] * len(text)
        known = [False] * len(text)
        plan = [False] * len(text)
        for w, at in spans:
            if at < 0:
                continue
            inside = w in carried
            for i in range(at, at + len(w)):
                covered[i] = True
                known[i] = known[i] or inside
                plan[i] = plan[i] or w in self._vocabulary
        unknown = [c and not k for c, k in zip(covered, known, strict=True)]
        named = sum(1 for u, p in zip(unknown, plan, strict=True) if u and p)
        return sum(covered), sum(unknown), named

    def _cleaned(self, query: Query) -> str:
        """The question without what it asks, its cue words and generic words."""
        text = query.text.lower()
        for word in self._removable:
            if _mentions(text, word):
                if _CJK.search(word):
                    text = text.replace(word, " ")
                else:
                    text = re.sub(rf"(?<![a-z]){re.escape(word)}(?![a-z])", " ", text)
        return text

    def _glossary_words(self, text: str) -> list[str]:
        """The plan's words for the English words left in ``text``, through the glossary."""
        out: list[str] = []
        for entry in self.lexicon.glossary:
            if entry.zh not in out and any(
                len(form) >= 3 and _mentions(text, form.lower()) for form in entry.en
            ):
                out.append(entry.zh)
        return out

    def _own_subject(self, query: Query) -> bool:
        """A clause number, a unit's task list, a listing of what the final plan added (removed …),
        or a subject the plan does not cover (医保, 下雨) that is not just what the question asks
        for (罚多少 asks an amount)."""
        if query.clause is not None or query.lists_tasks or query.version_status is not None:
            return True
        if not query.off_topic:
            return False
        text = query.text.lower()
        asked = [w for cue in self.lexicon.asks for w in cue.zh if w in text]
        around = self.lexicon.off_topic_around
        return any(
            names_service(text, w, around) and not any(w in a for a in asked) for w in self.lexicon.off_topics
        )

    def _text(self, context: Context) -> str:
        """The text of the carried-over subject: its clause, its counterpart, its label and question."""
        first = context.clauses[0]
        keys = [first, *([self._other[first]] if first in self._other else [])]
        chunks = self.retriever.index.chunks
        parts = [chunks[p].text for k in keys for p in self._positions.get(k, [])]
        return " ".join([*parts, context.subject or "", self.label(first), context.question or ""]).lower()
