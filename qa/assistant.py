"""The assistant: builds the collection, lexicon, tokenizer, index and plan comparison once, owns
them, and answers any number of questions.

The web page, the REST API and every ``qa`` command take what they need from one ``Assistant``;
no module builds these again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cached_property

import numpy as np

from qa import english
from qa.answer import (
    Answer,
    Result,
    abstains,
    also_answers,
    asked_sentence,
    change_lead,
    compose,
    coverage_of,
    dropped_lead,
    filters_notice,
    lead_sentence,
    listing,
    missing_task,
    to_result,
    unstated_detail,
)
from qa.compare import LISTED_STATUSES, PlanVersions, TaskPair, compare_plans, reason_paragraphs
from qa.conversation import Context, Conversation, FollowUp, load_cues
from qa.documents import Collection, Document, Version, load_collection
from qa.embedders import Embedder, load_embedder
from qa.errors import InvalidQuestion
from qa.index import Index, ensure_index
from qa.lexicon import AskCue, Lexicon, load_lexicon
from qa.overlap import asked_pairs, pair_weights, shared_pairs
from qa.places import named_places
from qa.plan_format import split_sentences, strip_heading_number
from qa.query import Query, parse_query
from qa.retrieve import MODES, Filters, Hit, Mode, Retriever, Signals
from qa.settings import Settings, check_k, load_settings
from qa.structure import Clause, parse_clauses
from qa.tokens import Tokenizer
from qa.tuned import Tuned, load_tuned
from qa.version_listing import version_listing

__all__ = ["Assistant"]


def _listed_lead(listed: str) -> str:
    """A listing's lead is the list itself, its heading and every task it names: the tasks are
    the answer. The note that English names are unofficial stays in the text only."""
    return "\n".join(line for line in listed.split("\n") if line != english.UNOFFICIAL)


# Kinds whose cue patterns are too broad to tell one paragraph from another.
_BROAD_KINDS = ("yesno", "what", "list", "why", "how")


def _holder(hits: list[Hit], cue: AskCue, asked: Mapping[str, float], follow_up: bool = False) -> int:
    """Which of the leading background paragraphs answers first. When the first holds nothing of
    what was asked, the first that does (the paragraph naming the documents a plan draws on,
    after the legality review that reads like the question). Otherwise, within the first's
    document, the paragraph whose sentence holding it shares the most word pairs with the
    question (who gave the report the meeting heard, not who it sent the plan to). 0 keeps
    retrieval's order; a task never trades places.

    A follow-up's "it" is what the previous answer led with: it keeps its place while it holds
    anything of the kind asked, and only a paragraph of its own document takes it otherwise (the
    notice's address for "意见寄到哪里?" after when the consultation ran)."""
    if cue.kind in _BROAD_KINDS and cue.missing is None:
        return 0
    shared: list[float] = []
    for hit in hits:
        if isinstance(hit.chunk.clause, int):
            break
        span = asked_sentence(hit, cue, asked=asked)
        shared.append(-1.0 if span is None else shared_pairs(hit.chunk.text[span[0] : span[1]], asked, cue))
    if not shared:
        return 0
    if shared[0] < 0:
        holds = [
            i
            for i, n in enumerate(shared)
            if n >= 0 and not (follow_up and hits[i].chunk.doc_id != hits[0].chunk.doc_id)
        ]
        return holds[0] if holds and cue.missing is not None else 0
    if follow_up:
        return 0
    same = [i for i in range(len(shared)) if hits[i].chunk.doc_id == hits[0].chunk.doc_id]
    best = max(same, key=lambda i: (shared[i], -i))
    return best if shared[best] > shared[0] else 0


class Assistant:
    """Loads the corpus, the embedder and the index once; answers any number of questions."""

    def __init__(
        self,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        tuned: Tuned | None = None,
        progress: bool = False,
        rebuild: bool = False,
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
            self.collection,
            self.embedder,
            self.tokenizer,
            self.settings,
            force=rebuild,
            progress=progress,
            services=self.lexicon.off_topic_services,
        )
        self.versions: PlanVersions = compare_plans(
            self.collection, self.lexicon.unit_aliases, self.lexicon.english
        )
        self.clauses: dict[str, tuple[Clause, ...]] = {
            doc.doc_id: tuple(parse_clauses(doc)) for doc in self.collection.documents
        }
        self.retriever = Retriever(
            self.index,
            self._embed_query,
            self.tokenizer,
            self.collection,
            self.versions.counterparts,
            self.tuned.weights,
            unit_aliases=self.lexicon.unit_aliases,
            off_topic_vectors=self.index.service_vectors,
            listings={s: self.versions.listed_tasks(s) for s in LISTED_STATUSES},
        )
        self.conversation = Conversation(
            self.collection,
            self.clauses,
            self.lexicon,
            self.tokenizer,
            self.retriever,
            self.versions.counterparts,
            self.tuned.followups,
            load_cues(self.settings.corpus_dir / "lexicon"),
            reason_paragraphs(self.versions, self.collection),
        )

    @cached_property
    def _documents_text(self) -> str:
        return "\n".join(doc.text for doc in self.collection.documents)

    def _about_another_place(self, query: Query, hits: list[Hit]) -> bool:
        """Whether a question asks when a current task reaches a place of its own the documents
        never name (天山路的人行道啥时候修?): the task's target is the district's, and says nothing of
        that street in particular. Not asked whether: 我家住在天山路…计划里有没有说? is answered by
        the task."""
        if query.english or query.asks_dated or query.asks != "date" or not hits:
            return False
        if hits[0].chunk.doc_id != self.collection.current_plan.doc_id:
            return False
        return bool(named_places(self.tokenizer.words(query.subject_text), self._documents_text))

    def _embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed_queries([text])[0]

    @cached_property
    def pair_weights(self) -> dict[str, float]:
        """How rare each character pair is among the documents' sentences (``qa.overlap``)."""
        texts = [doc.text for doc in self.collection.documents]
        return pair_weights(
            (text[s:e] for text in texts for s, e in split_sentences(text)),
            (self.collection.plan(version).title for version in ("final", "draft")),
        )

    @cached_property
    def doc_ids(self) -> list[str]:
        return self.collection.doc_ids

    def tasks(self, version: Version) -> tuple[Clause, ...]:
        """The numbered tasks of the current (``final``) or superseded (``draft``) plan."""
        return tuple(c for c in self.clauses[self.collection.plan(version).doc_id] if c.kind == "task")

    @cached_property
    def sections(self) -> list[str]:
        """The current plan's section names, unnumbered, in order."""
        names = [strip_heading_number(c.section) for c in self.tasks("final") if c.section]
        return list(dict.fromkeys(names))

    @cached_property
    def lead_units(self) -> list[str]:
        """Every unit that leads a task of either plan, by its canonical name, sorted."""
        aliases = self.lexicon.unit_aliases
        return sorted(
            {aliases.get(u, u) for v in ("final", "draft") for c in self.tasks(v) for u in c.lead_units}
        )

    def ask(
        self,
        question: object,
        k: int | None = None,
        doc: str | None = None,
        section: str | None = None,
        unit: str | None = None,
        mode: Mode = "full",
        context: Context | dict[str, object] | None = None,
    ) -> Answer:
        """Answer one question with up to ``k`` cited results, searching only within the filters.

        ``context`` is the ``context`` of the previous answer in a conversation: a question without
        a subject of its own (那谁负责?) follows on from it (``qa.conversation``). The answer
        carries its own context for the next question.

        Raises:
            InvalidQuestion: empty, over-long or wordless question, ``k`` outside its range, or an
                unknown section, lead unit or mode.
            UnknownDocument: ``doc`` is not a doc_id.
            InvalidContext: ``context`` is not an answer's context or names clauses that do not exist.
        """
        k = check_k(self.settings.k if k is None else k)
        if mode not in MODES:
            raise InvalidQuestion(f"未知的检索模式 {mode!r:.40};可用:{', '.join(MODES)}")
        if doc is not None:
            self.collection.get(doc)  # raises UnknownDocument with the valid ids
        if section and section not in self.sections:
            raise InvalidQuestion(f"未知的章节 {section!r:.40};可用:{'、'.join(self.sections)}")
        if unit and self.lexicon.unit_aliases.get(unit, unit) not in self.lead_units:
            raise InvalidQuestion(f"未知的牵头单位 {unit!r:.40};可用:{'、'.join(self.lead_units)}")
        query = parse_query(
            question, self.settings.max_question_chars, self.lexicon if mode == "full" else None
        )
        carried = self.conversation.read_context(context, query.english)
        filters = Filters(doc, section or None, unit or None)
        # No lock: retrieval only reads the index, jieba is initialised under its own lock, and the
        # embedder batches concurrent questions itself, so several questions are answered at once.
        follow: FollowUp | None = None
        hits, signals = self.retriever.search(query, k, filters, mode)
        if mode == "full":
            follow = self.conversation.follow(query, carried, hits, signals)
        if follow is not None:  # searched again, within what the previous answer cited
            query = follow.query
            hits, signals = self.retriever.search(query, k, filters, mode, follow.scope)
            signals = replace(signals, routed=True)
        cue = self.lexicon.cue(query.asks) if mode == "full" else None
        asked = asked_pairs(query, self.pair_weights)
        current = self.collection.current_plan
        results = [
            to_result(
                rank,
                hit,
                query,
                self.collection.get(hit.chunk.doc_id),
                self.versions.notes_in(query.english),
                current,
                len(self.tasks("final")),
                cue,
                self.thresholds.evidence_margin,
                asked,
            )
            for rank, hit in enumerate(hits, start=1)
        ]
        if mode != "full":
            text = compose(query, results, False)
            answer = Answer(
                query.raw, False, text, results, query, lead=text.split("\n", 1)[0], asks=query.asks
            )
            return replace(answer, context=self.conversation.context_of(results, query, False))
        numbered = self.collection.plan(query.numbered_version)
        missing = missing_task(query, numbered, self.tasks(query.numbered_version))
        abstained = missing is not None or not results or abstains(signals, self.thresholds)
        margin, dated = self.thresholds.evidence_margin, current.doc_id
        coverage = coverage_of(query, hits, cue, abstained, margin, dated)
        dropped = not abstained and self._asks_about_dropped_words(query, hits, results, signals)
        if dropped and query.version is None and query.asks_detail and cue is not None and cue.missing:
            # Asked of the current plan, a detail only the draft stated is not stated now.
            coverage = "partial"
        if (
            coverage == "answered"
            and cue is not None
            and results
            and not query.asks_dated
            and not dropped
            and not query.counts_tasks  # the plan's own count was put first; 29项任务延续 shares more words
        ):
            holder = _holder(hits, cue, asked, follow_up=follow is not None)
            if holder:
                order = [holder, *(i for i in range(len(results)) if i != holder)]
                results = [replace(results[i], rank=n) for n, i in enumerate(order, start=1)]
        unstated = cue
        if coverage == "answered" and not query.asks_dated:
            other = unstated_detail(query, hits, self.lexicon, margin, dated)
            if other is not None:
                coverage, unstated = "partial", other
        if coverage == "answered" and self._about_another_place(query, hits):
            coverage, unstated = "partial", self.lexicon.cue("place")
        not_stated = None
        if coverage == "partial" and unstated is not None and unstated.missing is not None:
            not_stated = unstated.missing[1] if query.english else unstated.missing[0]

        def reply(
            abstained: bool, text: str, results: list[Result], lead: str, listing: bool = False
        ) -> Answer:
            lead = lead or text.split("\n", 1)[0]
            if follow is not None:  # the rewrite is said, before the lead sentence
                text = follow.announce(query.english) + "\n" + text
            answer = Answer(
                query.raw, abstained, text, results, query, listing, lead, coverage, query.asks, not_stated
            )
            return replace(
                answer,
                follows=follow,
                context=self.conversation.context_of(results, query, abstained, follow),
            )

        if query.version_status is not None:
            listed = self._version_listing(query, results)
            if listed is not None:
                return reply(abstained, listed, results, _listed_lead(listed), listing=True)
        if query.lists_tasks and query.unit:
            listed = self._listing(query, filters)
            if listed is not None:
                return reply(abstained, listed, results, _listed_lead(listed), listing=True)
        if not results and filters:
            return reply(True, filters_notice(filters, query.english), [], "")
        lead = ""
        if results and not abstained:
            top = results[0]
            lead = lead_sentence(
                query, top, self.collection.get(top.doc_id), self.lexicon, coverage, not_stated, cue
            )
            if dropped:
                now = self.versions.rewording(int(top.clause or 0), results[1].highlight)
                lead = dropped_lead(results[0], results[1], self.lexicon, query.english, now)
            elif (
                query.names_versions
                and query.version in ("compare", "draft")
                and top.version == "final"
                and top.version_note
            ):
                # 第11项草案和正式版有什么不同? is answered by the changes, not the task's text; so is
                # 草案里有这个任务吗? when the final plan's task is the answer (the draft had none).
                lead = change_lead(top, self.lexicon, query.english)
            elif coverage == "answered" and self._both_answer(query, results):
                lead += also_answers(results[1], self.lexicon, query.english)
        text = compose(
            query, results, abstained, lead, self.collection.superseded_plan.text, self._cite(query, results)
        )
        if missing is not None:
            no_answer = compose(query, [], True)
            text = missing + text.removeprefix(no_answer)
        return reply(abstained, text, results, lead)

    def _asks_about_dropped_words(
        self, query: Query, hits: list[Hit], results: list[Result], signals: Signals
    ) -> bool:
        """Whether a question quotes the draft's words (平急两用…还有吗?, 新式里弄卫生设施改造多少平方米?):
        the draft counterpart of the top task matches the question better than the task does, and
        its sentence is not in the current plan as it stands. Without a word about versions, by
        the retriever's wider margin (``Weights.dropped``)."""
        # a task number of the draft's may come with the words (草案第14项有开展…,正式版删掉了吗?)
        if not (query.clause is None or query.clause_in_draft) or len(results) < 2:
            return False
        if query.version is None:
            # Retrieval put the draft task beside its current one, unasked.
            return signals.dropped_words
        if query.version != "compare":
            return False
        final, draft = results[0], results[1]
        if final.version != "final" or not isinstance(final.clause, int):
            return False
        if self.versions.counterparts.get((final.doc_id, final.clause)) != (draft.doc_id, draft.clause):
            return False
        closer = hits[1].closeness[:1] > hits[0].closeness[:1]
        return closer and draft.highlight.strip() not in self.collection.current_plan.text

    def _both_answer(self, query: Query, results: list[Result]) -> bool:
        """Whether the two best results are tasks of the current plan that answer about as well,
        on a question that names no task, unit or version of its own."""
        if query.clause is not None or query.lists_tasks or query.version is not None or len(results) < 2:
            return False
        first, second = results[0], results[1]
        return (
            first.version == second.version == "final"
            and isinstance(first.clause, int)
            and isinstance(second.clause, int)
            and first.clause != second.clause
            and first.score - second.score <= self.thresholds.also_answers
        )

    def _cite(self, query: Query, results: list[Result]) -> str:
        """The top result's citation in the asker's language ("" keeps the documents' own)."""
        if not query.english or not results:
            return ""
        top = results[0]
        doc = self.collection.get(top.doc_id)
        # the lead sentence names the task in English: the line under it need not again
        return english.citation(
            doc.title, doc.cite_title, top.clause, top.title, top.citation, self.lexicon.english, short=True
        )

    def _listing(self, query: Query, filters: Filters) -> str | None:
        """Every task the named unit leads within the filters, or None when the document filter
        names another document than the plan listed."""
        doc_version: Version | None = (
            "draft" if filters.doc == self.collection.superseded_plan.doc_id else None
        )
        version = query.listing_version(doc_version)
        plan: Document = self.collection.plan(version)
        if filters.doc not in (None, plan.doc_id):
            return None
        assert query.unit is not None
        tasks = [
            c
            for c in self.tasks(version)
            if self.retriever.leads(c.lead_units, query.unit)
            and (not filters.section or strip_heading_number(c.section) == filters.section)
            and (not filters.unit or self.retriever.leads(c.lead_units, filters.unit))
        ]
        return listing(query, plan, tasks, bool(filters.section or filters.unit), self.lexicon.english)

    def _version_listing(self, query: Query, results: list[Result]) -> str | None:
        """Every task the final plan added (removed, merged …) relative to the draft, as the
        results hold them; None when the filters left none of them (then it is answered as a search)."""
        assert query.version_status is not None
        shown, pairs = self.versions.listing(query.version_status)
        cited = {(r.doc_id, r.clause) for r in results}

        def cites(pair: TaskPair) -> bool:
            if pair.final is not None:
                return (self.versions.final.doc_id, pair.final) in cited
            return (self.versions.draft.doc_id, pair.drafts[0]) in cited

        kept = [p for p in pairs if cites(p)]
        if pairs and not kept:
            return None
        drafts = {int(c.clause): c.title for c in self.tasks("draft")}
        return version_listing(
            query.version_status,
            shown,
            pairs,
            drafts.__getitem__,
            self.lexicon.english if query.english else None,
            filtered=kept,
        )
