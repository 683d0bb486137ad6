"""The REST API, ``/api/v1``: ask, the documents and their clauses, health and feedback, as JSON.

One router per resource, pydantic models with Chinese examples for every request and response,
and the OpenAPI description at ``/api/v1/openapi.json`` as the contract (``tests/test_api.py``
runs schemathesis against it). The objects are the CLI's: ``POST /api/v1/ask`` returns what
``qa ask --json`` prints, the documents what ``qa docs --json`` and ``qa show --json`` print
(``qa.catalog``, shared with the CLI).

Every error is ``{"error": {"code", "message"}}`` with one plain-text sentence (never HTML-escaped,
never a traceback) in the asker's language: English when the question is English (or, without a
question, when ``Accept-Language`` prefers English), Chinese otherwise. 400: the body is not JSON;
422: a bad question or parameter; 404: no such document, clause or route; 405: wrong method;
413: a body over ``MAX_BODY_BYTES`` (refused by ``qa.web.guards`` before it is read, let alone
parsed); 503 with ``Retry-After``: every answering slot busy, or still loading.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from qa.catalog import clause_detail, document_detail, document_list
from qa.documents import Collection
from qa.errors import InvalidContext, QAError, UnknownClause, UnknownDocument
from qa.settings import Settings
from qa.web.answers import AnswerService, Busy
from qa.web.api_errors import ApiError, add_error_handlers, method_not_allowed, not_found, wants_english
from qa.web.feedback import append_feedback, feedback_record
from qa.web.schemas import (
    API_PREFIX,
    EXAMPLE_QUESTION,
    MAX_BODY_BYTES,
    AnswerResponse,
    AskRequest,
    ClauseOut,
    DocumentOut,
    DocumentSummary,
    ErrorResponse,
    FeedbackIn,
    FeedbackOut,
    HealthOut,
)

__all__ = ["API_PREFIX", "MAX_BODY_BYTES", "create_api", "wants_english"]

# ---------------------------------------------------------------------------------------------
# Routers

_ERRORS_ASK: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "请求体不是 JSON"},
    404: {
        "model": ErrorResponse,
        "description": "追问的 context 中的条款不存在,或与其 doc、version、subject 不符",
    },
    413: {"model": ErrorResponse, "description": f"请求体超过 {MAX_BODY_BYTES} 字节,未读取即拒绝"},
    422: {
        "model": ErrorResponse,
        "description": "问题或参数有误(空问题、太长、k 超出范围、未知文档/章节/牵头单位)",
    },
    503: {
        "model": ErrorResponse,
        "description": "繁忙或正在加载;按 Retry-After(秒)稍后再试",
        "headers": {"Retry-After": {"description": "建议等待的秒数", "schema": {"type": "integer"}}},
    },
}
_ERRORS_DOC: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "没有这份文档"}}
_ERRORS_CLAUSE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "没有这份文档或这一条款"}
}


def _json(data: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(data, status, headers=dict(headers or {}), media_type="application/json")


def _service(request: Request) -> AnswerService:
    service: AnswerService = request.app.state.answers
    return service


def ask_router() -> APIRouter:
    router = APIRouter(tags=["提问 ask"])

    @router.post(
        "/ask",
        response_model=AnswerResponse,
        responses=_ERRORS_ASK,
        summary="提问:回答和原文条款",
        description=(
            "返回与 `qa ask --json` 相同的对象:回答文字(计划原文及出处)和最多 k 条引用条款。"
            "文件中没有直接回答时 abstained 为 true,results 为可能相关的条款。"
            "最近的回答有缓存;请求头 `Cache-Control: no-cache` 要求重新计算。"
            "追问时把上一个回答的 `context` 原样传回:“那谁负责?”即按上一问的条款回答,回答的 `follows` 说明沿用了什么。"
        ),
    )
    async def ask(
        request: Request,
        body: Annotated[
            AskRequest,
            Body(
                openapi_examples={
                    "citizen": {"summary": "市民提问", "value": {"question": EXAMPLE_QUESTION}},
                    "staff": {
                        "summary": "工作人员:某单位牵头的任务",
                        "value": {"question": "区房管局负责哪些任务?", "k": 10},
                    },
                    "english": {
                        "summary": "英文提问",
                        "value": {"question": "Who is responsible for garbage sorting?", "k": 3},
                    },
                }
            ),
        ],
    ) -> Response:
        service = _service(request)
        request.state.question = body.question  # errors answer in the question's language
        limit = request.app.state.max_question_chars
        if len(body.question) > limit:
            raise ApiError(
                422,
                "question_too_long",
                f"问题太长({len(body.question)}字),请控制在{limit}字以内。",
                f"The question is too long ({len(body.question)} characters); please keep it under {limit}.",
            )
        _check_filters(request, body)
        no_cache = "no-cache" in request.headers.get("cache-control", "")
        try:
            reply = await service.answer(
                body.question,
                body.k,
                body.doc,
                body.section,
                body.unit,
                body.context.model_dump() if body.context is not None else None,
                use_cache=not no_cache,
            )
        except Busy as busy:
            raise _busy(str(busy)) from None
        except UnknownDocument as err:
            raise ApiError(422, "unknown_document", str(err)) from None
        except InvalidContext as err:
            # Its fields were checked against the schema: what is left names clauses that do not
            # exist, or describes them wrongly.
            raise ApiError(404, "unknown_context", str(err)) from None
        except QAError as err:
            raise ApiError(422, "invalid_question", str(err)) from None
        return _json(reply.body, headers={"X-Cache": "hit" if reply.cached else "miss"})

    return router


def _busy(reason: str) -> ApiError:
    loading = reason == "loading"
    return ApiError(
        503,
        "loading" if loading else "busy",
        "助手正在加载模型和索引,请稍后再试。" if loading else "提问的人太多,系统繁忙,请稍后再试。",
        "The assistant is still loading; please try again shortly."
        if loading
        else "Too many questions at once; please try again shortly.",
        headers={"Retry-After": str(Busy.retry_after_s)},
    )


def _check_filters(request: Request, body: AskRequest) -> None:
    """Unknown filter values, named in the asker's language with the valid ones."""
    choices = request.app.state.choices
    if body.doc is not None and body.doc not in choices["doc"]:
        ids = ", ".join(choices["doc"])
        raise ApiError(
            422,
            "unknown_document",
            f"未知文档 {body.doc[:40]!r};可用的文档编号:{ids}",
            f"Unknown document {body.doc[:40]!r}; the doc_ids are: {ids}",
        )
    if body.section is not None and body.section not in choices["section"]:
        raise ApiError(
            422,
            "unknown_section",
            f"未知的章节 {body.section[:40]!r};可用:{'、'.join(choices['section'])}",
            f"Unknown section {body.section[:40]!r}; the sections are: {', '.join(choices['section'])}",
        )
    if body.unit is not None and body.unit not in choices["unit"]:
        raise ApiError(
            422,
            "unknown_unit",
            f"未知的牵头单位 {body.unit[:40]!r};可用:{'、'.join(choices['canonical_unit'])}",
            f"Unknown lead unit {body.unit[:40]!r}; the units are: {', '.join(choices['canonical_unit'])}",
        )


def documents_router(collection: Collection) -> APIRouter:
    router = APIRouter(tags=["文档 documents"])
    # The documents never change while the server runs: serialise them once.
    listing = orjson.dumps(document_list(collection))
    details = {doc.doc_id: orjson.dumps(document_detail(doc)) for doc in collection.documents}

    def unknown(doc_id: str) -> ApiError:
        ids = ", ".join(collection.doc_ids)
        return ApiError(
            404,
            "unknown_document",
            f"未知文档 {doc_id[:40]!r};可用的文档编号:{ids}",
            f"Unknown document {doc_id[:40]!r}; the doc_ids are: {ids}",
        )

    @router.get(
        "/documents",
        response_model=list[DocumentSummary],
        summary="十份文档及其元数据",
        description="与 `qa docs --json` 相同。",
    )
    async def documents() -> Response:
        return _json(listing)

    @router.get(
        "/documents/{doc_id}",
        response_model=DocumentOut,
        responses=_ERRORS_DOC,
        summary="一份文档:全文和条款位置",
        description="与 `qa show DOC_ID --json` 相同;条款的 start/end 是 text 中的位置。",
    )
    async def document(doc_id: str) -> Response:
        data = details.get(doc_id)
        if data is None:
            raise unknown(doc_id)
        return _json(data)

    @router.get(
        "/documents/{doc_id}/clauses/{clause}",
        response_model=ClauseOut,
        responses=_ERRORS_CLAUSE,
        summary="一条条款:任务序号(如 29)或部分编号(如 一)",
        description="与 `qa show DOC_ID CLAUSE --json` 相同。",
    )
    async def clause(doc_id: str, clause: str) -> Response:
        if doc_id not in details:
            raise unknown(doc_id)
        try:
            data = clause_detail(collection.get(doc_id), clause)
        except UnknownClause as err:
            raise ApiError(
                404,
                "unknown_clause",
                str(err),
                f"{doc_id} has no clause {clause[:40]!r}; see GET {API_PREFIX}/documents/{doc_id} for its clauses.",
            ) from None
        return _json(orjson.dumps(data))

    return router


def health_router() -> APIRouter:
    router = APIRouter(tags=["运行状态 health"])

    @router.get(
        "/health",
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "仍在加载索引和模型"}},
        summary="是否可以提问",
        description="索引和模型加载完毕后 status 为 ready(HTTP 200);加载中为 loading(HTTP 503)。",
    )
    async def health(request: Request) -> Response:
        service = _service(request)
        assistant = service.assistant
        data = {
            "status": "ready" if assistant is not None else "loading",
            "build_id": service.build_id or None,
            "chunks": len(assistant.index.chunks) if assistant is not None else None,
            "embedder": str(assistant.index.manifest.get("embedder")) if assistant is not None else None,
            "pid": os.getpid(),
            "concurrency": service.concurrency,
            "waiting": service.waiting,
            "cache_entries": len(service.cache),
        }
        headers = {} if assistant is not None else {"Retry-After": str(Busy.retry_after_s)}
        return _json(orjson.dumps(data), 200 if assistant is not None else 503, headers)

    return router


def feedback_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["反馈 feedback"])

    @router.post(
        "/feedback",
        response_model=FeedbackOut,
        status_code=201,
        responses={k: v for k, v in _ERRORS_ASK.items() if k not in (404, 503)},
        summary="对回答的 👍/👎 和评论",
        description="追加一行到服务器的反馈日志(与网页的 👍/👎 相同的日志,多进程安全)。",
    )
    async def feedback(request: Request, body: FeedbackIn) -> Response:
        request.state.question = body.question
        try:
            record = feedback_record(
                body.question, body.answer, list(body.citations), body.vote, body.comment
            )
        except QAError as err:
            raise ApiError(422, "invalid_parameter", str(err)) from None
        # One fsync-ed append under a file lock: a worker thread, not the event loop.
        await asyncio.get_running_loop().run_in_executor(None, append_feedback, settings.feedback_log, record)
        return _json(orjson.dumps({"recorded": True, "time": record["time"]}), 201)

    return router


# ---------------------------------------------------------------------------------------------
# The application


def create_api(
    service: AnswerService,
    settings: Settings,
    collection: Collection,
    sections: Sequence[str] = (),
    units: Mapping[str, str] | None = None,
) -> FastAPI:
    """A FastAPI app serving ``/api/v1``; the page is mounted on it by ``qa.web.serving``.

    ``sections`` and ``units`` (alias -> canonical name) are the valid filter values, offered in
    the OpenAPI description as enums.
    """
    units = dict(units or {})
    plan = collection.current_plan
    app = FastAPI(
        title=f"{plan.title} · 问答 API",
        version="1.0.0",
        description=(
            f"回答关于{plan.cite_title}的问题,每个回答都给出原文条款。"
            '错误为 `{"error": {"code", "message"}}`,message 是一句纯文本,语言随提问(英文提问为英文,默认中文)。'
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; this server fetches nothing
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.answers = service
    app.state.max_question_chars = settings.max_question_chars
    app.state.choices = {
        "doc": collection.doc_ids,
        "section": list(sections),
        "unit": sorted(set(units) | set(units.values())),
        "canonical_unit": sorted(set(units.values())),
    }
    routers = [ask_router(), documents_router(collection), health_router(), feedback_router(settings)]
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    add_error_handlers(app)
    _add_catch_all(app, routers)
    _add_enums(app)
    return app


def _add_catch_all(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Everything else under ``/api/v1``: 405 for a known path with another method, else 404.

    Without it an unknown API path would fall through to the page mounted at ``/``."""
    known = [
        (compile_path(API_PREFIX + route.path)[0], sorted(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    @app.api_route(API_PREFIX + "/{rest:path}", methods=methods, include_in_schema=False)
    async def elsewhere(request: Request, rest: str) -> Response:
        english = wants_english(None, request.headers.get("accept-language"))
        allowed = [
            m for regex, route_methods in known if regex.match(request.url.path) for m in route_methods
        ]
        if allowed:
            return method_not_allowed(request, english, ", ".join(dict.fromkeys(allowed)))
        return not_found(request, english)


def _add_enums(app: FastAPI) -> None:
    """The valid documents, sections and lead units as enums in the OpenAPI description."""
    choices = app.state.choices

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            props = schema["components"]["schemas"]["AskRequest"]["properties"]
            for field, values in (
                ("doc", choices["doc"]),
                ("section", choices["section"]),
                ("unit", choices["unit"]),
            ):
                for branch in props[field].get("anyOf", []):
                    if branch.get("type") == "string" and values:
                        branch["enum"] = list(values)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
