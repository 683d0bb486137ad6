"""The web page: ask the plan, browse its tasks, compare the draft with the final plan, vote.

``build_demo(assistant)`` builds the whole page over one :class:`~qa.assistant.Assistant`; the
handlers are the methods of :class:`Page`, which tests call directly. Everything the page shows
comes from the assistant: the answers (filters applied inside retrieval), the plans' titles and
task counts, the sections and lead units, and the alignment of the draft with the final plan.

The API has one public endpoint, ``/ask``: ``Client(url).predict("问题", api_name="/ask")``
returns the same object as ``qa ask --json``; optional ``k`` (1-20) and ``doc`` (a doc_id).
"""

from __future__ import annotations

import os

# Before gradio starts anything: it reads this whenever it would report usage, and must not.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import html  # noqa: E402
import logging  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import wraps  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import gradio as gr  # noqa: E402

from qa.assistant import Assistant  # noqa: E402
from qa.compare import TaskPair, diff_task, pair_texts  # noqa: E402
from qa.documents import VERSION_LABELS, Version  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.plan_format import clause_label, strip_heading_number  # noqa: E402
from qa.query import normalise  # noqa: E402
from qa.structure import Clause  # noqa: E402
from qa.targets import numbered_targets  # noqa: E402
from qa.web.cards import (  # noqa: E402
    CSS,
    STATUS_LABELS,
    render_answer,
    render_changes,
    render_clause,
    render_pair,
    render_question,
)
from qa.web.feedback import append_feedback, feedback_record  # noqa: E402

__all__ = [
    "Page",
    "build_demo",
    "page_options",
    "BROWSE_HEADERS",
    "GENERIC_ERROR",
    "CONCURRENCY_LIMIT",
    "QUEUE_MAX_SIZE",
]

log = logging.getLogger("qa.web")

# Two cores: four questions at once keep the page responsive; more wait in a bounded queue.
CONCURRENCY_LIMIT = 4
QUEUE_MAX_SIZE = 64
MAX_TURNS = 20  # a conversation keeps its last 20 questions (the page re-sends them all each time)
GENERIC_ERROR = "系统出现意外错误,请稍后再试;错误已记录在服务器日志中。"
BROWSE_HEADERS = ["序号", "任务", "章节", "牵头单位", "量化目标"]

CITIZEN_EXAMPLES = [
    "电瓶车在楼道充电谁管?",
    "我家是老房子,没有电梯,有加装电梯的计划吗?",
    "小区垃圾分类有什么要求?",
    "Who is responsible for garbage sorting?",
]
STAFF_EXAMPLES = [
    "第29项的牵头单位是哪些?",
    "区房管局负责哪些任务?",
    "物业费调整草案和正式版有什么不同?",
]

F = TypeVar("F", bound=Callable[..., Any])


def _user_error(message: str) -> gr.Error:
    # gr.Error renders its message as HTML in the page's modal: escape it (it may quote input).
    return gr.Error(html.escape(message, quote=False), title="出错了", print_exception=False)


def _guarded(fn: F) -> F:
    """A user's mistake is one Chinese sentence, an accident a generic one and a log entry."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except QAError as err:
            raise _user_error(str(err)) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(GENERIC_ERROR, title="出错了", print_exception=False) from None

    return run  # type: ignore[return-value]


def _filter_notice(section: str, unit: str, kept: int, english: bool) -> str:
    """Which filters the answer was searched within: the reader may have forgotten setting them."""
    chosen = ("; " if english else "、").join(
        part
        for part in (
            f"{'Section' if english else '章节'}: {section}" if section else "",
            f"{'Lead unit' if english else '牵头单位'}: {unit}" if unit else "",
        )
        if part
    )
    return (
        f"Filtered ({chosen}): {kept} clause(s) kept."
        if english
        else f"已按筛选条件({chosen})保留{kept}条条款。"
    )


def _messages(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chatbot messages for the turns; both sides are HTML we escaped, never Markdown."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        messages.append({"role": "user", "content": gr.HTML(turn["question_html"], js_on_load=None)})
        messages.append({"role": "assistant", "content": gr.HTML(turn["answer_html"], js_on_load=None)})
    return messages


def _pair_key(pair: TaskPair) -> str:
    return f"final:{pair.final}" if pair.final is not None else f"draft:{pair.draft}"


class Page:
    """The page's handlers over one assistant; ``feedback_log`` is where votes are appended."""

    def __init__(self, assistant: Assistant, feedback_log: Path | None = None) -> None:
        self.assistant = assistant
        self.feedback_log = feedback_log or assistant.settings.feedback_log
        self._rows: dict[Version, list[tuple[Clause, list[str], str]]] = {}
        for version in ("final", "draft"):
            doc = assistant.collection.plan(version)
            self._rows[version] = [
                (c, numbered_targets(doc.text[c.start : c.end]), doc.text[c.start : c.end])
                for c in assistant.tasks(version)
            ]
        self._changes = {_pair_key(ch.pair): ch for ch in assistant.versions.changes}

    # --- chat ---------------------------------------------------------------------------------

    @_guarded
    def ask(self, question: str, k: int | None = None, doc: str | None = None) -> dict[str, Any]:
        """Answer a question about the plan: the same object as `qa ask --json`.

        Args:
            question: the question, in Chinese or English.
            k: how many cited clauses to return, 1-20 (default 5).
            doc: only search this document (a doc_id, as `qa docs` lists them); empty for all.
        """
        try:
            return self.assistant.ask(question, k=k, doc=doc or None).to_dict()
        except QAError as err:
            # API callers read the message as plain text: not escaped for the page's HTML modal.
            raise gr.Error(str(err), title="出错了", print_exception=False) from None

    @_guarded
    def respond(
        self,
        question: str,
        turns: list[dict[str, Any]] | None,
        doc: str | None = "",
        section: str | None = "",
        unit: str | None = "",
        k: int | float | None = 5,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        """Ask within the filters and add the answer to the conversation.

        Returns the chatbot messages, the turns (question, answer object, HTML) and "" for the box.
        """
        assistant = self.assistant
        answer = assistant.ask(
            question,
            k=int(k or assistant.settings.k),
            doc=doc or None,
            section=section or None,
            unit=unit or None,
        )
        english = answer.english
        notice = None
        if (section or unit) and answer.results:  # an emptied answer already says which filters
            notice = _filter_notice(section or "", unit or "", len(answer.results), english)
        turn = {
            "question": answer.question,
            "answer": answer.to_dict(),
            "question_html": render_question(answer.question, english),
            "answer_html": render_answer(answer, assistant.collection, english, notice),
        }
        turns = [*(turns or []), turn][-MAX_TURNS:]
        return _messages(turns), turns, ""

    # --- feedback -----------------------------------------------------------------------------

    def _record_vote(self, turns: list[dict[str, Any]] | None, index: int, vote: str, comment: str) -> str:
        if not turns:
            raise _user_error("还没有可以评价的回答,请先提问。")
        if not 0 <= index < len(turns):
            raise _user_error("找不到要评价的这条回答,请刷新页面后再试。")
        answer = turns[index]["answer"]
        citations = [
            f"{r['doc_id']}#{r['clause']}" if r["clause"] is not None else r["doc_id"]
            for r in answer["results"]
        ]
        record = feedback_record(answer["question"], answer["answer"], citations, vote, comment or "")
        append_feedback(self.feedback_log, record)
        thanks = "👍 已记录:这条回答有帮助。" if vote == "up" else "👎 已记录:这条回答没有帮助。"
        return f"{thanks}谢谢您的反馈{'和评论' if record['comment'] else ''}!"

    @_guarded
    def vote_latest(
        self, turns: list[dict[str, Any]] | None, vote: str, comment: str | None
    ) -> tuple[str, str]:
        """👍/👎 on the latest answer, with the optional comment; returns the status and "" for the box."""
        return self._record_vote(turns, len(turns or []) - 1, vote, comment or ""), ""

    @_guarded
    def vote(
        self, turns: list[dict[str, Any]] | None, comment: str | None, data: gr.LikeData
    ) -> tuple[str, str]:
        """👍/👎 on any answer of the conversation (the chatbot's own buttons)."""
        if data.liked not in (True, False):
            return "已取消评价(已记录的评价会保留)。", comment or ""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        return self._record_vote(turns, int(index) // 2, "up" if data.liked else "down", comment or ""), ""

    # --- clause browser -----------------------------------------------------------------------

    @staticmethod
    def _row(c: Clause, targets: list[str]) -> list[Any]:
        return [
            c.clause,
            c.title,
            strip_heading_number(c.section),
            "、".join(c.lead_units),
            ";".join(targets),
        ]

    @_guarded
    def browse_rows(self, version: str | None, search: str | None = "") -> tuple[dict[str, Any], str]:
        """The tasks of a plan as table rows, those matching ``search`` only (any column or the text).

        Returns the table value and a line counting the rows.
        """
        plan = self._version(version)
        query = normalise(search or "").lower()
        rows = []
        for c, targets, text in self._rows[plan]:
            row = self._row(c, targets)
            haystack = " ".join([clause_label(int(c.clause)), text, *(str(v) for v in row)]).lower()
            if not query or all(word in haystack for word in query.split()):
                rows.append(row)
        total = len(self._rows[plan])
        count = f"{VERSION_LABELS[plan]}共{total}项任务" + (
            f",符合“{search}”的有{len(rows)}项" if query else ""
        )
        if query and not rows:
            count += ";请换一个词再搜。"
        return {"headers": BROWSE_HEADERS, "data": rows}, f"<p>{html.escape(count, quote=False)}</p>"

    @staticmethod
    def _version(version: str | None) -> Version:
        if version in (None, "", "final"):
            return "final"
        if version == "draft":
            return "draft"
        raise _user_error("只能浏览正式版(final)或草案(draft)。")

    @_guarded
    def clause_detail(self, version: str | None, number: int | str | None) -> str:
        """The whole task, its targets and how it changed between the draft and the final plan."""
        plan = self._version(version)
        try:
            n = int(str(number))
        except ValueError:
            raise _user_error("请在表格中点选一项任务。") from None
        doc = self.assistant.collection.plan(plan)
        for c, targets, _ in self._rows[plan]:
            if c.clause == n:
                return render_clause(doc, c, targets, self.assistant.versions.notes.get((doc.doc_id, n)))
        raise _user_error(f"没有{clause_label(n)}任务。")

    def select_clause(self, version: str | None, evt: gr.SelectData) -> str:
        """A row of the table was selected: show its task (the number is the row's first cell)."""
        row = evt.row_value or []
        return self.clause_detail(version, row[0] if row else None)

    # --- comparison ---------------------------------------------------------------------------

    def compare_choices(self) -> list[tuple[str, str]]:
        """Dropdown entries by final numbering; a removed task under its draft number."""
        out = []
        for pair in self.assistant.versions.pairs:
            if pair.final is None:
                assert pair.draft is not None
                label = f"{clause_label(pair.draft, superseded=True)} {pair.draft_title}(正式版已删除)"
            else:
                status = STATUS_LABELS[pair.status]
                if pair.status == "merged":
                    status = "由草案" + "、".join(clause_label(n) for n in pair.draft_merged) + "合并"
                elif pair.status == "renumbered" and pair.draft is not None:
                    status = f"原{clause_label(pair.draft, superseded=True)}"
                label = f"{clause_label(pair.final)} {pair.final_title}({status})"
            out.append((label, _pair_key(pair)))
        return out

    @_guarded
    def compare_task(self, key: str | None) -> str:
        """Draft and final side by side for one task, changes highlighted, with the report's reason."""
        versions = self.assistant.versions
        for pair in versions.pairs:
            if _pair_key(pair) == key:
                old, new = pair_texts(pair, versions.draft, versions.final)
                change = self._changes.get(key)
                if change is not None:
                    return render_pair(pair, change.summary, change.reasons, diff_task(old, new))
                note = versions.notes.get((versions.final.doc_id, pair.final)) if pair.final else None
                return render_pair(pair, note, (), diff_task(old, new))
        raise _user_error("请选择一项任务。")

    def first_changed(self) -> str:
        """The first task the final plan changed: what the comparison tab opens on."""
        choices = [value for _, value in self.compare_choices()]
        return next((value for value in choices if value in self._changes), choices[0])

    def changes_html(self) -> str:
        return render_changes(self.assistant.versions.changes)


# ---------------------------------------------------------------------------------------------
# The page

THEME = gr.themes.Default(
    primary_hue="blue",
    # System fonts only: nothing is downloaded, and Chinese renders with the machine's CJK font.
    font=[
        "PingFang SC",
        "Microsoft YaHei",
        "Noto Sans CJK SC",
        "WenQuanYi Zen Hei",
        "system-ui",
        "sans-serif",
    ],
    font_mono=["ui-monospace", "Consolas", "monospace"],
)


def page_options() -> dict[str, Any]:
    """What ``demo.launch`` and ``gr.mount_gradio_app`` both take to show the page as designed:
    theme, styles, no share or monitoring, and nothing that leaves the machine."""
    return {
        "theme": THEME,
        "css": CSS,
        "footer_links": ["api"],
        "show_error": True,  # only gr.Error reaches the page: our messages, never a traceback
        "run_history": False,  # a shared office computer should not keep others' questions
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
    }


def build_demo(
    assistant: Assistant,
    *,
    feedback_log: Path | None = None,
    concurrency_limit: int = CONCURRENCY_LIMIT,
    max_size: int = QUEUE_MAX_SIZE,
) -> gr.Blocks:
    """The page over ``assistant``, with a bounded queue; votes go to ``feedback_log``
    (default: the assistant's settings)."""
    page = Page(assistant, feedback_log)
    collection = assistant.collection
    current = collection.current_plan
    n_final, n_draft = len(assistant.tasks("final")), len(assistant.tasks("draft"))
    first_rows, first_count = page.browse_rows("final", "")
    choices = page.compare_choices()
    private: dict[str, Any] = {"api_visibility": "private"}

    doc_choices = [("全部文档", "")] + [
        (f"{d.cite_title}({VERSION_LABELS[d.version]})", d.doc_id) for d in collection.documents
    ]

    with gr.Blocks(title=f"{current.title} · 问答助手", analytics_enabled=False) as blocks:
        gr.Markdown(
            f"## {current.title} · 问答助手\n"
            "每个回答都是计划原文,并给出出处:文件、版本、第几项、牵头单位和原句。"
            f"{VERSION_LABELS['draft']}已被{VERSION_LABELS['final']}取代,仅供对照。 "
            "*You may also ask in English.*"
        )
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                turns = gr.State([])
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话",
                            height=560,
                            elem_id="qa-chat",
                            feedback_options=("Like", "Dislike"),
                            buttons=["copy_all"],  # no share button: nothing leaves the machine
                            placeholder="请在下方输入问题,或点选右侧的示例问题。",
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                label="您的问题",
                                placeholder="例如:电瓶车在楼道充电谁管?",
                                max_lines=4,
                                scale=5,
                                elem_id="qa-question",
                            )
                            ask_button = gr.Button("提问", variant="primary", scale=1, elem_id="qa-ask")
                        with gr.Row():
                            comment = gr.Textbox(
                                label="评论(可选,随 👍/👎 一并提交)",
                                max_lines=3,
                                scale=4,
                                elem_id="qa-comment",
                            )
                            up = gr.Button("👍 有帮助", scale=1, elem_id="qa-up")
                            down = gr.Button("👎 没帮助", scale=1, elem_id="qa-down")
                        feedback_status = gr.Markdown("", elem_id="qa-feedback-status")
                    with gr.Column(scale=2):
                        doc = gr.Dropdown(doc_choices, value="", label="只查这份文档")
                        section = gr.Dropdown(
                            [("全部章节", ""), *((s, s) for s in assistant.sections)], value="", label="章节"
                        )
                        unit = gr.Dropdown(
                            [("全部牵头单位", ""), *((u, u) for u in assistant.lead_units)],
                            value="",
                            label="牵头单位",
                        )
                        k = gr.Slider(1, 20, value=assistant.settings.k, step=1, label="引用条款数")
                        gr.Examples(CITIZEN_EXAMPLES, inputs=question, label="市民常问")
                        gr.Examples(STAFF_EXAMPLES, inputs=question, label="工作人员常用")
                        clear = gr.Button("清空对话")

                chat_inputs = [question, turns, doc, section, unit, k]
                chat_outputs = [chatbot, turns, question]
                # One concurrency group for every question, from the page or the API alike.
                asking: dict[str, Any] = {
                    **private,
                    "concurrency_id": "ask",
                    "concurrency_limit": concurrency_limit,
                }
                ask_button.click(page.respond, chat_inputs, chat_outputs, **asking)
                question.submit(page.respond, chat_inputs, chat_outputs, **asking)
                clear.click(lambda: ([], [], ""), None, [chatbot, turns, feedback_status], **private)
                up.click(
                    lambda t, c: page.vote_latest(t, "up", c),
                    [turns, comment],
                    [feedback_status, comment],
                    **private,
                )
                down.click(
                    lambda t, c: page.vote_latest(t, "down", c),
                    [turns, comment],
                    [feedback_status, comment],
                    **private,
                )
                chatbot.like(page.vote, [turns, comment], [feedback_status, comment], **private)
                chatbot.clear(lambda: ([], ""), None, [turns, feedback_status], **private)

            with gr.Tab("条款浏览", id="browse"):
                with gr.Row():
                    version = gr.Radio(
                        [
                            (f"{VERSION_LABELS['final']}({n_final}项,现行)", "final"),
                            (f"{VERSION_LABELS['draft']}({n_draft}项,已被取代)", "draft"),
                        ],
                        value="final",
                        label="版本",
                        scale=2,
                    )
                    search = gr.Textbox(
                        label="搜索",
                        placeholder="任务名、章节、牵头单位或原文中的词,如:电梯",
                        scale=3,
                        elem_id="qa-browse-search",
                    )
                count = gr.HTML(first_count, elem_id="qa-browse-count")
                table = gr.Dataframe(
                    value=first_rows,
                    headers=BROWSE_HEADERS,
                    interactive=False,
                    wrap=True,
                    column_widths=["6%", "22%", "20%", "20%", "32%"],
                    max_height=520,
                    elem_id="qa-browse-table",
                )
                detail = gr.HTML("<p>点选表格中的一行,查看该项任务的全文。</p>", elem_id="qa-clause-detail")
                version.change(page.browse_rows, [version, search], [table, count], **private)
                search.change(page.browse_rows, [version, search], [table, count], **private)
                table.select(page.select_clause, [version], detail, **private)

            with gr.Tab(f"{VERSION_LABELS['draft']}与{VERSION_LABELS['final']}对比", id="compare"):
                task = gr.Dropdown(
                    choices,
                    value=page.first_changed(),
                    label=f"选择任务(按{VERSION_LABELS['final']}编号)",
                    elem_id="qa-compare-task",
                )
                diff = gr.HTML(page.compare_task(task.value), elem_id="qa-diff")
                task.change(page.compare_task, task, diff, **private)
                with gr.Accordion(
                    f"{VERSION_LABELS['final']}相对{VERSION_LABELS['draft']}的全部变化", open=True
                ):
                    gr.HTML(page.changes_html(), elem_id="qa-changes")

        gr.Markdown(
            f"<small>同时排队的提问超过 {max_size} 个时,页面会提示 “This application is currently busy. "
            "Please try again.”(系统繁忙,请稍后再试);通过 API 调用时会收到 HTTP 503。"
            "反馈记录在服务器本地,不含个人信息。</small>"
        )
        gr.api(page.ask, api_name="ask", concurrency_id="ask", concurrency_limit=concurrency_limit)

    blocks.queue(default_concurrency_limit=concurrency_limit, max_size=max_size)
    return blocks
