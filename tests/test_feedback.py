from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from qa.web.feedback import InvalidFeedback, append_feedback, feedback_record, read_feedback

PROCESSES = 8
APPENDS = 50
# Long enough that a non-atomic writer would be caught interleaving (several pages per line).
PADDING = "加装电梯" * 3000


def _record(writer: int, n: int) -> dict[str, object]:
    return {"writer": writer, "n": n, "question": f"第{n}个问题", "comment": PADDING}


def _writer(path: str, writer: int, start: threading.Barrier) -> None:
    start.wait(timeout=120)  # all writers at once: the log must survive real contention
    for n in range(APPENDS):
        append_feedback(Path(path), _record(writer, n))


def _assert_complete(path: Path, writers: int) -> None:
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # the file ends with a newline
    parsed = [json.loads(line) for line in lines[:-1]]  # every line is whole, valid JSON
    assert len(parsed) == writers * APPENDS
    seen = {(r["writer"], r["n"]) for r in parsed}
    assert seen == {(w, n) for w in range(writers) for n in range(APPENDS)}
    assert all(r["comment"] == PADDING for r in parsed)


def test_record_fields_and_time():
    when = datetime(2024, 9, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    record = feedback_record(
        "加装电梯?", "三年内新增加装电梯466台。", ["plan-final#10"], "up", " 很好 ", now=when, answer_id="a1"
    )
    assert record == {
        "time": "2024-09-01T08:30:00+08:00",
        "answer_id": "a1",
        "question": "加装电梯?",
        "answer": "三年内新增加装电梯466台。",
        "citations": ["plan-final#10"],
        "vote": "up",
        "comment": "很好",
    }
    assert datetime.fromisoformat(str(feedback_record("q", "a", [], "down")["time"])).tzinfo is not None


@pytest.mark.parametrize("vote", ["", "like", "UP", None])
def test_bad_vote_is_refused(vote):
    with pytest.raises(InvalidFeedback, match="up 或 down"):
        feedback_record("q", "a", [], vote)  # type: ignore[arg-type]


def test_overlong_comment_is_refused():
    with pytest.raises(InvalidFeedback, match="评论太长"):
        feedback_record("q", "a", [], "up", "长" * 1001)


def test_round_trip_one_line_per_record(tmp_path):
    log = tmp_path / "deep" / "feedback.jsonl"  # folders are created
    first = feedback_record("多行\n问题", "答", ["plan-final#10", "draft-faq#3"], "down", "评论\n两行")
    append_feedback(log, first)
    append_feedback(log, {"vote": "up", "question": "<script>"})
    assert log.read_text(encoding="utf-8").count("\n") == 2
    assert "多行" in log.read_text(encoding="utf-8")  # readable, not \\u escapes
    assert read_feedback(log) == ([first, {"vote": "up", "question": "<script>"}], 0)


def test_missing_log_reads_as_empty(tmp_path):
    assert read_feedback(tmp_path / "none.jsonl") == ([], 0)


@pytest.mark.slow  # child processes
def test_concurrent_processes_never_lose_or_interleave_lines(tmp_path):
    log = tmp_path / "feedback.jsonl"
    ctx = multiprocessing.get_context("spawn")  # no fork of a test process that may hold threads
    start = ctx.Barrier(PROCESSES + 1)
    procs = [ctx.Process(target=_writer, args=(str(log), w, start)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    _assert_complete(log, PROCESSES)
    assert len(read_feedback(log).records) == PROCESSES * APPENDS


def test_concurrent_threads_never_lose_or_interleave_lines(tmp_path):
    log = tmp_path / "feedback.jsonl"
    start = threading.Barrier(PROCESSES + 1)
    threads = [threading.Thread(target=_writer, args=(str(log), w, start)) for w in range(PROCESSES)]
    for t in threads:
        t.start()
    start.wait(timeout=120)
    for t in threads:
        t.join(timeout=120)
    _assert_complete(log, PROCESSES)


def test_torn_last_line_loses_nothing_else_and_the_next_append_is_whole(tmp_path):
    log = tmp_path / "feedback.jsonl"
    append_feedback(log, {"n": 1})
    append_feedback(log, {"n": 2})
    whole = json.dumps({"n": 3, "question": "写到一半断电了"}, ensure_ascii=False).encode("utf-8")
    with open(log, "ab") as fh:  # a crash mid-write: half a line, no newline
        fh.write(whole[: len(whole) // 2])

    records, skipped = read_feedback(log)
    assert records == [{"n": 1}, {"n": 2}] and skipped == 1

    append_feedback(log, {"n": 4})
    # The torn tail (a record that was never whole) is cut off; every line left is a record.
    assert log.read_bytes().split(b"\n") == [b'{"n":1}', b'{"n":2}', b'{"n":4}', b""]
    assert read_feedback(log) == ([{"n": 1}, {"n": 2}, {"n": 4}], 0)


def test_reader_skips_lines_that_are_not_objects(tmp_path):
    log = tmp_path / "feedback.jsonl"
    log.write_bytes(b'{"n": 1}\n[1, 2]\n\xff\xfe\n\n{"n": 2}\n')
    assert read_feedback(log) == ([{"n": 1}, {"n": 2}], 2)
