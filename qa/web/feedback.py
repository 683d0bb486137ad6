"""Readers' votes on answers, one JSON object a line in an append-only log.

Several server workers (threads and processes) may vote at the same moment, and a machine may
stop mid-write. Each record is therefore written as one ``os.write`` of a whole line on a file
opened with ``O_APPEND``, under an exclusive ``flock``, then ``fsync``-ed: lines never interleave,
and a torn last line (a crash, a full disk) costs that line only. The next append starts on a
fresh line, and the reader skips what it cannot parse and says how many lines it skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from qa.errors import QAError

__all__ = [
    "VOTES",
    "MAX_COMMENT_CHARS",
    "InvalidFeedback",
    "FeedbackLog",
    "feedback_record",
    "append_feedback",
    "read_feedback",
]

VOTES = ("up", "down")
MAX_COMMENT_CHARS = 1000


class InvalidFeedback(QAError):
    """A vote that is neither up nor down, an over-long comment, or nothing to vote on."""


class FeedbackLog(NamedTuple):
    records: list[dict[str, Any]]
    skipped: int  # lines that were not a JSON object: torn by a crash or edited by hand


def feedback_record(
    question: str,
    answer: str,
    citations: list[str],
    vote: str,
    comment: str = "",
    now: datetime | None = None,
    answer_id: str = "",
) -> dict[str, object]:
    """One log record; ``citations`` are ``doc_id#clause`` ids, ``time`` is ISO 8601 with offset,
    ``answer_id`` names the answer rated (a comment sent after the vote is a second line with
    the same id and vote).

    Raises:
        InvalidFeedback: ``vote`` is not "up" or "down", or the comment is too long.
    """
    if vote not in VOTES:
        raise InvalidFeedback(f"评价只能是 up 或 down(收到 {vote!r})。")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidFeedback(f"评论太长({len(comment)}字),请控制在{MAX_COMMENT_CHARS}字以内。")
    when = now if now is not None and now.tzinfo is not None else (now or datetime.now()).astimezone()
    return {
        "time": when.isoformat(timespec="seconds"),
        "answer_id": answer_id,
        "question": question,
        "answer": answer,
        "citations": list(citations),
        "vote": vote,
        "comment": comment,
    }


def append_feedback(path: Path, record: Mapping[str, object]) -> None:
    """Append ``record`` as one line of JSON, safely against concurrent writers and crashes."""
    # ensure_ascii=False keeps the log readable; json escapes every newline inside strings.
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by close, even if this process dies
        size = _complete_size(fd)
        if size != os.fstat(fd).st_size:
            # A writer died mid-line: its record was never whole, so the torn tail is cut off
            # rather than left to break every reader of the log.
            os.ftruncate(fd, size)
        written = os.write(fd, line)
        if written != len(line):
            os.ftruncate(fd, size)
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes (disk full?)")
        os.fsync(fd)
    finally:
        os.close(fd)


def _complete_size(fd: int) -> int:
    """Bytes up to and including the log's last newline: the part made of whole lines."""
    end = os.fstat(fd).st_size
    pos = end
    while pos > 0:
        start = max(0, pos - 65536)
        block = os.pread(fd, pos - start, start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


def read_feedback(path: Path) -> FeedbackLog:
    """Every record of the log, skipping (and counting) lines that are not a JSON object."""
    records: list[dict[str, Any]] = []
    skipped = 0
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return FeedbackLog(records, 0)
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            skipped += 1
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            skipped += 1
    return FeedbackLog(records, skipped)
