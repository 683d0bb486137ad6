"""``qa loadtest``: a small load through the real server, and the counting rules (no timing thresholds)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.evaluation import loadtest
from qa.settings import load_settings

QA = str(Path(sys.executable).with_name("qa"))


def _reply(question: str) -> dict:
    text = "推进既有多层住宅加装电梯。"
    return {
        "question": question,
        "abstained": False,
        "answer": text,
        "lead": text,
        "coverage": "answered",
        "asks": "what",
        "missing": None,
        "follows": None,
        "context": {"clauses": ["plan-final#10"], "doc": "plan-final", "version": "final"},
        "results": [
            {
                "rank": 1,
                "doc_id": "plan-final",
                "text": text,
                "start": 100,
                "end": 100 + len(text),
                "highlight": text,
                "highlight_start": 0,
                "highlight_end": len(text),
            }
        ],
    }


def test_check_answer_accepts_a_well_formed_reply():
    assert loadtest.check_answer("电梯", _reply("电梯")) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: "not an object", "not an object"),
        (lambda r: {**r, "question": "别的"}, "another question"),
        (lambda r: {**r, "answer": ""}, "empty answer"),
        (lambda r: {k: v for k, v in r.items() if k != "results"}, "reply keys"),
        (lambda r: {k: v for k, v in r.items() if k != "lead"}, "reply keys"),
        (lambda r: {**r, "extra": 1}, "reply keys"),
        (lambda r: {**r, "results": [{**r["results"][0], "highlight": "别的"}]}, "highlight"),
        (lambda r: {**r, "results": [{**r["results"][0], "end": 101}]}, "offsets"),
    ],
)
def test_check_answer_names_what_is_wrong(change, problem):
    assert problem in loadtest.check_answer("电梯", change(_reply("电梯")))


@pytest.mark.parametrize("args", [["--clients", "0"], ["--clients", "1000"], ["--questions", "0"]])
def test_bad_counts_are_one_clear_error(args, capsys):
    from qa.cli import main

    assert main(["loadtest", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误:") and len(err.strip().splitlines()) == 1


def test_only_loopback_urls():
    with pytest.raises(QAError):
        loadtest.offline_client("http://example.com:7860/")


@pytest.mark.slow  # a server
def test_queue_full_replies_are_counted_apart(monkeypatch):
    """A one-place queue in front of a slow handler: the overflow is queue_full, never an error."""
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    def ask(question: str) -> dict:
        time.sleep(1.0)
        return _reply(question)

    with gr.Blocks(analytics_enabled=False) as demo:
        gr.api(ask, api_name="ask")
    demo.queue(default_concurrency_limit=1, max_size=1)
    port = loadtest.free_port()
    demo.launch(server_name=loadtest.LOOPBACK, server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        report = loadtest.run_load(f"http://{loadtest.LOOPBACK}:{port}/", ["电梯"], 6, 1, warm_up=False)
    finally:
        demo.close()
    assert report.errors == 0, report.error_samples
    assert report.queue_full >= 1
    assert report.ok + report.queue_full == 6


@pytest.fixture(scope="module")
def server(assistant):  # ``assistant``: the real index is built before the server starts
    with loadtest.running_server(load_settings()) as running:
        yield running


@pytest.mark.slow
def test_small_load_through_the_real_server_stays_on_loopback(server, monkeypatch):
    contacted: list[object] = []
    real_connect = socket.socket.connect

    def connect(self, address):
        contacted.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    report = loadtest.run_load(server.url, loadtest.gold_questions(), clients=4, per_client=3)
    assert report.errors == 0, report.error_samples
    assert report.ok == 12 and report.queue_full == 0
    assert report.p50_ms is not None and report.p95_ms is not None and report.p50_ms <= report.p95_ms
    assert report.throughput_qps > 0 and report.wall_s > 0
    assert contacted and all(a[0] == loadtest.LOOPBACK for a in contacted if isinstance(a, tuple))
    assert "Traceback" not in server.log()


@pytest.mark.slow
def test_cli_json_measures_both_ways_in_and_the_servers_memory(assistant):
    proc = subprocess.run(
        [QA, "loadtest", "--clients", "2", "--questions", "2", "--settle", "0", "--no-baseline", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    names = [p["name"] for p in report["phases"]]
    assert names == [
        "rest uncached 1 client",
        "rest uncached 2 clients",
        "rest cached 2 clients",
        "gradio uncached 1 client",
        "gradio uncached 2 clients",
    ]
    for phase in report["phases"]:
        assert phase["ok"] == phase["requests"] and phase["errors"] == {}, phase
        assert phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"]
    assert report["rss_before_mb"] > 0 and report["rss_after_mb"] > 0 and report["rss_settled_mb"] > 0
    assert report["targets"]["rest_cached_throughput"]["target"] == ">= 1000 q/s"
    assert "Traceback" not in proc.stderr


def test_phase_counts_errors_by_kind_against_a_refusing_server():
    """A server that answers every question 503, then one that answers 404: busy, then client_error."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        status = 503

        def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"error": {"code": "busy", "message": "x"}}'
            self.send_response(self.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    Refuse.protocol_version = "HTTP/1.1"
    server = ThreadingHTTPServer((loadtest.LOOPBACK, 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        busy = loadtest.run_phase(
            port, "rest", ["电梯"], clients=2, per_client=3, check=loadtest.check_answer
        )
        assert busy.ok == 0 and busy.errors == {"busy": 6} and busy.failures == 0
        Refuse.status = 404
        missing = loadtest.run_phase(
            port, "rest", ["电梯"], clients=1, per_client=2, check=loadtest.check_answer
        )
        assert missing.errors == {"client_error": 2} and missing.failures == 2
        late = loadtest.run_phase(port, "rest", ["电梯"], 1, 2, budget_s=-1, check=loadtest.check_answer)
        assert late.errors == {"not_sent": 2}
    finally:
        server.shutdown()
