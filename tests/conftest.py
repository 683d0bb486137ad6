"""Shared fixtures: the real corpus, the real assistant and one index built with the fake embedder.

Nothing a test builds or writes lands in the repository: for the whole session ``QA_INDEX_DIR`` and
``QA_FEEDBACK_LOG`` point into pytest's temporary folder, so ``load_settings()``, a ``qa`` child
process and a server started by a test all use the index the ``assistant`` fixture built there. A
test that still writes into the repository's ``index/`` or ``feedback/`` (through ``Settings()``'s
own defaults, say) fails, naming the fixtures to use instead.

Markers (``make check`` runs ``-m "not slow and not browser"``, ``make test`` runs everything):

- ``slow``: the real model, a server or a child process. A test that asks for ``assistant``, even
  through another fixture, is marked ``slow`` here, so the fast suite never loads the model.
- ``browser``: a real headless Chromium.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from qa.documents import Collection, load_collection
from qa.index import Index, build_index
from qa.lexicon import load_lexicon
from qa.settings import Settings, load_settings
from qa.tokens import Tokenizer
from tests.fake_embedder import FakeEmbedder

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "assistant" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's own folder for the real index and the feedback log."""
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="session", autouse=True)
def _outside_the_repository(session_dir: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_INDEX_DIR", str(session_dir / "index"))
        mp.setenv("QA_FEEDBACK_LOG", str(session_dir / "feedback" / "feedback.jsonl"))
        yield


# What a test must never create or change: the index and feedback log that `make serve` uses.
_REPOSITORY_STATE = (REPO / "index", REPO / "index" / "manifest.json", REPO / "feedback" / "feedback.jsonl")


def _footprint(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@pytest.fixture(autouse=True)
def _nothing_written_into_the_repository(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that built an index or logged feedback in the repository's own folders."""
    before = [_footprint(p) for p in _REPOSITORY_STATE]
    yield
    if [_footprint(p) for p in _REPOSITORY_STATE] != before:
        pytest.fail(
            f"{request.node.nodeid} wrote into {REPO / 'index'} or {REPO / 'feedback'}: give it folders of its"
            " own (load_settings(index_dir=tmp_path / 'index', feedback_log=…)) or use the fake_index,"
            " fake_index_copy, fake_assistant or assistant fixtures",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def collection() -> Collection:
    return load_collection(CORPUS)


@pytest.fixture(scope="session")
def source_text() -> str:
    return (CORPUS / "source" / "000_b8b1fbbb11219fcd.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def assistant(session_dir: Path):
    """The real assistant: the bundled e5 model, its index built once per session in ``session_dir``."""
    from qa.assistant import Assistant

    return Assistant(
        load_settings(
            index_dir=session_dir / "index", feedback_log=session_dir / "feedback" / "feedback.jsonl"
        )
    )


class _RememberingTokenizer(Tokenizer):
    """A Tokenizer that cuts each text once: rebuilds of the fake index tokenise the same corpus."""

    def __init__(self, extra_words: list[str]) -> None:
        super().__init__(extra_words)
        self._cut: dict[str, list[str]] = {}

    def tokens(self, text: str) -> list[str]:
        words = self._cut.get(text)
        if words is None:
            words = self._cut[text] = super().tokens(text)
        return list(words)


@dataclass
class FakeIndex:
    """An index of the whole corpus built with :class:`FakeEmbedder`, and what it was built from.

    Its tokenizer remembers the words of every text it has cut, so a test that rebuilds the index
    pays for jieba only on text it changed.
    """

    settings: Settings
    collection: Collection
    tokenizer: Tokenizer
    embedder: FakeEmbedder
    index: Index


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> FakeIndex:
    """Built once per session from a private copy of corpus/; read it, never change it."""
    root = tmp_path_factory.mktemp("fake-index")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = load_settings(
        corpus_dir=corpus, index_dir=root / "index", feedback_log=root / "feedback.jsonl"
    )
    collection = load_collection(corpus)
    tokenizer = _RememberingTokenizer(load_lexicon(corpus / "lexicon").dictionary_words())
    embedder = FakeEmbedder()
    index = build_index(collection, embedder, tokenizer, settings)
    return FakeIndex(settings, collection, tokenizer, embedder, index)


@pytest.fixture
def fake_index_copy(fake_index: FakeIndex, tmp_path: Path) -> FakeIndex:
    """A private copy of ``fake_index`` in ``tmp_path/index``, free to change or damage.

    Its embedder is a fresh FakeEmbedder, so ``embedder.calls`` shows what this test embedded.
    """
    target = tmp_path / "index"
    shutil.copytree(fake_index.settings.index_dir, target)
    settings = replace(fake_index.settings, index_dir=target, feedback_log=tmp_path / "feedback.jsonl")
    return replace(fake_index, settings=settings, embedder=FakeEmbedder())


@pytest.fixture(scope="session")
def fake_assistant(fake_index: FakeIndex):
    """The assistant over ``fake_index``: no model, loaded in a fraction of a second."""
    from qa.assistant import Assistant

    return Assistant(fake_index.settings, embedder=FakeEmbedder())
