"""Several processes: ``qa serve --workers 2`` on one port, and two replicas behind nginx
(``deploy/qa.conf`` as shipped, on loopback ports), one of them stopped in the middle of a load."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.evaluation import loadtest
from qa.settings import REPO_ROOT, load_settings

pytestmark = pytest.mark.slow

QUESTIONS = [
    "第29项的牵头单位是哪些?",
    "加装电梯",
    "小区垃圾分类有什么要求?",
    "Who is responsible for garbage sorting?",
]


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, trust_env=False, timeout=60)


def test_workers_share_one_port_and_the_page(assistant):  # ``assistant``: the index is built first
    with loadtest.running_server(load_settings(), workers=2) as server:
        pids = set()
        for _ in range(40):  # a new connection each time: the kernel hands them to either worker
            with _client(server.url) as http:
                health = http.get("/api/v1/health").json()
                assert health["status"] == "ready"
                pids.add(health["pid"])
        assert len(pids) == 2, "both workers should have answered"
        port = int(server.url.rstrip("/").rsplit(":", 1)[1])
        phase = loadtest.run_phase(port, "rest", QUESTIONS, 4, 4, check=loadtest.check_answer)
        assert phase.ok == 16 and phase.errors == {}, phase.samples
        # The page lives in one worker; requests reaching the other are passed through to it.
        for _ in range(6):
            with _client(server.url) as http:
                assert http.get("/").status_code == 200
                assert list(http.get("/gradio_api/info").json()["named_endpoints"]) == ["/ask"]
        gradio = loadtest.run_phase(port, "gradio", QUESTIONS, 3, 2, check=loadtest.check_answer)
        assert gradio.ok == 6 and gradio.errors == {}, gradio.samples
        assert "Traceback" not in server.log()


def _nginx() -> str:
    """Debian's nginx, installed when missing (as ``make test`` installs Chromium)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=600)
    for package in ("nginx-light", "nginx"):
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", package],
            check=False,
            env=env,
            capture_output=True,
            timeout=900,
        )
        if done.returncode == 0:
            break
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        pytest.fail("nginx is not installed and apt-get could not install nginx-light or nginx")
    return found


@pytest.fixture()
def replicas(assistant) -> Iterator[tuple[loadtest.Server, loadtest.Server]]:
    settings = load_settings()
    with loadtest.running_server(settings) as a, loadtest.running_server(settings) as b:
        yield a, b


def _port(server: loadtest.Server) -> int:
    return int(server.url.rstrip("/").rsplit(":", 1)[1])


@pytest.fixture()
def nginx(replicas, tmp_path) -> Iterator[int]:
    binary = _nginx()
    a, b = replicas
    port = loadtest.free_port()
    site = (REPO_ROOT / "deploy" / "qa.conf").read_text(encoding="utf-8")
    site = site.replace("127.0.0.1:7861", f"127.0.0.1:{_port(a)}").replace(
        "127.0.0.1:7862", f"127.0.0.1:{_port(b)}"
    )
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    (tmp_path / "qa.conf").write_text(site, encoding="utf-8")
    for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder).chmod(0o777)
    (tmp_path / "nginx.conf").write_text(
        f"""
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/client_body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/qa.conf;
}}
""",
        encoding="utf-8",
    )
    command = [
        binary,
        "-p",
        str(tmp_path),
        "-e",
        str(tmp_path / "error.log"),
        "-c",
        str(tmp_path / "nginx.conf"),
    ]
    test = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert test.returncode == 0, test.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    httpx.get(
                        f"http://127.0.0.1:{port}/api/v1/health", trust_env=False, timeout=2
                    ).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_nginx_keeps_answering_when_a_replica_stops(replicas, nginx):
    a, b = replicas
    answered_by = set()
    for _ in range(20):
        with _client(f"http://127.0.0.1:{nginx}") as http:
            answered_by.add(http.get("/api/v1/health").json()["pid"])
    assert len(answered_by) == 2, "nginx should use both replicas"

    results: list[loadtest.PhaseReport] = []
    load = threading.Thread(
        target=lambda: results.append(
            loadtest.run_phase(
                nginx, "rest", QUESTIONS, 8, 15, budget_s=120, timeout_s=30, check=loadtest.check_answer
            )
        )
    )
    load.start()
    time.sleep(1.5)  # the load is under way
    b.process.terminate()
    b.process.wait(timeout=30)
    load.join(timeout=180)
    assert results, "the load did not finish"
    during = results[0]
    # Every request was answered, or refused with the clear 503 that nginx gives when no replica
    # answers (a 502 would be counted as a server error): none was lost or garbled.
    assert during.ok + during.errors.get("busy", 0) == during.requests, during
    assert set(during.errors) <= {"busy"}, during.samples
    assert during.ok > 0

    after = loadtest.run_phase(nginx, "rest", QUESTIONS, 4, 5, check=loadtest.check_answer)
    assert after.ok == after.requests, after.samples  # the survivor answers everything
    with _client(f"http://127.0.0.1:{nginx}") as http:
        assert http.get("/api/v1/health").json()["pid"] == a.process.pid
        page = http.get("/")
        assert page.status_code in (200, 503)  # the page sticks to one replica: maybe the stopped one
        if page.status_code == 503:
            assert page.json()["error"]["code"] == "unavailable" and page.headers["retry-after"] == "2"
