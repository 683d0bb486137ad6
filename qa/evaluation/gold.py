"""The gold sets: ``eval/gold.jsonl`` read into ``GoldQuestion`` records, ``eval/conversations.jsonl``
into ``Conversation`` records.

Each gold line is one question written from the source before any system ran: its ``kind`` (who
asks and how), its ``split`` (``dev`` for tuning, ``test`` for the figure to quote), the clauses
that answer it, the evidence strings, the document that should come first, whether the assistant
should abstain, what the question asks for (``asks``), how far the documents answer it
(``coverage``) and, when they answer only part, what is missing. A conversation is a few such
questions in a row, each turn saying whether it follows on from the one before. ``eval/README.md``
describes the fields; ``qa.evaluation.metrics`` says how a result is judged against them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qa.settings import REPO_ROOT

__all__ = [
    "EVAL_DIR",
    "GOLD_PATH",
    "CONVERSATIONS_PATH",
    "THRESHOLDS_PATH",
    "SPLITS",
    "KINDS",
    "CONVERSATION_KINDS",
    "ASKS",
    "COVERAGES",
    "Relevant",
    "GoldQuestion",
    "GoldTurn",
    "Conversation",
    "load_gold",
    "load_conversations",
]

EVAL_DIR = REPO_ROOT / "eval"
GOLD_PATH = EVAL_DIR / "gold.jsonl"
CONVERSATIONS_PATH = EVAL_DIR / "conversations.jsonl"
THRESHOLDS_PATH = EVAL_DIR / "thresholds.json"
SPLITS = ("dev", "test")
KINDS = (
    "citizen",
    "staff",
    "process",
    "version",
    "english",
    "traditional",
    "typo",
    "long",
    "unrelated",
    "partial",
    "detail",
    "dropped",
    "out-of-scope",
)
CONVERSATION_KINDS = ("follow-up",)
# What a question asks for: the sentence that answers it is of this sort.
ASKS = ("amount", "count", "date", "who", "contact", "source", "place", "how", "why", "list", "yesno", "what")
# How far the documents answer a question: fully, in part (``missing`` says what is not there), not at all.
COVERAGES = ("answered", "partial", "none")


@dataclass(frozen=True)
class Relevant:
    doc_id: str
    clause: int | str | None  # task number, part id, or None: any chunk of the document


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    kind: str
    split: str
    relevant: tuple[Relevant, ...]
    evidence: tuple[str, ...]
    prefer_doc: str | None
    abstain: bool
    asks: str = "what"
    coverage: str = ""  # "" takes the default: "none" for a question marked abstain, else "answered"
    missing: str | None = None

    def __post_init__(self) -> None:
        if not self.coverage:
            object.__setattr__(self, "coverage", _default_coverage(self.abstain))


@dataclass(frozen=True)
class GoldTurn:
    """One question of a conversation; ``follows`` when it leans on the turns before it."""

    question: str
    follows: bool
    relevant: tuple[Relevant, ...]
    evidence: tuple[str, ...]
    prefer_doc: str | None
    abstain: bool
    asks: str = "what"
    coverage: str = ""  # as in GoldQuestion
    missing: str | None = None

    def __post_init__(self) -> None:
        if not self.coverage:
            object.__setattr__(self, "coverage", _default_coverage(self.abstain))


@dataclass(frozen=True)
class Conversation:
    id: str
    kind: str
    split: str
    turns: tuple[GoldTurn, ...]


def _default_coverage(abstain: bool) -> str:
    return "none" if abstain else "answered"


def _one_of(value: object, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise ValueError(f"{name} is {value!r}; choose from {', '.join(allowed)}")
    return str(value)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _answer_fields(d: Mapping[str, object]) -> dict[str, object]:
    """The fields a gold question and a conversation turn share, checked, with their defaults."""
    abstain = d["abstain"]
    if not isinstance(abstain, bool):
        raise ValueError(f"abstain must be true or false, not {abstain!r}")
    relevant = d["relevant"]
    evidence = d["evidence"]
    if not isinstance(relevant, list) or not isinstance(evidence, list):
        raise ValueError("relevant and evidence must be lists")
    prefer_doc = d["prefer_doc"]
    if prefer_doc is not None and not isinstance(prefer_doc, str):
        raise ValueError(f"prefer_doc must be a doc_id or null, not {prefer_doc!r}")
    missing = d.get("missing")
    if missing is not None and not isinstance(missing, str):
        raise ValueError(f"missing must be a string or null, not {missing!r}")
    return {
        "relevant": tuple(Relevant(r["doc_id"], r["clause"]) for r in relevant),
        "evidence": tuple(_text(e, "an evidence string") for e in evidence),
        "prefer_doc": prefer_doc,
        "abstain": abstain,
        "asks": _one_of(d.get("asks", "what"), ASKS, "asks"),
        "coverage": _one_of(d.get("coverage", _default_coverage(abstain)), COVERAGES, "coverage"),
        "missing": missing,
    }


def _lines(path: Path) -> list[tuple[int, dict[str, object]]]:
    """The non-blank lines of a JSON-lines file with their line numbers, each parsed to an object."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except ValueError as err:
            raise ValueError(f"{path}:{n}: not JSON ({err}); see eval/README.md") from err
        if not isinstance(d, dict):
            raise ValueError(f"{path}:{n}: not a JSON object; see eval/README.md")
        out.append((n, d))
    return out


def load_gold(path: Path = GOLD_PATH) -> list[GoldQuestion]:
    """The gold questions, in file order.

    Raises:
        ValueError: a line is not a JSON object with the gold fields, or a field has a value it
            cannot have; names the line.
    """
    questions = []
    for n, d in _lines(path):
        try:
            questions.append(
                GoldQuestion(
                    id=_text(d["id"], "id"),
                    question=_text(d["question"], "question"),
                    kind=_text(d["kind"], "kind"),
                    split=_one_of(d["split"], SPLITS, "split"),
                    **_answer_fields(d),  # type: ignore[arg-type]
                )
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{n}: not a gold question ({err!r}); see eval/README.md") from err
    return questions


def _turn(t: object, first: bool) -> GoldTurn:
    if not isinstance(t, dict):
        raise ValueError("not an object")
    follows = t["follows"]
    if not isinstance(follows, bool):
        raise ValueError(f"follows must be true or false, not {follows!r}")
    if first and follows:
        raise ValueError("the first turn has nothing to follow")
    return GoldTurn(question=_text(t["question"], "question"), follows=follows, **_answer_fields(t))  # type: ignore[arg-type]


def load_conversations(path: Path = CONVERSATIONS_PATH) -> list[Conversation]:
    """The gold conversations, in file order; an empty list when the file does not exist.

    Raises:
        ValueError: a line is not a conversation object (turns with the gold fields, the first
            turn not following anything); names the line.
    """
    if not path.is_file():
        return []
    conversations = []
    for n, d in _lines(path):
        try:
            raw_turns = d["turns"]
            if not isinstance(raw_turns, list) or not raw_turns:
                raise ValueError("turns must be a non-empty list")
            turns = []
            for i, t in enumerate(raw_turns, start=1):
                try:
                    turns.append(_turn(t, first=i == 1))
                except KeyError as err:
                    raise ValueError(f"turn {i} lacks the field {err}") from err
                except (ValueError, TypeError) as err:
                    raise ValueError(f"turn {i}: {err}") from err
            conversations.append(
                Conversation(
                    id=_text(d["id"], "id"),
                    kind=_one_of(d["kind"], CONVERSATION_KINDS, "kind"),
                    split=_one_of(d["split"], SPLITS, "split"),
                    turns=tuple(turns),
                )
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{n}: not a gold conversation ({err!r}); see eval/README.md") from err
    return conversations
