"""The REST API's request and response models, with Chinese examples: the OpenAPI contract.

The response models describe the objects the CLI prints (``qa ask --json``, ``qa docs --json``,
``qa show --json``); the handlers return those objects' JSON directly, and ``tests/test_api.py``
checks with schemathesis that they match these models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from qa.lexicon import AskKind
from qa.query import MEANINGFUL
from qa.settings import K_RANGE, Settings
from qa.web.feedback import MAX_COMMENT_CHARS

__all__ = [
    "API_PREFIX",
    "MAX_BODY_BYTES",
    "MAX_QUESTION_CHARS",
    "EXAMPLE_QUESTION",
    "EXAMPLE_ANSWER",
    "ErrorDetail",
    "ErrorResponse",
    "AskRequest",
    "ResultOut",
    "AnswerResponse",
    "DocumentSummary",
    "ClauseSummary",
    "DocumentOut",
    "ClauseOut",
    "HealthOut",
    "FeedbackIn",
    "FeedbackOut",
]

API_PREFIX = "/api/v1"
# The largest request is feedback: a question (500 characters), its answer and a comment, at up to
# three bytes a character. 16 KiB holds that; anything larger is refused before it is read.
MAX_BODY_BYTES = 16 * 1024
MAX_QUESTION_CHARS = Settings().max_question_chars  # the schema's limit; the server's setting rules
MAX_ANSWER_CHARS = 4000  # of an answer quoted back in feedback
MAX_CITATIONS = 20

EXAMPLE_QUESTION = "电瓶车在楼道充电谁管?"
EXAMPLE_ANSWER: dict[str, Any] = {
    "question": EXAMPLE_QUESTION,
    "abstained": False,
    "answer": (
        "第29项 深化电动自行车安全监管(区应急局、区建设管理委、区消防救援支队牵头):"
        "推进电动自行车停放场所和充电设施建设,完善充电设施增补,形成规模适度、安全便捷的电动自行车充换电基础设施体系。\n"
        "——《长宁区城市管理精细化三年行动计划(2024-2026年)》第29项 深化电动自行车安全监管\n"
        "版本说明:正式版新增此项,草案中没有对应任务。"
    ),
    "lead": (
        "第29项 深化电动自行车安全监管(区应急局、区建设管理委、区消防救援支队牵头):"
        "推进电动自行车停放场所和充电设施建设,完善充电设施增补,形成规模适度、安全便捷的电动自行车充换电基础设施体系。"
    ),
    "coverage": "answered",
    "asks": "who",
    "missing": None,
    "results": [
        {
            "rank": 1,
            "doc_id": "plan-final",
            "doc_title": "长宁区城市管理精细化三年行动计划(2024-2026年)",
            "version": "final",
            "clause": 29,
            "title": "深化电动自行车安全监管",
            "section": "三、构筑安全管理体系,提高风险应对能力",
            "lead_units": ["区应急局", "区建设管理委", "区消防救援支队"],
            "text": (
                "29.深化电动自行车安全监管。集中开展电动自行车安全治理攻坚行动,完成拔点攻坚整治。"
                "推进电动自行车停放场所和充电设施建设,完善充电设施增补,形成规模适度、安全便捷的电动自行车充换电基础设施体系。"
                "加强车辆安全停放,提升违规入室停放和充电行为技防水平。(牵头单位:区应急局、区建设管理委、区消防救援支队)"
            ),
            "start": 4390,
            "end": 4540,
            "highlight": "推进电动自行车停放场所和充电设施建设,完善充电设施增补,形成规模适度、安全便捷的电动自行车充换电基础设施体系。",
            "highlight_start": 42,
            "highlight_end": 97,
            "score": 6.0235,
            "citation": "《长宁区城市管理精细化三年行动计划(2024-2026年)》第29项 深化电动自行车安全监管",
            "version_note": "正式版新增此项,草案中没有对应任务。",
        }
    ],
}


# ---------------------------------------------------------------------------------------------
# Models


class ErrorDetail(BaseModel):
    code: str = Field(description="机器可读的错误代码,如 invalid_question、unknown_document、busy")
    message: str = Field(description="一句纯文本说明(提问为英文时为英文),不含 HTML 转义")


class ErrorResponse(BaseModel):
    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid_question",
                        "message": "请输入一个问题,例如:电动自行车在楼道充电谁管?",
                    }
                }
            ]
        }
    )


def _json_integer(value: object) -> object:
    """What JSON Schema calls an integer: a number with no fraction, not a string or a boolean."""
    if isinstance(value, bool | str):
        raise ValueError("not an integer")
    return value


# 5.0 is the JSON integer 5 (strict=False lets it through); "5" and true are not (_json_integer).
_K = Annotated[int, Field(ge=K_RANGE[0], le=K_RANGE[1], strict=False), BeforeValidator(_json_integer)]


class ContextIn(BaseModel):
    """The ``context`` of a previous answer, passed back as it came."""

    # Strict like the request around it: a nested model keeps its own config, and in lax mode
    # "abstained": 0 passed as false, though the schema says boolean.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "clauses": ["plan-final#10"],
                    "doc": "plan-final",
                    "version": "final",
                    "subject": "第10项 升级“美丽家园”建设",
                    "question": "我家是老房子,有加装电梯的计划吗?",
                    "abstained": False,
                }
            ]
        },
    )

    clauses: list[str] = Field(max_length=20, description="上一个回答引用的条款编号,如 plan-final#10")
    doc: str | None = Field(default=None, max_length=500, description="第一个条款所在的文档")
    version: str | None = Field(default=None, max_length=500, description="第一个条款的版本:final 或 draft")
    subject: str | None = Field(
        default=None, max_length=500, description="上一问的主题,如 第10项 升级“美丽家园”建设"
    )
    question: str | None = Field(default=None, max_length=500, description="上一个问题")
    abstained: bool = Field(default=False, description="上一个回答是否表示计划中没有相关内容")


class AskRequest(BaseModel):
    """一个问题,以及可选的返回条数和筛选条件。"""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_QUESTION},
                {"question": "区房管局负责哪些任务?", "k": 10, "doc": "plan-final"},
                {"question": "小区垃圾分类有什么要求?", "section": "推进绿色低碳发展,加快生态城区建设"},
            ]
        },
    )

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        # Stated, not enforced by pydantic: the assistant refuses a wordless question with its own
        # message (and a blank one as empty), in the asker's language.
        json_schema_extra={"pattern": MEANINGFUL},
        description="问题,中文或英文,至少含一个汉字、字母或数字;英文提问时说明文字和错误信息也用英文",
        examples=[EXAMPLE_QUESTION, "第29项的牵头单位是哪些?", "Who is responsible for garbage sorting?"],
    )
    k: _K | None = Field(default=None, description="返回的引用条款数,1-20,默认 5", examples=[5])
    doc: str | None = Field(default=None, description="只在这份文档中查找(doc_id)", examples=["plan-final"])
    section: str | None = Field(
        default=None,
        description="只查正式版的这一章节(不带序号的章节名)",
        examples=["构筑安全管理体系,提高风险应对能力"],
    )
    unit: str | None = Field(default=None, description="只查这个牵头单位的任务", examples=["区房管局"])
    context: ContextIn | None = Field(
        default=None,
        description=(
            "追问的上下文:上一个回答返回的 `context` 对象,原样传回。“那谁负责?”这类没有自己主题的问题"
            "即按上一问的条款回答,回答的 `follows` 说明沿用了什么;有自己主题的问题重新检索。"
            "字段不对时返回 422;条款不存在或与 doc、version、subject 不符时返回 404 unknown_context。"
        ),
    )


class ResultOut(BaseModel):
    rank: int
    doc_id: str
    doc_title: str
    version: Literal["draft", "final"] | None = Field(description="final 正式版、draft 草案;背景材料为 null")
    clause: int | str | None = Field(description="任务序号(整数)或部分编号(如 一)")
    title: str
    section: str
    lead_units: list[str]
    text: str = Field(description="条款原文;start/end 是它在 GET /documents/{doc_id} 的 text 中的位置")
    start: int
    end: int
    highlight: str = Field(description="回答所引的原句,等于 text[highlight_start:highlight_end]")
    highlight_start: int
    highlight_end: int
    score: float
    citation: str
    version_note: str | None


class AnswerResponse(BaseModel):
    """与 ``qa ask --json`` 输出的对象相同。"""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ANSWER]})

    question: str
    abstained: bool = Field(description="为 true 时文件中没有直接回答;results 仅是可能相关的条款")
    answer: str = Field(description="回答全文:先一句话,再是计划原文、出处和版本说明")
    lead: str = Field(description="回答开头的那一句话:哪一项、谁牵头、回答问题的原句")
    coverage: Literal["answered", "partial", "none"] = Field(
        description="answered 已回答;partial 文件涉及这个话题但没有写所问的细节(见 missing);none 没有回答"
    )
    asks: AskKind = Field(
        description="问题问的是什么:金额、日期、数量、联系方式、谁、地点、原因、做法、列举、是否、是什么"
    )
    missing: str | None = Field(description="coverage 为 partial 时,文件中没有写的那部分")
    results: list[ResultOut]


class DocumentSummary(BaseModel):
    doc_id: str = Field(examples=["plan-final"])
    role: str = Field(examples=["current-plan"])
    title: str = Field(examples=["长宁区城市管理精细化三年行动计划(2024-2026年)"])
    issuer: str
    date: str | None = Field(examples=["2024-08-28"])
    version: Literal["draft", "final"] | None
    authority: Literal["current", "superseded", "background"]
    chars: int


class ClauseSummary(BaseModel):
    clause: int | str = Field(examples=[29, "一"])
    title: str = Field(examples=["深化电动自行车安全监管"])
    section: str
    lead_units: list[str] = Field(examples=[["区应急局", "区建设管理委", "区消防救援支队"]])
    start: int
    end: int


class DocumentOut(BaseModel):
    """与 ``qa show DOC_ID --json`` 输出的对象相同。"""

    doc_id: str = Field(examples=["plan-final"])
    role: str
    title: str
    issuer: str
    date: str | None
    version: Literal["draft", "final"] | None
    authority: Literal["current", "superseded", "background"]
    text: str
    clauses: list[ClauseSummary]


class ClauseOut(ClauseSummary):
    """与 ``qa show DOC_ID CLAUSE --json`` 输出的对象相同。"""

    doc_id: str = Field(examples=["plan-final"])
    text: str = Field(
        examples=["29.深化电动自行车安全监管。集中开展电动自行车安全治理攻坚行动,完成拔点攻坚整治。……"]
    )


class HealthOut(BaseModel):
    status: Literal["ready", "loading"] = Field(description="ready:索引和模型已加载,可以提问")
    build_id: str | None = Field(description="索引和调优参数的标识;变化时缓存的回答随之失效")
    chunks: int | None
    embedder: str | None
    pid: int = Field(description="回答这个请求的进程")
    concurrency: int = Field(description="同时回答的问题数上限")
    waiting: int = Field(description="正在等待回答的请求数")
    cache_entries: int


class FeedbackIn(BaseModel):
    """对一条回答的 👍/👎,可附评论;追加到服务器的反馈日志。"""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "question": EXAMPLE_QUESTION,
                    "answer": "推进电动自行车停放场所和充电设施建设……",
                    "citations": ["plan-final#29"],
                    "vote": "up",
                    "comment": "很清楚,谢谢",
                }
            ]
        },
    )

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=[EXAMPLE_QUESTION])
    answer: str = Field(default="", max_length=MAX_ANSWER_CHARS, description="被评价的回答文字")
    citations: list[Annotated[str, Field(max_length=80)]] = Field(
        default_factory=list,
        max_length=MAX_CITATIONS,
        description="回答引用的条款,doc_id#clause",
        examples=[["plan-final#29"]],
    )
    vote: Literal["up", "down"] = Field(description="up 有帮助,down 没帮助")
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS, examples=["很清楚,谢谢"])


class FeedbackOut(BaseModel):
    recorded: bool
    time: str = Field(examples=["2024-09-01T10:00:00+08:00"])
