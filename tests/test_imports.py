"""The package's layers, read from the source: the pipeline never imports the measurement tooling or
the web layer, and the measurement subpackage imports one way, with no cycle.

Every import statement counts, wherever it is: at the top, inside a function, or under
``TYPE_CHECKING`` (a cycle hidden there still ties the modules together for a reader and for mypy).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Set
from pathlib import Path

QA = Path(__file__).resolve().parent.parent / "qa"
EVALUATION = "qa.evaluation"


def _module_name(path: Path) -> str:
    parts = path.relative_to(QA.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, absolute; ``from pkg import name`` counts as pkg and pkg.name."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _imports_of(path: Path) -> set[str]:
    return _imports(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _evaluation_graph() -> dict[str, set[str]]:
    """Module -> the modules of the subpackage it imports (the package itself included)."""
    modules = {_module_name(p): p for p in sorted((QA / "evaluation").glob("*.py"))}
    return {
        name: {n for n in _imports_of(path) if n in modules and n != name} for name, path in modules.items()
    }


def _cycle(graph: Mapping[str, Set[str]]) -> list[str] | None:
    """One import cycle, as a path that returns to where it started; None when there is none."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        if state.get(module) == "open":
            return [*path[path.index(module) :], module]
        if state.get(module) == "done":
            return None
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            found = visit(dep, [*path, module])
            if found:
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_the_pipeline_never_imports_evaluation_or_web() -> None:
    offending = {
        path.name: sorted(n for n in _imports_of(path) if _within(n, EVALUATION) or _within(n, "qa.web"))
        for path in sorted(QA.glob("*.py"))
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_evaluation_subpackage_has_no_import_cycle() -> None:
    graph = _evaluation_graph()
    assert len(graph) == 11, sorted(graph)  # __init__ and its ten modules
    assert _cycle(graph) is None
    # ``qa.evaluation`` (its __init__) imports every module: a module importing it closes a cycle.
    assert graph[EVALUATION] == set(graph) - {EVALUATION}


def test_the_chain_runs_gold_metrics_report_run_tuning() -> None:
    graph = _evaluation_graph()
    chain = [f"{EVALUATION}.{m}" for m in ("gold", "metrics", "report", "run", "tuning")]
    for lower, upper in zip(chain, chain[1:], strict=False):
        assert lower in graph[upper], (upper, lower)
    assert f"{EVALUATION}.tuning" not in graph[f"{EVALUATION}.report"]
    # The naive pipeline stands alone: it is measured, it measures nothing.
    assert graph[f"{EVALUATION}.baseline"] == set()


def test_the_walk_finds_cycles_and_every_kind_of_import() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    source = """
from typing import TYPE_CHECKING
from . import gold
from .metrics import Judge
if TYPE_CHECKING:
    from qa.evaluation.report import write_report
def f():
    import qa.evaluation.baseline
"""
    found = _imports(source, "qa.evaluation.run")
    assert {
        "qa.evaluation.gold",
        "qa.evaluation.metrics",
        "qa.evaluation.report",
        "qa.evaluation.baseline",
    } <= found
