"""Visit files: TOML read into typed, immutable objects, after `storage.visitcheck` passed them.

Pure: no database here. `storage.visitdata` stores what this module reads, and detection reads
the names, aliases, terms and vocabularies. The format is documented in storage/visits/README.md
and written down as a schema in storage/visits/visit.schema.json.

A visit's state (upcoming, live, concluded) follows from its dates in its own time zone; its
tracking window says when news can be about it (feeds are polled for a visit only then).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from storage.visitcheck import Problem, check_data, duplicate_slugs, parse_toml
from storage.vocabulary import Vocabulary, builtin, extended, vocabulary_from

BUNDLED_VISIT = "lee-jae-myung-turkiye-2025.toml"
Side = Literal["host", "guest", "neutral"]
VisitState = Literal["upcoming", "live", "concluded"]


class VisitFileError(ValueError):
    """A visit file is missing, unreadable or has problems (all of them in `problems`)."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "unreadable"
        more = len(self.problems) - 1
        hint = f" (and {more} more: run visitbot visit check {file})" if more > 0 else ""
        super().__init__(f"{file}: {first}{hint}")


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
    """A country, leader or anchor: its names and aliases, per language, and its side."""

    key: str
    name: Localized
    aliases_by_language: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    side: Side = "neutral"

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(a for terms in self.aliases_by_language.values() for a in terms)

    def spellings(self) -> list[tuple[str, str]]:
        """(language, text) of every name and alias: what detection looks for."""
        found = [(lang, text) for lang, texts in self.aliases_by_language.items() for text in texts]
        return found + list(self.name.values.items())


@dataclass(frozen=True)
class Sector:
    key: str
    name: Localized
    terms: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Trap:
    key: str
    reason: str
    terms: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Trip:
    """A tour of several stops; each stop's file names the same trip key."""

    key: str
    name: Localized


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
    # How the news names it: its kinds (arrival, wreath, … from the vocabularies' `events`) and
    # words that tell it from other items of its kind, per language.
    events: tuple[str, ...] = ()
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
    languages: tuple[str, ...]
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
    vocabularies: Mapping[str, Vocabulary] = field(compare=False, default_factory=dict)
    trip: Trip | None = None
    content_hash: str = field(compare=False, default="")
    file: str = field(compare=False, default="")

    @property
    def starts_at(self) -> dt.datetime:
        """Midnight of the first day, in the visit's time zone."""
        return dt.datetime.combine(self.starts_on, dt.time(), self.timezone)

    @property
    def ends_at(self) -> dt.datetime:
        """Midnight after the last day, in the visit's time zone."""
        return dt.datetime.combine(self.ends_on + dt.timedelta(days=1), dt.time(), self.timezone)

    def state(self, now: dt.datetime) -> VisitState:
        if now < self.starts_at:
            return "upcoming"
        return "live" if now < self.ends_at else "concluded"

    def tracking(self, now: dt.datetime) -> bool:
        """Whether news published now can be about the visit (its feeds are polled)."""
        return self.tracking_from <= now.astimezone(self.timezone).date() <= self.tracking_until

    def sector(self, key: str) -> Sector | None:
        return next((s for s in self.sectors if s.key == key), None)

    def topic(self, key: str) -> Named | None:
        return next((t for t in self.topics if t.key == key), None)


# --- reading --------------------------------------------------------------------------------


def bundled_visits_dir() -> Path:
    """The folder of the visits visitbot ships (the default VISITS_DIR)."""
    return Path(str(resources.files("storage.visits")))


def load_visit(path: Path | None = None) -> Visit:
    """Read and check one visit file; `None` means the bundled Türkiye visit."""
    path = path or bundled_visits_dir() / BUNDLED_VISIT
    name = path.name if path.parent == bundled_visits_dir() else str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise VisitFileError(name, [Problem("", f"cannot read: {exc.strerror or exc}")]) from exc
    data, problem = parse_toml(raw)
    if problem is not None:
        raise VisitFileError(name, [problem])
    assert data is not None
    problems = check_data(data)
    if problems:
        raise VisitFileError(name, problems)
    return parse_visit(data, content_hash=hashlib.sha256(raw).hexdigest(), file=name)


def visit_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if p.is_file())


def load_visits(directory: Path | None = None) -> tuple[Visit, ...]:
    """Every visit file of a folder (default: the bundled ones), checked; slugs must differ."""
    folder = directory or bundled_visits_dir()
    files = visit_files(folder)
    if not files:
        raise VisitFileError(str(folder), [Problem("", "no visit files (*.toml) in this folder")])
    visits = tuple(load_visit(path) for path in files)
    clashes = duplicate_slugs([(v.file, v.slug) for v in visits])
    if clashes:
        raise VisitFileError(str(folder), [Problem("", clashes[0])])
    return visits


def _localized(value: Mapping[str, Any] | None) -> Localized:
    return Localized({str(k): str(v) for k, v in (value or {}).items() if v})


def _terms(value: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    return {str(lang): tuple(str(t) for t in terms) for lang, terms in (value or {}).items()}


def _named(raw: Mapping[str, Any], key: str | None = None, side: Side = "neutral") -> Named:
    return Named(
        key=key or str(raw["key"]),
        name=_localized(raw.get("name")),
        aliases_by_language=_terms(raw.get("aliases")),
        side=raw.get("side", side),
    )


def _vocabularies(languages: Iterable[str], own: Mapping[str, Any]) -> dict[str, Vocabulary]:
    found = {}
    for lang in languages:
        base = builtin(lang)
        extra = vocabulary_from(lang, own[lang]) if lang in own else None
        if base is not None and extra is not None:
            found[lang] = extended(base, extra)
        elif base is not None or extra is not None:
            found[lang] = base or extra  # type: ignore[assignment]
    return found


def parse_visit(data: Mapping[str, Any], *, content_hash: str = "", file: str = "") -> Visit:
    """A checked file's tables as a `Visit` (call `storage.visitcheck.check_data` first)."""
    head = data["visit"]
    tz = ZoneInfo(head["timezone"])
    sources = {
        key: Source(key, _localized(s["title"]), s.get("url") or None)
        for key, s in data.get("sources", {}).items()
    }
    agenda = []
    for raw in data.get("agenda", ()):
        time = raw.get("time")
        clock = dt.time.fromisoformat(time) if time else dt.time()
        agenda.append(
            AgendaEntry(
                key=raw["key"],
                starts_at=dt.datetime.combine(raw["date"], clock, tz),
                time_known=time is not None,
                title=_localized(raw["title"]),
                place=_localized(raw.get("place")),
                source=sources[raw["source"]],
                events=tuple(raw.get("events", ())),
                match=_terms(raw.get("match")),
            )
        )
    trip = data.get("trip")
    languages = tuple(head["languages"])
    return Visit(
        slug=head["slug"],
        languages=languages,
        name=_localized(head["name"]),
        timezone=tz,
        guest_timezone=ZoneInfo(head.get("guest_timezone", head["timezone"])),
        starts_on=head["starts_on"],
        ends_on=head["ends_on"],
        tracking_from=head["tracking_from"],
        tracking_until=head["tracking_until"],
        venue=_localized(head["venue"]),
        host=_named(data["host"], key="host", side="host"),
        guest=_named(data["guest"], key="guest", side="guest"),
        leaders=tuple(_named(x) for x in data.get("leaders", ())),
        anchors=tuple(_named(x) for x in data.get("anchors", ())),
        sectors=tuple(
            Sector(s["key"], _localized(s["name"]), _terms(s.get("terms")))
            for s in data.get("sectors", ())
        ),
        traps=tuple(
            Trap(t["key"], t["reason"], _terms(t.get("terms"))) for t in data.get("traps", ())
        ),
        topics=tuple(_named(t) for t in data.get("topics", ())),
        facts=tuple(
            Fact(f["key"], f["topic"], sources[f["source"]], _localized(f["text"]))
            for f in data.get("facts", ())
        ),
        agenda=tuple(agenda),
        agreements=tuple(
            AgreementEntry(
                key=a["key"],
                title=a["title"],
                sector=a.get("sector", ""),
                signed_on=a.get("signed_on"),
                parties=a.get("parties", ""),
                source=sources[a["source"]],
            )
            for a in data.get("agreements", ())
        ),
        default_feeds=tuple(str(u) for u in data.get("feeds", {}).get("urls", ())),
        vocabularies=_vocabularies(languages, data.get("vocabulary", {})),
        trip=Trip(trip["key"], _localized(trip["name"])) if trip else None,
        content_hash=content_hash,
        file=file,
    )


# --- several visits -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedVisit:
    """A visit and its database id."""

    id: int
    visit: Visit

    @property
    def slug(self) -> str:
        return self.visit.slug


class Catalog:
    """The visits one bot follows, in start order, with what readers and detection ask of them."""

    def __init__(self, loaded: Iterable[LoadedVisit]) -> None:
        self.all: tuple[LoadedVisit, ...] = tuple(
            sorted(loaded, key=lambda v: (v.visit.starts_on, v.slug))
        )
        if not self.all:
            raise ValueError("a catalog needs at least one visit")
        self._by_id = {v.id: v for v in self.all}
        self._by_slug = {v.slug: v for v in self.all}

    def __len__(self) -> int:
        return len(self.all)

    def __iter__(self) -> Iterator[LoadedVisit]:
        return iter(self.all)

    def get(self, visit_id: int | None) -> LoadedVisit | None:
        return self._by_id.get(visit_id) if visit_id is not None else None

    def by_slug(self, slug: str) -> LoadedVisit | None:
        return self._by_slug.get(slug.strip().lower())

    def default(self, now: dt.datetime) -> LoadedVisit:
        """What a chat that picked nothing sees: the live visit, else the next, else the latest."""
        live = [v for v in self.all if v.visit.state(now) == "live"]
        if live:
            return live[0]
        upcoming = [v for v in self.all if v.visit.state(now) == "upcoming"]
        return upcoming[0] if upcoming else self.all[-1]

    def ordered(self, now: dt.datetime) -> list[LoadedVisit]:
        """Live, then upcoming (soonest first), then concluded (latest first): for /visits."""
        rank = {"live": 0, "upcoming": 1, "concluded": 2}
        live_or_next = [v for v in self.all if v.visit.state(now) != "concluded"]
        concluded = [v for v in reversed(self.all) if v.visit.state(now) == "concluded"]
        return sorted(live_or_next, key=lambda v: rank[v.visit.state(now)]) + concluded

    def trip(self, loaded: LoadedVisit) -> list[LoadedVisit]:
        """The stops of `loaded`'s trip in order (itself alone when it names no trip)."""
        trip = loaded.visit.trip
        if trip is None:
            return [loaded]
        return [v for v in self.all if v.visit.trip is not None and v.visit.trip.key == trip.key]

    def other_stops(self, loaded: LoadedVisit) -> list[Visit]:
        return [v.visit for v in self.trip(loaded) if v.id != loaded.id]

    def tracking(self, now: dt.datetime) -> list[LoadedVisit]:
        """The visits news can be about now: their feeds are polled."""
        return [v for v in self.all if v.visit.tracking(now)]
