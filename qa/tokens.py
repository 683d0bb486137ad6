"""Words for BM25: jieba, with the plan's own terms and lead units added to its dictionary.

A private ``jieba.Tokenizer`` keeps the added words out of any other user of jieba in the process.
Building one takes most of a second and some 70 MB, so every Tokenizer with the same word set
shares one, built on first use.

jieba's own ``initialize()`` is never called: it trusts a cache in the shared temp folder, which
anyone can plant, and prints a traceback when another user owns it. The dictionary is built from
jieba's ``dict.txt``, or read from the copy an index saved in its own folder and checksummed in
its manifest (``save_dictionary``, ``use_saved_dictionary``).
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import re
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path

import jieba

# jieba reports building its dictionary on stderr at INFO; a CLI answer should print nothing else.
jieba.setLogLevel(logging.WARNING)

__all__ = ["Tokenizer", "DICTIONARY_VERSION"]

# Function words and question words that every question has and no clause is about.
_STOP = frozenset(
    "的 了 和 与 及 或 等 是 在 有 吗 呢 吧 啊 么 什么 怎么 怎样 如何 哪些 哪个 哪里 多少 几 个 这 那 这个 那个 "
    "我 我们 你 他 她 它 们 会 能 要 把 被 对 就 都 也 还 又 让 给 从 到 向 为 以 之 其 该 将 并 而 且 "
    "吗? 请问 一下 是不是 有没有 能不能 会不会 可以 可不可以 区里 政府".split()
)
_KEEP = re.compile(r"[0-9a-z\u3400-\u9fff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")

# A saved dictionary is jieba's internal prefix dictionary: only this version of jieba may read it.
DICTIONARY_VERSION = f"jieba {jieba.__version__}"
_SAVED_FORMAT = 1


# Shared while any Tokenizer uses it; freed with the last one, as a private dictionary would be.
_DICTIONARIES: weakref.WeakValueDictionary[tuple[str, ...], jieba.Tokenizer] = weakref.WeakValueDictionary()
# jieba builds its prefix dictionary lazily and is not safe to initialise from two threads.
_DICTIONARIES_LOCK = threading.Lock()


def _dictionary(words: tuple[str, ...], saved: tuple[Path, str] | None = None) -> jieba.Tokenizer:
    """The initialised jieba dictionary with ``words`` added, built on the first request for them,
    from the ``saved`` (path, SHA-256) copy when it is intact and holds the same words."""
    with _DICTIONARIES_LOCK:
        dictionary = _DICTIONARIES.get(words)
        if dictionary is None:
            dictionary = jieba.Tokenizer()
            if saved is None or not _load_saved(dictionary, words, *saved):
                # What jieba's initialize() does, without its cache in the shared temp folder.
                dictionary.FREQ, dictionary.total = dictionary.gen_pfdict(dictionary.get_dict_file())
                dictionary.initialized = True
                for word in words:
                    dictionary.add_word(word, freq=50_000)
            _DICTIONARIES[words] = dictionary
        return dictionary


def _load_saved(dictionary: jieba.Tokenizer, words: tuple[str, ...], path: Path, sha256: str) -> bool:
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            return False
        saved = marshal.loads(data)
    except (OSError, ValueError, EOFError, TypeError):
        return False
    if not (
        isinstance(saved, tuple)
        and len(saved) == 5
        and saved[:3] == (_SAVED_FORMAT, DICTIONARY_VERSION, words)
        and isinstance(saved[3], dict)
        and isinstance(saved[4], int)
    ):
        return False
    dictionary.FREQ, dictionary.total = saved[3], saved[4]
    dictionary.initialized = True
    return True


class Tokenizer:
    """Segments Chinese text into searchable words; the same instance serves index and queries."""

    def __init__(self, extra_words: Iterable[str] = ()) -> None:
        self._words = tuple(sorted({w for w in extra_words if w}))
        self._jieba: jieba.Tokenizer | None = None
        self._saved: tuple[Path, str] | None = None

    def use_saved_dictionary(self, path: Path, sha256: str) -> None:
        """Start from the dictionary ``save_dictionary`` wrote to ``path``, read on first use.

        It is used only if its SHA-256 is still ``sha256`` and it holds the same added words;
        otherwise the dictionary is built from jieba's, which gives the same words, more slowly.
        """
        self._saved = (path, sha256)

    def save_dictionary(self, path: Path) -> None:
        """Write the dictionary, added words included, to ``path``: a reader sees all of it or nothing.

        Raises:
            OSError: ``path`` cannot be written.
        """
        dictionary = self._dictionary()
        data = marshal.dumps(
            (_SAVED_FORMAT, DICTIONARY_VERSION, self._words, dictionary.FREQ, dictionary.total)
        )
        # Not mkstemp: its file is private to this user, and the rest of an index is not.
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _dictionary(self) -> jieba.Tokenizer:
        if self._jieba is None:
            self._jieba = _dictionary(self._words, self._saved)
        return self._jieba

    def words(self, text: str) -> list[str]:
        """Words in jieba's precise mode, as written and in order; spaces are left out."""
        return [w for w in self._dictionary().cut(text) if w.strip()]

    def tokens(self, text: str) -> list[str]:
        """Search-mode words (long words and their parts), lower-cased, without stop words or punctuation."""
        out = []
        for word in self._dictionary().cut_for_search(text.lower()):
            word = word.strip()
            if word and word not in _STOP and _KEEP.search(word):
                out.append(word)
        # Character bigrams as well: a slip of one character (无张碍, 海棉城市) still shares most of
        # its bigrams with the right word, where jieba would cut it into unrelated pieces.
        for run in _CJK_RUN.findall(text):
            out.extend("#" + run[i : i + 2] for i in range(len(run) - 1))
        return out
