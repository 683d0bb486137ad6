"""``qa bench``: how fast and how big the assistant is on this machine, next to the naive baseline.

One run measures, for the assistant and for ``qa.evaluation.baseline`` alike:

* ``build_s``: a fresh index build into a temporary folder (the embedder is loaded before the
  clock starts; chunking, embedding, BM25 and writing are inside it).
* ``cold_start_s``: a new Python process that imports the package, loads that built index and
  answers one question, timed from spawning it to the answer being printed (median of a few runs).
  The child refuses to build, so a mismatched index fails loudly instead of timing a build.
* ``rss_mb``: the peak resident memory of that child (``VmHWM`` in ``/proc/self/status``; not
  ``ru_maxrss``, which on Linux starts from the parent's peak when the benchmark process is the
  bigger one). It runs the configured embedder only; the child reports whether
  ``sentence_transformers`` or ``torch`` got imported.
* ``p50_ms`` / ``p95_ms``: in-process latency of ``ask(question, k=5)`` over every gold question
  (both splits), timed by ``qa.evaluation.run.run`` after a warm-up question.
* ``hit_at_1`` / ``hit_at_5``: on the gold set's TEST split, judged as ``qa eval`` judges.

``ratios`` divides ours by the baseline's (quality above 1 is better, time and memory below 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from qa.errors import QAError
from qa.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from qa.embedders import Embedder
    from qa.evaluation.gold import GoldQuestion

__all__ = [
    "KEYS",
    "ColdStart",
    "measure_build",
    "measure_cold_start",
    "measure_questions",
    "machine",
    "ratios",
    "run_bench",
    "cli_bench",
]

KEYS = ("build_s", "cold_start_s", "p50_ms", "p95_ms", "rss_mb", "hit_at_1", "hit_at_5")
FIRST_QUESTION = "电动自行车在楼道充电谁管?"
Pipeline = Literal["assistant", "baseline"]

# The child of a cold start. It may not build: a build would be timed as a "start".
_COLD_CHILD = r"""
import json, resource, sys, time
began = time.perf_counter()
from pathlib import Path
import qa.index
from qa.settings import Settings

def _refuse(*args, **kwargs):
    print(json.dumps({"error": "index missing or out of date: the benchmark child will not build it"}), flush=True)
    raise SystemExit(3)

def _peak_kb():
    # VmHWM belongs to this process's own memory map, which exec created. ru_maxrss does not:
    # Linux carries the parent's high-water mark into a forked child, even across exec.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

qa.index.build_index = _refuse
spec = json.loads(sys.argv[1])
fields = spec["settings"]
settings = Settings(**{k: Path(v) if k.endswith(("_dir", "_log")) else v for k, v in fields.items()})
if spec["pipeline"] == "assistant":
    # Only what qa ask and qa serve import: the measurement tooling stays out of the figure.
    from qa.assistant import Assistant
    imported = time.perf_counter()
    engine = Assistant(settings)
else:
    from qa.evaluation.baseline import Baseline
    Baseline._build = _refuse
    imported = time.perf_counter()
    engine = Baseline(settings)
loaded = time.perf_counter()
answer = engine.ask(spec["question"])
answered = time.perf_counter()
print(json.dumps({
    "results": len(answer.results),
    "import_s": imported - began,
    "load_s": loaded - imported,
    "first_ask_s": answered - loaded,
    "maxrss_kb": _peak_kb(),
    "st_imported": "sentence_transformers" in sys.modules,
    "torch_imported": "torch" in sys.modules,
}), flush=True)
"""


@dataclass(frozen=True)
class ColdStart:
    seconds: float  # median over the runs
    rss_mb: float  # the largest peak over the runs
    parts: dict[str, float]  # import_s, load_s, first_ask_s of the median run (inside the child)
    st_imported: bool  # sentence-transformers or torch was imported by the child


def _settings_json(settings: Settings) -> dict[str, object]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()}


def measure_build(settings: Settings, embedder: Embedder) -> tuple[float, float]:
    """Seconds of a fresh build of (our index, the baseline index) into ``settings.index_dir``."""
    from qa.documents import load_collection
    from qa.evaluation.baseline import build_seconds
    from qa.index import ensure_index
    from qa.lexicon import load_lexicon
    from qa.tokens import Tokenizer

    began = time.perf_counter()
    collection = load_collection(settings.corpus_dir)
    lexicon = load_lexicon(settings.corpus_dir / "lexicon")
    tokenizer = Tokenizer(lexicon.dictionary_words())
    ensure_index(collection, embedder, tokenizer, settings, force=True, services=lexicon.off_topic_services)
    ours = time.perf_counter() - began
    return ours, build_seconds(settings, embedder)


def measure_cold_start(
    settings: Settings,
    pipeline: Pipeline = "assistant",
    question: str = FIRST_QUESTION,
    runs: int = 1,
    timeout_s: float = 300.0,
) -> ColdStart:
    """Start a fresh process ``runs`` times: import, load the built index, answer ``question``.

    Raises:
        QAError: the child failed, e.g. because the index is not built for ``settings``.
    """
    spec = json.dumps({"pipeline": pipeline, "question": question, "settings": _settings_json(settings)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    samples: list[tuple[float, dict[str, Any]]] = []
    for _ in range(max(1, runs)):
        began = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _COLD_CHILD, spec],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed right after the first answer
        elapsed = time.perf_counter() - began
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        try:
            report = json.loads(line)
        except json.JSONDecodeError:
            report = {"error": (err or "").strip().splitlines()[-1:] or "no output"}
        if proc.returncode != 0 or "error" in report:
            raise QAError(f"冷启动测量失败({pipeline},退出码 {proc.returncode}):{report.get('error')}")
        samples.append((elapsed, report))
    samples.sort(key=lambda s: s[0])
    seconds, median = samples[len(samples) // 2]
    return ColdStart(
        seconds=seconds,
        rss_mb=max(r["maxrss_kb"] for _, r in samples) / 1024,  # Linux reports kilobytes
        parts={k: round(float(median[k]), 3) for k in ("import_s", "load_s", "first_ask_s")},
        st_imported=any(r["st_imported"] or r["torch_imported"] for _, r in samples),
    )


def measure_questions(
    settings: Settings, embedder: Embedder, gold: Sequence[GoldQuestion] | None = None
) -> dict[str, dict[str, float | None]]:
    """Latency over every gold question and hit@1/hit@5 on the test split, ours and the baseline's.

    Returns:
        ``{"ours": {...}, "baseline": {...}}`` with p50_ms, p95_ms, hit_at_1, hit_at_5, n_latency, n_test.
    """
    from qa.assistant import Assistant
    from qa.evaluation.baseline import Baseline
    from qa.evaluation.gold import load_gold
    from qa.evaluation.metrics import summarise
    from qa.evaluation.run import run

    gold = list(gold) if gold is not None else load_gold()
    assistant = Assistant(settings, embedder=embedder)
    baseline = Baseline(settings, embedder)
    result = run(("full", "baseline"), settings=settings, assistant=assistant, baseline=baseline, gold=gold)
    out: dict[str, dict[str, float | None]] = {}
    for name, config in (("ours", "full"), ("baseline", "baseline")):
        timing = summarise(result.select(config))
        quality = summarise(result.select(config, "test"))
        out[name] = {
            "p50_ms": timing["p50_ms"],
            "p95_ms": timing["p95_ms"],
            "hit_at_1": quality["hit_at_1"],
            "hit_at_5": quality["hit_at_5"],
            "n_latency": float(len(result.select(config))),
            "n_test": float(sum(1 for o in result.select(config, "test") if not o.should_abstain)),
        }
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict[str, object]:
    """The machine the figures belong to, and how busy it was when they were taken."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "ram_gb": _ram_gb(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def ratios(ours: Mapping[str, float | None], baseline: Mapping[str, float | None]) -> dict[str, float | None]:
    """ours / baseline for every key; None where either is missing or the baseline is 0."""
    out: dict[str, float | None] = {}
    for key in KEYS:
        a, b = ours.get(key), baseline.get(key)
        out[key] = round(a / b, 3) if a is not None and b else None
    return out


def _round(key: str, value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 4 if key.startswith("hit") else 1 if key.endswith(("_ms", "_mb")) else 2)


def run_bench(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    gold: Sequence[GoldQuestion] | None = None,
    cold_runs: int = 3,
    cold_start: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Every figure of the benchmark, as ``qa bench --json`` prints it.

    Indexes are built into a temporary folder that is removed afterwards; ``settings.index_dir``
    is not touched. ``cold_start=False`` skips the child processes (cold_start_s and rss_mb are None):
    tests use it with a fake embedder, which a child process cannot load.
    """
    from qa.embedders import load_embedder

    embedder = embedder or load_embedder(settings.embedder)
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as work:
        local = replace(settings, index_dir=Path(work) / "index")
        _say(progress, "构建索引(本系统与基线)……")
        build_ours, build_base = measure_build(local, embedder)
        cold: dict[str, ColdStart | None] = {"ours": None, "baseline": None}
        if cold_start:
            _say(progress, "测量冷启动和内存……")
            cold["ours"] = measure_cold_start(local, "assistant", runs=cold_runs)
            cold["baseline"] = measure_cold_start(local, "baseline", runs=cold_runs)
        _say(progress, "逐题测量延迟和命中率……")
        questions = measure_questions(local, embedder, gold)
    raw: dict[str, dict[str, float | None]] = {}
    sides: dict[str, dict[str, Any]] = {}
    for name, build_s in (("ours", build_ours), ("baseline", build_base)):
        c = cold[name]
        q = questions[name]
        values = {
            "build_s": build_s,
            "cold_start_s": c.seconds if c else None,
            "p50_ms": q["p50_ms"],
            "p95_ms": q["p95_ms"],
            "rss_mb": c.rss_mb if c else None,
            "hit_at_1": q["hit_at_1"],
            "hit_at_5": q["hit_at_5"],
        }
        raw[name] = values
        sides[name] = {
            **{k: _round(k, values[k]) for k in KEYS},
            "cold_start_parts": c.parts if c else None,
            "st_imported": c.st_imported if c else None,
            "n_latency": int(q["n_latency"] or 0),
            "n_test": int(q["n_test"] or 0),
        }
    ours = sides["ours"]
    return {
        **ours,
        "baseline": sides["baseline"],
        "ratios": ratios(raw["ours"], raw["baseline"]),
        "embedder": embedder.id,
        "machine": machine(),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


_LABELS = {
    "build_s": "索引构建 (s)",
    "cold_start_s": "冷启动到首个回答 (s)",
    "p50_ms": "单问延迟 p50 (ms)",
    "p95_ms": "单问延迟 p95 (ms)",
    "rss_mb": "峰值内存 (MB)",
    "hit_at_1": "hit@1 (test)",
    "hit_at_5": "hit@5 (test)",
}


def _readable(result: Mapping[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"机器:{m['cpu']},{m['cores']} 核,{m['ram_gb']} GB 内存,Python {m['python']},负载 {m['load_avg']}",
        f"时间:{result['date']}  向量模型:{result['embedder']}",
        "",
        _pad("指标", 24)
        + _pad("本系统", 12, right=True)
        + _pad("朴素基线", 12, right=True)
        + _pad("比值", 10, right=True),
    ]
    for key in KEYS:
        cells = (result[key], result["baseline"][key], result["ratios"][key])
        lines.append(
            _pad(_LABELS[key], 24)
            + "".join(_pad(_cell(v), w, right=True) for v, w in zip(cells, (12, 12, 10)))
        )
    parts = result.get("cold_start_parts")
    if parts:
        lines.append("")
        lines.append(
            f"冷启动分解(本系统):导入 {parts['import_s']} s,加载索引 {parts['load_s']} s,首问 {parts['first_ask_s']} s"
        )
    if result.get("st_imported"):
        lines.append("注意:测量内存的子进程导入了 sentence-transformers/torch。")
    return "\n".join(lines)


def _pad(text: str, width: int, right: bool = False) -> str:
    # A Chinese character takes two columns in a terminal.
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(0, width - used)
    return fill + text if right else text + fill


def _cell(value: object) -> str:
    return "—" if value is None else str(value)


def cli_bench(args: argparse.Namespace, settings: Settings) -> int:
    """``qa bench [--json]``: takes a few minutes on two cores (two index builds, six process starts)."""
    result = run_bench(settings, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(_readable(result))
    return 0
