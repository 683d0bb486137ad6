"""Measuring the assistant: the gold sets, metrics, ``qa eval``, ``qa tune``, ``qa bench``, ``qa loadtest``.

The pipeline in ``qa/`` never imports this package. Inside it the imports run one way:
gold <- metrics <- conversations <- run <- tuning (metrics <- report <- run too), and bench and
loadtest on top. The function
``qa.evaluation.run.run`` is not re-exported: under that name it would hide its module.
"""

from qa.evaluation.answers import ANSWER_METRICS, score_answers
from qa.evaluation.baseline import Baseline
from qa.evaluation.bench import run_bench
from qa.evaluation.conversations import ask_conversations
from qa.evaluation.gold import Conversation, GoldQuestion, GoldTurn, Relevant, load_conversations, load_gold
from qa.evaluation.loadtest import LoadReport, run_load
from qa.evaluation.metrics import EvalRun, Judge, Outcome, TurnOutcome, summarise, summarise_turns
from qa.evaluation.report import write_report
from qa.evaluation.run import CONFIGS, check_thresholds
from qa.evaluation.tuning import FOLLOWUP_GRID, GRID, TuningResult, tune, tune_followups

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
    "TurnOutcome",
    "summarise_turns",
    "ask_conversations",
    "write_report",
    "CONFIGS",
    "check_thresholds",
    "GRID",
    "TuningResult",
    "tune",
    "FOLLOWUP_GRID",
    "tune_followups",
    "Baseline",
    "run_bench",
    "LoadReport",
    "run_load",
]
