"""qa chat (qa/chat.py): the conversation loop with scripted input, and the real command on a pty."""

from __future__ import annotations

import codecs
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.chat import HISTORY_LENGTH, PROMPT, chat

TASK_10 = "第10项 升级“美丽家园”建设"


def _run(fake_assistant, lines: list[str | BaseException]) -> tuple[int, str]:  # noqa: ANN001
    """Run the loop on ``lines`` (an exception is raised where it stands); returns status and output."""
    pending = list(lines)
    written: list[str] = []

    def read(prompt: str) -> str:
        assert prompt == PROMPT
        if not pending:
            raise EOFError
        item = pending.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    status = chat(fake_assistant, read, written.append)
    return status, "\n".join(written)


def test_a_follow_up_in_the_chat_names_its_subject(fake_assistant) -> None:  # noqa: ANN001
    status, out = _run(fake_assistant, ["第10项的牵头单位是哪些?", "那谁负责?", "/quit", "never asked"])
    assert status == 0
    assert out.count(f"接上一问:{TASK_10}") == 1
    assert "never asked" not in out


def test_new_forgets_the_previous_answer(fake_assistant) -> None:  # noqa: ANN001
    _, out = _run(fake_assistant, ["第10项的牵头单位是哪些?", "/new", "那谁负责?", "/quit"])
    assert "已开始新的对话" in out
    assert "接上一问" not in out.split("已开始新的对话", 1)[1]


def test_the_chat_survives_mistakes_and_interruptions(fake_assistant) -> None:  # noqa: ANN001
    lines: list[str | BaseException] = [
        "   ",
        "/frobnicate",
        "问" * 600,
        KeyboardInterrupt(),
        "/help",
        "第10项呢?",
    ]
    status, out = _run(fake_assistant, lines)  # ends at the end of input, like Ctrl-D
    assert status == 0
    assert "未知命令 /frobnicate" in out and "错误:问题太长" in out and "/new" in out
    assert "第10项" in out.split("/help", 1)[-1]


# --- the real command on a pseudo-terminal --------------------------------------------------------


class _Terminal:
    """``qa chat`` on a pty: what a member of staff at a terminal types and sees."""

    def __init__(self, history: Path) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "QA_CHAT_HISTORY": str(history), "TERM": "dumb"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "chat", "--k", "2"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.seen = ""
        # A character's bytes may arrive in two reads: decode across them.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read_until(self, marker: str, timeout: float = 180.0) -> str:
        """Everything printed up to and including the next ``marker``."""
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} within {timeout}s; saw {self.seen[-500:]!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    break
                self.seen += self._decoder.decode(chunk)
        head, _, self.seen = self.seen.partition(marker)
        return head

    def type(self, line: str) -> str:
        """Type ``line`` and return what is printed before the next prompt."""
        os.write(self.master, (line + "\n").encode("utf-8"))
        return self.read_until(PROMPT)

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        finally:
            os.close(self.master)


def test_qa_chat_on_a_terminal(assistant, tmp_path: Path) -> None:  # noqa: ANN001
    history = tmp_path / "chat_history"
    term = _Terminal(history)
    try:
        term.read_until(PROMPT)
        first = term.type("我家是老房子,有加装电梯的计划吗?")
        assert "第10项" in first and "接上一问" not in first
        who = term.type("那谁负责?")
        assert f"接上一问:{TASK_10}" in who and "区房管局" in who
        fresh = term.type("垃圾分类有什么要求?")
        assert "接上一问" not in fresh and "第20项" in fresh
        assert "已开始新的对话" in term.type("/new")
        alone = term.type("谁负责?")
        assert "接上一问" not in alone
        os.write(term.master, b"/quit\n")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    saved = history.read_text(encoding="utf-8").splitlines()
    assert "那谁负责?" in saved and "/new" in saved and len(saved) <= HISTORY_LENGTH


@pytest.mark.parametrize("lines", [HISTORY_LENGTH + 50])
def test_the_history_stays_bounded(tmp_path: Path, lines: int) -> None:
    """The history file a chat leaves holds at most HISTORY_LENGTH lines, however many were typed."""
    import readline

    from qa.chat import _history

    history = tmp_path / "chat_history"
    history.write_text("\n".join(f"问题{i}" for i in range(lines)) + "\n", encoding="utf-8")
    readline.clear_history()
    save = _history(history)
    readline.add_history("最后一问")
    save()
    kept = history.read_text(encoding="utf-8").splitlines()
    assert len(kept) <= HISTORY_LENGTH and kept[-1] == "最后一问"
    readline.clear_history()
