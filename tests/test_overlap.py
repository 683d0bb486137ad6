"""The word pairs a question and a sentence share (qa/overlap.py), on the documents' own text."""

from __future__ import annotations

from qa.documents import load_collection
from qa.lexicon import load_lexicon
from qa.overlap import asked_pairs, pair_weights, pairs, shared_pairs
from qa.plan_format import split_sentences
from qa.query import parse_query
from qa.settings import load_settings


def test_pairs_are_two_content_characters() -> None:
    # 的, 哪, 谁 join or ask; digits, Latin letters and punctuation are no pair at all
    found = pairs("问卷里有多少比例的人了解?")
    assert {"问卷", "比例", "了解"} <= found
    assert not found & {"多少", "有多", "少比", "的人", "例的"}
    assert pairs("ab 12 《》,。") == frozenset()


def test_rare_pairs_weigh_more_and_the_plans_titles_nothing() -> None:
    settings = load_settings()
    collection = load_collection(settings.corpus_dir)
    titles = [collection.plan(v).title for v in ("final", "draft")]
    sentences = [doc.text[s:e] for doc in collection.documents for s, e in split_sentences(doc.text)]
    weights = pair_weights(sentences, titles)
    assert weights["问卷"] > weights["建设"] > 0
    assert "计划" not in weights and "精细" not in weights  # every plan question names the plan
    lexicon = load_lexicon(settings.corpus_dir / "lexicon")
    asked = asked_pairs(parse_query("问卷里有多少比例的人了解这个行动计划草案?", 500, lexicon), weights)
    cue = lexicon.cue("count")
    assert cue is not None
    survey = "问卷显示,79%的受访者了解《行动计划(草案)》"
    meeting = "2024年5月我委召开座谈会,根据意见和建议的主要内容,我委对草案行动计划重点任务进行了修改:"
    assert shared_pairs(survey, asked, cue) > shared_pairs(meeting, asked, cue)


def test_a_documents_name_is_no_shared_wording_unless_names_are_asked_for() -> None:
    lexicon = load_lexicon(load_settings().corpus_dir / "lexicon")
    count, source = lexicon.cue("count"), lexicon.cue("source")
    assert count is not None and source is not None
    asked = {"城市": 1.0, "管理": 1.0}
    named = "《上海城市管理精细化三年行动计划》"
    assert shared_pairs(named, asked, count) == 0
    assert shared_pairs(named, asked, source) == 2.0
