"""The visit definition: a TOML file read into typed, immutable objects.

Pure: no database here. `storage.db` stores what this module reads, and detection reads the
aliases and terms. See the bundled file for the documented format.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("en", "ko", "tr")
# Keys travel in Telegram callback data (at most 64 bytes), so they stay short and plain.
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
BUNDLED_VISIT = "lee-jae-myung-turkiye-2025.toml"


class VisitFileError(ValueError):
    """The visit definition is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Localized:
    """A user-facing string in several languages; English is the fallback."""

    values: dict[str, str]

    def get(self, lang: str) -> str:
        return (
            self.values.get(lang) or self.values.get("en") or next(iter(self.values.values()), "")
        )

    @property
    def en(self) -> str:
        return self.get("en")


@dataclass(frozen=True)
class Named:
    key: str
    name: Localized
    aliases: tuple[str, ...] = ()
    side: str | None = None  # "host" or "guest" for leaders and anchors tied to one country


@dataclass(frozen=True)
class Sector:
    key: str
    name: Localized
    terms: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Trap:
    key: str
    reason: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    key: str
    title: Localized
    url: str | None


@dataclass(frozen=True)
class Fact:
    key: str
    topic: str
    source: Source
    text: Localized


@dataclass(frozen=True)
class AgendaEntry:
    key: str
    starts_at: dt.datetime
    time_known: bool
    title: Localized
    place: Localized
    source: Source


@dataclass(frozen=True)
class AgreementEntry:
    key: str
    title: str
    sector: str
    signed_on: dt.date | None
    parties: str
    source: Source


@dataclass(frozen=True)
class Visit:
    slug: str
    name: Localized
    timezone: ZoneInfo
    guest_timezone: ZoneInfo
    starts_on: dt.date
    ends_on: dt.date
    tracking_from: dt.date
    tracking_until: dt.date
    venue: Localized
    host: Named
    guest: Named
    leaders: tuple[Named, ...]
    anchors: tuple[Named, ...]
    sectors: tuple[Sector, ...]
    traps: tuple[Trap, ...]
    topics: tuple[Named, ...]
    facts: tuple[Fact, ...]
    agenda: tuple[AgendaEntry, ...]
    agreements: tuple[AgreementEntry, ...]
    default_feeds: tuple[str, ...]
    content_hash: str = field(compare=False)

    @property
    def starts_at(self) -> dt.datetime:
        """Midnight of the first day, in the visit's time zone."""
        return dt.datetime.combine(self.starts_on, dt.time(), self.timezone)

    @property
    def ends_at(self) -> dt.datetime:
        """Midnight after the last day, in the visit's time zone."""
        return dt.datetime.combine(self.ends_on + dt.timedelta(days=1), dt.time(), self.timezone)

    def sector(self, key: str) -> Sector | None:
        return next((s for s in self.sectors if s.key == key), None)

    def topic(self, key: str) -> Named | None:
        return next((t for t in self.topics if t.key == key), None)


def load_visit(path: Path | None = None) -> Visit:
    """Read a visit file; `None` means the bundled visit."""
    try:
        if path is None:
            raw = resources.files("storage.visits").joinpath(BUNDLED_VISIT).read_bytes()
        else:
            raw = Path(path).read_bytes()
    except OSError as exc:
        raise VisitFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VisitFileError(f"{path or BUNDLED_VISIT} is not valid TOML: {exc}") from exc
    try:
        return _parse(data, hashlib.sha256(raw).hexdigest())
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, VisitFileError):
            raise
        raise VisitFileError(f"{path or BUNDLED_VISIT}: missing or malformed {exc}") from exc


def _localized(value: Any, what: str) -> Localized:
    if isinstance(value, str):
        return Localized({"en": value})
    if not isinstance(value, dict) or not value.get("en"):
        raise VisitFileError(f"{what} needs at least an English (en) text")
    return Localized({k: str(v) for k, v in value.items() if k in LANGUAGES and v})


def _zone(name: str, what: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise VisitFileError(f"{what}: unknown time zone {name!r}") from exc


def _key(value: object, what: str) -> str:
    key = str(value)
    if not _KEY.fullmatch(key):
        raise VisitFileError(
            f"{what} key {key!r} must be 1-32 lower-case letters, digits or hyphens"
        )
    return key


def _named(raw: dict[str, Any], what: str) -> Named:
    return Named(
        key=_key(raw.get("key") or raw.get("code", "").lower() or what, what),
        name=_localized(raw["name"], f"{what} name"),
        aliases=tuple(str(a) for a in raw.get("aliases", ())),
        side=raw.get("side"),
    )


def _parse(data: dict[str, Any], content_hash: str) -> Visit:
    head = data["visit"]
    tz = _zone(head["timezone"], "visit.timezone")
    sources = {
        key: Source(key, _localized(s["title"], f"source {key}"), s.get("url") or None)
        for key, s in data.get("sources", {}).items()
    }

    def source(key: str, what: str) -> Source:
        if key not in sources:
            raise VisitFileError(f"{what}: unknown source {key!r}")
        return sources[key]

    topics = tuple(_named(t, "topic") for t in data.get("topics", ()))
    topic_keys = {t.key for t in topics}
    facts = []
    seen: set[str] = set()
    for raw in data.get("facts", ()):
        key = raw["key"]
        if key in seen:
            raise VisitFileError(f"fact {key!r} appears twice")
        seen.add(key)
        if raw["topic"] not in topic_keys:
            raise VisitFileError(f"fact {key!r}: unknown topic {raw['topic']!r}")
        texts = {lang: raw[lang] for lang in LANGUAGES if raw.get(lang)}
        facts.append(
            Fact(key, raw["topic"], source(raw["source"], key), _localized(texts, f"fact {key}"))
        )
    agenda = []
    for raw in data.get("agenda", ()):
        at = raw["at"]
        if isinstance(at, dt.datetime):
            starts, known = (at if at.tzinfo else at.replace(tzinfo=tz)), True
        elif isinstance(at, dt.date):
            starts, known = dt.datetime.combine(at, dt.time(), tz), False
        else:
            raise VisitFileError(f"agenda {raw['key']!r}: `at` must be a date or date-time")
        agenda.append(
            AgendaEntry(
                key=raw["key"],
                starts_at=starts,
                time_known=known,
                title=_localized(raw["title"], f"agenda {raw['key']} title"),
                place=_localized(raw.get("place", {"en": ""}) or {"en": ""}, "place")
                if raw.get("place")
                else Localized({"en": ""}),
                source=source(raw["source"], raw["key"]),
            )
        )
    sectors = tuple(
        Sector(
            key=_key(s["key"], "sector"),
            name=_localized(s["name"], f"sector {s['key']}"),
            terms={lang: tuple(t) for lang, t in s.get("terms", {}).items()},
        )
        for s in data.get("sectors", ())
    )
    sector_keys = {s.key for s in sectors}
    agreements = []
    for raw in data.get("agreements", ()):
        if raw.get("sector") and raw["sector"] not in sector_keys:
            raise VisitFileError(f"agreement {raw['key']!r}: unknown sector {raw['sector']!r}")
        agreements.append(
            AgreementEntry(
                key=raw["key"],
                title=raw["title"],
                sector=raw.get("sector", ""),
                signed_on=raw.get("signed_on"),
                parties=raw.get("parties", ""),
                source=source(raw["source"], raw["key"]),
            )
        )
    return Visit(
        slug=head["slug"],
        name=_localized(head["name"], "visit name"),
        timezone=tz,
        guest_timezone=_zone(head.get("guest_timezone", head["timezone"]), "guest_timezone"),
        starts_on=head["starts_on"],
        ends_on=head["ends_on"],
        tracking_from=head["tracking_from"],
        tracking_until=head["tracking_until"],
        venue=_localized(head["venue"], "venue"),
        host=_named(data["host"], "host"),
        guest=_named(data["guest"], "guest"),
        leaders=tuple(_named(x, "leader") for x in data.get("leaders", ())),
        anchors=tuple(_named(x, "anchor") for x in data.get("anchors", ())),
        sectors=sectors,
        traps=tuple(
            Trap(t["key"], t.get("reason", ""), tuple(t["terms"])) for t in data.get("traps", ())
        ),
        topics=topics,
        facts=tuple(facts),
        agenda=tuple(agenda),
        agreements=tuple(agreements),
        default_feeds=tuple(str(u) for u in data.get("feeds", {}).get("urls", ())),
        content_hash=content_hash,
    )
