"""BM25 words: jieba with the plan's own terms and lead units kept whole."""

from __future__ import annotations

import threading

import pytest

from qa.lexicon import load_lexicon
from qa.tokens import Tokenizer
from tests.conftest import CORPUS

PUNCTUATION = set("?？!！。,，、;；:：“”\"'()（）《》【】…—-· \t\n")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(load_lexicon(CORPUS / "lexicon").dictionary_words())


@pytest.fixture(scope="module")
def plain() -> Tokenizer:
    """jieba's own dictionary only."""
    return Tokenizer()


def words(tokenizer: Tokenizer, text: str) -> list[str]:
    """jieba's words only, without the character bigrams (marked with a leading '#')."""
    return [t for t in tokenizer.tokens(text) if not t.startswith("#")]


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("电动自行车在楼道充电谁管?", "电动自行车"),
        ("老小区加装电梯有补贴吗", "加装电梯"),
        ("区房管局负责哪些任务?", "区房管局"),
        ("城管执法局管违建吗", "城管执法局"),
        ("区建设管理委牵头的任务", "区建设管理委"),
        ("“一网统管”平台管什么", "一网统管"),
        ("液化气钢瓶瓶改管", "液化气钢瓶"),
    ],
)
def test_plan_terms_are_kept_whole(tokenizer: Tokenizer, text: str, term: str) -> None:
    assert term in tokenizer.tokens(text)


def test_the_dictionary_is_what_keeps_them_whole(plain: Tokenizer) -> None:
    # Without the plan's words jieba cuts 电动自行车 into 电动 / 自行车: the lexicon matters.
    assert "电动自行车" not in plain.tokens("电动自行车")
    assert "加装电梯" not in plain.tokens("加装电梯")


def test_added_words_stay_in_their_own_tokenizer(tokenizer: Tokenizer, plain: Tokenizer) -> None:
    # Both were initialised in this process; the plan's words did not leak into the plain one.
    assert "电动自行车" in tokenizer.tokens("电动自行车")
    assert "电动自行车" not in plain.tokens("电动自行车")


def test_search_mode_also_yields_the_parts(tokenizer: Tokenizer) -> None:
    # A question that says 自行车 must still match a clause that says 电动自行车.
    got = words(tokenizer, "电动自行车")
    assert got[-1] == "电动自行车"
    assert {"电动", "自行车"} <= set(got)


def test_stop_words_and_punctuation_are_dropped(tokenizer: Tokenizer) -> None:
    got = words(tokenizer, "请问,电动自行车在楼道里充电的话,到底是哪个部门在管呢?")
    for stop in ("请问", "的", "在", "是", "呢", "哪个"):
        assert stop not in got
    assert "电动自行车" in got and "充电" in got and "楼道" in got
    for token in tokenizer.tokens("请问:(电梯)“加装”?!。,、;《计划》……——"):
        assert not set(token) & PUNCTUATION, token


def test_only_stop_words_and_punctuation_give_no_words(tokenizer: Tokenizer) -> None:
    assert words(tokenizer, "的了吗?,。!") == []
    assert words(tokenizer, "请问一下可以吗?") == []
    assert tokenizer.tokens("?!。,……") == []
    assert tokenizer.tokens("") == []


def test_lower_cased(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokens("E-Bike Charging") == tokenizer.tokens("e-bike charging")
    assert "bike" in tokenizer.tokens("E-Bike")


def test_same_text_same_tokens_for_index_and_question(tokenizer: Tokenizer) -> None:
    text = "推进既有多层住宅加装电梯,三年内新增加装电梯466台。"
    assert tokenizer.tokens(text) == tokenizer.tokens(text)
    assert "466" in tokenizer.tokens(text)


def test_character_bigrams_catch_one_character_slips(tokenizer: Tokenizer) -> None:
    right = set(tokenizer.tokens("无障碍环境建设"))
    slip = set(tokenizer.tokens("无张碍环境建设"))
    assert {"#环境", "#境建", "#建设"} <= right & slip


def test_first_use_from_many_threads_builds_one_dictionary(monkeypatch: pytest.MonkeyPatch) -> None:
    import jieba

    built: list[object] = []
    real_gen_pfdict = jieba.Tokenizer.gen_pfdict

    def gen_pfdict(f: object) -> object:  # reads jieba's dict.txt: the slow part of building one
        built.append(f)
        return real_gen_pfdict(f)

    monkeypatch.setattr(jieba.Tokenizer, "gen_pfdict", staticmethod(gen_pfdict))
    shared = Tokenizer(["电动自行车", "加装电梯"])
    # Four threads share one Tokenizer, four more have one each, all with the same words.
    tokenizers = [shared] * 4 + [Tokenizer(["加装电梯", "电动自行车"]) for _ in range(4)]
    results: list[list[str]] = []
    lock = threading.Lock()

    def run(tok: Tokenizer) -> None:
        got = tok.tokens("电动自行车和加装电梯")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=run, args=(tok,)) for tok in tokenizers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert all(r == results[0] for r in results)
    assert {"电动自行车", "加装电梯"} <= set(results[0])
    assert len(built) == 1
    assert len({id(tok._dictionary()) for tok in tokenizers}) == 1


def test_tokenizers_with_the_same_words_share_one_jieba_dictionary(
    tokenizer: Tokenizer, plain: Tokenizer
) -> None:
    words = load_lexicon(CORPUS / "lexicon").dictionary_words()
    same, reordered = Tokenizer(words), Tokenizer(reversed(words))  # a word set, in any order
    assert same._dictionary() is tokenizer._dictionary()
    assert reordered._dictionary() is tokenizer._dictionary()
    assert Tokenizer()._dictionary() is plain._dictionary()
    assert plain._dictionary() is not tokenizer._dictionary()
    # The plan's words are in the one dictionary and not in the other.
    assert "电动自行车" in same.tokens("电动自行车充电")
    assert "电动自行车" not in Tokenizer().tokens("电动自行车充电")
