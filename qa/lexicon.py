"""The assistant's vocabulary, kept as data in ``corpus/lexicon/``: everyday words and the plan's
wording for them, the lead units and their other names, the plan's terms for jieba, the words that
point at a background document, and subjects the plan does not cover.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from qa.compare import LISTED_STATUSES, ListedStatus

__all__ = [
    "Lexicon",
    "load_lexicon",
    "AskCue",
    "GlossaryEntry",
    "StatusCues",
    "AskKind",
    "ASK_KINDS",
    "VERSION_STATUS_FILE",
]

# What a question asks for; asks.json lists them most specific first.
AskKind = Literal[
    "amount", "date", "count", "contact", "source", "who", "place", "why", "how", "list", "yesno", "what"
]
ASK_KINDS: tuple[AskKind, ...] = get_args(AskKind)
VERSION_STATUS_FILE = "version_status.json"


@dataclass(frozen=True)
class AskCue:
    kind: AskKind
    zh: tuple[str, ...]
    en: tuple[str, ...]
    answers: tuple[re.Pattern[str], ...]  # what, in a sentence of the documents, answers this kind
    # What an answer says is not stated when no sentence holds it (zh, en); None: never said.
    missing: tuple[str, str] | None = None
    strict: tuple[str, ...] = ()  # cues that ask for the detail itself (多少钱, not 钱), zh and en
    states: tuple[re.Pattern[str], ...] = ()  # a sentence that matches one states the detail
    patterns: tuple[re.Pattern[str], ...] = ()  # cues as regexes (哪18条路)
    in_names: bool = False  # the answer is a document's name (《…》), so names are searched too
    # A current task's target (90%, 210户, 全部) that the plan's period dates, and the cues that ask
    # for more than the period says (开工, 几月, start): see ``by_period`` in asks.json.
    period_targets: tuple[re.Pattern[str], ...] = ()
    beyond_period: tuple[str, ...] = ()


@dataclass(frozen=True)
class GlossaryEntry:
    """One of the documents' own words and its unofficial English renderings (``en[0]`` is shown)."""

    zh: str
    en: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class StatusCues:
    """The cue words of ``corpus/lexicon/version_status.json``: which tasks the final plan added,
    removed, merged … relative to the draft (see its ``_about``). English words are lower-case."""

    statuses: tuple[tuple[ListedStatus, tuple[str, ...]], ...] = ()  # (status, its cues), first match wins
    listing: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    other_rounds: tuple[str, ...] = ()
    fillers: tuple[str, ...] = ()
    max_residue: int = 0


@dataclass(frozen=True)
class Lexicon:
    everyday: dict[str, tuple[str, ...]]
    unit_aliases: dict[str, str]  # alias or canonical name -> canonical name
    terms: tuple[str, ...]
    doc_intents: dict[str, tuple[str, ...]]  # document role -> words that point at that document
    off_topics: tuple[str, ...]  # subjects the plan does not cover
    asks: tuple[AskCue, ...] = ()  # in asks.json's order, most specific first
    glossary: tuple[GlossaryEntry, ...] = field(default=(), repr=False)
    # Cues that ask only when no cue of another kind is in the question (邮箱是多少 asks contact).
    weak_cues: frozenset[str] = frozenset()
    # Weak cues that a yes/no question reads as "a few" (能不能多弄几个?), not as asking a number.
    indefinite_cues: frozenset[str] = frozenset()
    version_status: StatusCues = field(default_factory=StatusCues, repr=False)
    # Words that ask when a document was issued or written (印发, issued): its sign-off answers.
    dated_cues: tuple[str, ...] = ()
    # Passages of the kinds of service the plan does not cover (a kind's name and at most
    # ``_SERVICE_PASSAGE`` of its entries each), for the embedder: a question may mean a service
    # without naming any of its entries.
    off_topic_services: tuple[str, ...] = ()
    # What follows an off-topic entry that names a place beside which something is (派出所门口).
    off_topic_around: re.Pattern[str] | None = None

    def cue(self, kind: str) -> AskCue | None:
        return next((c for c in self.asks if c.kind == kind), None)

    def english(self, zh: str) -> str | None:
        """The display English of one of the documents' words, if the glossary has it."""
        for entry in self.glossary:
            if entry.zh == zh:
                return entry.en[0]
        return None

    def dictionary_words(self) -> list[str]:
        """Words jieba must keep whole: the plan's terms, lead units and official wording."""
        return [*self.terms, *self.unit_aliases, *(w for ws in self.everyday.values() for w in ws)]


# Entries per passage of a kind of service: one embedded passage naming ever more entries is
# close to none of them, so a kind that grows past this is embedded as several passages.
_SERVICE_PASSAGE = 20


def _groups(items: Sequence[str], most: int) -> list[Sequence[str]]:
    """``items`` in consecutive groups of at most ``most``, as even in size as can be."""
    if not items:
        return []
    n = -(-len(items) // most)
    size = -(-len(items) // max(n, 1))
    return [items[i : i + size] for i in range(0, len(items), size)]


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
    off_data = json.loads((lexicon_dir / "off_topics.json").read_text(encoding="utf-8"))
    off_categories = off_data["categories"]
    around = "|".join(re.escape(w) for w in off_data.get("around", ()))
    off = [word for words in off_categories.values() for word in words]
    asks_data = json.loads((lexicon_dir / "asks.json").read_text(encoding="utf-8"))
    kinds = asks_data["kinds"]
    weak = asks_data.get("weak", {})
    asks = tuple(
        AskCue(
            kind,
            tuple(v["zh"]),
            tuple(w.lower() for w in v["en"]),
            tuple(re.compile(p) for p in v["answers"]),
            (v["missing"]["zh"], v["missing"]["en"]) if "missing" in v else None,
            tuple(
                [*v.get("strict", {}).get("zh", ()), *(w.lower() for w in v.get("strict", {}).get("en", ()))]
            ),
            tuple(re.compile(p) for p in v.get("states", ())),
            tuple(re.compile(p) for p in v.get("patterns", ())),
            bool(v.get("in_names", False)),
            tuple(re.compile(p) for p in v.get("by_period", {}).get("targets", ())),
            tuple(
                [
                    *v.get("by_period", {}).get("unless", {}).get("zh", ()),
                    *(w.lower() for w in v.get("by_period", {}).get("unless", {}).get("en", ())),
                ]
            ),
        )
        for kind, v in kinds.items()
        if kind in ASK_KINDS
    )
    entries = json.loads((lexicon_dir / "glossary.json").read_text(encoding="utf-8"))["entries"]
    glossary = tuple(GlossaryEntry(e["zh"], tuple(e["en"]), e["kind"]) for e in entries)
    status = json.loads((lexicon_dir / VERSION_STATUS_FILE).read_text(encoding="utf-8"))

    def words(entry: dict[str, list[str]]) -> tuple[str, ...]:
        return (*entry["zh"], *(w.lower() for w in entry["en"]))

    unknown = sorted(set(status["statuses"]) - set(LISTED_STATUSES))
    if unknown:
        raise ValueError(
            f"{lexicon_dir / VERSION_STATUS_FILE}: unknown statuses {', '.join(unknown)}; "
            f"use {', '.join(LISTED_STATUSES)}"
        )
    status_cues = StatusCues(
        tuple((name, words(cues)) for name, cues in status["statuses"].items()),
        words(status["listing"]),
        words(status["tasks"]),
        words(status["plans"]),
        words(status["other_rounds"]),
        words(status["fillers"]),
        int(status["max_residue"]),
    )
    return Lexicon(
        {k.lower(): tuple(v) for k, v in everyday.items()},
        aliases,
        terms,
        {doc: tuple(w.lower() for w in words) for doc, words in intents.items()},
        tuple(t.lower() for t in off),
        asks,
        glossary,
        frozenset([*weak.get("zh", ()), *(w.lower() for w in weak.get("en", ()))]),
        frozenset(asks_data.get("indefinite", {}).get("zh", ())),
        version_status=status_cues,
        dated_cues=tuple(
            [
                *asks_data.get("dated", {}).get("zh", ()),
                *(w.lower() for w in asks_data.get("dated", {}).get("en", ())),
            ]
        ),
        off_topic_services=tuple(
            f"{service}: {'、'.join(group)}"
            for service, words in off_categories.items()
            for group in _groups(words, _SERVICE_PASSAGE)
        ),
        off_topic_around=re.compile(rf"[\u4e00-\u9fff]{{0,2}}?(?:{around})") if around else None,
    )
