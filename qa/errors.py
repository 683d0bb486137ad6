"""Typed errors: the library raises these, the CLI and the web page turn them into one clear message."""

from __future__ import annotations

__all__ = [
    "QAError",
    "UnknownDocument",
    "UnknownClause",
    "InvalidQuestion",
    "InvalidContext",
    "IndexUnavailable",
    "EmbedderUnavailable",
]


class QAError(Exception):
    """Base of every error the assistant reports to a user instead of a traceback."""


class UnknownDocument(QAError):
    """A doc_id that is not one of the ten documents."""


class UnknownClause(QAError):
    """A clause number that the document does not have."""


class InvalidQuestion(QAError):
    """An empty, over-long or otherwise unusable question, or a bad option such as k."""


class InvalidContext(QAError):
    """A conversation context that is not the object an answer returned, or names clauses that do
    not exist; the message is in the asker's language."""


class IndexUnavailable(QAError):
    """The index on disk is missing, damaged or cannot be written."""


class EmbedderUnavailable(QAError):
    """The requested embedding model cannot be loaded on this machine."""
