"""Checking a visit file: every problem, each with its path, before anything is loaded.

Two passes. The written schema (`storage/visits/visit.schema.json`, JSON Schema 2020-12, also
usable by TOML editors) catches the shape: unknown tables and keys (a misspelt `[[anchor]]`),
missing keys, wrong types, dates written as strings, times that are not times, keys that would
not fit Telegram callback data, invalid sides. Then the rules no schema can say: an end before a
start, a tracking window that is inverted or does not cover the visit, a language declared without
names or without a detection vocabulary, a text in an undeclared language, a source, topic or
sector that is not defined, a key used twice, an unknown time zone.

Pure: the file's bytes in, a list of `Problem`s out (empty: valid). `storage.visit.load_visit`
refuses a file with problems; `visitbot visit check` prints them all.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jsonschema import Draft202012Validator, ValidationError, validators

from storage.vocabulary import builtin, builtin_files, builtin_languages

SCHEMA_FILE = "visit.schema.json"
INTERFACE_FALLBACK = "en"  # names must exist in English: the interface falls back to it
PLACEHOLDER = "⟪fill in"  # what `visitbot visit new` leaves blank; refused until filled in


@dataclass(frozen=True)
class Problem:
    path: str  # "agenda[3].time"; "" for the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _toml_type(
    validator: Any, kind: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """visitbot's keyword for TOML's own value types (JSON has no dates)."""
    if kind == "date" and not (
        isinstance(instance, dt.date) and not isinstance(instance, dt.datetime)
    ):
        if isinstance(instance, str):
            yield ValidationError(
                f"{instance!r} is a text, not a date: write it without quotes ({instance})"
            )
        else:
            yield ValidationError(f"{instance!r} is not a date (write 2025-11-24)")


@cache
def schema() -> dict[str, Any]:
    text = resources.files("storage.visits").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    return found


@cache
def _validator_class() -> Any:
    return validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"tomlType": _toml_type}
    )


def _validator(for_schema: Mapping[str, Any] | None = None) -> Draft202012Validator:
    validator: Draft202012Validator = _validator_class()(for_schema or schema())
    return validator


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: ValidationError) -> str:
    """The schema's own words where it has them (`x-message`), else jsonschema's, shortened."""
    rules: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    hint = rules.get("x-message")
    value = error.instance
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    if error.validator == "additionalProperties":
        known = sorted(rules.get("properties", {}))
        extra = sorted(set(value) - set(known)) if isinstance(value, dict) else []
        names = ", ".join(repr(e) for e in extra)
        return f"unknown key {names}" + (f" (known here: {', '.join(known)})" if known else "")
    if error.validator == "required":
        return error.message.replace(" is a required property", " is missing")
    if error.validator in ("pattern", "enum") and hint:
        return f"{shown} is not {hint}"
    if error.validator == "type":
        wanted = {
            "string": "a text",
            "array": "a list",
            "object": "a table",
            "integer": "a whole number",
            "boolean": "true or false",
        }
        return f"{shown} should be {wanted.get(str(error.validator_value), error.validator_value)}"
    if error.validator == "minLength":
        return "must not be empty"
    if error.validator == "propertyNames" and hint:
        return f"{error.message.split(' ')[0]} is not {hint}"
    if error.validator == "tomlType":
        return error.message
    return error.message


def _schema_problems(data: Mapping[str, Any]) -> list[Problem]:
    found = []
    for error in _validator().iter_errors(data):
        leaves = _leaf_errors(error)
        for leaf in leaves:
            found.append(Problem(_path(leaf.absolute_path), _message(leaf)))
    return sorted(set(found), key=lambda p: (p.path, p.message))


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """The most specific errors (propertyNames reports the offending key through its context)."""
    if error.context:
        return [leaf for sub in error.context for leaf in _leaf_errors(sub)]
    return [error]


# --- the rules a schema cannot say ------------------------------------------------------------


def _localized(data: Any) -> dict[str, str]:
    return dict(data) if isinstance(data, Mapping) else {}


class _Rules:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []
        visit = data.get("visit", {})
        languages = visit.get("languages", [])
        self.languages = [lang for lang in languages if isinstance(lang, str)]

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> list[Problem]:
        self.placeholders(self.data, [])
        self.dates()
        self.languages_declared()
        self.references()
        self.unique_keys()
        self.time_zones()
        self.agenda_events()
        return self.problems

    def placeholders(self, value: Any, path: list[Any]) -> None:
        if isinstance(value, str) and PLACEHOLDER in value:
            self.add(_path(path), "still to fill in (left blank by visitbot visit new)")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.placeholders(item, [*path, key])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.placeholders(item, [*path, index])

    def dates(self) -> None:
        visit = self.data.get("visit", {})
        starts, ends = visit.get("starts_on"), visit.get("ends_on")
        start, until = visit.get("tracking_from"), visit.get("tracking_until")
        if _is_date(starts) and _is_date(ends) and ends < starts:
            self.add("visit.ends_on", f"{ends} is before starts_on {starts}")
        if not (_is_date(start) and _is_date(until)):
            return  # the schema has said what is wrong with them
        if until < start:
            self.add("visit.tracking_until", f"{until} is before tracking_from {start}")
        elif _is_date(starts) and _is_date(ends) and (start > starts or until < ends):
            self.add(
                "visit.tracking_from",
                f"the tracking window {start} to {until} does not cover the visit"
                f" ({starts} to {ends})",
            )
        for index, item in enumerate(self.data.get("agenda", [])):
            day = item.get("date") if isinstance(item, Mapping) else None
            if _is_date(day) and not start <= day <= until:
                self.add(f"agenda[{index}].date", f"{day} is outside the tracking window")
        for index, item in enumerate(self.data.get("agreements", [])):
            day = item.get("signed_on") if isinstance(item, Mapping) else None
            if _is_date(day) and not start <= day <= until:
                self.add(f"agreements[{index}].signed_on", f"{day} is outside the tracking window")

    def agenda_events(self) -> None:
        """An agenda item's kinds must be ones the visit's vocabularies name."""
        known = set()
        own = self.data.get("vocabulary", {})
        for lang in self.languages:
            data = own.get(lang, {}) if isinstance(own, Mapping) else {}
            programme = data.get("programme", {}) if isinstance(data, Mapping) else {}
            known |= set(programme.get("events", {}) if isinstance(programme, Mapping) else ())
            built = builtin(lang)
            known |= set(built.events) if built else set()
        for index, item in enumerate(self.data.get("agenda", [])):
            events = item.get("events", []) if isinstance(item, Mapping) else []
            for position, event in enumerate(events if isinstance(events, list) else []):
                if isinstance(event, str) and event not in known:
                    self.add(
                        f"agenda[{index}].events[{position}]",
                        f"unknown kind {event!r} (known: {', '.join(sorted(known))})",
                    )

    def languages_declared(self) -> None:
        languages = self.languages
        if not languages:
            return
        if INTERFACE_FALLBACK not in languages:
            self.add("visit.languages", "must include en: English is every text's fallback")
        own = self.data.get("vocabulary", {})
        for lang in languages:
            if lang not in builtin_languages() and lang not in own:
                self.add(
                    "visit.languages",
                    f"no detection vocabulary for {lang!r}: add [vocabulary.{lang}] to this file"
                    f" (built in: {', '.join(builtin_languages())})",
                )
        for path, names in self.names():
            for lang in languages:
                if not names.get(lang):
                    self.add(path, f"no name in {lang!r}, a declared language")
        for path, texts in self.localized_texts():
            for lang in texts:
                if lang not in languages:
                    self.add(f"{path}.{lang}", f"{lang!r} is not in visit.languages")

    def names(self) -> Iterator[tuple[str, dict[str, str]]]:
        """The names detection and the interface need in every declared language."""
        visit = self.data.get("visit", {})
        yield "visit.name", _localized(visit.get("name"))
        for side in ("host", "guest"):
            yield f"{side}.name", _localized(self.data.get(side, {}).get("name"))
        for index, leader in enumerate(self.data.get("leaders", [])):
            if isinstance(leader, Mapping):
                yield f"leaders[{index}].name", _localized(leader.get("name"))

    def localized_texts(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        visit = self.data.get("visit", {})
        for key in ("name", "venue"):
            if isinstance(visit.get(key), Mapping):
                yield f"visit.{key}", visit[key]
        trip = self.data.get("trip", {})
        if isinstance(trip, Mapping) and isinstance(trip.get("name"), Mapping):
            yield "trip.name", trip["name"]
        for side in ("host", "guest"):
            for key in ("name", "aliases"):
                value = self.data.get(side, {}).get(key)
                if isinstance(value, Mapping):
                    yield f"{side}.{key}", value
        for table, keys in (
            ("leaders", ("name", "aliases")),
            ("anchors", ("name", "aliases")),
            ("sectors", ("name", "terms")),
            ("traps", ("terms",)),
            ("topics", ("name",)),
            ("facts", ("text",)),
            ("agenda", ("title", "place", "match")),
        ):
            for index, item in enumerate(self.data.get(table, [])):
                for key in keys:
                    value = item.get(key) if isinstance(item, Mapping) else None
                    if isinstance(value, Mapping):
                        yield f"{table}[{index}].{key}", value
        for key, source in self.data.get("sources", {}).items():
            if isinstance(source, Mapping) and isinstance(source.get("title"), Mapping):
                yield f"sources.{key}.title", source["title"]

    def references(self) -> None:
        sources = set(self.data.get("sources", {}))
        topics = {t.get("key") for t in self.data.get("topics", []) if isinstance(t, Mapping)}
        sectors = {s.get("key") for s in self.data.get("sectors", []) if isinstance(s, Mapping)}
        for table in ("facts", "agenda", "agreements"):
            for index, item in enumerate(self.data.get(table, [])):
                if not isinstance(item, Mapping):
                    continue
                source = item.get("source")
                if isinstance(source, str) and source not in sources:
                    self.add(f"{table}[{index}].source", f"{source!r} is not defined in [sources]")
        for index, fact in enumerate(self.data.get("facts", [])):
            topic = fact.get("topic") if isinstance(fact, Mapping) else None
            if isinstance(topic, str) and topic not in topics:
                self.add(f"facts[{index}].topic", f"{topic!r} is not one of the [[topics]]")
        for index, entry in enumerate(self.data.get("agreements", [])):
            sector = entry.get("sector") if isinstance(entry, Mapping) else None
            if isinstance(sector, str) and sector and sector not in sectors:
                self.add(f"agreements[{index}].sector", f"{sector!r} is not one of the [[sectors]]")

    def unique_keys(self) -> None:
        named = [
            ("leaders", "anchors"),  # one namespace: stories compare them as parties
            ("sectors",),
            ("traps",),
            ("topics",),
            ("facts",),
            ("agenda",),
            ("agreements",),
        ]
        for tables in named:
            seen: Counter[str] = Counter()
            for table in tables:
                for index, item in enumerate(self.data.get(table, [])):
                    key = item.get("key") if isinstance(item, Mapping) else None
                    if isinstance(key, str):
                        seen[key] += 1
                        if seen[key] == 2:
                            self.add(f"{table}[{index}].key", f"{key!r} is used twice")

    def time_zones(self) -> None:
        visit = self.data.get("visit", {})
        for key in ("timezone", "guest_timezone"):
            name = visit.get(key)
            if isinstance(name, str) and name:
                try:
                    ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    self.add(
                        f"visit.{key}", f"{name!r} is not a known time zone (e.g. Europe/Istanbul)"
                    )


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


# --- entry points -----------------------------------------------------------------------------


def parse_toml(raw: bytes) -> tuple[dict[str, Any] | None, Problem | None]:
    """The file's tables, or the one problem that stops reading it (TOML itself, nesting)."""
    try:
        return tomllib.loads(raw.decode("utf-8")), None
    except UnicodeDecodeError as exc:
        return None, Problem("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except tomllib.TOMLDecodeError as exc:
        return None, Problem("", f"not valid TOML: {exc}")
    except RecursionError:
        return None, Problem("", "not valid TOML: nested too deeply")


def check_data(data: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a parsed visit file; the schema's first, then the rules'."""
    try:
        problems = _schema_problems(data)
    except RecursionError:
        return [Problem("", "nested too deeply")]
    return problems + _Rules(data).run()


def check_bytes(raw: bytes) -> list[Problem]:
    data, problem = parse_toml(raw)
    if problem is not None:
        return [problem]
    assert data is not None
    return check_data(data)


def check_languages() -> dict[str, list[Problem]]:
    """The built-in language files against the vocabulary schema (a test keeps them valid)."""
    defs = schema()["$defs"]
    sub = _validator({**defs["vocabulary"], "$defs": defs})
    return {
        code: [Problem(_path(e.absolute_path), _message(e)) for e in sub.iter_errors(data)]
        for code, data in builtin_files().items()
    }


def duplicate_slugs(slugs: Sequence[tuple[str, str]]) -> list[str]:
    """Files that reuse a slug another file already has: (file, slug) in, messages out."""
    first: dict[str, str] = {}
    found = []
    for file, slug in slugs:
        if slug in first:
            found.append(f"{file}: visit.slug: {slug!r} is already the slug of {first[slug]}")
        else:
            first[slug] = file
    return found
