"""Detection vocabulary per language: data, not code.

What "signed", "will sign", "talks" or "after the G20" look like in a language, how its words
attach (Korean particles, Arabic clitics, Turkish suffixes) and how to tell it in a headline all
live in `storage/languages/<code>.toml` for the languages visitbot ships, and a visit file may
extend a built-in language or add any other under `[vocabulary.<code>]` (format: the "Languages"
section of storage/visits/README.md, schema: storage/visits/visit.schema.json). Detection
(`jobs/detection.py`) compiles what is here; it knows no language of its own.

Pure: no database. Word lists are kept as written (terms with `*` for "any ending" and `!` for "a
longer form that does not count"); function-word lists are folded here, once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from storage.textfold import fold

CodeRange = tuple[int, int]


def parse_ranges(values: Iterable[str]) -> tuple[CodeRange, ...]:
    """ "AC00-D7A3" → (0xAC00, 0xD7A3): Unicode ranges written in hex."""
    ranges = []
    for value in values:
        start, _, end = value.partition("-")
        ranges.append((int(start, 16), int(end or start, 16)))
    return tuple(ranges)


def in_ranges(text: str, ranges: tuple[CodeRange, ...]) -> bool:
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in ranges)


def _folded(words: Iterable[str]) -> frozenset[str]:
    return frozenset(fold(w) for w in words if fold(w))


@dataclass(frozen=True)
class Vocabulary:
    """How one language writes the things detection looks for."""

    code: str
    name: str = ""
    # writing
    plural: tuple[str, ...] = ()
    stem_from: int | None = None  # sector terms this long match any ending; None: never
    attached: tuple[CodeRange, ...] = ()  # scripts whose terms match inside words
    prefixes: tuple[str, ...] = ()
    # recognise
    script: tuple[CodeRange, ...] = ()
    letters: str = ""
    words: frozenset[str] = frozenset()
    contractions: frozenset[str] = frozenset()
    apostrophe_suffixes: bool = False
    # headlines
    stopwords: frozenset[str] = frozenset()
    particles: tuple[str, ...] = ()
    numbers: Mapping[str, str] = field(default_factory=dict)
    # signing
    requires_document: bool = False
    document_reports_signing: bool = False
    documents: tuple[str, ...] = ()
    signed: tuple[str, ...] = ()
    planned: tuple[str, ...] = ()
    future_anywhere: tuple[str, ...] = ()
    future_before: frozenset[str] = frozenset()
    future_right_before: tuple[tuple[str, ...], ...] = ()
    future_after: frozenset[str] = frozenset()
    talked_about: tuple[str, ...] = ()
    # agenda
    agenda: tuple[str, ...] = ()
    # previous stop
    previous_before: frozenset[str] = frozenset()
    previous_right_before: tuple[tuple[str, ...], ...] = ()
    previous_after: tuple[str, ...] = ()
    previous_suffixes: frozenset[str] = frozenset()
    # programme news: how a headline speaks of an item, and the kinds of items
    cancelled: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()
    underway: tuple[str, ...] = ()
    announced: tuple[str, ...] = ()
    announced_before: tuple[str, ...] = ()
    reported: tuple[str, ...] = ()
    background_before: tuple[str, ...] = ()
    background_after: tuple[str, ...] = ()
    verb_last: bool = False  # markers after an item's clause still speak of it (Korean)
    events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # dates and times in headlines
    months: tuple[tuple[str, ...], ...] = ()  # January first
    weekdays: tuple[tuple[str, ...], ...] = ()  # Monday first
    today: tuple[str, ...] = ()
    tomorrow: tuple[str, ...] = ()
    yesterday: tuple[str, ...] = ()
    month_suffix: tuple[str, ...] = ()
    day_suffix: tuple[str, ...] = ()
    hour_suffix: tuple[str, ...] = ()
    minute_suffix: tuple[str, ...] = ()
    am: tuple[str, ...] = ()
    pm: tuple[str, ...] = ()

    def stems(self, term: str) -> bool:
        """Whether a sector term of this language matches with any ending."""
        return self.stem_from is not None and len(term) >= self.stem_from


def _tuple(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(v) for v in data.get(key, ()))


def _phrases(values: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(fold(v).split()) for v in values if fold(v))


def vocabulary_from(code: str, data: Mapping[str, Any]) -> Vocabulary:
    """A vocabulary from the tables of a language file (or of a visit's `[vocabulary.xx]`)."""
    writing = data.get("writing", {})
    recognise = data.get("recognise", {})
    headlines = data.get("headlines", {})
    signing = data.get("signing", {})
    previous = data.get("previous_stop", {})
    programme = data.get("programme", {})
    dates = programme.get("dates", {})
    numbers = [fold(n) for n in headlines.get("numbers", ())]
    return Vocabulary(
        code=code,
        name=str(data.get("name", code)),
        plural=_tuple(writing, "plural"),
        stem_from=writing.get("stem_from"),
        attached=parse_ranges(writing.get("attached", ())),
        prefixes=tuple(fold(p) for p in writing.get("prefixes", ())),
        script=parse_ranges(recognise.get("script", ())),
        letters=str(recognise.get("letters", "")),
        words=_folded(recognise.get("words", ())),
        contractions=_folded(recognise.get("contractions", ())),
        apostrophe_suffixes=bool(recognise.get("apostrophe_suffixes", False)),
        stopwords=_folded(headlines.get("stopwords", ())),
        particles=tuple(sorted(_tuple(headlines, "particles"), key=len, reverse=True)),
        numbers={word: str(n) for n, word in enumerate(numbers) if word},
        requires_document=bool(signing.get("requires_document", False)),
        document_reports_signing=bool(signing.get("document_reports_signing", False)),
        documents=_tuple(signing, "documents"),
        signed=_tuple(signing, "signed"),
        planned=_tuple(signing, "planned"),
        future_anywhere=_tuple(signing, "future_anywhere"),
        future_before=_folded(signing.get("future_before", ())),
        future_right_before=_phrases(signing.get("future_right_before", ())),
        future_after=_folded(signing.get("future_after", ())),
        talked_about=_tuple(signing, "talked_about"),
        agenda=_tuple(data.get("agenda", {}), "terms"),
        previous_before=_folded(previous.get("before", ())),
        previous_right_before=_phrases(previous.get("right_before", ())),
        previous_after=_tuple(previous, "after"),
        previous_suffixes=_folded(previous.get("suffixes", ())),
        cancelled=_tuple(programme, "cancelled"),
        moved=_tuple(programme, "moved"),
        underway=_tuple(programme, "underway"),
        announced=_tuple(programme, "announced"),
        announced_before=_tuple(programme, "announced_before"),
        reported=_tuple(programme, "reported"),
        background_before=_tuple(programme, "background_before"),
        background_after=_tuple(programme, "background_after"),
        verb_last=bool(programme.get("verb_last", False)),
        events={str(k): tuple(map(str, v)) for k, v in programme.get("events", {}).items()},
        months=tuple(tuple(map(str, forms)) for forms in dates.get("months", ())),
        weekdays=tuple(tuple(map(str, forms)) for forms in dates.get("weekdays", ())),
        today=_tuple(dates, "today"),
        tomorrow=_tuple(dates, "tomorrow"),
        yesterday=_tuple(dates, "yesterday"),
        month_suffix=_tuple(dates, "month_suffix"),
        day_suffix=_tuple(dates, "day_suffix"),
        hour_suffix=_tuple(dates, "hour_suffix"),
        minute_suffix=_tuple(dates, "minute_suffix"),
        am=_tuple(dates, "am"),
        pm=_tuple(dates, "pm"),
    )


def extended(base: Vocabulary, extra: Vocabulary) -> Vocabulary:
    """`base` with a visit file's additions: word lists grow, settings the file gives win."""
    changes: dict[str, Any] = {}
    for name, value in vars(extra).items():
        current = getattr(base, name)
        unsaid = value is False or (not value and not isinstance(value, int))
        if name == "code" or unsaid:
            continue  # nothing said (empty, false, None): the built-in value stays
        if isinstance(value, tuple):
            changes[name] = current + tuple(v for v in value if v not in current)
        elif isinstance(value, frozenset):
            changes[name] = current | value
        elif isinstance(value, Mapping):
            merged = dict(current)
            for key, extra_value in value.items():  # an event's words grow like any list
                old = merged.get(key)
                if isinstance(old, tuple) and isinstance(extra_value, tuple):
                    extra_value = old + tuple(v for v in extra_value if v not in old)
                merged[key] = extra_value
            changes[name] = merged
        elif name != "name" or value != extra.code:  # a name defaults to the code: not said
            changes[name] = value
    return replace(base, **changes)


def _builtin_data() -> dict[str, dict[str, Any]]:
    found = {}
    for entry in resources.files("storage.languages").iterdir():
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            found[str(data["code"])] = data
    return found


_BUILTIN: dict[str, Vocabulary] = {
    code: vocabulary_from(code, data) for code, data in sorted(_builtin_data().items())
}


def builtin_languages() -> tuple[str, ...]:
    """The languages visitbot ships a detection vocabulary for."""
    return tuple(_BUILTIN)


def builtin(code: str) -> Vocabulary | None:
    return _BUILTIN.get(code)


def builtin_files() -> dict[str, dict[str, Any]]:
    """The raw tables of the built-in language files (for checking them against the schema)."""
    return _builtin_data()
