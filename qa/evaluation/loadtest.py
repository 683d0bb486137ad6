"""``qa loadtest``: start the web assistant on a free loopback port and ask it many questions at once.

The server is ``qa serve`` itself, run as a child process (``python -m qa.cli serve``), so the load
goes through exactly the code a reader's browser reaches: ``app.py``'s page, its bounded queue and
its ``/ask`` API. Clients are threads in this process, one ``gradio_client.Client`` each, asking
gold questions (``eval/gold.jsonl``, both splits: this measures load, not quality).

Only ``127.0.0.1`` is contacted: the client's telemetry and Hugging Face token lookup are switched
off, and proxies from the environment are ignored.

A reply is *ok* when it is a well-formed answer object for the question that was asked; a
"queue is full" reply (``app.QUEUE_MAX_SIZE`` questions already waiting, HTTP 503 in the API) is the
server's documented way of shedding load and is counted apart; anything else is an *error*.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.answer import Answer
from qa.errors import QAError
from qa.settings import REPO_ROOT, Settings

__all__ = [
    "LOOPBACK",
    "LoadReport",
    "Server",
    "free_port",
    "running_server",
    "offline_client",
    "check_answer",
    "gold_questions",
    "run_load",
    "cli_loadtest",
]

LOOPBACK = "127.0.0.1"
MAX_CLIENTS = 256
MAX_QUESTIONS = 1000
STARTUP_TIMEOUT_S = 180.0  # loading the model and index on a busy two-core machine
REQUEST_TIMEOUT_S = 60.0
# What /ask returns is Answer.to_dict(), as `qa ask --json` prints it: its keys follow the Answer.
_ANSWER_KEYS = frozenset(Answer("", False, "", []).to_dict())
_RESULT_KEYS = {"rank", "doc_id", "text", "start", "end", "highlight", "highlight_start", "highlight_end"}
# The server child's environment: no telemetry, no token lookup, no network (read when it starts).
_OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_OFFLINE": "1",
}


@dataclass(frozen=True)
class LoadReport:
    """What ``qa loadtest --json`` prints; latencies are per question, measured by the client."""

    clients: int
    questions: int  # per client
    ok: int
    errors: int
    queue_full: int
    throughput_qps: float  # ok answers per second of wall time
    p50_ms: float | None
    p95_ms: float | None
    wall_s: float
    error_samples: list[str] = field(default_factory=list)  # the first few error messages

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Server:
    """A running ``qa serve`` child: its URL, process and the file its stderr goes to."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the OS picks it; a tiny race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _settings_args(settings: Settings) -> list[str]:
    return [
        "--corpus-dir",
        str(settings.corpus_dir),
        "--index-dir",
        str(settings.index_dir),
        "--embedder",
        settings.embedder,
    ]


def _child_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(_OFFLINE_ENV)
    env["NO_PROXY"] = env["no_proxy"] = f"{LOOPBACK},localhost"
    # Settings without a flag of their own travel as QA_* variables.
    env.update(
        {
            "QA_FEEDBACK_LOG": str(settings.feedback_log),
            "QA_CHUNK_SIZE": str(settings.chunk_size),
            "QA_CHUNK_OVERLAP": str(settings.chunk_overlap),
            "QA_K": str(settings.k),
            "QA_MAX_QUESTION_CHARS": str(settings.max_question_chars),
        }
    )
    return env


def _ready(url: str) -> bool:
    try:
        with _no_proxy_opener().open(url + "config", timeout=2) as resp:
            return int(resp.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextlib.contextmanager
def running_server(
    settings: Settings, port: int | None = None, startup_timeout: float = STARTUP_TIMEOUT_S
) -> Iterator[Server]:
    """``qa serve`` on ``127.0.0.1`` in a child process, stopped (and waited for) on exit.

    Raises:
        QAError: the server exited or did not answer within ``startup_timeout`` seconds; the
            message quotes the end of its error output.
    """
    port = port or free_port()
    url = f"http://{LOOPBACK}:{port}/"
    log_file = tempfile.NamedTemporaryFile(prefix="qa-serve-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    command = [sys.executable, "-m", "qa.cli", *_settings_args(settings), "serve", "--host", LOOPBACK]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=REPO_ROOT,
        env=_child_env(settings),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    server = Server(url, process, log_path)
    try:
        deadline = time.monotonic() + startup_timeout
        while not _ready(url):
            if process.poll() is not None:
                tail = "\n".join(server.log().strip().splitlines()[-5:])
                raise QAError(f"网页助手启动失败(退出码 {process.returncode}):{tail}")
            if time.monotonic() > deadline:
                raise QAError(f"网页助手在 {startup_timeout:.0f} 秒内没有响应 {url};请检查端口和模型。")
            time.sleep(0.25)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(OSError):
            log_path.unlink()


def offline_client(url: str) -> Any:
    """A ``gradio_client.Client`` for a loopback URL with telemetry, token and proxies off.

    Raises:
        QAError: ``url`` is not on 127.0.0.1.
    """
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise QAError(f"负载测试只连接本机 {LOOPBACK},收到 {url}。")
    # The client starts a telemetry thread unless this variable says "False", whatever its
    # analytics_enabled argument says.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from gradio_client import Client

    # token=False: never read a saved Hugging Face token, never send one anywhere;
    # trust_env=False: no proxy from the environment sits between us and 127.0.0.1.
    return Client(
        url,
        token=False,
        verbose=False,
        analytics_enabled=False,
        download_files=False,
        httpx_kwargs={"trust_env": False},
    )


def check_answer(question: str, reply: object) -> str | None:
    """None if ``reply`` is a well-formed answer to ``question``; otherwise what is wrong with it."""
    if not isinstance(reply, Mapping):
        return f"reply is {type(reply).__name__}, not an object"
    if set(reply) != _ANSWER_KEYS:
        return f"reply keys {sorted(reply)}"
    if reply["question"] != question:
        return "reply is for another question"
    if not isinstance(reply["answer"], str) or not reply["answer"]:
        return "empty answer"
    results = reply["results"]
    if not isinstance(results, list) or len(results) > 20:
        return "results is not a list of at most 20"
    for r in results:
        if not isinstance(r, Mapping) or not _RESULT_KEYS <= set(r):
            return "a result lacks its citation fields"
        if r["text"][r["highlight_start"] : r["highlight_end"]] != r["highlight"]:
            return f"highlight of result {r['rank']} is not at its offsets"
        if r["end"] - r["start"] != len(r["text"]):
            return f"offsets of result {r['rank']} do not span its text"
    return None


def gold_questions(path: Path | None = None) -> list[str]:
    """Every question of the gold set (both splits), in file order."""
    from qa.evaluation.gold import GOLD_PATH, load_gold

    return [q.question for q in load_gold(path or GOLD_PATH)]


def _percentile(values: Sequence[float], q: float) -> float | None:
    from qa.evaluation.metrics import percentile

    p = percentile(values, q)
    return None if p is None else round(p, 1)


def run_load(
    url: str,
    questions: Sequence[str],
    clients: int,
    per_client: int,
    budget_s: float = 600.0,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    warm_up: bool = True,
) -> LoadReport:
    """``clients`` threads each ask ``per_client`` questions through ``/ask``, one after another.

    Client ``i`` asks ``questions[(i * per_client + j) % len(questions)]`` for j in range(per_client).
    Every client connects before the clock starts; one warm-up question (not counted) first loads
    the server's word segmenter. A client stops sending once ``budget_s`` has passed, and each
    unsent question counts as an error, so the run is bounded by about ``budget_s`` plus one
    ``request_timeout_s``.
    """
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    if not questions:
        raise QAError("没有可用于负载测试的问题。")
    connections = [offline_client(url) for _ in range(clients)]
    if warm_up:
        with contextlib.suppress(Exception):  # a broken server shows in the counted questions
            connections[0].predict(questions[0], api_name="/ask")
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "queue_full": 0}
    samples: list[str] = []
    start = threading.Barrier(clients + 1)
    deadline: list[float] = []

    def record(kind: str, message: str | None = None, latency: float | None = None) -> None:
        with lock:
            counts[kind] += 1
            if latency is not None:
                latencies.append(latency)
            if message and len(samples) < 5:
                samples.append(message[:200])

    def worker(i: int) -> None:
        client = connections[i]
        start.wait()
        for j in range(per_client):
            question = questions[(i * per_client + j) % len(questions)]
            if time.monotonic() > deadline[0]:
                record("errors", "not sent: the time budget ran out")
                continue
            began = time.perf_counter()
            try:
                reply = client.submit(question, api_name="/ask").result(timeout=request_timeout_s)
            except QueueError:
                record("queue_full")
                continue
            except AppError as err:
                record("errors", f"{question!r}: AppError {err}")
                continue
            except Exception as err:  # a load test counts every failure, of any kind
                record("errors", f"{question!r}: {type(err).__name__} {err}")
                continue
            elapsed = (time.perf_counter() - began) * 1000
            problem = check_answer(question, reply)
            if problem is None:
                record("ok", latency=elapsed)
            else:
                record("errors", f"{question!r}: {problem}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    deadline.append(time.monotonic() + budget_s)
    began = time.perf_counter()
    start.wait()
    stop = time.monotonic() + budget_s + request_timeout_s + 30
    for t in threads:
        t.join(max(0.0, stop - time.monotonic()))
    wall = time.perf_counter() - began
    for c in connections:
        with contextlib.suppress(Exception):
            c.close()
    hung = sum(t.is_alive() for t in threads)
    if hung:
        samples.append(f"{hung} clients still waiting when the run was stopped")
    return LoadReport(
        clients=clients,
        questions=per_client,
        ok=counts["ok"],
        errors=counts["errors"] + max(0, clients * per_client - sum(counts.values())),
        queue_full=counts["queue_full"],
        throughput_qps=round(counts["ok"] / wall, 2) if wall > 0 else 0.0,
        p50_ms=_percentile(latencies, 50),
        p95_ms=_percentile(latencies, 95),
        wall_s=round(wall, 2),
        error_samples=samples,
    )


def _readable(report: LoadReport) -> str:
    total = report.clients * report.questions
    lines = [
        f"并发客户端:{report.clients} × 每个 {report.questions} 个问题 = {total} 个问题",
        f"成功:{report.ok}  错误:{report.errors}  队列已满(按设计拒绝):{report.queue_full}",
        f"吞吐量:{report.throughput_qps} 问/秒  总耗时:{report.wall_s} 秒",
        f"每问延迟:p50 {report.p50_ms} ms  p95 {report.p95_ms} ms",
    ]
    lines += [f"  错误示例:{s}" for s in report.error_samples]
    return "\n".join(lines)


def cli_loadtest(args: argparse.Namespace, settings: Settings) -> int:
    """``qa loadtest [--clients N] [--questions M] [--json]``; exit 1 when any question failed."""
    clients, per_client = int(args.clients), int(args.questions)
    if not 1 <= clients <= MAX_CLIENTS:
        raise QAError(f"--clients 必须在 1 到 {MAX_CLIENTS} 之间(收到 {clients})。")
    if not 1 <= per_client <= MAX_QUESTIONS:
        raise QAError(f"--questions 必须在 1 到 {MAX_QUESTIONS} 之间(收到 {per_client})。")
    print(f"正在启动网页助手({LOOPBACK},空闲端口)……", file=sys.stderr, flush=True)
    with running_server(settings) as server:
        print(f"已启动:{server.url};开始施加负载……", file=sys.stderr, flush=True)
        report = run_load(server.url, gold_questions(), clients, per_client)
        server_failed = "Traceback" in server.log()
        if server_failed:
            report.error_samples.append("the server printed a traceback")
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(_readable(report))
    return 0 if report.errors == 0 and not server_failed else 1
