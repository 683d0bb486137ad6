"""The gold question set: ``eval/gold.jsonl`` read into ``GoldQuestion`` records.

Each line is one question written from the source before any system ran: its ``kind`` (who asks
and how), its ``split`` (``dev`` for tuning, ``test`` for the figure to quote), the clauses that
answer it, the evidence strings, the document that should come first and whether the assistant
should abstain. ``eval/README.md`` describes the fields; ``qa.evaluation.metrics`` says how a
result is judged against them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qa.settings import REPO_ROOT

__all__ = [
    "EVAL_DIR",
    "GOLD_PATH",
    "THRESHOLDS_PATH",
    "SPLITS",
    "KINDS",
    "Relevant",
    "GoldQuestion",
    "load_gold",
]

EVAL_DIR = REPO_ROOT / "eval"
GOLD_PATH = EVAL_DIR / "gold.jsonl"
THRESHOLDS_PATH = EVAL_DIR / "thresholds.json"
SPLITS = ("dev", "test")
KINDS = ("citizen", "staff", "process", "version", "english", "traditional", "typo", "out-of-scope")


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


def load_gold(path: Path = GOLD_PATH) -> list[GoldQuestion]:
    """The gold questions, in file order.

    Raises:
        ValueError: a line is not a JSON object with the gold fields; names the line.
    """
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            questions.append(
                GoldQuestion(
                    id=d["id"],
                    question=d["question"],
                    kind=d["kind"],
                    split=d["split"],
                    relevant=tuple(Relevant(r["doc_id"], r["clause"]) for r in d["relevant"]),
                    evidence=tuple(d["evidence"]),
                    prefer_doc=d["prefer_doc"],
                    abstain=bool(d["abstain"]),
                )
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{n}: not a gold question ({err!r}); see eval/README.md") from err
    return questions
