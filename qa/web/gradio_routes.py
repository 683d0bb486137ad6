"""Gradio's own routes, kept to what the page needs and one queued API endpoint, ``/ask``.

Gradio serves more than a page needs, and some of it around the queue's limits (the routes are
in ``gradio/routes.py``). In front of the mounted page this guard:

* closes ``/gradio_api/run/*`` and ``/gradio_api/api/*`` (404): they call a function directly,
  past the queue and its concurrency limit, so every question goes through the queue;
* refuses ``/gradio_api/upload`` (405): the page has no file input, and an upload route would
  store any file of any size and serve it back;
* checks ``/gradio_api/call/ask`` (and ``/call/v2/ask``) before it is queued: ``data`` must be
  ``[question, k?, doc?]``, the optional arguments really optional (filled with null); an empty,
  over-long or wordless question, a bad ``k`` or an unknown ``doc`` is 422 with one plain-text
  message, in the question's language; any other name is 404;
* answers ``GET /gradio_api/call/<name>/<event_id>`` for an unknown name or event with 404
  instead of an event stream that says nothing, and once the stream of an API call has ended,
  drops what Gradio would otherwise keep of it for good (a session of component state per call,
  about 90 KB); a call whose result is never read is dropped after ``UNREAD_TTL_S``;
* turns Gradio's own 404, 405, 422 and 500 under ``/gradio_api`` into the API's JSON error.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections import OrderedDict
from typing import Any

from qa.documents import Collection
from qa.errors import QAError
from qa.query import parse_query
from qa.settings import Settings, check_k
from qa.web.api_errors import wants_english
from qa.web.guards import ASGIApp, Message, Receive, Scope, Send, header, send_json

__all__ = ["GradioGuard", "API_NAME", "GRADIO_PREFIX"]

GRADIO_PREFIX = "/gradio_api"
API_NAME = "ask"
_CALL = re.compile(r"/call(/v2)?/([^/]+)/?")
_CALL_EVENT = re.compile(r"/call(?:/v2)?/([^/]+)/([^/]+)/?")
_CLOSED = ("/run", "/api")
_ENGLISH = "qa.english"
UNREAD_TTL_S = 300.0  # how long the result of a posted API call waits to be read
MAX_UNREAD = 1024


class _Refusal(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str) -> None:
        super().__init__(zh)
        self.status, self.code, self.zh, self.en = status, code, zh, en


class GradioGuard:
    """ASGI middleware in front of an app with ``demo`` mounted at ``/``."""

    def __init__(self, app: ASGIApp, demo: Any, settings: Settings, collection: Collection) -> None:
        self.app = app
        self.demo = demo
        self.max_chars = settings.max_question_chars
        self.doc_ids = set(collection.doc_ids)
        fns = [fn for fn in demo.fns.values() if getattr(fn, "api_name", None) == API_NAME]
        if len(fns) != 1:
            raise ValueError(f"the page must have exactly one API endpoint named {API_NAME!r}")
        self.ask_fn = fns[0]
        self.ask_inputs = len(self.ask_fn.inputs)
        # API calls posted but not yet read, oldest first: swept once nobody will read them.
        self._unread: OrderedDict[str, float] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(GRADIO_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        try:
            await self._route(scope, receive, send, path[len(GRADIO_PREFIX) :])
        except _Refusal as refusal:
            english = scope.get(_ENGLISH)
            if english is None:
                english = wants_english(None, header(scope, b"accept-language"))
            extra = [(b"allow", b"")] if refusal.status == 405 else []
            await send_json(send, refusal.status, refusal.code, refusal.en if english else refusal.zh, extra)

    async def _route(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        method = scope["method"]
        if path == "/upload" or path.startswith(("/upload/", "/upload_progress")):
            raise _Refusal(
                405, "uploads_disabled", "本服务不接受文件上传。", "This service accepts no file uploads."
            )
        if any(path == p or path.startswith(p + "/") for p in _CLOSED):
            raise _Refusal(
                404,
                "closed_route",
                f"这个地址已关闭,问题都要排队回答:请用 POST /api/v1/ask 或 {GRADIO_PREFIX}/call/{API_NAME}。",
                f"This route is closed; every question is queued: use POST /api/v1/ask or "
                f"{GRADIO_PREFIX}/call/{API_NAME}.",
            )
        call = _CALL.fullmatch(path)
        if call and method == "POST":
            await self._call(scope, receive, send, v2=bool(call.group(1)), name=call.group(2))
            return
        event = _CALL_EVENT.fullmatch(path)
        if event and method == "GET":
            await self._stream(scope, receive, send, name=event.group(1), event_id=event.group(2))
            return
        if path in ("/queue/join", "/queue/join/") and method == "POST":
            await self._join(scope, receive, send)
            return
        await self.app(scope, receive, _plain_errors(scope, send))

    # -- /call/ask ------------------------------------------------------------------------------

    async def _call(self, scope: Scope, receive: Receive, send: Send, v2: bool, name: str) -> None:
        if name != API_NAME:
            raise _unknown_endpoint(name)
        body = _json_object(await _read_body(receive))
        if v2:
            # Named arguments: {"question": …, "k": …, "doc": …}.
            unknown = sorted(set(body) - {"question", "k", "doc"})
            if unknown:
                raise _Refusal(
                    422,
                    "unknown_field",
                    f"不认识的参数 {unknown[0][:40]!r};可用:question、k、doc。",
                    f"Unknown argument {unknown[0][:40]!r}; the arguments are question, k, doc.",
                )
            data: object = [body.get("question"), body.get("k"), body.get("doc")]
        else:
            data = body.get("data")
        checked = self._checked(scope, data)
        body = {key: value for key, value in body.items() if key == "session_hash" and not v2}
        body["data"] = checked
        # v2 is answered by the same queued call: one way in, one set of limits.
        scope = {**scope, "path": f"{GRADIO_PREFIX}/call/{API_NAME}", "raw_path": None}
        self._sweep()
        sent: list[bytes] = []

        async def keep_event_id(message: Message) -> None:
            if message["type"] == "http.response.body":
                sent.append(bytes(message.get("body", b"")))
            await send(message)

        await self.app(
            scope, _replay(json.dumps(body).encode(), receive), _plain_errors(scope, keep_event_id)
        )
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            event_id = json.loads(b"".join(sent)).get("event_id")
            if isinstance(event_id, str):
                self._unread[event_id] = time.monotonic()

    def _checked(self, scope: Scope, data: object) -> list[object]:
        """``[question, k, doc]`` with the optional arguments filled in, or a refusal."""
        if not isinstance(data, list) or not 1 <= len(data) <= self.ask_inputs:
            raise _Refusal(
                422,
                "invalid_data",
                '"data" 必须是列表 [问题, k, doc],k 和 doc 可以省略,例如 {"data": ["电瓶车在楼道充电谁管?"]}。',
                '"data" must be a list [question, k, doc]; k and doc may be left out, '
                'e.g. {"data": ["Who is responsible for garbage sorting?"]}.',
            )
        question, k, doc = [*data, None, None][:3]
        if isinstance(question, str):
            scope[_ENGLISH] = wants_english(question, None)  # refusals answer in the question's language
        english = bool(scope.get(_ENGLISH))
        try:
            if not isinstance(question, str):
                raise QAError("问题必须是文字。" if not english else "The question must be a string.")
            parse_query(question, self.max_chars)  # empty, over-long (checked first), wordless
            if k is not None:
                if isinstance(k, float) and k.is_integer():
                    k = int(k)
                check_k(k)
        except QAError as err:
            message = str(err)
            if english and message.startswith("k "):
                message = "k must be a whole number from 1 to 20."
            raise _Refusal(422, "invalid_question", message, message) from None
        if doc in ("", None):
            doc = None
        elif doc not in self.doc_ids:
            ids = ", ".join(sorted(self.doc_ids))
            raise _Refusal(
                422,
                "unknown_document",
                f"未知文档 {str(doc)[:40]!r};可用的文档编号:{ids}",
                f"Unknown document {str(doc)[:40]!r}; the doc_ids are: {ids}",
            )
        return [question, k, doc]

    async def _stream(self, scope: Scope, receive: Receive, send: Send, name: str, event_id: str) -> None:
        if name != API_NAME:
            raise _unknown_endpoint(name)
        queue = self.demo._queue
        pending = queue.pending_event_ids_session
        if event_id not in queue.event_ids_to_events and not any(event_id in ids for ids in pending.values()):
            raise _Refusal(
                404,
                "unknown_event",
                f"没有这个事件 {event_id[:40]!r}:它不存在,或结果已经取走。",
                f"No such event {event_id[:40]!r}: it does not exist, or its result was already read.",
            )
        session = getattr(queue.event_ids_to_events.get(event_id), "session_hash", None)
        try:
            await self.app(scope, receive, _plain_errors(scope, send))
        finally:
            self._unread.pop(event_id, None)
            if session in (None, event_id):
                self._forget(event_id)

    def _sweep(self) -> None:
        """Forget the finished API calls whose result nobody came to read within ``UNREAD_TTL_S``."""
        now, events = time.monotonic(), self.demo._queue.event_ids_to_events
        for event_id, posted in list(self._unread.items()):
            if len(self._unread) <= MAX_UNREAD and now - posted < UNREAD_TTL_S:
                break
            if event_id not in events:  # finished: nothing will read its messages any more
                del self._unread[event_id]
                self._forget(event_id)

    def _forget(self, session: str) -> None:
        """Drop what Gradio keeps of an API call's own session once its stream has ended."""
        queue = self.demo._queue
        if queue.pending_event_ids_session.get(session):
            return  # not finished after all
        queue.pending_event_ids_session.pop(session, None)
        queue.pending_messages_per_session.pop(session, None)
        holder = getattr(self.demo, "state_holder", None)
        if holder is not None:
            with contextlib.suppress(KeyError, AttributeError):
                holder.session_data.pop(session, None)
                holder.time_last_used.pop(session, None)

    # -- /queue/join (the page and gradio_client) ---------------------------------------------

    async def _join(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = _json_object(await _read_body(receive))
        fn_index = body.get("fn_index")
        if isinstance(fn_index, bool) or not isinstance(fn_index, int) or fn_index not in self.demo.fns:
            raise _Refusal(
                422,
                "unknown_function",
                "请求的功能不存在,请刷新页面后再试。",
                "No such function; reload the page.",
            )
        if fn_index == self.ask_fn._id and isinstance(body.get("data"), list):
            data = body["data"]
            if 1 <= len(data) < self.ask_inputs:
                body["data"] = [*data, *([None] * (self.ask_inputs - len(data)))]
        await self.app(scope, _replay(json.dumps(body).encode(), receive), _plain_errors(scope, send))


def _unknown_endpoint(name: str) -> _Refusal:
    return _Refusal(
        404,
        "unknown_endpoint",
        f"没有名为 {name[:40]!r} 的接口;唯一的接口是 {API_NAME}(或 POST /api/v1/ask)。",
        f"There is no endpoint named {name[:40]!r}; the only one is {API_NAME} (or POST /api/v1/ask).",
    )


async def _read_body(receive: Receive) -> bytes:
    """The whole body (already bounded by ``qa.web.guards.BodyLimit``)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _Refusal(
            400, "invalid_json", "请求体不是有效的 JSON。", "The request body is not valid JSON."
        ) from None
    if not isinstance(body, dict):
        raise _Refusal(
            422, "invalid_request", "请求体必须是一个 JSON 对象。", "The request body must be a JSON object."
        )
    return body


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, with its new length, then the real messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _plain_errors(scope: Scope, send: Send) -> Send:
    """``send`` that turns Gradio's own 404/405/422/500 answers into one JSON error message."""
    replaced: dict[str, Any] = {}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] in (404, 405, 422, 500):
            replaced["status"] = message["status"]
            return
        if "status" in replaced:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await _send_error(scope, send, replaced["status"])
            return
        await send(message)

    return wrapped


async def _send_error(scope: Scope, send: Send, status: int) -> None:
    english = wants_english(None, header(scope, b"accept-language"))
    path = str(scope.get("path", ""))[:80]
    messages = {
        404: ("not_found", f"没有这个地址:{path}。", f"No such route: {path}."),
        405: (
            "method_not_allowed",
            f"这个地址不接受 {scope['method'][:10]} 请求。",
            f"{scope['method'][:10]} is not allowed here.",
        ),
        422: ("invalid_request", "请求的数据格式不对。", "The request data is not in the expected form."),
        500: (
            "internal_error",
            "系统出现意外错误,请稍后再试;错误已记录在服务器日志中。",
            "An unexpected error occurred; it has been logged on the server.",
        ),
    }
    code, zh, en = messages[status]
    await send_json(send, status, code, en if english else zh)
