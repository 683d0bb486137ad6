"""The web page: ask the plan, browse its tasks, compare the draft with the final plan, vote.

``build_demo(assistant)`` builds the whole page over one :class:`~qa.assistant.Assistant`; the
handlers are the methods of :class:`Page`, which tests call directly. Everything the page shows
comes from the assistant: the answers (filters applied inside retrieval), the plans' titles and
task counts, the sections and lead units, the everyday words the chat understands, and the
alignment of the draft with the final plan.

A resident's view first: the page opens on the question box and example questions, even on a
390-pixel phone; an answer is shown from its top (its first line in large type, then the first
citation card); a mistake is a short hint under the box in the reader's language, never a
dialog over it. The labels follow the language of the last question, or the 中文 / English switch.

A question without a subject of its own (那谁负责?) follows on from the last answer of this
browser's conversation (the turns are a ``gr.State``: each browser session has its own); the answer
says what it took as the subject, and 换个话题 on that line asks the question again on its own.
清空对话 forgets the conversation and its subject.

The API has one public endpoint, ``/ask``: ``Client(url).predict("问题", api_name="/ask")``
returns the same object as ``qa ask --json``; optional ``k`` (1-20) and ``doc`` (a doc_id). A
follow-up's context goes through the REST API (``POST /api/v1/ask``), which keeps no conversation.
"""

from __future__ import annotations

import os

# Before gradio starts anything: it reads this whenever it would report usage, and must not.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import html  # noqa: E402
import logging  # noqa: E402
import secrets  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import wraps  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Literal, TypeVar  # noqa: E402

import gradio as gr  # noqa: E402

from qa import english  # noqa: E402
from qa.answer import Answer  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.compare import TaskPair, diff_task, pair_texts  # noqa: E402
from qa.documents import VERSION_LABELS, Version  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.plan_format import capitalised, clause_label  # noqa: E402
from qa.query import is_english, normalise, parse_query  # noqa: E402
from qa.targets import numbered_targets  # noqa: E402
from qa.web.cards import (  # noqa: E402
    CSS,
    TaskRow,
    lang_attr,
    render_answer,
    render_changes,
    render_clause,
    render_pair,
    render_question,
    render_task_table,
    status_label,
)
from qa.web.feedback import append_feedback, feedback_record  # noqa: E402

__all__ = [
    "Page",
    "build_demo",
    "page_options",
    "GENERIC_ERROR",
    "CONCURRENCY_LIMIT",
    "QUEUE_MAX_SIZE",
]

log = logging.getLogger("qa.web")

Lang = Literal["zh", "en"]

# Two cores: four questions at once keep the page responsive; more wait in a bounded queue.
CONCURRENCY_LIMIT = 4
QUEUE_MAX_SIZE = 64
MAX_TURNS = 20  # a conversation keeps its last 20 questions (the page re-sends them all each time)
GENERIC_ERROR = "系统出现意外错误,请稍后再试;错误已记录在服务器日志中。"

_FINAL, _DRAFT = VERSION_LABELS["final"], VERSION_LABELS["draft"]

# Every word of the page in both languages. Counts and titles are filled in from the documents.
_UI: dict[str, dict[str, str]] = {
    "zh": {
        "app": "问答助手",
        "intro": "用日常的话提问,回答引用计划原文,并注明出处:文件、版本、第几项和牵头单位。",
        "tab_chat": "问答",
        "tab_browse": "条款浏览",
        "tab_compare": f"{_DRAFT}与{_FINAL}对比",
        "chat": "对话",
        "question": "您的问题",
        "placeholder": "例如:电瓶车充电谁管?",
        "ask": "提问",
        "citizens": "市民常问",
        "staff": "工作人员常用",
        "filters": "筛选",
        "doc": "只查这份文档",
        "all_docs": "全部文档",
        "section": "章节",
        "all_sections": "全部章节",
        "unit": "牵头单位",
        "all_units": "全部牵头单位",
        "k": "引用条款数",
        "clear": "清空对话",
        "empty": "请先输入问题,例如:电瓶车在楼道充电谁管?",
        "error": GENERIC_ERROR,
        "filtered": "已按筛选条件({chosen})查找,保留{kept}条条款。",
        "comment": "想补充一句吗?(可选,只随这条回答记录)",
        "send": "发送评论",
        "voted_up": "谢谢!已记录您对“{q}”这条回答的评价:有帮助。",
        "voted_down": "谢谢!已记录您对“{q}”这条回答的评价:没帮助。",
        "voted_before": "您已经评价过“{q}”这条回答,每条回答只记录一次。",
        "undo": "已记录的评价会保留;每条回答只记录一次。",
        "no_answer": "找不到要评价的这条回答,请刷新页面后再试。",
        "no_turn": "找不到这条回答,请刷新页面后再试。",
        "comment_empty": "请先写下评论再发送。",
        "commented": "已收到您对“{q}”这条回答的评论,谢谢!",
        "commented_before": "这条回答已经收到过您的评论,每条回答只记录一条评论。",
        "version": "版本",
        "final_choice": f"{_FINAL}({{n}}项,现行)",
        "draft_choice": f"{_DRAFT}({{n}}项,已被取代)",
        "search": "搜索任务",
        "search_placeholder": "任务名、牵头单位、原文或日常说法,如:电瓶车",
        "count": "{label}共{total}项任务",
        "matches": ",符合“{search}”的有{n}项",
        "none": ";请换一个词再搜。",
        "expanded": "(也按计划用语查找:{words})",
        "dropped": "{draft}有,{final}已删除。版本说明:{note}",
        "pick": "点选任务名,查看该项任务的全文。",
        "table": "{label}的任务",
        "compare_search": "搜索任务",
        "compare_placeholder": "任务名或原文中的词,如:物业费",
        "task": f"选择任务(按{_FINAL}编号)",
        "compare_none": "没有符合“{search}”的任务;请换一个词再搜。",
        "all_changes": f"{_FINAL}相对{_DRAFT}的全部变化",
        "removed": "(正式版已删除)",
        "merged": "由草案{drafts}合并",
        "renumbered": "原{draft}",
        "footer": (
            "这是{plan}的问答助手:它只从这份计划及其起草、审议材料中找出原文作答,每个回答都注明出处,"
            "不代表政府部门的正式答复。对某条回答有意见,请点回答下方的 👍 或 👎 并留言;"
            "对计划本身的意见和建议,请联系起草单位{issuer}。您的评价只保存在本机服务器上,不含个人信息。"
        ),
    },
    "en": {
        "app": "questions and answers",
        "intro": (
            "Ask in your own words. Every answer quotes the plan and says where the words come from: "
            "document, version, task number and lead units."
        ),
        "tab_chat": "Ask",
        "tab_browse": "Browse tasks",
        "tab_compare": "Draft vs final",
        "chat": "Conversation",
        "question": "Your question",
        "placeholder": "e.g. Who deals with e-bikes?",
        "ask": "Ask",
        "citizens": "Residents often ask",
        "staff": "For staff",
        "filters": "Filters",
        "doc": "Only this document",
        "all_docs": "All documents",
        "section": "Section",
        "all_sections": "All sections",
        "unit": "Lead unit",
        "all_units": "All lead units",
        "k": "Clauses to cite",
        "clear": "Clear the conversation",
        "empty": "Please type a question first, e.g. Who is responsible for garbage sorting?",
        "error": "Something went wrong on our side; please try again. The error has been logged.",
        "filtered": "Searched within the filters ({chosen}): {kept} clause(s) kept.",
        "comment": "Anything to add? (optional, recorded with this answer only)",
        "send": "Send comment",
        "voted_up": "Thank you! Recorded for the answer to “{q}”: helpful.",
        "voted_down": "Thank you! Recorded for the answer to “{q}”: not helpful.",
        "voted_before": "You have already rated the answer to “{q}”; each answer is recorded once.",
        "undo": "Ratings already recorded stay; each answer is recorded once.",
        "no_answer": "That answer is no longer on the page; please reload and try again.",
        "no_turn": "That answer is no longer on the page; please reload and try again.",
        "comment_empty": "Please write a comment before sending it.",
        "commented": "Thank you! Your comment on the answer to “{q}” has been recorded.",
        "commented_before": "Your comment on this answer is already recorded; each answer takes one comment.",
        "version": "Version",
        "final_choice": "Final plan ({n} tasks, current)",
        "draft_choice": "Draft ({n} tasks, superseded)",
        "search": "Search the tasks",
        "search_placeholder": "Title, lead unit, the plan's words or everyday words, e.g. 电瓶车",
        "count": "{label}: {total} tasks",
        "matches": ", {n} match “{search}”",
        "none": ". Try another word.",
        "expanded": " (also searched in the plan's words: {words})",
        "dropped": "{draft} has it; the {final} dropped it. Version note: {note}",
        "pick": "Select a task title to read the whole task.",
        "table": "Tasks of the {label}",
        "compare_search": "Search the tasks",
        "compare_placeholder": "Words from a title or the text, e.g. 物业费",
        "task": "Choose a task (final plan numbering)",
        "compare_none": "No task matches “{search}”. Try another word.",
        "all_changes": "Every change from the draft to the final plan",
        "removed": " (dropped from the final plan)",
        "merged": "merged from {drafts}",
        "renumbered": "was {draft}",
        "footer": (
            "This assistant answers questions about {plan}. It quotes only the plan and the documents of its "
            "drafting and review, says where each quote comes from, and is not an official reply from a "
            "government department. To comment on an answer, use 👍 or 👎 under it and add a note; for comments "
            "on the plan itself, contact the drafting unit, {issuer}. Ratings stay on this server and hold no "
            "personal information."
        ),
    },
}

_VERSION_NAMES: dict[str, dict[str | None, str]] = {
    "zh": {"final": _FINAL, "draft": _DRAFT, None: VERSION_LABELS[None]},
    "en": {"final": "final plan", "draft": "draft", None: "background"},
}

EXAMPLES: dict[str, dict[str, list[str]]] = {
    "zh": {
        "citizens": [
            "电瓶车在楼道充电谁管?",
            "我家是老房子,没有电梯,有加装电梯的计划吗?",
            "小区垃圾分类有什么要求?",
        ],
        "staff": [
            "第29项的牵头单位是哪些?",
            "区房管局负责哪些任务?",
            "物业费调整草案和正式版有什么不同?",
        ],
    },
    "en": {
        "citizens": [
            "Who deals with e-bikes charging in stairwells?",
            "Is there a plan to add elevators to old buildings?",
            "Who is responsible for garbage sorting?",
        ],
        "staff": [
            "Which units lead task 29?",
            "Which tasks does 区房管局 lead?",
            "What changed in the property fee task between the draft and the final plan?",
        ],
    },
}

# What the page runs in the browser: nothing is fetched, these only move the view.
# qaShowAnswer: the new answer's top (after its question, when that is short) at the top of the
# chat box, and the page scrolled so that box and the question box below it are in view.
# qaReveal: a panel that was just filled (the task a row opened) scrolled into view and focused.
PAGE_JS = """
() => {
  document.documentElement.lang = 'zh-CN';
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const y = getComputedStyle(p).overflowY;
      if ((y === 'auto' || y === 'scroll') && p.scrollHeight > p.clientHeight + 1) return p;
    }
    return null;
  };
  const inView = (el) => {
    const r = el.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight;
  };
  window.qaSetLang = (lang) => { document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN'; };
  window.qaShowAnswer = () => {
    let tries = 0;
    const hint = document.querySelector('#qa-hint .qa-hint');
    if (hint && !inView(hint)) hint.scrollIntoView({block: 'nearest'});
    const show = () => {
      const answers = document.querySelectorAll('#qa-chat [data-answer-id]');
      const answer = answers[answers.length - 1];
      if (!answer || answer.dataset.answerId === window.qaShown) {
        if (++tries < 80) setTimeout(show, 25);  // the chat is still being drawn, or nothing new came
        return;
      }
      window.qaShown = answer.dataset.answerId;
      const questions = document.querySelectorAll('#qa-chat .qa-question');
      const question = questions[questions.length - 1];
      const top = question && question.getBoundingClientRect().height < 96 ? question : answer;
      const box = scroller(top);
      if (box) box.scrollTop += top.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
      const input = document.querySelector('#qa-question');
      if (!inView(top) || (input && !inView(input))) {
        const chat = document.querySelector('#qa-chat');
        window.scrollBy(0, chat.getBoundingClientRect().top - 8);
      }
    };
    requestAnimationFrame(show);
  };
  // 换个话题 on a follow-up's line: ask that question again on its own (Page.new_topic).
  document.addEventListener('click', (event) => {
    const link = event.target.closest('.qa-new-topic');
    if (!link) return;
    window.qaNewTopic = link.dataset.answerId;
    document.querySelector('#qa-new-topic-go')?.click();
  });
  window.qaReveal = (selector) => {
    let tries = 0;
    const reveal = () => {
      const el = document.querySelector(selector);
      if (!el) { if (++tries < 200) setTimeout(reveal, 25); return; }
      const r = el.getBoundingClientRect();
      // Already in view (beside the table on a wide screen): leave the table where the reader is.
      if (r.top < 0 || r.top > window.innerHeight - 80) {
        el.scrollIntoView({block: 'nearest'});
        if (el.getBoundingClientRect().top < 0) el.scrollIntoView({block: 'start'});
      }
      el.focus({preventScroll: true});
    };
    requestAnimationFrame(reveal);
  };
}
"""

# The line under the question box while an answer is looked up, in the page's language.
BUSY_JS = """
() => document.documentElement.lang === 'en'
  ? '<div class="qa-hint qa-busy" role="status" lang="en"><p>Looking it up in the plan…</p></div>'
  : '<div class="qa-hint qa-busy" role="status" lang="zh-CN"><p>正在计划中查找……</p></div>'
"""

# The task table: a click (or Enter) on a title button asks the server for that task.
TABLE_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-task]');
  if (!button) return;
  element.querySelectorAll('tr.qa-selected').forEach((row) => row.classList.remove('qa-selected'));
  button.closest('tr').classList.add('qa-selected');
  trigger('select', {task: Number(button.dataset.task)});
});
"""

PAGE_CSS = """
.gradio-container { font-size: 16px; }
#qa-header h1 { font-size: 1.45rem; line-height: 1.35; margin: .1em 0 .25em 0; font-weight: 700; }
#qa-header p { margin: 0; color: #374151; }
@media (max-width: 640px) { #qa-header h1 { font-size: 1.15rem; } }
#qa-chat .message-wrap .message { font-size: 16px; }
.qa-hint p { margin: .2em 0; color: #9a3412; font-weight: 600; }
.qa-busy p { color: #374151; font-weight: 400; }
.qa-h2 { font-size: 1.05rem !important; font-weight: 700 !important; margin: .6em 0 .1em 0 !important; }
#qa-chat .message-buttons .icon-button { width: 40px; height: 40px; }
#qa-chat .message-buttons .icon-button > div { width: 20px; height: 20px; }
.qa-examples button { justify-content: flex-start; text-align: left; white-space: normal; height: auto;
  min-height: 44px; }
.qa-sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
#qa-footer { color: #374151; font-size: 16px; line-height: 1.6; }
.dark #qa-header p, .dark #qa-footer { color: #d1d5db; }
/* side by side on a wide screen: the task stays in view while the table scrolls under it */
#qa-browse-row > .column { align-self: stretch; }
@media (min-width: 900px) {
  #qa-browse-detail { position: sticky; top: 8px; max-height: calc(100dvh - 16px); overflow-y: auto; }
}
:is(a, button, summary, input, textarea, select, [tabindex]):focus-visible {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px; }
#qa-top { justify-content: flex-end; margin-bottom: -8px; }
#qa-lang { flex: 0 0 auto !important; width: auto !important; min-width: 0 !important; }
#qa-lang .wrap { flex-wrap: nowrap; gap: 4px; }
#qa-lang label { padding: 2px 10px; white-space: nowrap; }
#qa-hint:not(:has(.qa-hint)) { display: none; }
.qa-hidden { display: none !important; }
"""


# Rules for what gradio draws outside the page's own blocks (its margins and footer), which the
# scoped ``css`` cannot reach.
PAGE_HEAD = """<style>
/* clip, not hidden: a hidden overflow makes a scroll container, and the task panel could not stick */
.gradio-container { overflow: clip !important; }
@media (max-width: 640px) { .gradio-container .main { padding-left: 10px !important; padding-right: 10px !important; } }
.gradio-container footer, .gradio-container footer a, .gradio-container footer button,
.gradio-container footer span, .gradio-container footer div { color: #374151 !important; }
.dark .gradio-container footer, .dark .gradio-container footer a, .dark .gradio-container footer button,
.dark .gradio-container footer span, .dark .gradio-container footer div { color: #d1d5db !important; }
</style>"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=False)


def _hint(message: str, english: bool) -> str:
    """A short line under the question box: what to do next, in the reader's language."""
    lang = "en" if english else "zh-CN"
    return f'<div class="qa-hint" role="status" lang="{lang}"><p>{_e(message)}</p></div>'


def _status(message: str, english: bool) -> str:
    lang = "en" if english else "zh-CN"
    return f'<p class="qa-rate-status" role="status" lang="{lang}">{_e(message)}</p>'


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(fn: F) -> F:
    """For the API: a user's mistake is one escaped sentence, an accident a generic one and a log entry."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except QAError as err:
            # gr.Error messages are shown as HTML: escape them (they may quote input).
            raise gr.Error(
                html.escape(str(err), quote=False), title="出错了", print_exception=False
            ) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(GENERIC_ERROR, title="出错了", print_exception=False) from None

    return run  # type: ignore[return-value]


def _pair_key(pair: TaskPair) -> str:
    return f"final:{pair.final}" if pair.final is not None else f"draft:{pair.draft}"


def _lang(value: object) -> Lang:
    return "en" if value == "en" else "zh"


class Page:
    """The page's handlers over one assistant; ``feedback_log`` is where votes are appended."""

    def __init__(self, assistant: Assistant, feedback_log: Path | None = None) -> None:
        self.assistant = assistant
        self.feedback_log = feedback_log or assistant.settings.feedback_log
        collection = assistant.collection
        self.plans = {"final": collection.current_plan, "draft": collection.superseded_plan}
        self._rows: dict[Version, list[TaskRow]] = {}
        self._haystacks: dict[Version, dict[int, str]] = {}
        for version in ("final", "draft"):
            doc = collection.plan(version)
            rows = [
                TaskRow(c, tuple(numbered_targets(doc.text[c.start : c.end])))
                for c in assistant.tasks(version)
            ]
            self._rows[version] = rows
            self._haystacks[version] = {
                int(r.clause.clause): normalise(
                    " ".join(
                        [
                            clause_label(int(r.clause.clause)),
                            doc.text[r.clause.start : r.clause.end],
                            r.clause.section,
                            *r.clause.lead_units,
                            *(assistant.lexicon.unit_aliases.get(u, u) for u in r.clause.lead_units),
                        ]
                    )
                ).lower()
                for r in rows
            }
        self._changes = {_pair_key(ch.pair): ch for ch in assistant.versions.changes}

    def text(self, lang: object, key: str, **values: object) -> str:
        """One of the page's words in ``lang``, with the documents' values filled in."""
        words = _UI[_lang(lang)][key]
        return words.format(**values) if values else words

    def _say(self, lang: Lang, key: str) -> str:
        return _status(self.text(lang, key), lang == "en")

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

    def _filter_notice(self, lang: Lang, section: str, unit: str, kept: int) -> str:
        """Which filters the answer was searched within: the reader may have forgotten setting them."""
        parts = [
            f"{self.text(lang, 'section')}: {section}" if section else "",
            f"{self.text(lang, 'unit')}: {unit}" if unit else "",
        ]
        chosen = ("; " if lang == "en" else "、").join(p for p in parts if p)
        return self.text(lang, "filtered", chosen=chosen, kept=kept)

    def messages(self, turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chatbot messages for the turns; both sides are HTML we escaped, never Markdown."""
        out: list[dict[str, Any]] = []
        for turn in turns:
            out.append({"role": "user", "content": gr.HTML(turn["question_html"], js_on_load=None)})
            out.append({"role": "assistant", "content": gr.HTML(turn["answer_html"], js_on_load=None)})
        return out

    @staticmethod
    def _votes(turns: list[dict[str, Any]]) -> list[str | None]:
        shown = {"up": "Like", "down": "Dislike"}
        return [shown.get(turn.get("vote") or "") for turn in turns]

    def _chat(self, turns: list[dict[str, Any]]) -> Any:
        messages: Any = self.messages(turns)
        return gr.Chatbot(value=messages, feedback_value=self._votes(turns), visible=bool(turns))

    def respond(
        self,
        question: str | None,
        turns: list[dict[str, Any]] | None,
        doc: str | None = "",
        section: str | None = "",
        unit: str | None = "",
        k: int | float | None = 5,
        lang: str | None = "zh",
    ) -> tuple[Any, Any, Any, str, Any]:
        """Ask within the filters and add the answer to the conversation.

        Returns the chat, the turns, "" for the question box, the hint under it (empty after an
        answer) and the page's language (the question's). A mistake leaves the conversation and
        the box as they are and says what to do in the hint.
        """
        ui = _lang(lang)
        keep = gr.skip()
        if not (question or "").strip():
            return keep, keep, keep, _hint(self.text(ui, "empty"), ui == "en"), keep
        assistant = self.assistant
        try:
            answer = assistant.ask(
                question,
                k=int(k or assistant.settings.k),
                doc=doc or None,
                section=section or None,
                unit=unit or None,
                # This browser's conversation: a question without a subject of its own follows on.
                context=_context(turns),
            )
        except QAError as err:
            return keep, keep, keep, _hint(str(err), is_english(str(err))), keep
        except Exception:
            log.exception("unexpected error answering a question")
            return keep, keep, keep, _hint(self.text(ui, "error"), ui == "en"), keep
        turn = self._turn(answer, section, unit)
        turns = [*(turns or []), turn][-MAX_TURNS:]
        return self._chat(turns), turns, "", "", "en" if answer.english else "zh"

    def new_topic(
        self,
        answer_id: str | None,
        turns: list[dict[str, Any]] | None,
        doc: str | None = "",
        section: str | None = "",
        unit: str | None = "",
        k: int | float | None = 5,
        lang: str | None = "zh",
    ) -> tuple[Any, Any, Any, str, Any]:
        """换个话题 on a follow-up: its question asked again on its own, the answer in its place.

        Returns what ``respond`` returns; the conversation goes on from the new answer.
        """
        ui = _lang(lang)
        keep = gr.skip()
        turns = list(turns or [])
        at = next((i for i, t in enumerate(turns) if t["id"] == answer_id), None)
        if at is None:
            return keep, keep, keep, _hint(self.text(ui, "no_turn"), ui == "en"), keep
        assistant = self.assistant
        try:
            answer = assistant.ask(
                turns[at]["question"],
                k=int(k or assistant.settings.k),
                doc=doc or None,
                section=section or None,
                unit=unit or None,
            )
        except QAError as err:
            return keep, keep, keep, _hint(str(err), is_english(str(err))), keep
        except Exception:
            log.exception("unexpected error answering a question on its own")
            return keep, keep, keep, _hint(self.text(ui, "error"), ui == "en"), keep
        turns[at] = self._turn(answer, section, unit)
        return self._chat(turns), turns, keep, "", "en" if answer.english else "zh"

    def _turn(self, answer: Answer, section: str | None, unit: str | None) -> dict[str, Any]:
        """One question and its answer as the conversation keeps them (in this browser's session)."""
        assistant = self.assistant
        english = answer.english
        notice = None
        if (section or unit) and answer.results:  # an emptied answer already says which filters
            notice = self._filter_notice(
                "en" if english else "zh", section or "", unit or "", len(answer.results)
            )
        answer_id = secrets.token_hex(6)
        return {
            "id": answer_id,
            "question": answer.question,
            "answer": answer.to_dict(),
            "question_html": render_question(answer.question, english),
            "answer_html": render_answer(
                answer, assistant.collection, english, notice, answer_id, assistant.lexicon.english
            ),
            "vote": None,
        }

    def clear(self) -> tuple[Any, list[dict[str, Any]], str, Any]:
        """A new conversation: the chat, the turns, the hint and the rating panel emptied."""
        return self._chat([]), [], "", gr.Group(visible=False)

    # --- feedback -----------------------------------------------------------------------------

    def _record(self, turn: dict[str, Any], vote: str, comment: str = "") -> None:
        answer = turn["answer"]
        citations = [
            f"{r['doc_id']}#{r['clause']}" if r["clause"] is not None else r["doc_id"]
            for r in answer["results"]
        ]
        record = feedback_record(
            answer["question"], answer["answer"], citations, vote, comment, answer_id=turn["id"]
        )
        append_feedback(self.feedback_log, record)

    def vote(
        self, turns: list[dict[str, Any]] | None, lang: str | None, data: gr.LikeData
    ) -> tuple[Any, list[dict[str, Any]], str, str, Any]:
        """👍/👎 under one answer: recorded once per answer; the comment box then belongs to it.

        Returns the chat (showing the recorded votes), the turns, the status, the id of the answer
        the comment box now belongs to, and the rating panel.
        """
        ui = _lang(lang)
        turns = [dict(t) for t in (turns or [])]
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        position = int(index) // 2
        panel = gr.Group(visible=True)
        if not 0 <= position < len(turns):
            return gr.skip(), turns, self._say(ui, "no_answer"), "", panel
        turn = turns[position]
        q = _short(turn["question"])
        if turn.get("vote"):
            status = self.text(ui, "voted_before" if data.liked in (True, False) else "undo", q=q)
            # Put the buttons back to the vote that counts.
            return (
                gr.Chatbot(feedback_value=self._votes(turns)),
                turns,
                _status(status, ui == "en"),
                turn["id"],
                panel,
            )
        if data.liked not in (True, False):
            return gr.skip(), turns, self._say(ui, "undo"), "", panel
        vote = "up" if data.liked else "down"
        try:
            self._record(turn, vote)
        except Exception:
            log.exception("could not record a vote")
            return gr.skip(), turns, self._say(ui, "error"), "", panel
        turn["vote"] = vote
        status = self.text(ui, "voted_up" if vote == "up" else "voted_down", q=q)
        return (
            gr.Chatbot(feedback_value=self._votes(turns)),
            turns,
            _status(status, ui == "en"),
            turn["id"],
            panel,
        )

    def send_comment(
        self, turns: list[dict[str, Any]] | None, answer_id: str | None, comment: str | None, lang: str | None
    ) -> tuple[list[dict[str, Any]], str, Any]:
        """The comment on the answer just rated: one more log line with that answer's id and vote.

        Returns the turns, the status and the comment box (emptied once sent).
        """
        ui = _lang(lang)
        turns = [dict(t) for t in (turns or [])]
        turn = next((t for t in turns if t["id"] == answer_id and t.get("vote")), None)
        if turn is None:
            return turns, self._say(ui, "no_answer"), gr.skip()
        if not (comment or "").strip():
            return turns, self._say(ui, "comment_empty"), gr.skip()
        if turn.get("commented"):
            # One vote and one comment per answer: a session writes at most two lines an answer.
            return turns, self._say(ui, "commented_before"), gr.skip()
        try:
            self._record(turn, turn["vote"], comment or "")
        except QAError as err:
            return turns, _status(str(err), False), gr.skip()
        except Exception:
            log.exception("could not record a comment")
            return turns, self._say(ui, "error"), gr.skip()
        turn["commented"] = True
        return turns, _status(self.text(ui, "commented", q=_short(turn["question"])), ui == "en"), ""

    # --- clause browser -----------------------------------------------------------------------

    def _terms(self, search: str) -> list[tuple[str, ...]]:
        """Each word of a search with the plan's own wording for it (电瓶车 -> 电动自行车)."""
        out = []
        # Cut before normalising, as a question is checked: its cost must not grow with its length.
        if len(search) > self.assistant.settings.max_question_chars:
            search = search[: self.assistant.settings.max_question_chars]
        for word in normalise(search).lower().split():
            try:
                query = parse_query(word, self.assistant.settings.max_question_chars, self.assistant.lexicon)
                extra = tuple(e.lower() for e in query.expansions)
            except QAError:
                extra = ()
            out.append((word, *extra))
        return out

    def matching(self, version: Version, search: str | None) -> list[int]:
        """The tasks of a plan in which every word of ``search`` occurs, as written or as the
        plan words it in the lexicon's everyday wording; every task for an empty search."""
        terms = self._terms(search or "")
        return [
            n
            for n, hay in self._haystacks[version].items()
            if all(any(t in hay for t in alternatives) for alternatives in terms)
        ]

    def _dropped(self, lang: Lang, search: str, final_found: list[int]) -> list[str]:
        """Where the superseded plan has the words and the current plan no longer does."""
        versions = self.assistant.versions
        draft_id = versions.draft.doc_id
        en = lang == "en"
        out = []
        for d in self.matching("draft", search):
            pair = versions.pair_of(draft_id, d)
            if pair is None or (pair.final is not None and pair.final in final_found):
                continue
            # The current task's note says what was dropped; a task dropped whole has only the draft's.
            note = versions.notes_in(en).get(
                (versions.final.doc_id, pair.final) if pair.final is not None else (draft_id, d), ""
            )
            out.append(
                self.text(
                    lang,
                    "dropped",
                    draft=clause_label(d, en, superseded=True),
                    final=_VERSION_NAMES[lang]["final"],
                    note=note,
                )
            )
        return out

    def browse(
        self, version: str | None, search: str | None = "", lang: str | None = "zh"
    ) -> tuple[str, str]:
        """The tasks of a plan that match ``search``, grouped by section, and a line that counts them
        and says where only the superseded plan has the words.

        Returns the table's HTML and the count's HTML.
        """
        ui = _lang(lang)
        plan: Version = "draft" if version == "draft" else "final"
        search = (search or "").strip()
        found = set(self.matching(plan, search))
        rows = [r for r in self._rows[plan] if int(r.clause.clause) in found]
        label = _VERSION_NAMES[ui][plan]
        count = self.text(ui, "count", label=capitalised(label), total=len(self._rows[plan]))
        lines: list[str] = []
        if search:
            count += self.text(ui, "matches", search=search, n=len(rows))
            words = sorted({t for alts in self._terms(search) for t in alts[1:]})
            if words:
                count += self.text(ui, "expanded", words="、".join(words))
            final_found = self.matching("final", search)
            lines = self._dropped(ui, search, final_found)
            if not rows and not lines:
                count += self.text(ui, "none")
        parts = [
            f'<p role="status">{_e(count)}</p>',
            *(f'<p class="qa-note" lang="{"en" if ui == "en" else "zh-CN"}">{_e(x)}</p>' for x in lines),
        ]
        table = (
            render_task_table(
                rows, ui == "en", self.text(ui, "table", label=label), self.assistant.lexicon.english
            )
            if rows
            else ""
        )
        return table, "".join(parts)

    def task_detail(self, version: str | None, number: object, lang: str | None = "zh") -> str:
        """The whole task, its targets and how it changed between the draft and the final plan."""
        ui = _lang(lang)
        plan: Version = "draft" if version == "draft" else "final"
        doc = self.plans[plan]
        try:
            n = int(str(number))
        except ValueError:
            return f'<p class="qa-muted">{_e(self.text(ui, "pick"))}</p>'
        for row in self._rows[plan]:
            if row.clause.clause == n:
                note = self.assistant.versions.notes_in(ui == "en").get((doc.doc_id, n))
                return render_clause(
                    doc, row.clause, row.targets, note, ui == "en", self.assistant.lexicon.english
                )
        return f'<p class="qa-muted">{_e(self.text(ui, "pick"))}</p>'

    def select_task(self, version: str | None, lang: str | None, evt: gr.EventData) -> tuple[str, int | None]:
        """A task title in the table was chosen: its whole text, and the number to remember."""
        number = getattr(evt, "_data", {}).get("task") if evt is not None else None
        try:
            n = int(number) if number is not None else None
        except (TypeError, ValueError):
            n = None
        return self.task_detail(version, n, lang), n

    # --- comparison ---------------------------------------------------------------------------

    def compare_choices(self, lang: str | None = "zh", search: str | None = "") -> list[tuple[str, str]]:
        """Dropdown entries by final numbering (a removed task under its draft number), only those
        whose title or text in either plan matches ``search``."""
        ui = _lang(lang)
        en = ui == "en"
        final_found = set(self.matching("final", search))
        draft_found = set(self.matching("draft", search))
        out = []
        for pair in self.assistant.versions.pairs:
            if (pair.final is None or pair.final not in final_found) and not (set(pair.drafts) & draft_found):
                continue
            if pair.final is None:
                assert pair.draft is not None
                label = f"{clause_label(pair.draft, en, superseded=True)} {pair.draft_title}{self.text(ui, 'removed')}"
            else:
                status = status_label(pair.status, en)
                if pair.status == "merged":
                    drafts = (", " if en else "、").join(
                        clause_label(n, en, superseded=en) for n in pair.draft_merged
                    )
                    status = self.text(ui, "merged", drafts=drafts)
                elif pair.status == "renumbered" and pair.draft is not None:
                    status = self.text(ui, "renumbered", draft=clause_label(pair.draft, en, superseded=True))
                label = f"{capitalised(clause_label(pair.final, en))} {pair.final_title}({status})"
            out.append((label, _pair_key(pair)))
        return out

    def compare_task(self, key: str | None, lang: str | None = "zh") -> str:
        """Draft and final side by side for one task, changes highlighted, with the report's reason."""
        ui = _lang(lang)
        versions = self.assistant.versions
        for pair in versions.pairs:
            if _pair_key(pair) == key:
                old, new = pair_texts(pair, versions.draft, versions.final)
                change = self._changes.get(key)
                en = ui == "en"
                if change is not None:
                    summary = change.summary_en if en else change.summary
                    return render_pair(pair, summary, change.reasons, diff_task(old, new), en)
                notes = versions.notes_in(en)
                note = notes.get((versions.final.doc_id, pair.final)) if pair.final else None
                return render_pair(pair, note, (), diff_task(old, new), en)
        return ""

    def compare_search(self, search: str | None, key: str | None, lang: str | None) -> tuple[Any, str]:
        """The task picker narrowed to the tasks whose title or text has the words; the first one shown."""
        ui = _lang(lang)
        choices = self.compare_choices(ui, search)
        if not choices:
            message = self.text(ui, "compare_none", search=(search or "").strip())
            return gr.Dropdown(choices=[], value=None), f'<p role="status">{_e(message)}</p>'
        keys = [value for _, value in choices]
        chosen = key if key in keys else keys[0]
        return gr.Dropdown(choices=choices, value=chosen), self.compare_task(chosen, ui)

    def first_changed(self) -> str:
        """The first task the final plan changed: what the comparison tab opens on."""
        choices = [value for _, value in self.compare_choices()]
        return next((value for value in choices if value in self._changes), choices[0])

    def changes_html(self, lang: str | None = "zh") -> str:
        return render_changes(self.assistant.versions.changes, _lang(lang) == "en")

    # --- the page's words -----------------------------------------------------------------------

    def header(self, lang: str | None) -> str:
        ui = _lang(lang)
        title = self.plans["final"].title
        name = self.assistant.lexicon.english(title) if ui == "en" else None
        if name:  # the glossary's name of the plan, an unofficial translation as the footer says
            h1 = f"{_e(name)} · {_e(self.text(ui, 'app'))}"
        elif ui == "en":
            h1 = f'<span lang="zh-CN">{_e(title)}</span> · {_e(self.text(ui, "app"))}'
        else:
            h1 = f"{_e(title)} · {_e(self.text(ui, 'app'))}"
        lang_attr = "en" if ui == "en" else "zh-CN"
        return f'<div lang="{lang_attr}"><h1>{h1}</h1><p>{_e(self.text(ui, "intro"))}</p></div>'

    def footer(self, lang: str | None) -> str:
        ui = _lang(lang)
        plan = self.plans["final"].cite_title
        issuer = self.plans["draft"].issuer
        text = self.text(ui, "footer", plan="\0", issuer="\1")
        if ui == "en":
            text += " " + english.UNOFFICIAL
            names = self.assistant.lexicon.english
            plan = english.document_name(self.plans["final"].title, plan, names)
            issuer = english.units([issuer], names)
        text = _e(text).replace("\0", f"<span{lang_attr(plan)}>{_e(plan)}</span>")
        text = text.replace("\1", f"<span{lang_attr(issuer)}>{_e(issuer)}</span>")
        return f'<p lang="{"en" if ui == "en" else "zh-CN"}">{text}</p>'

    def heading(self, lang: str | None, key: str) -> str:
        ui = _lang(lang)
        return f'<h2 class="qa-h2" lang="{"en" if ui == "en" else "zh-CN"}">{_e(self.text(ui, key))}</h2>'

    def doc_choices(self, lang: str | None) -> list[tuple[str, str]]:
        ui = _lang(lang)
        names = _VERSION_NAMES[ui]
        out = [(self.text(ui, "all_docs"), "")]
        for d in self.assistant.collection.documents:
            kind = names[d.version]
            title = d.cite_title
            if ui == "en":
                title = english.document_name(d.title, title, self.assistant.lexicon.english)
            out.append((f"{title}({kind})", d.doc_id))
        return out

    def version_choices(self, lang: str | None) -> list[tuple[str, str]]:
        ui = _lang(lang)
        return [
            (self.text(ui, "final_choice", n=len(self._rows["final"])), "final"),
            (self.text(ui, "draft_choice", n=len(self._rows["draft"])), "draft"),
        ]


def _short(question: str, limit: int = 24) -> str:
    return question if len(question) <= limit else question[: limit - 1] + "…"


def _context(turns: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The context of the conversation's last answer; None before the first or after 清空对话."""
    if not turns:
        return None
    context = turns[-1]["answer"].get("context")
    return context if isinstance(context, dict) else None


# ---------------------------------------------------------------------------------------------
# The page

THEME = gr.themes.Default(
    primary_hue="blue",
    text_size=gr.themes.sizes.text_lg,  # 16 px body text: readable on a phone, no zoom on focus
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
).set(
    input_placeholder_color="*neutral_500",
    color_accent="*primary_700",
    color_accent_soft="*primary_50",
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_border_color="*primary_700",
    checkbox_background_color_selected="*primary_700",
    checkbox_border_color_selected="*primary_700",
    slider_color="*primary_700",
    input_placeholder_color_dark="*neutral_400",
    block_label_text_size="*text_md",
    block_info_text_size="*text_md",
    block_title_text_size="*text_md",
    section_header_text_size="*text_md",
    button_small_text_size="*text_md",
)


def page_options() -> dict[str, Any]:
    """What ``demo.launch`` and ``gr.mount_gradio_app`` both take to show the page as designed:
    theme, styles, the page's script, no share or monitoring, and nothing that leaves the machine."""
    return {
        "theme": THEME,
        "css": CSS + PAGE_CSS,
        "js": PAGE_JS,
        "head": PAGE_HEAD,
        "footer_links": ["api"],
        "show_error": True,  # only gr.Error reaches the API: our messages, never a traceback
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
    t = page.text
    zh: Lang = "zh"
    private: dict[str, Any] = {"api_visibility": "private"}
    quiet: dict[str, Any] = {**private, "show_progress": "hidden"}
    first_table, first_count = page.browse("final", "", zh)
    first_pair = page.first_changed()

    with gr.Blocks(title=f"{page.plans['final'].title} · {t(zh, 'app')}", analytics_enabled=False) as blocks:
        with gr.Row(elem_id="qa-top"):  # the switch on a line of its own: top right, also on a phone
            lang = gr.Radio(
                [("中文", "zh"), ("English", "en")],
                value="zh",
                label="语言 / Language",
                show_label=False,
                container=False,
                elem_id="qa-lang",
                scale=0,
                min_width=170,
            )
        header = gr.HTML(page.header(zh), elem_id="qa-header")
        with gr.Tabs():
            with gr.Tab(t(zh, "tab_chat"), id="chat", elem_id="qa-tab-chat") as tab_chat:
                turns = gr.State([])
                rating = gr.State("")
                with gr.Row():
                    with gr.Column(scale=3, min_width=300):
                        chatbot = gr.Chatbot(
                            label=t(zh, "chat"),
                            show_label=False,
                            visible=False,  # until there is a conversation: the first screen is for asking
                            height="auto",
                            max_height="calc(100dvh - 200px)",  # the question box stays in view below it
                            autoscroll=False,  # the page shows a new answer from its top instead
                            elem_id="qa-chat",
                            layout="panel",
                            feedback_options=("Like", "Dislike"),
                            buttons=["copy_all"],  # no share button: nothing leaves the machine
                        )
                        with gr.Row(equal_height=True, elem_id="qa-ask-row"):
                            question = gr.Textbox(
                                label=t(zh, "question"),
                                placeholder=t(zh, "placeholder"),
                                lines=1,  # Enter asks only in a one-line box (it grows as one types)
                                max_lines=6,
                                scale=5,
                                min_width=200,
                                elem_id="qa-question",
                            )
                            ask_button = gr.Button(
                                t(zh, "ask"), variant="primary", scale=0, min_width=88, elem_id="qa-ask"
                            )
                        hint = gr.HTML("", elem_id="qa-hint")
                        with gr.Group(visible=False, elem_id="qa-rate") as rate_panel:
                            rate_status = gr.HTML("", elem_id="qa-rate-status")
                            comment = gr.Textbox(label=t(zh, "comment"), max_lines=3, elem_id="qa-comment")
                            send = gr.Button(t(zh, "send"), size="md", elem_id="qa-send")
                    with gr.Column(scale=2, min_width=260, elem_classes=["qa-examples"]):
                        example_heads: list[gr.HTML] = []
                        example_buttons: list[tuple[str, int, gr.Button]] = []
                        for group in ("citizens", "staff"):
                            example_heads.append(gr.HTML(page.heading(zh, group)))
                            for i, text in enumerate(EXAMPLES["zh"][group]):
                                button = gr.Button(
                                    text, size="md", variant="secondary", elem_classes=["qa-example"]
                                )
                                example_buttons.append((group, i, button))
                        with gr.Accordion(t(zh, "filters"), open=False, elem_id="qa-filters") as filters:
                            doc = gr.Dropdown(page.doc_choices(zh), value="", label=t(zh, "doc"))
                            section = gr.Dropdown(
                                [(t(zh, "all_sections"), ""), *((s, s) for s in assistant.sections)],
                                value="",
                                label=t(zh, "section"),
                            )
                            unit = gr.Dropdown(
                                [(t(zh, "all_units"), ""), *((u, u) for u in assistant.lead_units)],
                                value="",
                                label=t(zh, "unit"),
                            )
                            k = gr.Slider(1, 20, value=assistant.settings.k, step=1, label=t(zh, "k"))
                        clear = gr.Button(t(zh, "clear"), size="md", elem_id="qa-clear")
                        # 换个话题 on a follow-up's line clicks this (hidden) button with that answer's id.
                        new_topic_id = gr.Textbox(visible=False)
                        new_topic = gr.Button("", elem_id="qa-new-topic-go", elem_classes=["qa-hidden"])

                # One concurrency group for every question, from the page or the API alike.
                asking: dict[str, Any] = {
                    **quiet,
                    "concurrency_id": "ask",
                    "concurrency_limit": concurrency_limit,
                }
                chat_outputs = [chatbot, turns, question, hint, lang]
                show_answer: dict[str, Any] = {"js": "() => window.qaShowAnswer()", **private}
                filters_in = [turns, doc, section, unit, k, lang]
                # While the answer is looked up, a quiet line under the box says so (nothing covers it).
                triggers = [ask_button.click, question.submit]
                sources: list[gr.components.Component] = [question, question]
                for _, _, button in example_buttons:
                    triggers.append(button.click)
                    sources.append(button)
                for trigger, source in zip(triggers, sources, strict=True):
                    trigger(None, None, [hint], js=BUSY_JS, **private).then(
                        page.respond, [source, *filters_in], chat_outputs, **asking
                    ).then(None, None, None, **show_answer)
                new_topic.click(
                    page.new_topic,
                    [new_topic_id, *filters_in],
                    chat_outputs,
                    js="(id, ...rest) => [window.qaNewTopic || '', ...rest]",
                    **asking,
                ).then(None, None, None, **show_answer)
                clear.click(page.clear, None, [chatbot, turns, hint, rate_panel], **quiet)
                # the chat's own 🗑 button empties the display; the turns behind it go too
                chatbot.clear(page.clear, None, [chatbot, turns, hint, rate_panel], **quiet)
                chatbot.like(
                    page.vote, [turns, lang], [chatbot, turns, rate_status, rating, rate_panel], **quiet
                )
                send.click(
                    page.send_comment, [turns, rating, comment, lang], [turns, rate_status, comment], **quiet
                )

            with gr.Tab(t(zh, "tab_browse"), id="browse", elem_id="qa-tab-browse") as tab_browse:
                selected = gr.State(None)
                with gr.Row():
                    version = gr.Radio(
                        page.version_choices(zh),
                        value="final",
                        label=t(zh, "version"),
                        scale=2,
                        min_width=240,
                    )
                    search = gr.Textbox(
                        label=t(zh, "search"),
                        placeholder=t(zh, "search_placeholder"),
                        scale=3,
                        min_width=240,
                        elem_id="qa-browse-search",
                    )
                count = gr.HTML(first_count, elem_id="qa-browse-count")
                with gr.Row(elem_id="qa-browse-row"):
                    with gr.Column(scale=3, min_width=300):
                        table = gr.HTML(first_table, elem_id="qa-browse-table", js_on_load=TABLE_JS)
                    with gr.Column(scale=2, min_width=300):
                        detail = gr.HTML(page.task_detail("final", None, zh), elem_id="qa-browse-detail")
                browse_inputs = [version, search, lang]
                search.change(page.browse, browse_inputs, [table, count], trigger_mode="always_last", **quiet)
                version.change(page.browse, browse_inputs, [table, count], **quiet).then(
                    lambda v, lg: (page.task_detail(v, None, lg), None),
                    [version, lang],
                    [detail, selected],
                    **quiet,
                )
                table.select(page.select_task, [version, lang], [detail, selected], **quiet).then(
                    None, None, None, js="() => window.qaReveal('#qa-browse-detail .qa-detail')", **private
                )

            with gr.Tab(t(zh, "tab_compare"), id="compare", elem_id="qa-tab-compare") as tab_compare:
                compare_search = gr.Textbox(
                    label=t(zh, "compare_search"),
                    placeholder=t(zh, "compare_placeholder"),
                    elem_id="qa-compare-search",
                )
                task = gr.Dropdown(
                    page.compare_choices(zh),
                    value=first_pair,
                    label=t(zh, "task"),
                    elem_id="qa-compare-task",
                )
                diff = gr.HTML(page.compare_task(first_pair, zh), elem_id="qa-diff")
                task.change(page.compare_task, [task, lang], diff, **quiet)
                compare_search.change(
                    page.compare_search,
                    [compare_search, task, lang],
                    [task, diff],
                    trigger_mode="always_last",
                    **quiet,
                )
                with gr.Accordion(t(zh, "all_changes"), open=True) as changes_box:
                    changes = gr.HTML(page.changes_html(zh), elem_id="qa-changes")

        footer = gr.HTML(page.footer(zh), elem_id="qa-footer")

        def relabel(
            ui_value: str,
            version_value: str,
            search_value: str,
            chosen: int | None,
            key: str,
            find: str,
            doc_value: str,
            section_value: str,
            unit_value: str,
        ) -> list[Any]:
            """Every word on the page in the chosen language; answers keep their question's language."""
            ui = _lang(ui_value)
            table_html, count_html = page.browse(version_value, search_value, ui)
            choices = page.compare_choices(ui, find)
            keys = [value for _, value in choices]
            updates: list[Any] = [
                page.header(ui),
                gr.Tab(label=t(ui, "tab_chat")),
                gr.Tab(label=t(ui, "tab_browse")),
                gr.Tab(label=t(ui, "tab_compare")),
                gr.Chatbot(label=t(ui, "chat")),
                gr.Textbox(label=t(ui, "question"), placeholder=t(ui, "placeholder")),
                gr.Button(value=t(ui, "ask")),
                "",
                gr.Textbox(label=t(ui, "comment")),
                gr.Button(value=t(ui, "send")),
                *(page.heading(ui, group) for group in ("citizens", "staff")),
                *(gr.Button(value=EXAMPLES[ui][group][i]) for group, i, _ in example_buttons),
                gr.Accordion(label=t(ui, "filters")),
                gr.Dropdown(choices=page.doc_choices(ui), value=doc_value, label=t(ui, "doc")),
                gr.Dropdown(
                    choices=[(t(ui, "all_sections"), ""), *((s, s) for s in assistant.sections)],
                    value=section_value,
                    label=t(ui, "section"),
                ),
                gr.Dropdown(
                    choices=[(t(ui, "all_units"), ""), *((u, u) for u in assistant.lead_units)],
                    value=unit_value,
                    label=t(ui, "unit"),
                ),
                gr.Slider(label=t(ui, "k")),
                gr.Button(value=t(ui, "clear")),
                gr.Radio(choices=page.version_choices(ui), value=version_value, label=t(ui, "version")),
                gr.Textbox(label=t(ui, "search"), placeholder=t(ui, "search_placeholder")),
                table_html,
                count_html,
                page.task_detail(version_value, chosen, ui),
                gr.Textbox(label=t(ui, "compare_search"), placeholder=t(ui, "compare_placeholder")),
                gr.Dropdown(choices=choices, value=key if key in keys else None, label=t(ui, "task")),
                page.compare_task(key, ui) if key in keys else "",
                gr.Accordion(label=t(ui, "all_changes")),
                page.changes_html(ui),
                page.footer(ui),
            ]
            return updates

        relabelled = [
            header,
            tab_chat,
            tab_browse,
            tab_compare,
            chatbot,
            question,
            ask_button,
            hint,
            comment,
            send,
            *example_heads,
            *(button for _, _, button in example_buttons),
            filters,
            doc,
            section,
            unit,
            k,
            clear,
            version,
            search,
            table,
            count,
            detail,
            compare_search,
            task,
            diff,
            changes_box,
            changes,
            footer,
        ]
        lang.change(
            relabel,
            [lang, version, search, selected, task, compare_search, doc, section, unit],
            relabelled,
            **quiet,
        ).then(None, [lang], None, js="(lang) => window.qaSetLang(lang)", **private)
        gr.api(page.ask, api_name="ask", concurrency_id="ask", concurrency_limit=concurrency_limit)

    blocks.queue(default_concurrency_limit=concurrency_limit, max_size=max_size)
    return blocks
