"""Shared fixtures: the real corpus (ten documents, small enough to use directly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.documents import Collection, load_collection

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


@pytest.fixture(scope="session")
def collection() -> Collection:
    return load_collection(CORPUS)


@pytest.fixture(scope="session")
def source_text() -> str:
    return (CORPUS / "source" / "000_b8b1fbbb11219fcd.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def assistant():
    """The real assistant: bundled e5 model and the index in index/ (built once, then reused)."""
    from qa.assistant import Assistant
    from qa.settings import load_settings

    return Assistant(load_settings())
