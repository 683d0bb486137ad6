from __future__ import annotations

from qa.chunking import chunk_collection, chunk_document
from qa.structure import is_signature, parse_clauses


def test_every_chunk_is_an_exact_slice(collection):
    for ch in chunk_collection(collection.documents):
        doc = collection.get(ch.doc_id)
        assert doc.text[ch.start : ch.end] == ch.text
        assert ch.text.strip() == ch.text and ch.text


def test_one_chunk_per_task_with_its_ids(collection):
    for doc_id in ("plan-draft", "plan-final"):
        doc = collection.get(doc_id)
        chunks = {ch.clause: ch for ch in chunk_document(doc) if isinstance(ch.clause, int)}
        for task in parse_clauses(doc):
            ch = chunks[task.clause]
            assert (ch.start, ch.end) == (task.start, task.end)
            assert ch.lead_units == task.lead_units and ch.section == task.section
            assert ch.chunk_id == f"{doc_id}#{task.clause}"


def test_citation_label(collection):
    chunks = {ch.chunk_id: ch for ch in chunk_collection(collection.documents)}
    assert (
        chunks["plan-final#29"].citation
        == "《长宁区城市管理精细化三年行动计划(2024-2026年)》第29项 深化电动自行车安全监管"
    )
    assert chunks["plan-draft#11"].citation.startswith(
        "《长宁区城市管理精细化提升行动计划(2024-2026年)(草案)》第11项"
    )
    assert chunks["draft-faq#2"].citation.endswith(
        "问2:关于《长宁区城市管理精细化提升行动计划(2024-2026年)(草案)》起草制定过程"
    )
    assert chunks["participation-report#一"].citation.endswith("一、向社会公开征求意见")


def test_long_units_are_split_keeping_parent_ids(collection):
    chunks = chunk_collection(collection.documents, chunk_size=120, chunk_overlap=0)
    pieces = [ch for ch in chunks if ch.chunk_id.startswith("plan-final#33.")]
    assert len(pieces) >= 3
    assert all(p.clause == 33 and p.lead_units == ("区建设管理委", "区城运中心", "区数据局") for p in pieces)
    doc = collection.get("plan-final")
    # Pieces end on a sentence or clause boundary (keep_separator="end") and cover the task in order.
    assert pieces[0].text.startswith("33.做深做细城市体检。")
    assert all(p.text[-1] in "。;,、)" for p in pieces)
    assert pieces[-1].end == next(c.end for c in parse_clauses(doc) if c.clause == 33)
    assert [p.start for p in pieces] == sorted(p.start for p in pieces)


def test_free_paragraphs_keep_headings_and_signatures(collection):
    chunks = {ch.chunk_id: ch for ch in chunk_collection(collection.documents)}
    review = chunks["legality-review#p1"]
    assert review.text.startswith("经审查") and review.text.endswith("2024年8月20日")
    safeguards = [ch for ch in chunks.values() if ch.doc_id == "plan-draft" and "三、保障措施" in ch.text]
    assert len(safeguards) == 1 and safeguards[0].clause is None
    # No unsplit chunk is only a heading: each holds a sentence, a whole addressee line or a sign-off.
    whole = [ch for ch in chunks.values() if "." not in ch.chunk_id]
    assert all("。" in ch.text or ch.text.endswith(":") or _sign_off(ch.text) for ch in whole)


def _sign_off(text: str) -> bool:
    return all(is_signature(line) for line in text.splitlines() if line.strip())


def test_a_sign_off_after_a_numbered_part_is_a_chunk_of_its_own(collection):
    """The consultation notice ends on its part 二; its issuer and date would otherwise be in no
    chunk, and 这份告知是哪天发的? could not be answered."""
    for doc_id, date in (("consultation-notice", "2024年6月12日"), ("participation-report", "2024年8月30日")):
        doc = collection.get(doc_id)
        last = chunk_document(doc)[-1]
        assert last.clause is None and _sign_off(last.text)
        assert last.text.endswith(date) and doc.text[last.start : last.end] == last.text
    # after a free paragraph it still joins that paragraph, as before
    assert not _sign_off(chunk_document(collection.get("legality-review"))[-1].text)


def test_default_chunks_keep_every_task_whole(collection):
    chunks = chunk_collection(collection.documents)
    task_chunks = [ch for ch in chunks if isinstance(ch.clause, int)]
    assert len(task_chunks) == 34 + 36
