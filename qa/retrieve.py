"""Fusion and ranking: dense and BM25 scores combined, then the question's intent applied.

Modes, for the evaluation's ablations: ``bm25`` and ``dense`` alone, ``hybrid`` (both fused, the
question taken literally) and ``full`` (hybrid over the question with the plan's wording added,
then clause, lead-unit and version routing). Filters (a document, a section, a lead unit) apply
before ranking, so a filter sees every chunk, not the top few.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

import numpy as np

from qa.chunking import Chunk
from qa.compare import TaskKey
from qa.documents import Collection, Version
from qa.index import Index
from qa.plan_format import is_lead_note, is_task_title, strip_heading_number
from qa.query import Query
from qa.structure import is_heading, sign_off
from qa.tokens import Tokenizer
from qa.tuned import Weights

__all__ = ["Hit", "Signals", "Filters", "Scope", "Retriever", "Mode", "MODES"]

Mode = Literal["bm25", "dense", "hybrid", "full"]
MODES: tuple[Mode, ...] = get_args(Mode)
_POOL = 20
# How much the words a sentence shares with the question count beside its vector similarity.
_OVERLAP_WEIGHT = 0.3


@dataclass(frozen=True)
class Hit:
    position: int  # in Index.chunks
    chunk: Chunk
    score: float
    # The chunk's sentences (offsets into chunk.text), closest to the question first, by their
    # own vectors and the words they share with it: what the chunk offers as evidence.
    sentences: tuple[tuple[int, int], ...]
    # How close each of ``sentences`` is to the question, in the same order.
    closeness: tuple[float, ...] = ()

    @property
    def sentence(self) -> tuple[int, int]:
        return self.sentences[0]

    def close_to_best(self, margin: float) -> tuple[tuple[int, int], ...]:
        """The sentences within ``margin`` of the closest one: those that answer the question as
        much as it does."""
        if not self.closeness:
            return self.sentences[:1]
        best = self.closeness[0]
        return tuple(s for s, c in zip(self.sentences, self.closeness, strict=True) if c >= best - margin)


@dataclass(frozen=True, kw_only=True)
class Signals:
    """How strongly anything matched, before routing: the abstention decision reads these."""

    top_dense: float
    top_bm25: float
    routed: bool  # a clause number or a named lead unit decided the results
    off_topic: bool = False  # the question names a subject the plan does not cover
    # … in the clause that asks where or how to get it done (``Query.off_topic_asked``)
    off_topic_asked: bool = False
    # BM25 of the question's own words: the plan's wording added for everyday words must not make
    # an off-topic question (地铁票价 -> 轨交) look covered.
    top_bm25_plain: float = 0.0
    # How much closer the question is to the nearest subject the plan does not cover than to the
    # nearest sentence of the documents searched (cosine); negative when a sentence is closer.
    off_topic_lead: float = -1.0
    about_document: bool = False  # 印发, 审议, 邮箱 …: asks about one of the background documents
    searched: int = 0  # chunks left once the filters applied
    # The draft task after the first result is there for words only the draft has, unasked
    # (``Retriever._dropped_words``): the answer quotes it as superseded.
    dropped_words: bool = False


@dataclass(frozen=True)
class Filters:
    """Where to look: one document, one section of a plan (unnumbered), tasks one unit leads."""

    doc: str | None = None
    section: str | None = None
    unit: str | None = None

    def __bool__(self) -> bool:
        return bool(self.doc or self.section or self.unit)


@dataclass(frozen=True)
class Scope:
    """Where a follow-up question looks (``qa.conversation``): only these chunks, each favoured by
    its boost (z-score units) over what the question alone would rank first."""

    boosts: Mapping[int, float]  # chunk position -> boost

    def mask(self, n: int) -> np.ndarray:
        return np.isin(np.arange(n), list(self.boosts))


def _z(scores: np.ndarray) -> np.ndarray:
    std = float(scores.std())
    return (scores - scores.mean()) / std if std > 1e-9 else np.zeros_like(scores)


class Retriever:
    """Ranks the chunks of one index for one question."""

    def __init__(
        self,
        index: Index,
        embed_query: Callable[[str], np.ndarray],
        tokenizer: Tokenizer,
        collection: Collection,
        counterparts: Mapping[TaskKey, TaskKey],
        weights: Weights | None = None,
        unit_aliases: Mapping[str, str] | None = None,
        off_topic_vectors: np.ndarray | None = None,
        listings: Mapping[str, Sequence[TaskKey]] | None = None,
    ) -> None:
        self.index = index
        # The kinds of service the plan does not cover (schooling, pensions …), one passage each: a
        # question closer to one of them than to any sentence of the documents is about that kind.
        self._off_topic_vectors = off_topic_vectors
        # status -> the tasks a question asking the final plan to list that status gets, in order
        # (``PlanVersions.listed_tasks``): 正式版新增了哪些任务? pins every task added.
        self._listings = listings or {}
        self._embed_query = embed_query
        self._tokenizer = tokenizer
        self._counterparts = counterparts
        self._unit_aliases = unit_aliases or {}
        self.weights = weights or Weights()
        self._plans = {v: collection.plan(v).doc_id for v in ("draft", "final")}
        self._roles = {d.doc_id: d.role for d in collection.documents}
        self._task_titles = frozenset(ch.title for ch in index.chunks if isinstance(ch.clause, int))
        self._task_positions: dict[TaskKey, list[int]] = {}
        for i, ch in enumerate(index.chunks):
            if isinstance(ch.clause, int):
                self._task_positions.setdefault((ch.doc_id, ch.clause), []).append(i)
        self._sentences_of: dict[int, list[int]] = {}
        for i, sentence in enumerate(index.sentences):
            self._sentences_of.setdefault(sentence.chunk, []).append(i)
        self._sentence_chunk = np.array([s.chunk for s in index.sentences], dtype=np.int64)
        self._current_text = collection.current_plan.text
        self._draft = np.array([ch.doc_id == self._plans["draft"] for ch in index.chunks])
        self._final = np.array([ch.doc_id == self._plans["final"] for ch in index.chunks])
        self._has_units = np.array([bool(ch.lead_units) for ch in index.chunks])
        # A document's sign-off: the chunk that ends with its issuer and date, whether it stands
        # alone (after numbered parts) or closes the notice's last paragraph.
        self._sign_off = {
            ch.doc_id: i
            for i, ch in enumerate(index.chunks)
            if not isinstance(ch.clause, int) and sign_off(ch.text) is not None
        }

    def plan_id(self, version: Version) -> str:
        return self._plans[version]

    def task_positions(self, key: TaskKey) -> list[int]:
        return self._task_positions.get(key, [])

    def search(
        self,
        query: Query,
        k: int,
        filters: Filters | None = None,
        mode: Mode = "full",
        scope: Scope | None = None,
    ) -> tuple[list[Hit], Signals]:
        """The top ``k`` chunks within ``filters`` (and ``scope``), and the match signals."""
        filters = filters or Filters()
        text = query.expanded if mode == "full" else query.text
        qvec = self._embed_query(text)
        words = self._tokenizer.tokens(text)
        # Which sentence of a clause answers is read from the question's own words: a task title
        # the glossary added for "property management", or a follow-up's subject (加强住宅小区物业
        # 管理 for "草案里是多少?"), would favour the sentences that echo it.
        sentence_words = (
            list(words)
            if mode != "full" or not any(e in self._task_titles for e in query.expansions)
            else self._tokenizer.tokens(
                " ".join((query.text, *(e for e in query.expansions if e not in self._task_titles)))
            )
        )
        if mode == "full" and query.glossary_terms:
            # The plan's words for an English question's words: the multilingual model reads the
            # English itself, BM25 needs the Chinese.
            words += self._tokenizer.tokens(" ".join(query.glossary_terms))
            sentence_words += self._tokenizer.tokens(
                " ".join(t for t in query.glossary_terms if t not in self._task_titles)
            )
        focus = query.focus_text if mode == "full" and self.weights.focus > 0 else None
        if focus:
            # The asking sentence weighs above the story; the story still counts as context.
            f = self.weights.focus
            qvec = f * self._embed_query(focus) + (1 - f) * qvec
            qvec = (qvec / max(float(np.linalg.norm(qvec)), 1e-9)).astype(np.float32)
            focus_words = self._tokenizer.tokens(focus)
            words = focus_words + words
            sentence_words = focus_words + sentence_words
        dense = self.index.dense_scores(qvec)
        lexical = self.index.bm25_scores(words)
        # How strongly the plan's own words match the asking sentence (with the sentence it points
        # back to), without added wording: a long message's story (最近小区在搞精品小区改造) does not
        # vouch for its question (养老金).
        asked = query.subject_text
        plain = lexical if text == asked else self.index.bm25_scores(self._tokenizer.tokens(asked))
        allowed = self._allowed(filters)
        if scope is not None:
            allowed &= scope.mask(len(allowed))
        searched = int(allowed.sum())
        if not searched:
            return [], Signals(
                top_dense=0.0, top_bm25=0.0, routed=False, off_topic=query.off_topic, searched=0
            )
        # Signals over the chunks searched: asked within one document, the question must be
        # covered by that document, not by the whole collection.
        doc_role = self._roles.get(filters.doc) if filters.doc else None
        # Each chunk's closest sentence: a score of its own in the fusion, and what an off-topic
        # subject must come closer than.
        best_sentence = self._best_sentence_scores(qvec) if mode == "full" else None
        off_topic_lead = -1.0
        if best_sentence is not None and self._off_topic_vectors is not None and len(self._off_topic_vectors):
            nearest_sentence = float(best_sentence[allowed].max())
            off_topic_lead = float((self._off_topic_vectors @ qvec).max()) - nearest_sentence
        signals = Signals(
            top_dense=float(dense[allowed].max()),
            top_bm25=float(lexical[allowed].max()),
            routed=query.version == "compare",  # a question about how the versions differ is about the plan
            off_topic=query.off_topic,
            off_topic_asked=query.off_topic_asked,
            top_bm25_plain=float(plain[allowed].max()),
            about_document=bool(query.roles) and (doc_role is None or doc_role in query.roles),
            searched=searched,
            off_topic_lead=off_topic_lead,
        )
        evidence = _Evidence(qvec, {w for w in sentence_words if not w.startswith("#")})
        if mode == "dense":
            scores = dense.astype(np.float64)
        elif mode == "bm25":
            scores = lexical.astype(np.float64)
        else:
            w = self.weights.dense
            scores = w * _z(dense) + (1 - w) * _z(lexical)
            if best_sentence is not None and self.weights.sentence:
                scores = scores + self.weights.sentence * _z(best_sentence)
        if mode != "full":
            return self._top(scores, allowed, k, evidence), signals

        pinned = [p for p in self._pinned(query, filters) if allowed[p]]
        if pinned:
            signals = replace(signals, routed=True)
            if query.lists_tasks or query.version_status is not None:
                # Every task the unit leads (or the final plan added …), whatever k is: a listing
                # cut short would mislead.
                return [self._hit(p, 100.0 - i, evidence) for i, p in enumerate(pinned)], signals
        scores = self._apply_intent(scores, query)
        for position, boost in scope.boosts.items() if scope is not None else ():
            scores[position] += boost
        # Versions are ordered over a wider pool than k, so that with k=1 the final plan's task
        # still displaces its draft counterpart that happened to score higher.
        # The pool is twice k: superseded copies of current tasks leave it, and k must remain.
        pool = self._top(
            scores, allowed & ~np.isin(np.arange(len(scores)), pinned), max(2 * k, _POOL), evidence
        )
        head = [self._hit(p, 100.0 - i, evidence) for i, p in enumerate(pinned)]
        ordered = self._sign_off_first(
            self._order_versions(head + pool, query, allowed, evidence), query, allowed, evidence
        )
        dropped = self._dropped_words(ordered, query, allowed, evidence)
        if dropped is None:
            return ordered[:k], signals
        # Beside its current task even at k=1: the answer quotes it.
        return [ordered[0], dropped, *ordered[1 : max(k, 2) - 1]], replace(signals, dropped_words=True)

    def _sign_off_first(
        self, hits: list[Hit], query: Query, allowed: np.ndarray, evidence: _Evidence
    ) -> list[Hit]:
        """Asked when a background document was issued (告知是哪天发的?), its sign-off answers: the
        date it bears, not the dates it speaks of (the consultation's deadline)."""
        if not query.asks_dated or not hits or isinstance(hits[0].chunk.clause, int):
            return hits
        # The document the question names: the draft (草案是哪个单位发布的?), else the one its words
        # name (印发 names the issuance notice) if retrieval found it at all; else the one it found first.
        named = (h.chunk.doc_id for h in hits if self._roles[h.chunk.doc_id] in query.roles)
        doc = self._plans["draft"] if query.version == "draft" else next(named, hits[0].chunk.doc_id)
        position = self._sign_off.get(doc)
        if position is None or not allowed[position] or position == hits[0].position:
            return hits
        sign_off = next((h for h in hits if h.position == position), None)
        sign_off = sign_off or self._hit(position, hits[0].score, evidence)
        return [sign_off, *(h for h in hits if h.position != position)]

    def _best_sentence_scores(self, qvec: np.ndarray) -> np.ndarray:
        """Each chunk's best sentence similarity to the question (cosine, normalised vectors)."""
        sims = self.index.sentence_vectors @ qvec
        best = np.full(len(self.index.chunks), float(sims.min()) if len(sims) else 0.0, dtype=np.float64)
        np.maximum.at(best, self._sentence_chunk, sims)
        return best

    def unit_tasks(self, unit: str, version: Version) -> list[int]:
        """Positions of the tasks of that plan that ``unit`` leads, alone or jointly, in task order."""
        plan = self._plans[version]
        return [
            i
            for i, ch in enumerate(self.index.chunks)
            if ch.doc_id == plan and isinstance(ch.clause, int) and self.leads(ch.lead_units, unit)
        ]

    def leads(self, lead_units: tuple[str, ...], unit: str) -> bool:
        # The plans name some units differently (区建管委 / 区建设管理委, 城管执法局 / 区城管执法局).
        canonical = self._unit_aliases.get(unit, unit)
        return any(self._unit_aliases.get(u, u) == canonical for u in lead_units)

    def _allowed(self, filters: Filters) -> np.ndarray:
        return np.array(
            [
                (filters.doc is None or ch.doc_id == filters.doc)
                and (not filters.section or strip_heading_number(ch.section) == filters.section)
                and (not filters.unit or self.leads(ch.lead_units, filters.unit))
                for ch in self.index.chunks
            ],
            dtype=bool,
        )

    def _hit(self, position: int, score: float, evidence: _Evidence) -> Hit:
        ranked = self._ranked_sentences(position, evidence)
        return Hit(
            position,
            self.index.chunks[position],
            float(score),
            tuple(span for span, _ in ranked),
            tuple(closeness for _, closeness in ranked),
        )

    def _ranked_sentences(self, position: int, evidence: _Evidence) -> list[tuple[tuple[int, int], float]]:
        """The chunk's sentences and their closeness, closest to the question first, by vector
        plus shared words.

        A part's heading names the part, a task's first sentence its title (which every answer
        names anyway), a Q&A pair's question asks it, and a lead-unit note only names units: the
        answer is in the other sentences.
        """
        chunk = self.index.chunks[position]
        ids = self._sentences_of.get(position, [])
        spans = [(i, self.index.sentences[i]) for i in ids]
        body = [
            (i, s)
            for i, s in spans
            if not is_lead_note(chunk.text[s.start : s.end])
            and not is_heading(chunk.text[s.start : s.end])
            and not chunk.text[s.start : s.end].endswith(("?", "?"))
            and not (isinstance(chunk.clause, int) and is_task_title(chunk.text[s.start : s.end]))
        ] or spans
        if not body:
            return [((0, len(chunk.text)), 0.0)]
        total = max(1, sum(len(w) for w in evidence.words))
        scored = []
        for order, (i, s) in enumerate(body):
            sentence = chunk.text[s.start : s.end]
            overlap = sum(len(w) for w in evidence.words if w in sentence) / total
            score = float(self.index.sentence_vectors[i] @ evidence.vector) + _OVERLAP_WEIGHT * overlap
            scored.append((-score, order, (s.start, s.end)))
        return [(span, -neg) for neg, _, span in sorted(scored)]

    def _top(self, scores: np.ndarray, allowed: np.ndarray, k: int, evidence: _Evidence) -> list[Hit]:
        order = np.argsort(-np.where(allowed, scores, -np.inf), kind="stable")
        return [self._hit(int(p), scores[p], evidence) for p in order[:k] if allowed[p]]

    def _pinned(self, query: Query, filters: Filters) -> list[int]:
        """Chunks a clause number, a named lead unit, a question about the plan's period or its
        count of tasks puts first, in order."""
        if query.about_period:
            # The current plan's title names its period: "…三年行动计划(2024-2026年)".
            final = self._plans["final"]
            return [i for i, ch in enumerate(self.index.chunks) if ch.doc_id == final and ch.start == 0]
        if query.counts_tasks:
            # A document's own words for the plan's count (36项实施内容, 共34项重点任务): the count
            # is the plan's, so "29项任务延续至本轮" and the minutes' "35项" do not answer it.
            plan = self._plans["draft" if query.version == "draft" else "final"]
            stated = re.compile(rf"(?<!\d){sum(doc == plan for doc, _ in self._task_positions)}项")
            plans = set(self._plans.values())
            return [
                i
                for i, ch in enumerate(self.index.chunks)
                if ch.doc_id not in plans and stated.search(ch.text)
            ]
        if query.clause is not None:
            numbered_in = self._plans[query.numbered_version]
            first = self.task_positions((numbered_in, query.clause))
            if query.version == "compare":
                other = self._counterparts.get((numbered_in, query.clause))
                first = first + (self.task_positions(other) if other else [])
            return first
        if query.version_status is not None:
            tasks = self._listings.get(query.version_status, ())
            return [p for key in tasks for p in self.task_positions(key)]
        if query.lists_tasks and query.unit:
            doc_version: Version | None = "draft" if filters.doc == self._plans["draft"] else None
            return self.unit_tasks(query.unit, query.listing_version(doc_version))
        return []

    def _apply_intent(self, scores: np.ndarray, query: Query) -> np.ndarray:
        scores = scores.copy()
        w = self.weights
        if query.version is None:
            scores[self._draft] -= w.draft_penalty
        elif query.version == "draft":
            scores[self._final] -= w.draft_penalty
        if query.roles:
            about = np.array([self._roles[ch.doc_id] in query.roles for ch in self.index.chunks])
            scores[about] += w.doc_boost
        if query.wants_units:
            scores[self._has_units] += w.unit_boost
            if query.unit:
                led = np.array([self.leads(ch.lead_units, query.unit) for ch in self.index.chunks])
                scores[led] += w.unit_boost
        return scores

    def _order_versions(
        self, hits: list[Hit], query: Query, allowed: np.ndarray, evidence: _Evidence
    ) -> list[Hit]:
        """Where a task appears in both plans, the version asked for comes first: the final plan
        unless the draft was asked for. A comparison shows the pair together, final first."""
        hits = list(hits)
        final_id = self._plans["final"]
        if query.version == "compare":
            out: list[Hit] = []
            for hit in hits:
                if hit in out:
                    continue
                partner = self._partner(hit, hits, allowed, evidence)
                if partner is None or partner in out:
                    out.append(hit)
                else:
                    out.extend([hit, partner] if hit.chunk.doc_id == final_id else [partner, hit])
            return out
        preferred = self._plans["draft" if query.version == "draft" else "final"]
        plans = set(self._plans.values())
        for i, hit in enumerate(hits):
            if hit.chunk.doc_id in plans and hit.chunk.doc_id != preferred:
                partner = self._partner(hit, hits, allowed, evidence)
                if partner is not None and partner in hits and hits.index(partner) > i:
                    j = hits.index(partner)
                    hits[i], hits[j] = partner, hit
        if query.version is None:
            # A superseded task whose current counterpart is among the results takes no slot of
            # its own: how it differs is in the current task's version note.
            shown = {(h.chunk.doc_id, h.chunk.clause) for h in hits}
            hits = [
                h
                for h in hits
                if h.chunk.doc_id != self._plans["draft"]
                or not isinstance(h.chunk.clause, int)
                or self._counterparts.get((h.chunk.doc_id, h.chunk.clause)) not in shown
            ]
        return hits

    def _dropped_words(
        self, hits: list[Hit], query: Query, allowed: np.ndarray, evidence: _Evidence
    ) -> Hit | None:
        """The draft counterpart of the first current task, when the question is about words only
        the draft has (新式里弄卫生设施改造总量是多少?: 17.7万平方米 was deleted from the final plan):
        its closest sentence is closer to the question than any of the task's by the ``dropped``
        margin and is not in the current plan. A reworded sentence is hardly closer."""
        if not hits or query.version is not None or self.weights.dropped >= 1 or not allowed.all():
            # Within a filter the current task that kept the words may be left out (a unit's
            # filter leaves out task 29, which took the draft's e-bike sentences from task 25).
            return None
        top = hits[0]
        if top.chunk.doc_id != self._plans["final"] or not top.closeness:
            return None
        partner = self._partner(top, [], allowed, evidence)
        if partner is None or not partner.closeness:
            return None
        if partner.closeness[0] - top.closeness[0] <= self.weights.dropped:
            return None
        start, end = partner.sentences[0]
        return None if partner.chunk.text[start:end].strip() in self._current_text else partner

    def _partner(self, hit: Hit, hits: list[Hit], allowed: np.ndarray, evidence: _Evidence) -> Hit | None:
        """The same task in the other plan: from ``hits`` if there, else from the index."""
        if not isinstance(hit.chunk.clause, int):
            return None
        key = self._counterparts.get((hit.chunk.doc_id, hit.chunk.clause))
        if key is None:
            return None
        for other in hits:
            if (other.chunk.doc_id, other.chunk.clause) == key:
                return other
        positions = [p for p in self.task_positions(key) if allowed[p]]
        return self._hit(positions[0], hit.score, evidence) if positions else None


@dataclass(frozen=True)
class _Evidence:
    """What a sentence is compared with: the question's vector and its words."""

    vector: np.ndarray
    words: set[str]
