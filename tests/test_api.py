"""The REST API and Gradio's routes through a real server on a loopback port.

The server is the whole application ``qa serve`` runs (``qa.web.serving.create_app``: the API, the
page mounted beside it, the guards), served by uvicorn in a thread of this process over the
assistant of the fake index, so every request goes over HTTP without loading the model.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from qa.answer import Answer
from qa.catalog import clause_detail, document_detail, document_list
from qa.web.answers import AnswerService
from qa.web.feedback import read_feedback
from qa.web.serving import create_app

pytestmark = pytest.mark.slow  # a server per module

ELEVATOR = "我家是老房子,没有电梯,有加装电梯的计划吗?"
EVIL = "<img src=x onerror=alert(1)>"


class Running:
    """A uvicorn server for ``app`` on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def api_settings(fake_assistant, tmp_path_factory):
    return replace(fake_assistant.settings, feedback_log=tmp_path_factory.mktemp("api") / "feedback.jsonl")


@pytest.fixture(scope="module")
def app(fake_assistant, api_settings):
    return create_app(api_settings, fake_assistant)


@pytest.fixture(scope="module")
def server(app) -> Iterator[str]:
    with Running(app) as running:
        yield running.url


@pytest.fixture()
def http(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, trust_env=False, timeout=30) as client:
        yield client


def _error(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    message = body["error"]["message"]
    assert "Traceback" not in message and "&lt;" not in message and "&#" not in message
    return body["error"]  # type: ignore[no-any-return]


# --- ask ---------------------------------------------------------------------------------------


def test_ask_returns_what_qa_ask_json_prints(http, fake_assistant):
    response = http.post("/api/v1/ask", json={"question": ELEVATOR, "k": 3})
    assert response.status_code == 200
    assert response.json() == fake_assistant.ask(ELEVATOR, k=3).to_dict()
    assert list(response.json()) == list(fake_assistant.ask(ELEVATOR, k=3).to_dict())  # same key order


def test_ask_with_only_the_question_and_with_every_filter(http, fake_assistant):
    assert http.post("/api/v1/ask", json={"question": "第29项"}).json()["results"][0]["clause"] == 29
    section = fake_assistant.sections[0]
    body = {
        "question": "区房管局负责哪些任务?",
        "k": 2,
        "doc": "plan-final",
        "section": section,
        "unit": "区房管局",
    }
    out = http.post("/api/v1/ask", json=body).json()
    expected = fake_assistant.ask(body["question"], k=2, doc="plan-final", section=section, unit="区房管局")
    assert out == expected.to_dict()


def test_a_follow_up_through_the_api_carries_the_previous_answers_subject(http):
    first = http.post("/api/v1/ask", json={"question": ELEVATOR}).json()
    assert first["context"]["clauses"][0] == "plan-final#10"
    follow = http.post("/api/v1/ask", json={"question": "那谁负责?", "context": first["context"]}).json()
    assert follow["follows"] is not None and "plan-final#10" in follow["follows"]["clauses"]
    assert follow["results"][0]["doc_id"] == "plan-final" and follow["results"][0]["clause"] == 10
    # a new subject starts afresh, context or not
    fresh = http.post(
        "/api/v1/ask", json={"question": "小区垃圾分类有什么要求?", "context": first["context"]}
    ).json()
    assert fresh["follows"] is None


def test_a_context_naming_no_such_clause_is_a_clear_422(http):
    bad = {"clauses": ["plan-final#99"], "doc": "plan-final", "version": "final", "subject": "x"}
    response = http.post("/api/v1/ask", json={"question": "那谁负责?", "context": bad})
    assert response.status_code == 404 and _error(response)["code"] == "unknown_context"
    assert "plan-final#99" in _error(response)["message"]


@pytest.mark.parametrize("field, value", [("abstained", 0), ("abstained", "false")])
def test_a_context_with_a_value_of_the_wrong_type_is_a_422(http, field, value):
    """The context is checked as strictly as the request around it: 0 is not false."""
    context = {"clauses": ["plan-final#10"], field: value}
    response = http.post("/api/v1/ask", json={"question": "那谁负责?", "context": context})
    assert response.status_code == 422


def test_recent_answers_come_from_the_cache_by_normalised_question(http):
    question = "小区垃圾分类有什么要求?"
    first = http.post("/api/v1/ask", json={"question": question, "k": 4})
    again = http.post("/api/v1/ask", json={"question": question, "k": 4})
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert again.json() == first.json()
    # Traditional characters and extra spaces normalise to the same question; the reply echoes
    # the question as it was asked.
    variant = http.post("/api/v1/ask", json={"question": "  小區垃圾分類有什麼要求?", "k": 4})
    assert variant.headers["x-cache"] == "hit"
    assert variant.json() == {**first.json(), "question": "  小區垃圾分類有什麼要求?"}
    # Other parameters are another answer; no-cache asks for a fresh one.
    assert http.post("/api/v1/ask", json={"question": question, "k": 2}).headers["x-cache"] == "miss"
    fresh = http.post(
        "/api/v1/ask", json={"question": question, "k": 4}, headers={"Cache-Control": "no-cache"}
    )
    assert fresh.headers["x-cache"] == "miss" and fresh.json() == first.json()


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({}, 422, "missing_field", "缺少必填字段 question"),
        ({"question": ""}, 422, "invalid_question", "请输入一个问题"),
        ({"question": "   \u200b"}, 422, "invalid_question", "请输入一个问题"),
        ({"question": "?!?!…"}, 422, "invalid_question", "没有可识别的文字"),
        ({"question": "电" * 501}, 422, "question_too_long", "问题太长(501字)"),
        ({"question": "Who is responsible? " * 30}, 422, "question_too_long", "too long (600 characters)"),
        ({"question": 29}, 422, "invalid_parameter", "question(问题) 必须是文字"),
        ({"question": ELEVATOR, "k": 0}, 422, "invalid_parameter", "k 必须是 1 到 20 之间的整数(收到 0)"),
        ({"question": ELEVATOR, "k": 21}, 422, "invalid_parameter", "收到 21"),
        ({"question": ELEVATOR, "k": "3"}, 422, "invalid_parameter", "k 必须是"),
        ({"question": ELEVATOR, "k": True}, 422, "invalid_parameter", "k 必须是"),
        ({"question": "Who leads task 29?", "k": 2.5}, 422, "invalid_parameter", "k must be a whole number"),
        ({"question": ELEVATOR, "doc": EVIL}, 422, "unknown_document", f"未知文档 {EVIL!r}"),
        ({"question": ELEVATOR, "section": "第九章"}, 422, "unknown_section", "未知的章节"),
        ({"question": "Which tasks?", "unit": "nobody"}, 422, "unknown_unit", "Unknown lead unit 'nobody'"),
        ({"question": ELEVATOR, "context": [1]}, 422, "invalid_parameter", "context 必须是一个 JSON 对象"),
        ({"question": ELEVATOR, "top_k": 3}, 422, "unknown_field", "不认识的字段 'top_k'"),
        ([ELEVATOR], 422, "invalid_request", "请求体必须是一个 JSON 对象"),
    ],
)
def test_a_bad_question_or_parameter_is_one_plain_sentence(http, body, status, code, words):
    response = http.post("/api/v1/ask", json=body)
    assert response.status_code == status
    error = _error(response)
    assert error["code"] == code and words in error["message"], error


def test_a_body_that_is_not_json_is_400(http):
    response = http.post(
        "/api/v1/ask", content=b'{"question": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and _error(response)["code"] == "invalid_json"


def test_errors_follow_the_language_of_the_question_or_accept_language(http):
    english = _error(http.post("/api/v1/ask", json={"question": "Who handles elevators?", "doc": "x"}))
    assert english["message"].startswith("Unknown document 'x'")
    chinese = _error(http.post("/api/v1/ask", json={"question": "电梯谁管?", "doc": "x"}))
    assert chinese["message"].startswith("未知文档 'x'")
    assert _error(http.get("/api/v1/nope"))["message"].startswith("没有这个地址")
    assert _error(http.get("/api/v1/nope", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}))[
        "message"
    ].startswith("No such route")
    assert _error(http.get("/api/v1/nope", headers={"Accept-Language": "zh-CN,en;q=0.8"}))[
        "message"
    ].startswith("没有这个地址")


def test_unknown_routes_and_methods(http):
    missing = http.get("/api/v1/answers")
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    wrong = http.get("/api/v1/ask")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert _error(wrong)["code"] == "method_not_allowed"
    assert http.delete("/api/v1/documents").status_code == 405


# --- bodies over the limit ---------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_by_its_content_length(http):
    response = http.post("/api/v1/ask", json={"question": ELEVATOR, "context": {"x": "电" * 6000}})
    assert response.status_code == 413 and _error(response)["code"] == "body_too_large"


def test_a_chunked_body_over_the_limit_is_413_while_it_streams(http):
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):
            yield b"x" * 1024
        yield b'"}'

    response = http.post("/api/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and _error(response)["code"] == "body_too_large"


def test_a_body_over_the_limit_is_refused_before_it_is_sent(server):
    """Headers announcing 10 MB and no body at all: the answer comes at once, nothing is awaited."""
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            b"POST /api/v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n"
        )
        began = time.monotonic()
        reply = conn.recv(65536)
    assert time.monotonic() - began < 3
    assert reply.startswith(b"HTTP/1.1 413") and b"body_too_large" in reply
    assert b"connection: close" in reply.lower()


# --- documents, health, feedback ---------------------------------------------------------------


def test_documents_are_what_qa_docs_and_qa_show_print(http, fake_assistant):
    collection = fake_assistant.collection
    assert http.get("/api/v1/documents").json() == document_list(collection)
    assert http.get("/api/v1/documents/plan-final").json() == document_detail(collection.get("plan-final"))
    clause = http.get("/api/v1/documents/plan-final/clauses/29").json()
    assert clause == clause_detail(collection.get("plan-final"), "29")
    part = http.get("/api/v1/documents/interpretation/clauses/二")
    assert part.status_code == 200 and part.json()["clause"] == "二"


def test_an_unknown_document_or_clause_is_404(http):
    doc = http.get("/api/v1/documents/plan-2025")
    assert doc.status_code == 404 and _error(doc)["code"] == "unknown_document"
    assert "plan-final" in _error(doc)["message"]
    clause = http.get("/api/v1/documents/plan-final/clauses/37")
    assert clause.status_code == 404 and "共36项任务" in _error(clause)["message"]
    english = http.get("/api/v1/documents/plan-final/clauses/37", headers={"Accept-Language": "en"})
    assert _error(english)["message"].startswith("plan-final has no clause '37'")
    other = http.get("/api/v1/documents/nope/clauses/1")
    assert other.status_code == 404 and _error(other)["code"] == "unknown_document"


def test_health_is_ready_once_the_index_is_loaded(http, fake_assistant):
    health = http.get("/api/v1/health")
    assert health.status_code == 200
    data = health.json()
    assert data["status"] == "ready" and data["chunks"] == len(fake_assistant.index.chunks)
    assert data["build_id"] and data["concurrency"] >= 1


def test_health_says_loading_until_the_assistant_is_attached(fake_assistant, api_settings):
    service = AnswerService(None)
    app = create_app(api_settings, None, service=service, collection=fake_assistant.collection)
    with Running(app) as running, httpx.Client(base_url=running.url, trust_env=False) as http:
        loading = http.get("/api/v1/health")
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        assert loading.headers["retry-after"] == "1"
        busy = http.post("/api/v1/ask", json={"question": ELEVATOR})
        assert busy.status_code == 503 and _error(busy)["code"] == "loading"
        assert http.get("/api/v1/documents").status_code == 200  # documents need no model
        service.attach(fake_assistant)
        assert http.get("/api/v1/health").json()["status"] == "ready"
        assert http.post("/api/v1/ask", json={"question": ELEVATOR}).status_code == 200


def test_feedback_appends_to_the_feedback_log(http, api_settings):
    body = {
        "question": ELEVATOR,
        "answer": "三年内新增加装电梯466台。",
        "citations": ["plan-final#10"],
        "vote": "up",
    }
    response = http.post("/api/v1/feedback", json={**body, "comment": "  很清楚  "})
    assert response.status_code == 201 and response.json()["recorded"] is True
    records = read_feedback(api_settings.feedback_log).records
    assert records[-1]["question"] == ELEVATOR and records[-1]["comment"] == "很清楚"
    assert records[-1]["citations"] == ["plan-final#10"] and records[-1]["vote"] == "up"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"vote": "meh"}, "vote 只能是 up 或 down"),
        ({"comment": "长" * 1001}, "comment(评论) 太长"),
        ({"citations": ["plan-final#1"] * 21}, "最多 20项"),
        ({"citations": "plan-final#1"}, "必须是文字的列表"),
        ({"answer": "答" * 4001}, "answer(回答) 太长"),
    ],
)
def test_feedback_fields_are_bounded(http, change, words):
    body = {"question": ELEVATOR, "vote": "down", **change}
    response = http.post("/api/v1/feedback", json=body)
    assert response.status_code == 422 and words in _error(response)["message"]


# --- busy --------------------------------------------------------------------------------------


class _HeldAssistant:
    """The fake assistant, except that every question waits until released."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.release = threading.Event()
        self.started = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def ask(self, question: str, **kwargs: Any) -> Answer:
        self.started.set()
        self.release.wait(30)
        return self.real.ask(question, **kwargs)  # type: ignore[no-any-return]


def test_busy_is_503_with_retry_after_and_nothing_waits_unbounded(fake_assistant, api_settings):
    held = _HeldAssistant(fake_assistant)
    service = AnswerService(held, concurrency=1, max_waiting=1, wait_s=0.5)  # type: ignore[arg-type]
    app = create_app(api_settings, None, service=service, collection=fake_assistant.collection)
    with Running(app) as running:
        results: dict[str, httpx.Response] = {}

        def ask(name: str, question: str) -> None:
            with httpx.Client(base_url=running.url, trust_env=False, timeout=30) as http:
                results[name] = http.post("/api/v1/ask", json={"question": question})

        first = threading.Thread(target=ask, args=("first", "第1项"))
        first.start()
        assert held.started.wait(10)
        waits = threading.Thread(target=ask, args=("waits", "第2项"))
        waits.start()
        deadline = time.monotonic() + 10
        while service.waiting < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        ask("refused", "第3项")  # one already waits: refused at once
        waits.join(10)  # waited 0.5 s for the one slot: refused
        held.release.set()
        first.join(10)
    assert results["first"].status_code == 200
    for name in ("refused", "waits"):
        assert results[name].status_code == 503 and results[name].headers["retry-after"] == "1"
        assert _error(results[name])["code"] == "busy"


# --- schemathesis against the contract ----------------------------------------------------------


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_openapi_contract(server, mode):
    """Every operation, with data that fits the schema and data that does not: schemathesis's
    checks (no 5xx, documented status codes and content types, responses that match the schema,
    invalid data refused) hold for every example."""
    # A body over the size limit is refused with 413 before it is read, whatever else is wrong.
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [400, 404, 405, 413, 422]}}}
    )
    schema = schemathesis.openapi.from_url(f"{server}/api/v1/openapi.json", config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    checked = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            # A follow-up context must be one an answer returned: its clauses must exist and its
            # doc, version and subject describe the first one, which no schema can state. With a
            # context, a well-formed request may be refused (404 unknown_context); never a 5xx.
            followup = isinstance(case.body, dict) and case.body.get("context") is not None
            case.call_and_validate(
                base_url=server, excluded_checks=[positive_data_acceptance] if followup else []
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing to get wrong: no parameters (GET /documents, /health), or any string is a
            # well-formed doc_id or clause (an unknown one is 404, checked in positive mode).
            assert mode == GenerationMode.NEGATIVE and operation.method.upper() == "GET"
            continue
        checked += 1
    assert checked == (6 if mode == GenerationMode.POSITIVE else 2)


def test_the_openapi_description_has_chinese_examples_and_the_valid_filters(http, fake_assistant):
    spec = http.get("/api/v1/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/v1/ask",
        "/api/v1/documents",
        "/api/v1/documents/{doc_id}",
        "/api/v1/documents/{doc_id}/clauses/{clause}",
        "/api/v1/health",
        "/api/v1/feedback",
    }
    ask = spec["paths"]["/api/v1/ask"]["post"]
    examples = ask["requestBody"]["content"]["application/json"]["examples"]
    assert examples["citizen"]["value"] == {"question": "电瓶车在楼道充电谁管?"}
    props = spec["components"]["schemas"]["AskRequest"]["properties"]
    doc_enum = next(b["enum"] for b in props["doc"]["anyOf"] if "enum" in b)
    assert doc_enum == fake_assistant.collection.doc_ids
    assert set(ask["responses"]) >= {"200", "400", "413", "422", "503"}


# --- Gradio's routes ---------------------------------------------------------------------------


def _call(http: httpx.Client, body: dict[str, Any], name: str = "ask") -> httpx.Response:
    return http.post(f"/gradio_api/call/{name}", json=body)


def _result(http: httpx.Client, event_id: str, name: str = "ask") -> tuple[str, Any]:
    text = http.get(f"/gradio_api/call/{name}/{event_id}").text
    event = next(line[7:] for line in text.splitlines() if line.startswith("event: "))
    data = next(line[6:] for line in text.splitlines() if line.startswith("data: "))
    return event, json.loads(data)


def test_gradio_direct_calls_past_the_queue_are_closed(http):
    for path in ("/gradio_api/run/ask", "/gradio_api/api/ask", "/gradio_api/run/predict"):
        response = http.post(path, json={"data": [""]})
        assert response.status_code == 404 and _error(response)["code"] == "closed_route"


def test_gradio_uploads_are_refused(http):
    response = http.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)})
    assert response.status_code == 405 and _error(response)["code"] == "uploads_disabled"
    big = http.post(
        "/gradio_api/upload", content=b"x" * 200_000, headers={"content-type": "application/octet-stream"}
    )
    assert big.status_code in (405, 413)


def test_gradio_unknown_endpoint_route_and_event_are_404(http):
    nosuch = _call(http, {"data": ["电梯"]}, name="nosuch")
    assert nosuch.status_code == 404 and _error(nosuch)["code"] == "unknown_endpoint"
    event = http.get("/gradio_api/call/ask/0123456789abcdef")
    assert event.status_code == 404 and _error(event)["code"] == "unknown_event"
    route = http.get("/gradio_api/no/such/route")
    assert route.status_code == 404 and _error(route)["code"] == "not_found"
    join = http.post("/gradio_api/queue/join", json={"data": [], "fn_index": 999, "session_hash": "x"})
    assert join.status_code == 422 and _error(join)["code"] == "unknown_function"


def test_gradio_bad_questions_are_422_before_the_queue(http):
    empty = _call(http, {"data": [""]})
    assert empty.status_code == 422 and "请输入一个问题" in _error(empty)["message"]
    assert _call(http, {"data": []}).status_code == 422
    assert _call(http, {"data": "电梯"}).status_code == 422
    assert _call(http, {"data": ["电梯", 0]}).status_code == 422
    evil = _call(http, {"data": ["电梯", 3, EVIL]})
    assert evil.status_code == 422 and _error(evil)["message"].startswith(f"未知文档 {EVIL!r}")
    bad_json = http.post("/gradio_api/call/ask", content=b"{", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400


def test_gradio_call_with_only_the_question_answers(http, fake_assistant):
    posted = _call(http, {"data": [ELEVATOR]})
    assert posted.status_code == 200
    event, data = _result(http, posted.json()["event_id"])
    assert event == "complete" and data[0] == fake_assistant.ask(ELEVATOR).to_dict()
    named = http.post("/gradio_api/call/v2/ask", json={"question": "第29项", "k": 1})
    event, data = _result(http, named.json()["event_id"], name="v2/ask")
    assert event == "complete" and data[0]["results"][0]["clause"] == 29


def test_gradio_info_lists_only_ask(http):
    info = http.get("/gradio_api/info").json()
    assert list(info["named_endpoints"]) == ["/ask"]


def test_gradio_api_errors_are_plain_text(server, fake_assistant):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server + "/", verbose=False, token=False, httpx_kwargs={"trust_env": False})
    assert client.predict("第29项", api_name="/ask")["results"][0]["clause"] == 29
    with pytest.raises(AppError) as err:
        client.predict(ELEVATOR, 5, EVIL, api_name="/ask")
    assert str(err.value).startswith(f"未知文档 {EVIL!r}")


def test_gradio_keeps_nothing_of_an_api_call_once_it_is_read(http, app):
    demo = app.app.demo  # BodyLimit -> GradioGuard -> the page
    events = []
    for question in ["第1项", "第2项", "第3项", "第4项", "第5项"]:
        event_id = _call(http, {"data": [question]}).json()["event_id"]
        assert _result(http, event_id)[0] == "complete"
        events.append(event_id)
    # Gradio lets go of a finished event on its own event loop: give it a moment, bounded.
    deadline = time.monotonic() + 10
    while True:
        kept = set(demo.state_holder.session_data) | set(demo._queue.pending_messages_per_session)
        if not kept & set(events) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not kept & set(events)
