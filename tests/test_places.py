"""Places a question names that the documents do not (qa/places.py), cut by the real tokenizer."""

from __future__ import annotations

import pytest

from qa.assistant import Assistant
from qa.documents import Collection
from qa.lexicon import load_lexicon
from qa.places import named_places
from qa.tokens import Tokenizer
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def places(collection: Collection):
    tokenizer = Tokenizer(load_lexicon(CORPUS / "lexicon").dictionary_words())
    documents = "\n".join(doc.text for doc in collection.documents)
    return lambda question: named_places(tokenizer.words(question), documents)


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("天山路那段人行道砖都松了,啥时候修?", ("天山路",)),
        ("我们新华路这边小区一下暴雨就积水", ("新华路",)),
        ("仙霞新村在不在名单里", ("仙霞新村",)),  # the name and 新村 apart
        ("江苏路那边的社区试点是怎么回事?", ()),  # the plan names 江苏路
        ("中山公园晚上能开吗", ()),
        ("一下暴雨门口马路就变成河", ()),
        ("我家那条路的架空线什么时候入地?", ()),
        ("商场公园能不能多弄几个母婴室?", ()),  # a shopping centre and a park, no name
        ("上班路上那个路口天天堵", ()),
        ("学校路口的电线什么时候埋掉?", ()),
    ],
)
def test_a_place_is_a_name_before_a_road_or_estate_word_that_the_documents_never_use(
    places, question: str, named: tuple[str, ...]
) -> None:
    assert places(question) == named


def test_when_a_task_reaches_a_street_of_ones_own_is_not_said(assistant: Assistant) -> None:
    """The task answers the subject; of the asker's street the plan says nothing in particular."""
    street = assistant.ask("天山路那段人行道砖都松了,一踩一脚泥水,啥时候修?")
    assert street.results[0].doc_id == "plan-final" and street.results[0].clause == 3
    assert street.coverage == "partial" and street.missing == "具体地点"
    assert "没有写明具体地点" in street.lead
    anywhere = assistant.ask("人行道砖都松了,一踩一脚泥水,啥时候修?")
    assert anywhere.results[0].clause == 3 and anywhere.coverage == "answered"
    asked_whether = assistant.ask("我家住在天山路一个老小区,还在用液化气钢瓶,计划里有没有说要改管道燃气?")
    assert asked_whether.coverage == "answered"
