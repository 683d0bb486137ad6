"""The web page: ask the plan, browse its tasks, compare the draft with the final plan, vote.

A thin layer over ``qa.answer.Assistant``: plain handler functions first (tests call them
directly), then ``build_demo`` and the ``demo`` object, then ``demo.launch``. Started by
``make serve``, ``qa serve [--host] [--port]`` or ``python app.py``; binds 127.0.0.1 by default,
never shares, and fetches nothing from the network (no analytics, system fonts only).

The API has one public endpoint, ``/ask``: ``Client(url).predict("问题", api_name="/ask")``
returns the same object as ``qa ask --json``; optional ``k`` (1-20) and ``doc`` (a doc_id).
"""

from __future__ import annotations

import os

# Before gradio is imported: it reads this when it starts, and must not phone home.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import html  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from functools import lru_cache, wraps  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import gradio as gr  # noqa: E402

from qa.assistant import Assistant  # noqa: E402
from qa.cards import (  # noqa: E402
    CSS,
    STATUS_LABELS,
    render_answer,
    render_changes,
    render_clause,
    render_pair,
    render_question,
)
from qa.compare import PlanVersions, TaskChange, TaskPair, compare_plans, diff_task, pair_texts, version_note  # noqa: E402
from qa.documents import VERSION_LABELS, Collection, load_collection  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.feedback import append_feedback, feedback_record  # noqa: E402
from qa.lexicon import load_lexicon  # noqa: E402
from qa.plan_format import strip_heading_number  # noqa: E402
from qa.query import normalise  # noqa: E402
from qa.settings import Settings, load_settings  # noqa: E402
from qa.structure import Clause, parse_clauses  # noqa: E402
from qa.targets import numbered_targets  # noqa: E402

__all__ = [
    "ask",
    "respond",
    "vote",
    "vote_latest",
    "browse_rows",
    "clause_detail",
    "compare_task",
    "configure",
    "get_assistant",
    "build_demo",
    "launch_options",
    "demo",
]

log = logging.getLogger("qa.app")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# Two cores: four questions at once keep the page responsive; more wait in a bounded queue.
CONCURRENCY_LIMIT = 4
QUEUE_MAX_SIZE = 64
MAX_TURNS = 20  # a conversation keeps its last 20 questions (the page re-sends them all each time)
GENERIC_ERROR = "系统出现意外错误,请稍后再试;错误已记录在服务器日志中。"
QUEUE_FULL_NOTE = (
    f"同时排队的提问超过 {QUEUE_MAX_SIZE} 个时,页面会提示 “This application is currently busy. "
    "Please try again.”(系统繁忙,请稍后再试);通过 API 调用时会收到 HTTP 503。"
)
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

# ---------------------------------------------------------------------------------------------
# The assistant, created on first use; tests and `qa serve` inject their own.

_lock = threading.Lock()
_settings: Settings | None = None
_assistant: Assistant | None = None


def configure(settings: Settings | None = None, assistant: Assistant | None = None) -> None:
    """Use these settings and (optionally) this already loaded assistant from now on."""
    global _settings, _assistant
    with _lock:
        _settings = settings or (assistant.settings if assistant is not None else None)
        _assistant = assistant


def get_settings() -> Settings:
    return _settings or load_settings()


def get_assistant() -> Assistant:
    """The shared assistant, loaded (model and index) the first time a question needs it."""
    global _assistant
    with _lock:
        if _assistant is None:
            _assistant = Assistant(_settings or load_settings())
        return _assistant


# ---------------------------------------------------------------------------------------------
# Errors: a user's mistake is one Chinese sentence, an accident a generic one and a log entry.

F = TypeVar("F", bound=Callable[..., Any])


def _user_error(message: str) -> gr.Error:
    # gr.Error renders its message as HTML in the page's modal: escape it (it may quote input).
    return gr.Error(html.escape(message, quote=False), title="出错了", print_exception=False)


def _guarded(fn: F) -> F:
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


# ---------------------------------------------------------------------------------------------
# Chat


@_guarded
def ask(question: str, k: int | None = None, doc: str | None = None) -> dict[str, Any]:
    """Answer a question about the plan: the same object as `qa ask --json`.

    Args:
        question: the question, in Chinese or English.
        k: how many cited clauses to return, 1-20 (default 5).
        doc: only search this document (a doc_id such as plan-final); empty for all.
    """
    return get_assistant().ask(question, k=k, doc=doc or None).to_dict()


def _filter_notice(section: str, unit: str, kept: int, english: bool) -> str:
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


@_guarded
def respond(
    question: str,
    turns: list[dict[str, Any]] | None,
    doc: str | None = "",
    section: str | None = "",
    unit: str | None = "",
    k: int | float | None = 5,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """The chat: ask, filter by section and lead unit, and add the answer to the conversation.

    Returns the chatbot messages, the turns (question, answer object, HTML) and "" for the box.
    """
    assistant = get_assistant()
    answer = assistant.ask(
        question,
        k=int(k or assistant.settings.k),
        doc=doc or None,
        section=section or None,
        unit=unit or None,
    )
    english = answer.english
    notice = None
    if section or unit:
        notice = _filter_notice(section or "", unit or "", len(answer.results), english)
    turn = {
        "question": answer.question,
        "answer": answer.to_dict(),
        "question_html": render_question(answer.question, english),
        "answer_html": render_answer(answer, english, notice),
    }
    turns = [*(turns or []), turn][-MAX_TURNS:]
    return _messages(turns), turns, ""


def _record_vote(turns: list[dict[str, Any]] | None, index: int, vote: str, comment: str) -> str:
    if not turns:
        raise _user_error("还没有可以评价的回答,请先提问。")
    if not 0 <= index < len(turns):
        raise _user_error("找不到要评价的这条回答,请刷新页面后再试。")
    answer = turns[index]["answer"]
    citations = [
        f"{r['doc_id']}#{r['clause']}" if r["clause"] is not None else r["doc_id"] for r in answer["results"]
    ]
    record = feedback_record(answer["question"], answer["answer"], citations, vote, comment or "")
    append_feedback(get_settings().feedback_log, record)
    thanks = "👍 已记录:这条回答有帮助。" if vote == "up" else "👎 已记录:这条回答没有帮助。"
    return f"{thanks}谢谢您的反馈{'和评论' if record['comment'] else ''}!"


@_guarded
def vote_latest(turns: list[dict[str, Any]] | None, vote: str, comment: str | None) -> tuple[str, str]:
    """👍/👎 on the latest answer, with the optional comment; returns the status and "" for the box."""
    return _record_vote(turns, len(turns or []) - 1, vote, comment or ""), ""


@_guarded
def vote(turns: list[dict[str, Any]] | None, comment: str | None, data: gr.LikeData) -> tuple[str, str]:
    """👍/👎 on any answer of the conversation (the chatbot's own buttons)."""
    if data.liked not in (True, False):
        return "已取消评价(已记录的评价会保留)。", comment or ""
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    return _record_vote(turns, int(index) // 2, "up" if data.liked else "down", comment or ""), ""


# ---------------------------------------------------------------------------------------------
# Clause browser


@lru_cache(maxsize=8)
def _plan_rows(corpus_dir: Path, doc_id: str) -> tuple[tuple[Clause, tuple[str, ...], str], ...]:
    doc = load_collection(corpus_dir).get(doc_id)
    rows = []
    for c in parse_clauses(doc):
        if c.kind != "task":
            continue
        targets = tuple(numbered_targets(doc.text[c.start : c.end]))
        rows.append((c, targets, doc.text[c.start : c.end]))
    return tuple(rows)


def _row(c: Clause, targets: tuple[str, ...]) -> list[Any]:
    return [c.clause, c.title, strip_heading_number(c.section), "、".join(c.lead_units), ";".join(targets)]


@_guarded
def browse_rows(version: str | None, search: str | None = "") -> tuple[dict[str, Any], str]:
    """The tasks of a plan as table rows, those matching ``search`` only (any column or the text).

    Returns the table value and a line counting the rows.
    """
    return _browse(get_settings().corpus_dir, version, search)


def _browse(corpus_dir: Path, version: str | None, search: str | None) -> tuple[dict[str, Any], str]:
    doc_id = version or "plan-final"
    if doc_id not in ("plan-final", "plan-draft"):
        raise _user_error("只能浏览正式版(plan-final)或草案(plan-draft)。")
    query = normalise(search or "").lower()
    rows = []
    for c, targets, text in _plan_rows(corpus_dir, doc_id):
        row = _row(c, targets)
        haystack = " ".join([f"第{c.clause}项", text, *(str(v) for v in row)]).lower()
        if not query or all(word in haystack for word in query.split()):
            rows.append(row)
    total = len(_plan_rows(corpus_dir, doc_id))
    label = VERSION_LABELS["final" if doc_id == "plan-final" else "draft"]
    count = f"{label}共{total}项任务" + (f",符合“{search}”的有{len(rows)}项" if query else "")
    if query and not rows:
        count += ";请换一个词再搜。"
    return {"headers": BROWSE_HEADERS, "data": rows}, f"<p>{html.escape(count, quote=False)}</p>"


@lru_cache(maxsize=4)
def _versions(corpus_dir: Path) -> PlanVersions:
    # ~0.3 s of SequenceMatcher work: once per corpus, not once per click
    collection = load_collection(corpus_dir)
    return compare_plans(collection, _unit_aliases(corpus_dir))


def _alignment(corpus_dir: Path) -> tuple[TaskPair, ...]:
    return _versions(corpus_dir).pairs


def _version_notes(corpus_dir: Path) -> Mapping[tuple[str, int], str]:
    return _versions(corpus_dir).notes


def _changes(corpus_dir: Path) -> tuple[TaskChange, ...]:
    return _versions(corpus_dir).changes


@lru_cache(maxsize=4)
def _unit_aliases(corpus_dir: Path) -> dict[str, str]:
    return load_lexicon(corpus_dir / "lexicon").unit_aliases


def _pair_of(corpus_dir: Path, doc_id: str, number: int) -> TaskPair | None:
    for pair in _alignment(corpus_dir):
        if (doc_id == "plan-final" and pair.final == number) or (
            doc_id == "plan-draft" and number in pair.drafts
        ):
            return pair
    return None


@_guarded
def clause_detail(version: str | None, number: int | str | None) -> str:
    """The whole task, its targets and how it changed between the draft and the final plan."""
    doc_id = version or "plan-final"
    try:
        n = int(str(number))
    except ValueError:
        raise _user_error("请在表格中点选一项任务。") from None
    corpus_dir = get_settings().corpus_dir
    collection = load_collection(corpus_dir)
    for c, targets, _ in _plan_rows(corpus_dir, doc_id):
        if c.clause == n:
            note = _version_notes(corpus_dir).get((doc_id, n))
            return render_clause(collection.get(doc_id), c, targets, note)
    raise _user_error(f"没有第{n}项任务。")


def select_clause(version: str | None, evt: gr.SelectData) -> str:
    """A row of the table was selected: show its task (the number is the row's first cell)."""
    row = evt.row_value or []
    return clause_detail(version, row[0] if row else None)


# ---------------------------------------------------------------------------------------------
# Comparison


def _pair_key(pair: TaskPair) -> str:
    return f"final:{pair.final}" if pair.final is not None else f"draft:{pair.draft}"


def compare_choices(corpus_dir: Path) -> list[tuple[str, str]]:
    """Dropdown entries by final numbering; a removed task under its draft number."""
    out = []
    for pair in _alignment(corpus_dir):
        if pair.final is None:
            label = f"草案第{pair.draft}项 {pair.draft_title}(正式版已删除)"
        else:
            status = STATUS_LABELS[pair.status]
            if pair.status == "merged":
                status = "由草案" + "、".join(f"第{n}项" for n in pair.draft_merged) + "合并"
            elif pair.status == "renumbered":
                status = f"原草案第{pair.draft}项"
            label = f"第{pair.final}项 {pair.final_title}({status})"
        out.append((label, _pair_key(pair)))
    return out


@_guarded
def compare_task(key: str | None) -> str:
    """Draft and final side by side for one task, changes highlighted, with the report's reason."""
    return _compare(get_settings().corpus_dir, key)


def _compare(corpus_dir: Path, key: str | None) -> str:
    collection = load_collection(corpus_dir)
    draft, final = collection.get("plan-draft"), collection.get("plan-final")
    changes = {_pair_key(ch.pair): ch for ch in _changes(corpus_dir)}
    for pair in _alignment(corpus_dir):
        if _pair_key(pair) == key:
            old, new = pair_texts(pair, draft, final)
            change = changes.get(key)
            summary = (
                change.summary if change else version_note(pair, draft, final, _unit_aliases(corpus_dir))
            )
            return render_pair(pair, summary, change.reasons if change else (), diff_task(old, new))
    raise _user_error("请选择一项任务。")


@lru_cache(maxsize=4)
def _changes_html(corpus_dir: Path) -> str:
    return render_changes(_changes(corpus_dir))


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


def _doc_choices(collection: Collection) -> list[tuple[str, str]]:
    choices = [("全部文档", "")]
    for d in collection.documents:
        choices.append((f"{d.cite_title}({VERSION_LABELS[d.version]})", d.doc_id))
    return choices


def _section_choices(collection: Collection) -> list[tuple[str, str]]:
    names = [
        strip_heading_number(c.section) for c in parse_clauses(collection.get("plan-final")) if c.section
    ]
    return [("全部章节", ""), *((n, n) for n in dict.fromkeys(names))]


def _unit_choices(collection: Collection, aliases: dict[str, str]) -> list[tuple[str, str]]:
    units = [
        aliases.get(u, u)
        for doc_id in ("plan-final", "plan-draft")
        for c in parse_clauses(collection.get(doc_id))
        for u in c.lead_units
    ]
    return [("全部牵头单位", ""), *((u, u) for u in sorted(set(units)))]


def build_demo(
    settings: Settings | None = None,
    concurrency_limit: int = CONCURRENCY_LIMIT,
    max_size: int = QUEUE_MAX_SIZE,
) -> gr.Blocks:
    """The page for ``settings``' corpus, with a bounded queue."""
    settings = settings or get_settings()
    collection = load_collection(settings.corpus_dir)
    aliases = _unit_aliases(settings.corpus_dir)
    first_rows, first_count = _browse(settings.corpus_dir, "plan-final", "")
    choices = compare_choices(settings.corpus_dir)
    private: dict[str, Any] = {"api_visibility": "private"}

    with gr.Blocks(title="长宁区城市管理精细化三年行动计划 · 问答助手", analytics_enabled=False) as blocks:
        gr.Markdown(
            "## 长宁区城市管理精细化三年行动计划(2024-2026年)· 问答助手\n"
            "每个回答都是计划原文,并给出出处:文件、版本、第几项、牵头单位和原句。"
            "草案已被正式版取代,仅供对照。 *You may also ask in English.*"
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
                        doc = gr.Dropdown(_doc_choices(collection), value="", label="只查这份文档")
                        section = gr.Dropdown(_section_choices(collection), value="", label="章节")
                        unit = gr.Dropdown(_unit_choices(collection, aliases), value="", label="牵头单位")
                        k = gr.Slider(1, 20, value=settings.k, step=1, label="引用条款数")
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
                ask_button.click(respond, chat_inputs, chat_outputs, **asking)
                question.submit(respond, chat_inputs, chat_outputs, **asking)
                clear.click(lambda: ([], [], ""), None, [chatbot, turns, feedback_status], **private)
                up.click(
                    lambda t, c: vote_latest(t, "up", c),
                    [turns, comment],
                    [feedback_status, comment],
                    **private,
                )
                down.click(
                    lambda t, c: vote_latest(t, "down", c),
                    [turns, comment],
                    [feedback_status, comment],
                    **private,
                )
                chatbot.like(vote, [turns, comment], [feedback_status, comment], **private)
                chatbot.clear(lambda: ([], ""), None, [turns, feedback_status], **private)

            with gr.Tab("条款浏览", id="browse"):
                with gr.Row():
                    version = gr.Radio(
                        [("正式版(36项,现行)", "plan-final"), ("草案(34项,已被取代)", "plan-draft")],
                        value="plan-final",
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
                version.change(browse_rows, [version, search], [table, count], **private)
                search.change(browse_rows, [version, search], [table, count], **private)
                table.select(select_clause, [version], detail, **private)

            with gr.Tab("草案与正式版对比", id="compare"):
                task = gr.Dropdown(
                    choices,
                    value=_first_changed(choices, settings.corpus_dir),
                    label="选择任务(按正式版编号)",
                    elem_id="qa-compare-task",
                )
                diff = gr.HTML(_compare(settings.corpus_dir, task.value), elem_id="qa-diff")
                task.change(compare_task, task, diff, **private)
                with gr.Accordion("正式版相对草案的全部变化", open=True):
                    gr.HTML(_changes_html(settings.corpus_dir), elem_id="qa-changes")

        gr.Markdown(f"<small>{QUEUE_FULL_NOTE} 反馈记录在服务器本地,不含个人信息。</small>")
        gr.api(ask, api_name="ask", concurrency_id="ask", concurrency_limit=concurrency_limit)

    blocks.queue(default_concurrency_limit=concurrency_limit, max_size=max_size)
    return blocks


def _first_changed(choices: list[tuple[str, str]], corpus_dir: Path) -> str:
    changed = {_pair_key(ch.pair) for ch in _changes(corpus_dir)}
    return next((value for _, value in choices if value in changed), choices[0][1])


def launch_options(host: str = DEFAULT_HOST, port: int | None = DEFAULT_PORT, **extra: Any) -> dict[str, Any]:
    """``demo.launch`` arguments: loopback unless told, no share link, nothing leaves the machine."""
    return {
        "server_name": host,
        "server_port": port,
        "share": False,
        "show_error": True,  # only gr.Error reaches the page: our messages, never a traceback
        "theme": THEME,
        "css": CSS,
        "footer_links": ["api"],
        "run_history": False,  # a shared office computer should not keep others' questions
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        **extra,
    }


demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_options())
