"""``qa serve``: one assistant, the page and the REST API in one server, one warm-up question, then
the port opens.

``create_app`` composes, for one loaded assistant: the FastAPI app of ``/api/v1`` (``qa.web.api``),
the Gradio page mounted on it at ``/`` (``gr.mount_gradio_app``), the guard that keeps Gradio's
own routes to the one queued ``/ask`` endpoint (``qa.web.gradio_routes``), and the body-size
limits in front of everything (``qa.web.guards``). ``cli_serve`` runs it with uvicorn, in this
process or, with ``--workers N``, in N processes (``qa.web.replicas``).

Loading the assistant before the port opens makes a missing model or a damaged index one clear
CLI error instead of a broken page; the warm-up question builds jieba's dictionary (~0.4 s) and
pages the model in, so the first visitor does not pay for it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import sys
from typing import Any

from qa.assistant import Assistant
from qa.documents import Collection
from qa.settings import Settings
from qa.web.answers import AnswerService, cores
from qa.web.api import API_PREFIX, MAX_BODY_BYTES, create_api
from qa.web.guards import ASGIApp, BodyLimit

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "GRADIO_MAX_BODY_BYTES",
    "launch_options",
    "warm_up",
    "limit_malloc_arenas",
    "create_app",
    "serve",
    "cli_serve",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# What the page sends Gradio is a question, a few filter values and ids: 64 KiB is plenty, and
# nothing is uploaded (the page has no file input; uploads are refused).
GRADIO_MAX_BODY_BYTES = 64 * 1024


def launch_options(host: str = DEFAULT_HOST, port: int | None = DEFAULT_PORT, **extra: Any) -> dict[str, Any]:
    """``demo.launch`` arguments: loopback unless told, no share link, the page as designed."""
    from qa.web.page import page_options

    return {"server_name": host, "server_port": port, "share": False, **page_options(), **extra}


def warm_up(assistant: Assistant) -> None:
    """Ask one question (the current plan's title) so the first visitor does not wait for it."""
    assistant.ask(assistant.collection.current_plan.title)


def create_app(
    settings: Settings,
    assistant: Assistant | None,
    page: bool = True,
    service: AnswerService | None = None,
    collection: Collection | None = None,
    page_proxy: str | None = None,
) -> ASGIApp:
    """The whole application: ``/api/v1`` and, with ``page``, the page at ``/``.

    ``assistant`` may be None when ``service`` is given and its assistant is attached later
    (the health endpoint says "loading" until then); the documents then come from
    ``collection``, and there is no page. With ``page_proxy`` (a Unix socket), everything but
    ``/api/v1`` is passed through to the process that serves the page there.
    """
    service = service or AnswerService(assistant)
    if assistant is not None:
        collection = assistant.collection
        api = create_api(service, settings, collection, assistant.sections, assistant.lexicon.unit_aliases)
    else:
        from qa.documents import load_collection

        collection = collection or load_collection(settings.corpus_dir)
        api = create_api(service, settings, collection)
    app: ASGIApp = api
    if page and assistant is not None:
        import gradio as gr

        from qa.web.gradio_routes import GradioGuard
        from qa.web.page import build_demo, page_options

        demo = build_demo(assistant)
        # max_file_size=0: belt and braces, the guard refuses uploads before Gradio sees them.
        gr.mount_gradio_app(api, demo, path="/", max_file_size=0, **page_options())
        app = GradioGuard(api, demo, settings, collection)
    elif page_proxy is not None:
        from qa.web.replicas import PageProxy

        app = PageProxy(api, page_proxy)
    return BodyLimit(
        app,
        [(API_PREFIX, MAX_BODY_BYTES), ("/gradio_api", GRADIO_MAX_BODY_BYTES)],
        GRADIO_MAX_BODY_BYTES,
    )


def serve(app: ASGIApp, host: str, port: int, **uvicorn_options: Any) -> None:
    """Run ``app`` on ``host:port`` with uvicorn in this process until interrupted."""
    import uvicorn

    uvicorn.run(app, **uvicorn_config(host, port), **uvicorn_options)


def uvicorn_config(host: str | None = None, port: int | None = None) -> dict[str, Any]:
    """uvicorn settings shared by one process and by each worker of ``--workers``."""
    options: dict[str, Any] = {
        "log_level": os.environ.get("QA_LOG_LEVEL", "warning"),
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "backlog": 2048,
    }
    if host is not None:
        options["host"] = host
    if port is not None:
        options["port"] = port
    return options


def limit_malloc_arenas(arenas: int | None = None) -> None:
    """Cap glibc's malloc arenas (default: one per core) before any thread allocates.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and
    keeps their memory: the answering threads of a busy server held ~20 MB more for good without
    the cap. ``MALLOC_ARENA_MAX`` in the environment, if set, is left as it is.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas or cores())  # -8: M_ARENA_MAX


def cli_serve(args: argparse.Namespace, settings: Settings) -> int:
    workers = int(getattr(args, "workers", 1) or 1)
    if workers > 1:
        from qa.web.replicas import serve_workers

        return serve_workers(settings, args.host, args.port, workers)
    limit_malloc_arenas()
    print("正在加载模型和索引……", file=sys.stderr, flush=True)
    assistant = Assistant(settings)
    warm_up(assistant)
    app = create_app(settings, assistant)
    print(
        f"问答助手:http://{args.host}:{args.port}  接口:http://{args.host}:{args.port}{API_PREFIX}  (Ctrl+C 停止)",
        file=sys.stderr,
        flush=True,
    )
    serve(app, args.host, args.port)
    return 0
