"""The ``qa`` command: qa docs | show | build | ask | eval | bench | serve | loadtest."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from qa.documents import AUTHORITY_LABELS, VERSION_LABELS, Collection, load_collection
from qa.errors import QAError
from qa.settings import Settings, load_settings
from qa.structure import parse_clauses

__all__ = ["main"]

Command = Callable[[argparse.Namespace, Settings], int]


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _collection(settings: Settings) -> Collection:
    return load_collection(settings.corpus_dir)


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    coll = _collection(settings)
    if args.json:
        _print_json([d.meta() for d in coll.documents])
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
    clauses = parse_clauses(doc)
    if args.json:
        meta = doc.meta()
        meta.pop("chars")
        _print_json({**meta, "text": doc.text, "clauses": [_clause_json(c.as_dict()) for c in clauses]})
        return 0
    print(f"{doc.cite_title}")
    print(
        f"发布:{doc.issuer}  日期:{doc.date or '未注明'}  版本:{VERSION_LABELS[doc.version]}  效力:{AUTHORITY_LABELS[doc.authority]}"
    )
    if doc.authority == "superseded":
        print("注意:这是征求意见的草案,现行内容以《长宁区城市管理精细化三年行动计划(2024-2026年)》为准。")
    print()
    if not clauses:
        print(doc.text)
        return 0
    for c in clauses:
        head = f"第{c.clause}项" if c.kind == "task" else f"{c.clause}"
        print(f"【{head}】{c.title}" + (f"  〔{c.section}〕" if c.section else ""))
        if c.lead_units:
            print(f"  牵头单位:{'、'.join(c.lead_units)}")
        print(f"  {doc.text[c.start : c.end]}")
        print()
    return 0


def _clause_json(d: dict[str, object]) -> dict[str, object]:
    d.pop("kind", None)
    return d


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="长宁区城市管理精细化三年行动计划 问答助手:每个回答都给出原文条款。"
    )
    parser.add_argument("--corpus-dir", help="文档目录(默认 corpus/,或 QA_CORPUS_DIR)")
    parser.add_argument("--index-dir", help="索引目录(默认 index/,或 QA_INDEX_DIR)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("docs", help="列出十份文档")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("show", help="显示一份文档及其条款")
    p.add_argument("doc_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


# Later stages (retrieval, evaluation, the web page) add their sub-commands here, so this module
# never imports heavy dependencies that `qa docs` does not need.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = load_settings(corpus_dir=args.corpus_dir, index_dir=args.index_dir)
    try:
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
