"""``qa chat``: a conversation in the terminal, for staff at a desk.

Each question is asked with the context of the answer before it, so 那谁负责? after a question on
elevators is answered about that task, and says so (接上一问:…); a question with a subject of its
own starts afresh, as in ``Assistant.ask``. ``/new`` forgets the previous answer, ``/quit`` (or
Ctrl-D) leaves; Ctrl-C drops the line being typed. Lines typed are kept with readline in a history
file (``QA_CHAT_HISTORY``, default ``~/.qa_chat_history``) of at most ``HISTORY_LENGTH`` lines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qa.cli import format_answer
from qa.errors import QAError
from qa.settings import Settings

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.conversation import Context

__all__ = ["chat", "cli_chat", "HISTORY_LENGTH", "PROMPT"]

HISTORY_LENGTH = 1000
PROMPT = "问> "
_BANNER = (
    "长宁区城市管理精细化三年行动计划 · 问答(连续对话)\n"
    "追问(那谁负责?草案里呢?)接着上一问回答;/new 开始新对话,/quit 退出,/help 帮助。"
)
_HELP = (
    "/new   开始新对话:下一个问题单独回答 (start afresh)\n"
    "/quit  退出 (leave; Ctrl-D too)\n"
    "/help  显示本帮助\n"
    "其他输入都作为问题。没有自己主语的问题(那谁负责?什么时候完成?第二个呢?)接着上一问的条款回答,\n"
    "回答第一行写明“接上一问:…”;有自己主语的问题(垃圾分类有什么要求?)重新开始。"
)


def chat(
    assistant: Assistant,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
    k: int | None = None,
) -> int:
    """Ask questions read with ``read`` until /quit or end of input, each with the previous
    answer's context; write the answers with ``write``. Returns the exit status (0)."""
    context: Context | None = None
    write(_BANNER)
    while True:
        try:
            line = read(PROMPT)
        except EOFError:
            write("")
            return 0
        except KeyboardInterrupt:
            write("")  # Ctrl-C drops the line being typed, not the conversation
            continue
        text = line.strip()
        if not text:
            continue
        command = text.lower()
        if command in ("/quit", "/exit", "/q"):
            return 0
        if command == "/new":
            context = None
            write("已开始新的对话:下一个问题单独回答。")
            continue
        if command in ("/help", "/?"):
            write(_HELP)
            continue
        if text.startswith("/") and " " not in text:
            write(f"未知命令 {text[:20]};可用:/new /quit /help")
            continue
        try:
            answer = assistant.ask(text, k=k, context=context)
        except QAError as err:
            write(f"错误:{err}")
            continue
        context = answer.context
        write(format_answer(answer.to_dict(), assistant.lexicon.english))
        write("")


def _history(path: Path) -> Callable[[], None]:
    """Load readline's history from ``path``; returns what saves it again (bounded)."""
    try:
        import readline
    except ImportError:  # no readline on this platform: no history, the chat still works
        return lambda: None
    readline.set_history_length(HISTORY_LENGTH)
    try:
        readline.read_history_file(path)
    except (OSError, ValueError):
        pass  # a first chat, or an unreadable file: start with none

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
        except OSError as err:
            print(f"提示:无法保存对话历史到 {path}({err.strerror})。", file=sys.stderr)

    return save


def cli_chat(args: argparse.Namespace, settings: Settings) -> int:
    """``qa chat [--k N]``: the conversation on the terminal."""
    from qa.assistant import Assistant

    print("正在加载文档和索引…", file=sys.stderr, flush=True)
    assistant = Assistant(settings, progress=sys.stderr.isatty())
    # expanduser, unlike Path.home, never fails on an account without a home.
    history = settings.chat_history or Path(os.path.expanduser("~")) / ".qa_chat_history"
    save = _history(history) if sys.stdin.isatty() else (lambda: None)
    try:
        return chat(assistant, k=getattr(args, "k", None))
    finally:
        save()
