"""``qa serve``: one assistant, one page, one warm-up question, then the port opens.

Loading the assistant before the port opens makes a missing model or a damaged index one clear
CLI error instead of a broken page; the warm-up question builds jieba's dictionary (~0.4 s) and
pages the model in, so the first visitor does not pay for it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from qa.assistant import Assistant
from qa.settings import Settings
from qa.web.page import build_demo, page_options

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "launch_options", "warm_up", "cli_serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def launch_options(host: str = DEFAULT_HOST, port: int | None = DEFAULT_PORT, **extra: Any) -> dict[str, Any]:
    """``demo.launch`` arguments: loopback unless told, no share link, the page as designed."""
    return {"server_name": host, "server_port": port, "share": False, **page_options(), **extra}


def warm_up(assistant: Assistant) -> None:
    """Ask one question (the current plan's title) so the first visitor does not wait for it."""
    assistant.ask(assistant.collection.current_plan.title)


def cli_serve(args: argparse.Namespace, settings: Settings) -> int:
    print("正在加载模型和索引……", file=sys.stderr, flush=True)
    assistant = Assistant(settings)
    warm_up(assistant)
    demo = build_demo(assistant)
    print(f"问答助手:http://{args.host}:{args.port}  (Ctrl+C 停止)", file=sys.stderr, flush=True)
    # quiet: gradio would suggest share=True, which this assistant never uses; the line above says where it is.
    demo.launch(**launch_options(host=args.host, port=args.port, quiet=True))
    return 0
