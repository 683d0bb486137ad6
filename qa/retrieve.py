"""Fusion and ranking: dense and BM25 scores combined, then the question's intent applied.

Modes, for the evaluation's ablations: ``bm25`` and ``dense`` alone, ``hybrid`` (both fused, the
question taken literally) and ``full`` (hybrid over the question with the plan's wording added,
then clause, lead-unit and version routing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from qa.chunking import Chunk
from qa.compare import TaskKey
from qa.index import Index
from qa.query import Query
from qa.tokens import Tokenizer
from qa.tuned import Weights

__all__ = ["Hit", "Signals", "Retriever", "MODES", "TaskKey"]

MODES = ("bm25", "dense", "hybrid", "full")
_PLANS = ("plan-draft", "plan-final")
_POOL = 20


@dataclass(frozen=True)
class Hit:
    position: int  # in Index.chunks
    chunk: Chunk
    score: float


@dataclass(frozen=True)
class Signals:
    """How strongly anything matched, before routing: the abstention decision reads these."""

    top_dense: float
    top_bm25: float
    routed: bool  # a clause number or a named lead unit decided the results
    off_topic: bool = False  # the question names a subject the plan does not cover
    # BM25 of the question's own words: the plan's wording added for everyday words must not make
    # an off-topic question (地铁票价 -> 轨交) look covered.
    top_bm25_plain: float = 0.0
    about_document: bool = False  # 印发, 审议, 邮箱 …: asks about one of the background documents


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
        counterparts: Mapping[TaskKey, TaskKey],
        weights: Weights | None = None,
        unit_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.index = index
        self._embed_query = embed_query
        self._tokenizer = tokenizer
        self._counterparts = counterparts
        self._unit_aliases = unit_aliases or {}
        self.weights = weights or Weights()
        self._task_positions: dict[TaskKey, list[int]] = {}
        for i, ch in enumerate(index.chunks):
            if isinstance(ch.clause, int):
                self._task_positions.setdefault((ch.doc_id, ch.clause), []).append(i)

    def task_positions(self, key: TaskKey) -> list[int]:
        return self._task_positions.get(key, [])

    def search(
        self, query: Query, k: int, doc: str | None = None, mode: str = "full"
    ) -> tuple[list[Hit], Signals, np.ndarray]:
        """The top ``k`` chunks, the match signals, and the query vector (for highlighting)."""
        text = query.expanded if mode == "full" else query.text
        qvec = self._embed_query(text)
        dense = self.index.dense_scores(qvec)
        lexical = self.index.bm25_scores(self._tokenizer.tokens(text))
        plain = lexical if text == query.text else self.index.bm25_scores(self._tokenizer.tokens(query.text))
        allowed = np.array([doc is None or ch.doc_id == doc for ch in self.index.chunks])
        # Signals over the documents searched: asked within one document, the question must be
        # covered by that document, not by the whole collection.
        signals = Signals(
            float(dense[allowed].max()),
            float(lexical[allowed].max()),
            query.version == "compare",  # a question about how the versions differ is about the plan
            query.off_topic,
            float(plain[allowed].max()),
            bool(query.docs) and (doc is None or doc in query.docs),
        )
        if mode == "dense":
            scores = dense.astype(np.float64)
        elif mode == "bm25":
            scores = lexical.astype(np.float64)
        else:
            w = self.weights.dense
            scores = w * _z(dense) + (1 - w) * _z(lexical)
        if mode != "full":
            return self._top(scores, allowed, k), signals, qvec

        pinned = [p for p in self._pinned(query, doc) if allowed[p]]
        if pinned:
            signals = replace(signals, routed=True)
            if query.lists_tasks:
                return [self._hit(p, 100.0 - i) for i, p in enumerate(pinned[:k])], signals, qvec
        scores = self._apply_intent(scores, query)
        # Versions are ordered over a wider pool than k, so that with k=1 the final plan's task
        # still displaces its draft counterpart that happened to score higher.
        pool = self._top(scores, allowed & ~np.isin(np.arange(len(scores)), pinned), max(k, _POOL))
        head = [self._hit(p, 100.0 - i) for i, p in enumerate(pinned)]
        return self._order_versions(head + pool, query, k)[:k], signals, qvec

    def numbered_plan(self, query: Query) -> str:
        """The plan whose numbering a clause number refers to: the draft's only when it says so."""
        return "plan-draft" if query.clause_in_draft or query.version == "draft" else "plan-final"

    def listing_plan(self, query: Query, doc: str | None) -> str:
        """The plan whose tasks a unit listing enumerates: the draft only when asked for."""
        return "plan-draft" if query.version == "draft" or doc == "plan-draft" else "plan-final"

    def unit_tasks(self, unit: str, plan: str) -> list[int]:
        """Positions of the tasks of ``plan`` that ``unit`` leads, alone or jointly, in task order."""
        return [
            i
            for i, ch in enumerate(self.index.chunks)
            if ch.doc_id == plan and isinstance(ch.clause, int) and self._leads(ch, unit)
        ]

    def _leads(self, chunk: Chunk, unit: str) -> bool:
        # The plans name some units differently (区建管委 / 区建设管理委, 城管执法局 / 区城管执法局).
        return any(self._unit_aliases.get(u, u) == unit for u in chunk.lead_units)

    def _hit(self, position: int, score: float) -> Hit:
        return Hit(position, self.index.chunks[position], float(score))

    def _top(self, scores: np.ndarray, allowed: np.ndarray, k: int) -> list[Hit]:
        order = np.argsort(-np.where(allowed, scores, -np.inf), kind="stable")
        return [self._hit(int(p), scores[p]) for p in order[:k] if allowed[p]]

    def _pinned(self, query: Query, doc: str | None) -> list[int]:
        """Chunks a clause number or a named lead unit puts first, in order."""
        if query.clause is not None:
            numbered_in = self.numbered_plan(query)
            first = self.task_positions((numbered_in, query.clause))
            if query.version == "compare":
                other = self._counterparts.get((numbered_in, query.clause))
                first = first + (self.task_positions(other) if other else [])
            return first
        if query.lists_tasks and query.unit:
            return self.unit_tasks(query.unit, self.listing_plan(query, doc))
        return []

    def _apply_intent(self, scores: np.ndarray, query: Query) -> np.ndarray:
        scores = scores.copy()
        w = self.weights
        for i, ch in enumerate(self.index.chunks):
            if ch.doc_id == "plan-draft" and query.version is None:
                scores[i] -= w.draft_penalty
            elif ch.doc_id == "plan-final" and query.version == "draft":
                scores[i] -= w.draft_penalty
            if ch.doc_id in query.docs:
                scores[i] += w.doc_boost
            if query.wants_units and ch.lead_units:
                scores[i] += w.unit_boost
                if query.unit and self._leads(ch, query.unit):
                    scores[i] += w.unit_boost
        return scores

    def _order_versions(self, hits: list[Hit], query: Query, k: int) -> list[Hit]:
        """Where a task appears in both plans, the version asked for comes first: the final plan
        unless the draft was asked for. A comparison shows the pair together, final first."""
        hits = list(hits)
        if query.version == "compare":
            out: list[Hit] = []
            for hit in hits:
                if hit in out:
                    continue
                partner = self._partner(hit, hits)
                if partner is None or partner in out:
                    out.append(hit)
                else:
                    out.extend([hit, partner] if hit.chunk.doc_id == "plan-final" else [partner, hit])
            return out[:k]
        preferred = "plan-draft" if query.version == "draft" else "plan-final"
        for i, hit in enumerate(hits):
            if hit.chunk.doc_id in _PLANS and hit.chunk.doc_id != preferred:
                partner = self._partner(hit, hits)
                if partner is not None and partner in hits and hits.index(partner) > i:
                    j = hits.index(partner)
                    hits[i], hits[j] = partner, hit
        return hits

    def _partner(self, hit: Hit, hits: list[Hit]) -> Hit | None:
        """The same task in the other plan: from ``hits`` if there, else from the index."""
        if not isinstance(hit.chunk.clause, int):
            return None
        key = self._counterparts.get((hit.chunk.doc_id, hit.chunk.clause))
        if key is None:
            return None
        for other in hits:
            if (other.chunk.doc_id, other.chunk.clause) == key:
                return other
        positions = self.task_positions(key)
        return self._hit(positions[0], hit.score) if positions else None
