"""Matching a visit's terms in headlines, in any script: the primitives detection is built of.

Pure: no I/O. Text is folded once (`Text.of`: case and diacritics, separators unified), and a
`Matcher` compiles many named terms into a few regex alternations; `Words` is a vocabulary word
list with its longer forms that do not count (`!`). How a term matches depends on its language
(`Rule`): some scripts attach particles to words and are matched inside words, others need word
boundaries, with clitic prefixes in front and suffixes after. A word list entry ending in `*`
allows any ending; one starting with `*` allows any beginning ("*ecek": any Turkish future).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from storage.textfold import fold
from storage.vocabulary import CodeRange, Vocabulary

# `fold` keeps punctuation as is, and NFKC turns the Korean middle dot "ㆍ" into a jamo vowel, so
# the separators headlines use in "한·튀르키예" / "韓-土" are unified before folding.
_SEPARATORS = str.maketrans(
    {c: "·" for c in "ㆍ\u119e\u2027\u2219\u30fb\uff65\u22c5•"}
    | {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
    | {c: "'" for c in "\u2019\u2018\u02bc\u00b4`"}
)


def prepare(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_SEPARATORS)


def cased_fold(text: str) -> str:
    """Fold character by character, keeping upper case, so acronyms ("KIND", "AI") can be told
    from ordinary words ("kind", "said") after diacritics are gone."""
    return "".join(fold_char(ch) for ch in prepare(text))


@functools.lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    if ch.isspace():
        return " "
    folded = fold(ch)
    return folded.upper() if ch.isupper() else folded


@dataclass(frozen=True)
class Text:
    """One piece of an item (title or summary), folded once for all matchers."""

    low: str
    cased: str

    @classmethod
    def of(cls, text: str) -> Text:
        cased = cased_fold(text)
        return cls(cased.lower(), cased)

    def words(self) -> list[str]:
        return re.findall(r"\w+", self.low)


def is_acronym(term: str) -> bool:
    """Short all-capital terms ("KIND", "AI", "MB") collide with words once case is folded."""
    letters = [c for c in term if c.isalpha()]
    return 2 <= len(letters) <= 4 and all(c.isupper() for c in letters)


def char_class(ranges: Iterable[CodeRange]) -> str:
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


class Script:
    """What the vocabularies in use say about word shapes, compiled for every matcher.

    `attached` are the scripts whose words take particles without a space (Korean); a boundary
    for other words is "no word character outside those scripts", so "MOU를" still has "MOU".
    """

    def __init__(self, vocabularies: Iterable[Vocabulary]) -> None:
        ranges = sorted({r for v in vocabularies for r in v.attached})
        self.attached: tuple[CodeRange, ...] = tuple(ranges)
        cls = char_class(ranges)
        self.word = f"[^\\W{cls}]" if cls else r"\w"
        self.attached_char = re.compile(f"[{cls}]") if cls else None

    def is_attached(self, text: str) -> bool:
        return self.attached_char is not None and bool(self.attached_char.search(text))


Use = Literal["name", "term", "trap", "word"]


@dataclass(frozen=True)
class Rule:
    """How one term is matched: its language and what it is (a name, a sector or trap term, or
    a vocabulary word, which matches exactly unless it ends or starts with `*`). Only sector
    terms stem by length; names and traps allow the language's plural."""

    vocabulary: Vocabulary
    use: Use


def _latin_body(folded: str) -> str:
    # "Lee Jae Myung", "Lee Jae-myung" and "public-private" / "public private" are one name.
    parts = [re.escape(p) for p in re.split(r"[\s-]+", folded) if p]
    return r"[\s-]?".join(parts)


def term_pattern(term: str, rule: Rule, script: Script) -> tuple[str, bool] | None:
    """A regex for one alias or term, and whether it must run on the case-preserving text.

    Terms in an attached script match as substrings (particles attach without a space), spaces
    optional. A *name* whose first word is one character ("이 대통령", "韓") must not continue a
    word in the language's own script, where such a character is usually a particle. Other terms
    need word boundaries, with the language's clitic prefixes allowed in front; a sector term long
    enough for its language (and a vocabulary word written with `*`) allows any ending, other
    names and terms the language's plural; a vocabulary word starting with `*` any beginning.
    An apostrophe suffix ("Kore'nin") passes a boundary.
    """
    vocab = rule.vocabulary
    stem = term.endswith("*")
    any_start = term.startswith("*") and rule.use == "word"
    term = term.strip("*")
    acronym = is_acronym(term)
    folded = cased_fold(term).strip() if acronym else fold(prepare(term))
    if not folded:
        return None
    if script.is_attached(folded):
        first = re.split(r"[\s·\-]", folded, maxsplit=1)[0]
        guard = ""
        if rule.use == "name" and len(first) <= 1 and vocab.script:
            guard = f"(?<![{char_class(vocab.script)}])"
        return guard + r"\s?".join(re.escape(p) for p in folded.split(" ")), acronym
    body = _latin_body(folded)
    if rule.use == "term" and vocab.stems(folded) and not acronym:
        stem = True
    if stem and not acronym and folded.endswith("y") and len(folded) >= 5:
        body = body[:-1] + "(?:y|ie)"  # technology / technologies
    prefixes = "|".join(re.escape(p) for p in sorted(vocab.prefixes, key=len, reverse=True))
    head = f"(?:{prefixes})?" if prefixes else ""
    if any_start:
        head = f"{script.word}*"
    if stem and not acronym:
        tail = f"{script.word}*"
    elif rule.use != "word" and vocab.plural:
        tail = "(?:" + "|".join(re.escape(p) for p in vocab.plural) + ")?"
    else:
        tail = ""
    return rf"(?<!{script.word}){head}{body}{tail}(?!{script.word})", acronym


@dataclass(frozen=True)
class Hit:
    key: str
    start: int
    end: int


class Matcher:
    """Many named terms compiled into a few alternations (folded and case-preserving)."""

    def __init__(self, terms: Iterable[tuple[str, str, Rule]], script: Script) -> None:
        # Longest first, so "Korea Expressway" wins over "Korea" and "한국전력" over "한국".
        ordered = sorted(terms, key=lambda t: -len(t[1]))
        self._keys: list[str] = []
        self._cache: dict[Text, list[Hit]] = {}
        self._script = script
        # Bounded terms all start at a word boundary: the regexes test that boundary and the
        # possible first letters once per position, before trying any alternative, which makes a
        # scan several times faster than one alternation of hundreds of terms would be.
        boundary = f"(?<!{script.word})"
        bounded: dict[bool, list[str]] = {False: [], True: []}
        firsts: dict[bool, set[str]] = {False: set(), True: set()}
        open_firsts: dict[bool, bool] = {False: False, True: False}
        other: dict[bool, list[str]] = {False: [], True: []}
        for key, term, rule in ordered:
            compiled = term_pattern(term, rule, script)
            if compiled is None:
                continue
            pattern, cased = compiled
            group = f"(?P<g{len(self._keys)}>{{}})"
            if pattern.startswith(boundary):
                bounded[cased].append(group.format(pattern[len(boundary) :]))
                if rule.vocabulary.prefixes or term.startswith("*"):
                    open_firsts[cased] = True  # a clitic may come first: no first-letter test
                else:
                    plain = term.strip("*")
                    folded = cased_fold(plain).strip() if cased else fold(prepare(plain))
                    firsts[cased].add(folded[0])
            else:
                other[cased].append(group.format(pattern))
            self._keys.append(key)
        self._regexes: list[tuple[re.Pattern[str], bool, bool]] = []
        for cased in (False, True):
            if bounded[cased]:
                alternation = "|".join(bounded[cased])
                first = "".join(sorted(re.escape(c) for c in firsts[cased]))
                look = "" if open_firsts[cased] else f"(?=[{first}])"
                regex = re.compile(f"{boundary}{look}(?:{alternation})")
                self._regexes.append((regex, cased, False))
            if other[cased]:
                self._regexes.append((re.compile("|".join(other[cased])), cased, True))

    def hits(self, text: Text) -> list[Hit]:
        """Matches in text order; cached, because one item is scanned for several purposes."""
        cached = self._cache.get(text)
        if cached is None:
            if len(self._cache) > 512:
                self._cache.clear()
            cached = self._cache[text] = self._scan(text)
        return cached

    def _scan(self, text: Text) -> list[Hit]:
        found: list[Hit] = []
        attached = self._script.is_attached(text.low)
        for regex, cased, needs_attached in self._regexes:
            if needs_attached and not attached:
                continue
            for m in regex.finditer(text.cased if cased else text.low):
                name = m.lastgroup or ""
                found.append(Hit(self._keys[int(name[1:])], m.start(), m.end()))
        return sorted(found, key=lambda h: h.start)

    def keys(self, text: Text) -> set[str]:
        return {h.key for h in self.hits(text)}


class Words:
    """A vocabulary list: its words, minus the longer forms (`!`) that do not count.

    `scoped`: a longer form only cancels words of its own key (an item's "!anıtkabir*" is not
    a reason to ignore another item's "Anıtkabir").
    """

    def __init__(
        self,
        entries: Iterable[tuple[str, str, Vocabulary]],
        script: Script,
        *,
        scoped: bool = False,
    ) -> None:
        self._scoped = scoped
        keep, drop = [], []
        for key, term, vocab in entries:
            if term.startswith("!"):
                drop.append((key, term[1:], Rule(vocab, "word")))
            else:
                keep.append((key, term, Rule(vocab, "word")))
        self._keep = Matcher(keep, script)
        self._drop = Matcher(drop, script) if drop else None

    def hits(self, text: Text) -> list[Hit]:
        found = self._keep.hits(text)
        if self._drop is None:
            return found
        drops = self._drop.hits(text)
        return [
            h
            for h in found
            if not any(
                d.start <= h.start and h.end <= d.end and (not self._scoped or d.key == h.key)
                for d in drops
            )
        ]

    def keys(self, text: Text) -> set[str]:
        return {h.key for h in self.hits(text)}


# Clause breaks in headlines: "Lee arrives in Ankara, to hold talks" is two clauses.
CLAUSE = re.compile(r"[,;:…|]|\.\.\.|\s-\s")


def clause_of(text: Text, hit: Hit) -> tuple[int, int]:
    """The span of the clause `hit` stands in."""
    starts = [0] + [m.end() for m in CLAUSE.finditer(text.low) if m.end() <= hit.start]
    ends = [m.start() for m in CLAUSE.finditer(text.low) if m.start() >= hit.end]
    return max(starts), min(ends, default=len(text.low))
