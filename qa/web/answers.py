"""Answers for the REST API: a bounded number at once, off the event loop, recent ones cached.

``assistant.ask`` takes milliseconds of CPU, so it runs on a small pool of threads and never on
the server's event loop. At most ``concurrency`` questions are answered at once (four per core:
questions that wait for the embedder are embedded together, which is what lets one process use
both cores); up to ``max_waiting`` more wait at most ``wait_s`` seconds for a turn, and anything
beyond that is refused at once as busy, so a flood costs the server a bounded queue, not memory.

Recent answers are kept, serialised, in a small LRU cache keyed by the normalised question, the
parameters and the index's build id (a rebuilt index or re-tuned weights never serve an old
answer). Nothing else is kept once a request is answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

import orjson

from qa.assistant import Assistant
from qa.query import parse_query
from qa.settings import check_k

__all__ = ["AnswerService", "AnswerCache", "Busy", "Reply", "build_id", "cores"]

T = TypeVar("T")


def cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Busy(Exception):
    """Every answering slot is taken and the wait for one is over (or too many already wait)."""

    retry_after_s = 1


class Reply(NamedTuple):
    body: bytes  # the answer object as UTF-8 JSON, exactly what ``qa ask --json`` prints
    cached: bool


def build_id(assistant: Assistant) -> str:
    """What the answers depend on besides the question: the index manifest (corpus, code, model,
    settings, file checksums, build time) and the tuned weights and thresholds."""
    digest = hashlib.sha256(json.dumps(assistant.index.manifest, sort_keys=True, default=str).encode())
    digest.update(repr(assistant.tuned.weights).encode())
    digest.update(repr(assistant.tuned.thresholds).encode())
    return digest.hexdigest()[:16]


class AnswerCache:
    """Serialised answers by key, least recently used first out, bounded in entries and bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 8 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple[object, ...], value: bytes) -> None:
        if self.max_entries <= 0 or len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = value
            self._bytes += len(value)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._bytes


class AnswerService:
    """Answers questions for the API with bounded concurrency, a bounded wait and a cache.

    ``assistant`` may be None while the model and index load (``ready`` is then False); set it
    with ``attach`` once loaded.
    """

    def __init__(
        self,
        assistant: Assistant | None = None,
        concurrency: int | None = None,
        max_waiting: int = 128,
        wait_s: float = 5.0,
        cache: AnswerCache | None = None,
    ) -> None:
        self.concurrency = concurrency or 4 * cores()
        self.max_waiting = max_waiting
        self.wait_s = wait_s
        self.cache = cache if cache is not None else AnswerCache()
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="qa-answer")
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self.assistant: Assistant | None = None
        self.build_id = ""
        if assistant is not None:
            self.attach(assistant)

    def attach(self, assistant: Assistant) -> None:
        """Answer with this (loaded) assistant from now on; the cache starts empty."""
        self.build_id = build_id(assistant)
        self.cache.clear()
        self.assistant = assistant

    @property
    def ready(self) -> bool:
        return self.assistant is not None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def key(
        self, question: str, k: int | None, doc: str | None, section: str | None, unit: str | None
    ) -> tuple[object, ...]:
        """The cache key: everything the answer depends on. The answer depends on the normalised
        question only (the question as asked is just echoed back).

        Raises:
            InvalidQuestion: the question is over-long (checked first, in constant time), empty or
                wordless; refused here, before it takes an answering slot.
        """
        assert self.assistant is not None
        text = parse_query(question, self.assistant.settings.max_question_chars).text
        resolved_k = self.assistant.settings.k if k is None else k
        return (self.build_id, text, resolved_k, doc or None, section or None, unit or None)

    async def answer(
        self,
        question: str,
        k: int | None = None,
        doc: str | None = None,
        section: str | None = None,
        unit: str | None = None,
        context: Mapping[str, Any] | None = None,
        use_cache: bool = True,
    ) -> Reply:
        """The answer as JSON bytes, from the cache or from the assistant.

        Raises:
            Busy: no slot became free within ``wait_s`` seconds, or too many requests wait.
            QAError: what ``Assistant.ask`` raises for a bad question or parameter.
        """
        assistant = self.assistant
        if assistant is None:
            raise Busy("loading")
        if k is not None:
            check_k(k)
        key = self.key(question, k, doc, section, unit)
        # Follow-up context makes an answer depend on more than the key: never cached.
        cacheable = not context
        if use_cache and cacheable:
            rest = self.cache.get(key)
            if rest is not None:
                return Reply(_with_question(question, rest), True)

        def work() -> bytes:
            answer = assistant.ask(
                question, k=k, doc=doc, section=section, unit=unit, context=dict(context) if context else None
            )
            data = answer.to_dict()
            data.pop("question")
            return orjson.dumps(data)

        rest = await self.run(work)
        if cacheable:
            self.cache.put(key, rest)
        return Reply(_with_question(question, rest), False)

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on an answering thread once a slot is free.

        Raises:
            Busy: no slot within ``wait_s`` seconds, or ``max_waiting`` requests already wait.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        slots = self._slots
        if slots.locked():
            if self._waiting >= self.max_waiting:
                raise Busy("queue full")
            self._waiting += 1
            try:
                await asyncio.wait_for(slots.acquire(), self.wait_s)
            except TimeoutError:
                raise Busy("waited too long") from None
            finally:
                self._waiting -= 1
        else:
            await slots.acquire()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        finally:
            slots.release()

    @property
    def waiting(self) -> int:
        return self._waiting


def _with_question(question: str, rest: bytes) -> bytes:
    # ``rest`` is the answer object without its first key; the question is put back in front,
    # so the bytes are exactly Answer.to_dict() in its own key order.
    if rest == b"{}":
        return b'{"question":' + orjson.dumps(question) + b"}"
    return b'{"question":' + orjson.dumps(question) + b"," + rest[1:]
