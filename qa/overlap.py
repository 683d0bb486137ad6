"""How much of a question's wording a sentence of the documents shares, by pairs of adjacent
Chinese characters weighted by how rare they are in the documents.

Retrieval's closeness says which sentence reads most like the question; within a background
paragraph that is often the wrong one of two that both name people or dates. The pairs a
question and a sentence share (主持, 出席, 问卷, 区府办主任) tell them apart without a dictionary,
and the weights keep the plan's ubiquitous words (行动计划, 草案, 意见) from deciding.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from qa.lexicon import AskCue
from qa.plan_format import DOCUMENT_NAME
from qa.query import Query

__all__ = ["pairs", "pair_weights", "asked_pairs", "shared_pairs"]


def pairs(text: str) -> frozenset[str]:
    """The pairs of adjacent Chinese characters in ``text``: what a question and a sentence share
    when they speak of the same thing (主持, 出席, 问卷), without a dictionary. A pair with a
    function character (的人, 有多) straddles two words and says nothing of either."""
    return frozenset(text[i : i + 2] for i in range(len(text) - 1) if _HAN_PAIR.fullmatch(text[i : i + 2]))


# Two Chinese characters, neither a particle, pronoun or question word: those join words (的, 和,
# 也) or ask (哪, 多少, 谁), and the pairs they make are rare without being what is asked about.
_FUNCTION = "的是在和与及或吗呢吧啊么什谁哪几多少怎这那个些我你他她它们也都就还"
_HAN_PAIR = re.compile(rf"[^\W\d_A-Za-z{_FUNCTION}]{{2}}")


def pair_weights(sentences: Iterable[str], titles: Iterable[str] = ()) -> dict[str, float]:
    """Each character pair of the documents' sentences and how rare it is among them (its inverse
    document frequency): 问卷 or 主持 tell sentences apart. The pairs of the plans' titles weigh
    nothing: a question names the plan it asks about (这个行动计划草案), and that says nothing of
    which sentence answers."""
    frequency: Counter[str] = Counter()
    total = 0
    for sentence in sentences:
        frequency.update(pairs(sentence))
        total += 1
    named = frozenset().union(*(pairs(title) for title in titles))
    return {pair: math.log((1 + total) / (1 + n)) for pair, n in frequency.items() if pair not in named}


def asked_pairs(query: Query, weights: Mapping[str, float]) -> dict[str, float]:
    """The question's own character pairs that occur in the documents, with their weights: its
    asking sentence in a long message, and for an English question the plan's words it names.
    A question word takes its measure word with it (多少项, 哪个, 几条): "多少项任务" must not
    make "29项任务延续" the answer to how many tasks there are."""
    words = " ".join([query.focus_text or query.text, *query.glossary_terms])
    return {pair: weights[pair] for pair in pairs(_ASKING.sub(" ", words)) if pair in weights}


_ASKING = re.compile(r"(?:多少|几|哪)[个项条台户份座处种类次些位家所天年月]?")


def shared_pairs(sentence: str, asked: Mapping[str, float], cue: AskCue) -> float:
    """How much of the question's pairs the sentence shares, by weight, outside the documents it
    names: a question that names the plan does not make every sentence naming 《…行动计划》 closer."""
    bare = sentence if cue.in_names else DOCUMENT_NAME.sub("", sentence)
    return sum(asked.get(pair, 0.0) for pair in pairs(bare))
