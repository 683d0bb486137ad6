"""``qa serve --workers N``: N processes answer on one port, over one read-only index and feedback log.

The parent builds (or checks) the index once, holds the port, and starts N workers. Each worker
loads its own assistant and only then opens its own listening socket on the port with
``SO_REUSEPORT``: the kernel spreads new connections over the workers by their addresses, so the
API uses every core (one shared socket would hand nearly every connection to whichever worker's
event loop is idle, and it always is: answers are computed on threads).

The page is different: Gradio keeps a visitor's session and queue in the memory of one process, and
a browser's requests arrive over several connections. So worker 0 alone runs the page; it also
listens on a private Unix socket, and every other worker passes whatever is not ``/api/v1`` through
to it (``PageProxy``). One process serves the page, as with a single worker, however many answer
the API. Votes from any worker append to the same feedback log, which is safe across processes.

A worker that dies after it was ready is started again; one that fails while starting stops the
whole server with its error, as a single ``qa serve`` would. Ctrl+C or SIGTERM stops every worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qa.settings import REPO_ROOT, Settings, load_settings, to_environment
from qa.web.answers import cores
from qa.web.api import API_PREFIX
from qa.web.guards import ASGIApp, Message, Receive, Scope, Send, accepts_english, send_json

__all__ = ["serve_workers", "PageProxy", "worker_environment"]

STARTUP_TIMEOUT_S = 300.0
MAX_RESTARTS = 5  # within RESTART_WINDOW_S; more means something is wrong, not a one-off crash
RESTART_WINDOW_S = 60.0
# Hop-by-hop headers are the connection's, not the request's: never passed on.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


def worker_environment(settings: Settings, workers: int) -> dict[str, str]:
    """The environment of each worker: these settings, and one engine thread per core it has."""
    env = {**os.environ, **to_environment(settings)}
    # N workers on C cores: each embedder gets C/N threads, so they do not spin against each other.
    env.setdefault("OMP_NUM_THREADS", str(max(1, cores() // workers)))
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    return env


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Run ``workers`` processes on ``host:port`` until interrupted; the exit status of ``qa serve``."""
    env = worker_environment(settings, workers)
    print(f"正在检查索引({settings.index_dir})……", file=sys.stderr, flush=True)
    # Built once here, before any worker starts: the workers only ever read it.
    build = subprocess.run([sys.executable, "-m", "qa.cli", "build"], cwd=REPO_ROOT, env=env, check=False)
    if build.returncode != 0:
        return 2
    try:
        # Bound, never listening: it keeps the port for the workers (and for a restarted one) and
        # takes no connections itself. Only sockets of this user may join it with SO_REUSEPORT.
        holder = _reuse_port_socket(host, port)
    except OSError as err:
        print(f"错误:无法监听 {host}:{port}({err.strerror or err});请换一个端口。", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="qa-serve-"))
    page_socket = folder / "page.sock"
    ready_r, ready_w = os.pipe()
    os.set_inheritable(ready_w, True)
    supervisor = _Supervisor(host, port, page_socket, ready_w, env, workers)
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"正在启动 {workers} 个进程……", file=sys.stderr, flush=True)
    status = 0
    try:
        supervisor.start_all()
        announced = False
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        buffer = b""
        while not stopping:
            readable, _, _ = select.select([ready_r], [], [], 0.5)
            if readable:
                buffer += os.read(ready_r, 4096)
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    supervisor.mark_ready(line.decode().strip())
            if not announced and supervisor.all_ready():
                announced = True
                print(
                    f"问答助手:http://{host}:{port}  接口:http://{host}:{port}{API_PREFIX}  "
                    f"({workers} 个进程;Ctrl+C 停止)",
                    file=sys.stderr,
                    flush=True,
                )
            if not announced and time.monotonic() > deadline:
                print(f"错误:{STARTUP_TIMEOUT_S:.0f} 秒内没有全部启动;请检查模型和索引。", file=sys.stderr)
                status = 2
                break
            problem = supervisor.check()
            if problem is not None:
                print(f"错误:{problem}", file=sys.stderr, flush=True)
                status = 2
                break
    finally:
        supervisor.stop_all()
        for s, handler in previous.items():
            signal.signal(s, handler)
        holder.close()
        os.close(ready_r)
        os.close(ready_w)
        with contextlib.suppress(OSError):
            page_socket.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
    return status


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other sockets of this user may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _Supervisor:
    """Starts the workers, starts again one that dies after it was ready, stops them all."""

    def __init__(self, host: str, port: int, page_socket: Path, ready_fd: int, env: dict[str, str], n: int):
        self.host, self.port = host, port
        self.page_socket, self.ready_fd, self.env, self.n = page_socket, ready_fd, env, n
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.ready: set[int] = set()
        self.restarts: list[float] = []

    def spawn(self, worker: int) -> None:
        command = [
            sys.executable,
            "-m",
            "qa.web.replicas",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--worker",
            str(worker),
            "--page-socket",
            str(self.page_socket),
            "--ready-fd",
            str(self.ready_fd),
        ]
        self.ready.discard(worker)
        self.processes[worker] = subprocess.Popen(
            command, cwd=REPO_ROOT, env=self.env, pass_fds=(self.ready_fd,)
        )

    def start_all(self) -> None:
        for worker in range(self.n):
            self.spawn(worker)

    def mark_ready(self, line: str) -> None:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "ready" and parts[1].isdigit():
            self.ready.add(int(parts[1]))

    def all_ready(self) -> bool:
        return len(self.ready) == self.n

    def check(self) -> str | None:
        """Start again any worker that died; a problem that should stop the server, or None."""
        for worker, process in list(self.processes.items()):
            code = process.poll()
            if code is None:
                continue
            if worker not in self.ready:
                return f"进程 {worker} 启动失败(退出码 {code});见上方的错误信息。"
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(self.restarts) > MAX_RESTARTS:
                return f"进程在 {RESTART_WINDOW_S:.0f} 秒内退出了 {len(self.restarts)} 次;已停止。"
            print(f"进程 {worker} 意外退出(退出码 {code}),正在重新启动。", file=sys.stderr, flush=True)
            self.spawn(worker)
        return None

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class PageProxy:
    """ASGI app: ``/api/v1`` answered here, everything else passed through to the page's process.

    Responses stream as they come (Gradio's event streams included); when the visitor goes away,
    the request to the page's process is closed too, so nothing is left streaming there.
    """

    def __init__(self, app: ASGIApp, page_socket: str) -> None:
        self.app = app
        self.page_socket = page_socket
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=self.page_socket),
                base_url="http://page",
                timeout=httpx.Timeout(10.0, read=None),  # an event stream may be quiet for a while
            )
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        import httpx

        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [
            (k, v) for k, v in scope["headers"] if bytes(k).lower() not in _HOP_BY_HOP | {b"content-length"}
        ]
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        client = self.client()
        request = client.build_request(
            scope["method"], target.decode("latin-1"), headers=headers, content=body
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError:
            english = accepts_english(scope)
            await send_json(
                send,
                503,
                "page_unavailable",
                "The page is restarting; please try again shortly."
                if english
                else "页面正在重新启动,请稍后再试。",
                [(b"retry-after", b"2")],
            )
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP],
                }
            )
            relay = asyncio.ensure_future(self._relay(response, send))
            gone = asyncio.ensure_future(_disconnected(receive))
            done, pending = await asyncio.wait({relay, gone}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in done:
                if task is relay:
                    task.result()
        finally:
            await response.aclose()

    async def _relay(self, response: Any, send: Send) -> None:
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def closing_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete" and self._client is not None:
                await self._client.aclose()
            await send(message)

        await self.app(scope, receive, closing_send)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# ---------------------------------------------------------------------------------------------
# One worker: ``python -m qa.web.replicas --host H --port P --worker I --page-socket PATH --ready-fd M``


def _worker(args: argparse.Namespace) -> int:
    import uvicorn

    from qa.assistant import Assistant
    from qa.errors import QAError
    from qa.web.serving import create_app, limit_malloc_arenas, uvicorn_config, warm_up

    limit_malloc_arenas()
    settings = load_settings()
    try:
        assistant = Assistant(settings)
    except QAError as err:
        print(f"错误:{err}", file=sys.stderr)
        return 2
    warm_up(assistant)
    # Listening only now, loaded: until then the kernel gives this worker's share to the others.
    listener = _reuse_port_socket(args.host, args.port)
    listener.listen(2048)
    sockets = [listener]
    if args.worker == 0:
        app = create_app(settings, assistant, page=True)
        page = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(args.page_socket)
        page.bind(args.page_socket)
        os.chmod(args.page_socket, 0o600)
        sockets.append(page)
    else:
        app = create_app(settings, assistant, page=False, page_proxy=args.page_socket)
    config = uvicorn.Config(app, **uvicorn_config())
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.ensure_future(server.serve(sockets=sockets))
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            os.write(args.ready_fd, f"ready {args.worker}\n".encode())
        await serving

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(main())
    return 0


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qa.web.replicas", description="one worker of qa serve --workers"
    )
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--page-socket", required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    return _worker(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(_main())
