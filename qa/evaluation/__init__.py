"""Measuring the assistant: the gold sets, metrics, ``qa eval``, ``qa tune``, ``qa bench``, ``qa loadtest``.

The pipeline in ``qa/`` never imports this package. Inside it the imports run one way:
gold <- metrics <- report <- run <- tuning, and bench and loadtest on top. The function
``qa.evaluation.run.run`` is not re-exported: under that name it would hide its module.
"""

from qa.evaluation.answers import ANSWER_METRICS, score_answers
from qa.evaluation.baseline import Baseline
from qa.evaluation.bench import run_bench
from qa.evaluation.gold import Conversation, GoldQuestion, GoldTurn, Relevant, load_conversations, load_gold
from qa.evaluation.loadtest import LoadReport, run_load
from qa.evaluation.metrics import EvalRun, Judge, Outcome, summarise
from qa.evaluation.report import write_report
from qa.evaluation.run import CONFIGS, check_thresholds
from qa.evaluation.tuning import GRID, TuningResult, tune

__all__ = [
    "ANSWER_METRICS",
    "score_answers",
    "Relevant",
    "GoldQuestion",
    "GoldTurn",
    "Conversation",
    "load_gold",
    "load_conversations",
    "Judge",
    "Outcome",
    "EvalRun",
    "summarise",
    "write_report",
    "CONFIGS",
    "check_thresholds",
    "GRID",
    "TuningResult",
    "tune",
    "Baseline",
    "run_bench",
    "LoadReport",
    "run_load",
]
