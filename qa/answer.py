"""The assistant: a question in, an extractive answer with citations out.

The words of an answer are the plan's own, at exact offsets; around them the assistant only says
where they come from, who leads the task, how the final plan differs from the draft, or that the
documents do not cover the question.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, replace
from functools import cached_property

import numpy as np

from qa.compare import version_map
from qa.documents import Collection, load_collection, shorten
from qa.embedders import Embedder, load_embedder
from qa.errors import InvalidQuestion
from qa.index import Index, Sentence, ensure_index
from qa.query import Lexicon, Query, load_lexicon, parse_query
from qa.retrieve import MODES, Hit, Retriever, Signals
from qa.settings import Settings, load_settings
from qa.structure import is_heading
from qa.tokens import Tokenizer
from qa.tuned import Thresholds, Tuned, load_tuned

__all__ = ["Assistant", "Answer", "Result", "abstains", "quote", "NO_ANSWER_ZH", "NO_ANSWER_EN"]

NO_ANSWER_ZH = "计划中没有找到与此直接相关的内容。"
NO_ANSWER_EN = "The plan does not directly address this question."
# Background documents that describe the draft (its 34 tasks, its five parts): what they say of the
# plan's content is the draft's, not the final plan's.
DRAFT_ERA_DOCS = frozenset({"draft-faq", "drafting-notes"})
_DRAFT_ERA_NOTE = (
    "此材料说明的是草案;正式版共36项任务,以《长宁区城市管理精细化三年行动计划(2024-2026年)》为准。"
)
_DRAFT_PARAGRAPH_NOTE = "此为草案内容,已被正式版《长宁区城市管理精细化三年行动计划(2024-2026年)》取代。"
_LEAD_PAREN = re.compile(r"^\(牵头单位:[^)]*\)$")


def abstains(signals: Signals, thresholds: Thresholds) -> bool:
    """Abstain when nothing routed the question and either it names a subject the plan does not
    cover without matching the plan's words strongly, or neither signal reaches its threshold.

    The thresholds are tuned on the gold set's dev split (``corpus/tuned.json``).
    """
    if signals.routed:
        return False
    if signals.off_topic and signals.top_bm25_plain < thresholds.off_topic_bm25:
        return True
    if signals.about_document:
        return False
    return signals.top_dense < thresholds.min_dense and signals.top_bm25 < thresholds.min_bm25


@dataclass(frozen=True)
class Result:
    rank: int
    doc_id: str
    doc_title: str
    version: str | None
    clause: int | str | None
    title: str
    section: str
    lead_units: list[str]
    text: str
    start: int
    end: int
    highlight: str
    highlight_start: int  # offsets into ``text``
    highlight_end: int
    score: float
    citation: str
    version_note: str | None


@dataclass(frozen=True)
class Answer:
    question: str
    abstained: bool
    answer: str
    results: list[Result]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def quote(result: Result, english: bool = False) -> str:
    """The answer built on one result: its highlighted words, citation, lead units and version note."""
    lines = [result.highlight, f"——{result.citation}"]
    if result.lead_units:
        lines.append(("Lead units: " if english else "牵头单位:") + "、".join(result.lead_units))
    if result.version_note:
        lines.append(("Draft vs final: " if english else "版本说明:") + result.version_note)
    if result.version == "draft" or result.doc_id in DRAFT_ERA_DOCS:
        # Draft text is quoted only when asked for, and never without saying it is not current policy.
        lines.insert(
            0,
            "(Draft-stage text, superseded by the final plan:)"
            if english
            else "(以下为草案阶段的原文,已被正式版取代,不是现行内容:)",
        )
    elif english:
        lines.insert(0, "From the documents (quoted in Chinese):")
    return "\n".join(lines)


class Assistant:
    """Loads the corpus, the embedder and the index once; answers any number of questions."""

    def __init__(
        self,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        tuned: Tuned | None = None,
        progress: bool = False,
    ) -> None:
        self.settings = settings or load_settings()
        self.collection: Collection = load_collection(self.settings.corpus_dir)
        self.lexicon: Lexicon = load_lexicon(self.settings.corpus_dir / "lexicon")
        self.embedder = embedder or load_embedder(self.settings.embedder)
        self.tokenizer = Tokenizer(self.lexicon.dictionary_words())
        self.tuned = tuned or load_tuned(self.settings.corpus_dir)
        self.thresholds = self.tuned.thresholds
        self.index: Index
        self.index, self.built = ensure_index(
            self.collection, self.embedder, self.tokenizer, self.settings, progress=progress
        )
        self._notes, counterparts = version_map(
            self.collection.get("plan-draft"), self.collection.get("plan-final")
        )
        self.retriever = Retriever(
            self.index,
            self._embed_query,
            self.tokenizer,
            counterparts,
            self.tuned.weights,
            unit_aliases=self.lexicon.unit_aliases,
        )
        self._sentences_of: dict[int, list[tuple[int, Sentence]]] = {}
        for i, sentence in enumerate(self.index.sentences):
            self._sentences_of.setdefault(sentence.chunk, []).append((i, sentence))
        self._lock = threading.Lock()

    def _embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed_queries([text])[0]

    @cached_property
    def doc_ids(self) -> list[str]:
        return self.collection.doc_ids

    def ask(
        self, question: object, k: int | None = None, doc: str | None = None, mode: str = "full"
    ) -> Answer:
        """Answer one question with up to ``k`` cited results.

        Raises:
            InvalidQuestion: empty, over-long or wordless question, or ``k`` outside 1–20.
            UnknownDocument: ``doc`` is not a doc_id.
        """
        k = self.settings.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 20:
            raise InvalidQuestion(f"k 必须是 1 到 20 之间的整数(收到 {shorten(k)})。")
        if mode not in MODES:
            raise InvalidQuestion(f"未知的检索模式 {shorten(mode)};可用:{', '.join(MODES)}")
        if doc is not None and doc not in self.doc_ids:
            self.collection.get(str(doc))  # raises UnknownDocument with the valid ids
        query = parse_query(
            question, self.settings.max_question_chars, self.lexicon if mode == "full" else None
        )
        with self._lock:  # the embedder and jieba take turns; a question takes milliseconds
            hits, signals, qvec = self.retriever.search(query, k, doc, mode)
        words = {w for w in self.tokenizer.tokens(query.expanded) if not w.startswith("#")}
        results = [self._result(rank, hit, query, qvec, words) for rank, hit in enumerate(hits, start=1)]
        missing = self._missing_task(query) if mode == "full" else None
        abstained = mode == "full" and (missing is not None or abstains(signals, self.thresholds))
        text = self._compose(query, results, abstained, doc)
        if missing is not None:
            text = missing + text.removeprefix(NO_ANSWER_EN if query.english else NO_ANSWER_ZH)
        return Answer(query.raw, abstained, text, results)

    def _missing_task(self, query: Query) -> str | None:
        """For a task number the plan does not have (第37项): say how many tasks it has."""
        if query.clause is None:
            return None
        plan = self.retriever.numbered_plan(query)
        if self.retriever.task_positions((plan, query.clause)):
            return None
        count = len(
            {ch.clause for ch in self.index.chunks if ch.doc_id == plan and isinstance(ch.clause, int)}
        )
        name = self.collection.get(plan).cite_title
        if query.english:
            return f"{name} has {count} tasks; there is no task {query.clause}."
        return f"{name}共{count}项任务,没有第{query.clause}项。"

    def _result(self, rank: int, hit: Hit, query: Query, qvec: np.ndarray, words: set[str]) -> Result:
        ch = hit.chunk
        doc = self.collection.get(ch.doc_id)
        hs, he = self._highlight(hit.position, query, qvec, words)
        note = self._notes.get((ch.doc_id, ch.clause)) if isinstance(ch.clause, int) else None
        if note is None and ch.doc_id == "plan-draft":
            note = _DRAFT_PARAGRAPH_NOTE
        elif ch.doc_id in DRAFT_ERA_DOCS:
            note = _DRAFT_ERA_NOTE
        return Result(
            rank=rank,
            doc_id=ch.doc_id,
            doc_title=doc.title,
            version=doc.version,
            clause=ch.clause,
            title=ch.title,
            section=ch.section,
            lead_units=list(ch.lead_units),
            text=ch.text,
            start=ch.start,
            end=ch.end,
            highlight=ch.text[hs:he],
            highlight_start=hs,
            highlight_end=he,
            score=round(float(hit.score), 4),
            citation=ch.citation,
            version_note=note,
        )

    def _listing(self, query: Query, doc: str | None) -> str | None:
        """Every task the named unit leads, in the plan's words; or that it leads none."""
        assert query.unit is not None
        plan = self.retriever.listing_plan(query, doc)
        if doc not in (None, plan):
            return None
        tasks = [self.index.chunks[p] for p in self.retriever.unit_tasks(query.unit, plan)]
        name = self.collection.get(plan).cite_title
        if not tasks:
            return (
                f"{name} has no task led by {query.unit}."
                if query.english
                else f"{name}中没有由{query.unit}牵头的任务。"
            )
        head = (
            f"{query.unit} leads (alone or jointly) {len(tasks)} tasks of {name}:"
            if query.english
            else f"{name}中,{query.unit}牵头(含共同牵头)的任务共{len(tasks)}项:"
        )
        return "\n".join([head, *(f"第{ch.clause}项 {ch.title}" for ch in tasks)])

    def _highlight(self, position: int, query: Query, qvec: np.ndarray, words: set[str]) -> tuple[int, int]:
        """The sentence(s) of the chunk that answer the question, as offsets into its text.

        Asked for a task's lead units by number, that is the 牵头单位 note; asked for a task by
        number, its title and first sentence; otherwise the sentence closest to the question by
        vector, plus shared words.
        """
        chunk = self.index.chunks[position]
        sentences = self._sentences_of.get(position, [])
        lead = [s for _, s in sentences if _LEAD_PAREN.match(chunk.text[s.start : s.end])]
        body = [(i, s) for i, s in sentences if not _LEAD_PAREN.match(chunk.text[s.start : s.end])]
        # A part's heading (一、向社会公开征求意见) names the part and a Q&A pair's question asks it;
        # the answer is in what follows.
        body = [
            (i, s)
            for i, s in body
            if not is_heading(chunk.text[s.start : s.end])
            and not chunk.text[s.start : s.end].endswith(("?", "?"))
        ] or body
        if not body:
            return 0, len(chunk.text)
        if query.clause is not None and query.clause == chunk.clause:
            if query.wants_units and lead:
                return lead[0].start, lead[0].end
            if body[0][1].start == 0:
                return 0, body[min(1, len(body) - 1)][1].end
        best, best_score = body[0][1], -np.inf
        total = max(1, sum(len(w) for w in words))
        for i, s in body:
            sentence = chunk.text[s.start : s.end]
            overlap = sum(len(w) for w in words if w in sentence) / total
            score = float(self.index.sentence_vectors[i] @ qvec) + 0.3 * overlap
            if isinstance(chunk.clause, int) and s.start == 0 and len(body) > 1:
                score -= 0.02  # the task's title sentence only names it; prefer what it says
            if score > best_score:
                best, best_score = s, score
        return best.start, best.end

    def _compose(self, query: Query, results: list[Result], abstained: bool, doc: str | None) -> str:
        en = query.english
        if query.lists_tasks and query.unit:
            listing = self._listing(query, doc)
            if listing:
                return listing
        if not results:
            return NO_ANSWER_EN if en else NO_ANSWER_ZH
        if abstained:
            return (
                NO_ANSWER_EN + " Possibly related clauses are listed below."
                if en
                else NO_ANSWER_ZH + "以下条款可能相关,仅供参考。"
            )
        top = results[0]
        if query.version == "compare" and top.version_note:
            # Asked what changed: the change is the answer, the quoted sentence its evidence.
            lead = ("Draft vs final: " if en else "版本说明:") + top.version_note
            return lead + "\n" + quote(replace(top, version_note=None), en)
        return quote(top, en)
