"""Tuned values: the retrieval weights and abstention thresholds, kept as data beside the corpus.

``corpus/tuned.json`` is written by ``qa tune`` from the gold set's dev split and read by every
entry point, so a value is changed by re-tuning, never by editing a code default.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from qa.errors import QAError

__all__ = ["Weights", "Thresholds", "FollowUps", "Tuned", "load_tuned", "save_tuned", "TUNED_FILE"]

TUNED_FILE = "tuned.json"


@dataclass(frozen=True)
class Weights:
    """How retrieval scores combine, in z-score units where not said otherwise."""

    dense: float = 0.6  # share of the dense score in the fusion; BM25 has the rest
    draft_penalty: float = 0.8  # a superseded task sinks below its current counterpart
    unit_boost: float = 0.5  # "who is responsible" favours task chunks, which carry lead units
    doc_boost: float = 2.0  # 印发, 审议, 问卷 … point at the background document that says so
    # In a long message, the share of the asking sentence in the question's vector; its words
    # also count twice for BM25. 0 reads the whole message alike.
    focus: float = 0.6
    # A clause is also scored by its best sentence's similarity to the question (z-score units),
    # so one matching sentence inside a long task counts.
    sentence: float = 0.0
    # A superseded task's closest sentence this much closer to the question (cosine plus shared
    # words) than any sentence of its current counterpart, and not kept in the current plan, is
    # what was asked about: the draft task follows the current one. 1 turns this off.
    dropped: float = 1.0


@dataclass(frozen=True)
class Thresholds:
    """Below these the documents are taken not to cover a question (see ``qa.answer``)."""

    min_dense: float = 0.875
    min_bm25: float = 3.0
    off_topic_bm25: float = 12.0  # an off-topic subject still answers if the plan's words match this well
    # A question this much closer (cosine) to a subject the plan does not cover than to any of the
    # documents' sentences means that subject, though it may not name it. 1 turns this off.
    off_topic_lead: float = 1.0
    # A task's sentence that holds what was asked (a figure, a date) is quoted only if it is this
    # close to the question's closest sentence (cosine plus shared words); else the closest is.
    evidence_margin: float = 0.05
    # A second task of the current plan that scores within this of the first (fused z-score units)
    # answers about as well, and the lead names it too.
    also_answers: float = 0.7


@dataclass(frozen=True)
class FollowUps:
    """When a question in a conversation takes the previous answer's subject (``qa.conversation``),
    and how strongly that subject is then favoured. Calibrated on the conversations' dev split."""

    # Characters of the plan's subject words (公园, 燃气, a lead unit) that the carried-over clause
    # does not contain: this many make the question a new topic (垃圾分类 after elevators).
    plan_words: float = 2.0
    # Characters of any words of its own the carried-over clause lacks (孩子上小学): a new topic.
    new_words: float = 3.0
    # Characters of subject words of its own, carried over or not, that make it a question of its
    # own (那应急物资储备呢? after 平急两用 names its subject, though the same task holds both).
    own_words: float = 4.0
    # With words of its own, the question alone matches a clause outside the carried-over ones this
    # well (BM25): a new topic.
    own_bm25: float = 12.0
    # The carried-over subject's lead over the other clauses the previous answer cited (z-score units).
    subject_boost: float = 2.0


@dataclass(frozen=True)
class Tuned:
    weights: Weights = Weights()
    thresholds: Thresholds = Thresholds()
    provenance: Mapping[str, object] | None = None  # how and on what split the values were found
    followups: FollowUps = FollowUps()


def _section(cls: type, raw: object, path: Path, name: str) -> object:
    if not isinstance(raw, dict):
        raise QAError(f"{path}:缺少 {name!r} 部分;请用 qa tune 重新生成。")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise QAError(f"{path}:{name} 中有未知的参数 {', '.join(unknown)};请用 qa tune 重新生成。")
    try:
        return cls(**{k: float(v) for k, v in raw.items()})
    except (TypeError, ValueError):
        raise QAError(f"{path}:{name} 的参数必须是数字;请用 qa tune 重新生成。") from None


def load_tuned(corpus_dir: Path) -> Tuned:
    """The tuned values in ``corpus_dir/tuned.json``; the code defaults when the file is absent.

    Raises:
        QAError: the file exists but is not valid (names the fix).
    """
    path = corpus_dir / TUNED_FILE
    if not path.is_file():
        return Tuned()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise QAError(f"无法读取 {path}({err});请用 qa tune 重新生成。") from None
    weights = _section(Weights, data.get("weights"), path, "weights")
    thresholds = _section(Thresholds, data.get("thresholds"), path, "thresholds")
    # Optional: a file written before follow-up questions were calibrated keeps the code defaults.
    followups = (
        _section(FollowUps, data["followups"], path, "followups") if "followups" in data else FollowUps()
    )
    return Tuned(weights, thresholds, data.get("provenance"), followups)  # type: ignore[arg-type]


def save_tuned(corpus_dir: Path, tuned: Tuned) -> Path:
    """Write ``tuned`` to ``corpus_dir/tuned.json`` atomically (a reader never sees half a file)."""
    path = corpus_dir / TUNED_FILE
    body = {
        "_about": "Retrieval weights, abstention thresholds and follow-up thresholds, written by `qa tune` on the gold dev split.",
        "weights": asdict(tuned.weights),
        "thresholds": asdict(tuned.thresholds),
        "followups": asdict(tuned.followups),
        "provenance": dict(tuned.provenance or {}),
    }
    fd, tmp = tempfile.mkstemp(dir=corpus_dir, prefix=".tuned-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    # mkstemp makes the file private (0600); the values are read by whoever serves the corpus.
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
