"""The REST API's errors: ``{"error": {"code", "message"}}``, one plain sentence in the asker's language.

English when the question is English (or, with no question to go by, when ``Accept-Language``
prefers English); Chinese otherwise. pydantic's validation errors become the same sentences the
CLI and the page use (问题太长…, k 必须是 1 到 20 之间的整数…), never pydantic's English.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.query import is_english
from qa.settings import K_RANGE
from qa.web.schemas import API_PREFIX, AskRequest, FeedbackIn

__all__ = [
    "ApiError",
    "error_body",
    "error_response",
    "wants_english",
    "add_error_handlers",
    "not_found",
    "method_not_allowed",
]

log = logging.getLogger("qa.api")

# How far into a question its language is judged: bounded, so a long text costs nothing extra.
_LANGUAGE_SCAN = 600

# ---------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """An error the API answers as ``{"error": {"code", "message"}}`` with this status."""

    def __init__(
        self, status: int, code: str, zh: str, en: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(zh)
        self.status, self.code, self.zh, self.en = status, code, zh, en or zh
        self.headers = dict(headers or {})

    def message(self, english: bool) -> str:
        return self.en if english else self.zh


def error_body(code: str, message: str) -> bytes:
    # A message may quote the request, and a request may hold lone surrogates (valid JSON escapes,
    # not UTF-8): they become U+FFFD rather than an encoding error.
    safe = message.encode("utf-8", "replace").decode("utf-8")
    return orjson.dumps({"error": {"code": code, "message": safe}})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        error_body(code, message), status, headers=dict(headers or {}), media_type="application/json"
    )


def wants_english(question: object, accept_language: str | None) -> bool:
    """English when the question is English; without a question, when English is the first choice
    of ``Accept-Language``. Chinese otherwise."""
    if isinstance(question, str) and question.strip():
        return is_english(question[:_LANGUAGE_SCAN])
    best, best_q = "", -1.0
    for part in (accept_language or "")[:200].split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and q > best_q:
            best, best_q = tag.lower(), q
    return best.split("-")[0] == "en"


def _question_of(body: object) -> object:
    return body.get("question") if isinstance(body, dict) else None


_FIELD_NAMES_ZH = {
    "question": "question(问题)",
    "k": "k(引用条款数)",
    "doc": "doc(文档)",
    "section": "section(章节)",
    "unit": "unit(牵头单位)",
    "context": "context(追问上下文)",
    "answer": "answer(回答)",
    "citations": "citations(引用)",
    "vote": "vote(评价)",
    "comment": "comment(评论)",
}


def _validation_error(
    errors: Sequence[Any], body: object, fields: Sequence[str]
) -> tuple[int, str, str, str]:
    """Status, code and the Chinese and English sentence for the first of pydantic's errors."""
    err = dict(errors[0]) if errors else {}
    kind = str(err.get("type", ""))
    loc = [str(x) for x in err.get("loc", ()) if x != "body"]
    field = loc[0] if loc else ""
    ctx = err.get("ctx") or {}
    value = err.get("input")
    allowed_zh, allowed_en = "、".join(fields), ", ".join(fields)
    name = _FIELD_NAMES_ZH.get(field, field)
    if kind == "json_invalid":
        return 400, "invalid_json", "请求体不是有效的 JSON。", "The request body is not valid JSON."
    if not field:
        example = '{"question": "电瓶车在楼道充电谁管?"}'
        return (
            422,
            "invalid_request",
            f"请求体必须是一个 JSON 对象,例如 {example}。",
            f"The request body must be a JSON object, e.g. {example}.",
        )
    if kind == "extra_forbidden":
        return (
            422,
            "unknown_field",
            f"不认识的字段 {field[:40]!r};可用的字段:{allowed_zh}。",
            f"Unknown field {field[:40]!r}; the fields are: {allowed_en}.",
        )
    if kind == "missing":
        return 422, "missing_field", f"缺少必填字段 {name}。", f"The field {field!r} is required."
    if field in ("question",) and kind == "string_too_long":
        n, limit = len(value) if isinstance(value, str) else 0, ctx.get("max_length")
        return (
            422,
            "question_too_long",
            f"问题太长({n}字),请控制在{limit}字以内。",
            f"The question is too long ({n} characters); please keep it under {limit}.",
        )
    if field in ("question",) and kind == "string_too_short":
        return (
            422,
            "invalid_question",
            "请输入一个问题,例如:电动自行车在楼道充电谁管?",
            "Please type a question.",
        )
    if field == "k":
        low, high = K_RANGE
        shown = json.dumps(value, ensure_ascii=False, default=str)[:40] if value is not None else "null"
        return (
            422,
            "invalid_parameter",
            f"k 必须是 {low} 到 {high} 之间的整数(收到 {shown})。",
            f"k must be a whole number from {low} to {high} (got {shown}).",
        )
    if field == "vote":
        return 422, "invalid_parameter", "vote 只能是 up 或 down。", "vote must be 'up' or 'down'."
    if field == "context":
        return (
            422,
            "invalid_parameter",
            "context 必须是一个 JSON 对象或 null。",
            "context must be a JSON object or null.",
        )
    if kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        return (
            422,
            "invalid_parameter",
            f"{name} 太长,最多 {limit}{'项' if kind == 'too_long' else '字'}。",
            f"{field} is too long: at most {limit} {'items' if kind == 'too_long' else 'characters'}.",
        )
    if kind == "list_type" or (len(loc) > 1 and field == "citations"):
        return (
            422,
            "invalid_parameter",
            f'{name} 必须是文字的列表,如 ["<doc_id>#29"]。',
            f'{field} must be a list of strings such as ["<doc_id>#29"].',
        )
    if kind == "string_unicode":
        return (
            422,
            "invalid_parameter",
            f"{name} 含有无效的字符编码(不是有效的 UTF-8 文本)。",
            f"{field} holds characters that are not valid Unicode text.",
        )
    if kind in ("string_type", "str_type"):
        nullable = field not in ("question", "answer", "comment")
        return (
            422,
            "invalid_parameter",
            f"{name} 必须是文字{'或 null' if nullable else ''}。",
            f"{field} must be a string{' or null' if nullable else ''}.",
        )
    return 422, "invalid_parameter", f"{name} 的值无效。", f"The value of {field!r} is not valid."


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> Response:
        return error_response(err.status, err.code, err.message(_english_for(request)), err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        body = err.body
        english = wants_english(_question_of(body), request.headers.get("accept-language"))
        fields = _fields_of(request)
        status, code, zh, en = _validation_error(err.errors(), body, fields)
        return error_response(status, code, en if english else zh)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        english = wants_english(None, request.headers.get("accept-language"))
        if err.status_code == 405:
            return method_not_allowed(request, english, (err.headers or {}).get("allow", ""))
        if err.status_code == 404:
            return not_found(request, english)
        return error_response(err.status_code, "http_error", str(err.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> Response:
        log.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=err)
        english = wants_english(None, request.headers.get("accept-language"))
        return error_response(
            500,
            "internal_error",
            "An unexpected error occurred; it has been logged on the server."
            if english
            else "系统出现意外错误,请稍后再试;错误已记录在服务器日志中。",
        )


def _english_for(request: Request) -> bool:
    return wants_english(getattr(request.state, "question", None), request.headers.get("accept-language"))


def _fields_of(request: Request) -> list[str]:
    route = request.scope.get("route")
    path = getattr(route, "path", "")
    if path.endswith("/feedback"):
        return list(FeedbackIn.model_fields)
    return list(AskRequest.model_fields)


def not_found(request: Request, english: bool) -> Response:
    path = request.url.path[:80]
    return error_response(
        404,
        "not_found",
        f"No such route: {path}; see {API_PREFIX}/openapi.json."
        if english
        else f"没有这个地址:{path};接口说明见 {API_PREFIX}/openapi.json。",
    )


def method_not_allowed(request: Request, english: bool, allow: str) -> Response:
    return error_response(
        405,
        "method_not_allowed",
        f"{request.method[:10]} is not allowed here; use {allow}."
        if english
        else f"这个地址不接受 {request.method[:10]} 请求;请使用 {allow}。",
        {"Allow": allow},
    )
