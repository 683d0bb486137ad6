from __future__ import annotations

import pytest

from qa.errors import UnknownDocument

EXPECTED = {
    # doc_id: (title fragment, date, version, authority)
    "plan-draft": (
        "长宁区城市管理精细化提升行动计划(2024-2026年)(草案)",
        "2024-06-12",
        "draft",
        "superseded",
    ),
    "drafting-notes": ("起草说明", "2024-06-12", None, "background"),
    "consultation-notice": ("征求意见", "2024-06-12", None, "background"),
    "draft-faq": ("问答", "2024-06-12", None, "background"),
    "legality-review": ("合法性审查", "2024-08-20", None, "background"),
    "meeting-minutes": ("第87次常务会议", "2024-08-26", None, "background"),
    "participation-report": ("公众参与情况报告", "2024-08-30", None, "background"),
    "issuance-notice": ("印发", "2024-08-28", None, "background"),
    "plan-final": ("长宁区城市管理精细化三年行动计划(2024-2026年)", "2024-08-28", "final", "current"),
    "interpretation": ("文字解读", "2024-08-28", None, "background"),
}


def test_ten_documents_in_source_order(collection):
    assert collection.doc_ids == list(EXPECTED)
    assert collection.title == "修订《长宁区新一轮城市管理精细化行动计划》"


@pytest.mark.parametrize("doc_id", list(EXPECTED))
def test_metadata(collection, doc_id):
    doc = collection.get(doc_id)
    fragment, date, version, authority = EXPECTED[doc_id]
    assert fragment in doc.title
    assert (doc.date, doc.version, doc.authority) == (date, version, authority)
    assert doc.issuer
    assert doc.meta()["chars"] == len(doc.text)


def test_document_boundaries(collection):
    assert collection.get("plan-draft").text.endswith("上海市长宁区建设和管理委员会\n\n2024年6月12日")
    assert collection.get("consultation-notice").text.startswith("为深入践行人民城市重要理念")
    assert "cnqjxhb@163.com" in collection.get("consultation-notice").text
    assert "2024年6月18日" in collection.get("consultation-notice").text
    assert collection.get("draft-faq").text.count("答:") == 4
    assert collection.get("legality-review").text.endswith("上海市长宁区政府办公室\n\n2024年8月20日")
    assert collection.get("meeting-minutes").text.endswith("由区建设管理委按程序报区委常委会审议。")
    assert collection.get("plan-final").text.startswith("长宁区城市管理精细化三年行动计划(2024-2026年)\n")
    assert collection.get("plan-final").text.endswith("(牵头单位:区发改委、区财政局、区建设管理委)")
    assert collection.get("interpretation").text.startswith("文字解读:")


def test_stored_text_is_not_normalised(collection):
    # The source writes half-width punctuation and one no-break space; storage keeps both as written.
    final = collection.get("plan-final").text
    assert "(牵头单位:" in final and "\uff08牵头单位\uff1a" not in final
    assert collection.get("plan-draft").text.count("聚焦重点园区、 企业") == 1


def test_unknown_document_lists_valid_ids(collection):
    with pytest.raises(UnknownDocument) as err:
        collection.get("plan-2025")
    assert "plan-final" in str(err.value) and "interpretation" in str(err.value)
