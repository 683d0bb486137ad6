"""The assistant's vocabulary, kept as data in ``corpus/lexicon/``: everyday words and the plan's
wording for them, the lead units and their other names, the plan's terms for jieba, the words that
point at a background document, and subjects the plan does not cover.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Lexicon", "load_lexicon"]


@dataclass(frozen=True)
class Lexicon:
    everyday: dict[str, tuple[str, ...]]
    unit_aliases: dict[str, str]  # alias or canonical name -> canonical name
    terms: tuple[str, ...]
    doc_intents: dict[str, tuple[str, ...]]  # document role -> words that point at that document
    off_topics: tuple[str, ...]  # subjects the plan does not cover

    def dictionary_words(self) -> list[str]:
        """Words jieba must keep whole: the plan's terms, lead units and official wording."""
        return [*self.terms, *self.unit_aliases, *(w for ws in self.everyday.values() for w in ws)]


def load_lexicon(lexicon_dir: Path) -> Lexicon:
    """The lexicon data files in ``corpus/lexicon/``."""
    everyday = json.loads((lexicon_dir / "everyday.json").read_text(encoding="utf-8"))["terms"]
    units = json.loads((lexicon_dir / "units.json").read_text(encoding="utf-8"))["aliases"]
    aliases: dict[str, str] = {}
    for canonical, names in units.items():
        aliases[canonical] = canonical
        for name in names:
            aliases[name] = canonical
    terms = tuple(
        t.strip() for t in (lexicon_dir / "terms.txt").read_text(encoding="utf-8").splitlines() if t.strip()
    )
    intents = json.loads((lexicon_dir / "doc_intents.json").read_text(encoding="utf-8"))["intents"]
    off = json.loads((lexicon_dir / "off_topics.json").read_text(encoding="utf-8"))["topics"]
    return Lexicon(
        {k.lower(): tuple(v) for k, v in everyday.items()},
        aliases,
        terms,
        {doc: tuple(w.lower() for w in words) for doc, words in intents.items()},
        tuple(t.lower() for t in off),
    )
