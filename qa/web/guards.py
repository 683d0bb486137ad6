"""ASGI guards in front of the page and the API: a request body over its limit is refused before
the application reads (let alone parses) any of it.

The limit is checked twice: against ``Content-Length`` before a byte of the body is read, and
while the body streams in (chunked requests, or a client that understates its length), so the
server never holds more than the limit of any one request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import orjson

from qa.web.api_errors import wants_english

__all__ = [
    "BodyLimit",
    "send_json",
    "ASGIApp",
    "Scope",
    "Message",
    "Receive",
    "Send",
    "header",
    "accepts_english",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case), decoded as latin-1."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def accepts_english(scope: Scope) -> bool:
    """English first in ``Accept-Language``: the language of a message sent before any body is read."""
    return wants_english(None, header(scope, b"accept-language"))


async def send_json(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    close: bool = False,
) -> None:
    """One ``{"error": {"code", "message"}}`` response."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    if close:
        # The body was not read: the connection cannot carry another request.
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses request bodies over a per-path-prefix limit with 413, before the app reads them.

    ``limits`` are ``(path prefix, bytes)`` pairs, the first matching prefix wins; other paths
    get ``default``.
    """

    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]], default: int) -> None:
        self.app = app
        self.limits = list(limits)
        self.default = default

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                english = accepts_english(scope)
                await send_json(
                    send,
                    400,
                    "invalid_content_length",
                    "The Content-Length header is not a number."
                    if english
                    else "请求头 Content-Length 不是数字。",
                    close=True,
                )
                return
            if int(length) > limit:
                await self._too_large(scope, send, limit)
                return
        chunked = (header(scope, b"transfer-encoding") or "").lower() == "chunked"
        if scope["method"] in _NO_BODY_METHODS and not chunked and not int(length or 0):
            await self.app(scope, receive, send)
            return
        # Read the body here, counting, and hand it on only if it stayed within the limit.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._too_large(scope, send, limit)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: disconnects, as the app expects

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        english = accepts_english(scope)
        await send_json(
            send,
            413,
            "body_too_large",
            f"The request body is larger than {limit} bytes."
            if english
            else f"请求体超过 {limit} 字节,未予处理。",
            close=True,
        )
