"""Programme news: what a story says about the visit's programme. Pure: no I/O.

Detection says an item is programme news (kind "agenda"); this module reads it against the
visit's programme items:

* **Which item** it is about. Each item has kinds (arrival, talks, wreath, … named by the
  vocabularies' `events`) and words that tell it from the others of its kind (`match`: the
  mausoleum from the war memorial). A kind alone names an item only when no other item has it;
  otherwise a telling word must be there. Ties go to the item on the story's day, else the next
  one to come, and then to the one the headline names first (its main clause).
* **How it speaks** of it (`Mood`), from the vocabularies' `programme` words in the clause of
  the item's words: cancelled, moved, under way, announced, reported, in that order. Without
  any, the story's date decides: before the item it announces it, from then on it reports it. A
  report dated before its item is taken for an announcement (headlines write the present for
  both); an announcement that names another day than the item's says the item moved.
* **A day and time** the headline gives ("on Wednesday", "26 Kasım", "24일 오후 3시"), for the
  new day of a moved item and to prefill a proposed one.

`effect_of` says what the story does to the programme; `jobs.polling` applies it (mark, propose,
alert) through `storage.programme`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from jobs.textmatch import CLAUSE, Hit, Script, Text, Words, clause_of
from storage.agenda import AgendaItem
from storage.programme import Effect, ProgrammeEffect
from storage.textfold import fold
from storage.visit import Visit
from storage.vocabulary import Vocabulary

Mood = Literal["announced", "reported", "underway", "moved", "cancelled"]
MOODS: tuple[Mood, ...] = ("cancelled", "moved", "underway", "announced", "reported")
# At most this many words between an announcing word and the item's word ("Lee to visit",
# "to continue talks over lunch").
BEFORE_WINDOW = 4
# Where a headline's sentence ends, for languages whose verbs come last ("A…B" is two).
_SENTENCE = re.compile(r"…|\.\.\.|[|;]")
# A report this much before its item's known time is still a report (clocks, slow feeds).
EARLY_REPORT = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class ProgrammeItem:
    """An item of the programme as the news is read against it."""

    id: int
    starts_at: dt.datetime
    time_known: bool
    titles: Mapping[str, str]
    events: tuple[str, ...] = ()
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    key: str = ""  # the visit file's key, for bundled items


@dataclass(frozen=True)
class Said:
    """A day and time a headline names, and whether the day is a date ("26 Nov", "24일")
    rather than a weekday or "tomorrow"."""

    day: dt.date | None = None
    time: dt.time | None = None
    explicit: bool = False


@dataclass(frozen=True)
class ProgrammeNews:
    mood: Mood
    item: ProgrammeItem | None
    events: tuple[str, ...]  # the kinds of item the headline names (the item's, when matched)
    said: Said
    reason: str
    # No item, although a kind the headline names is on the programme: it cannot be told which
    # item it is ("a wreath in Ankara" before either wreath), so it is not new either.
    ambiguous: bool = False


@dataclass(frozen=True)
class _Scored:
    score: int
    index: int
    item: ProgrammeItem
    first: Hit


@dataclass(frozen=True)
class _Found:
    item: ProgrammeItem | None
    anchor: Hit | None
    why: str
    ambiguous: bool = False


def items_of(visit: Visit) -> list[ProgrammeItem]:
    """A visit file's programme as items (numbered in file order), for benchmarks and tests."""
    return [
        ProgrammeItem(
            id=n,
            starts_at=entry.starts_at,
            time_known=entry.time_known,
            titles=entry.title.values,
            events=entry.events,
            match=entry.match,
            key=entry.key,
        )
        for n, entry in enumerate(visit.agenda, start=1)
    ]


class ProgrammeReader:
    """The visit's programme vocabulary and items compiled once; `read` is pure and cheap.

    Items an admin added have no kinds or telling words of their own: their kinds are the ones
    their titles name, and their telling words the other words of their titles.
    """

    def __init__(self, visit: Visit, items: Sequence[ProgrammeItem]) -> None:
        self.visit = visit
        vocabularies = list(visit.vocabularies.values())
        self._script = script = Script(vocabularies)
        self._events = Words(
            (
                (kind, term, v)
                for v in vocabularies
                for kind, terms in v.events.items()
                for term in terms
            ),
            script,
        )
        self._moods = {
            mood: Words(((mood, t, v) for v in vocabularies for t in getattr(v, mood)), script)
            for mood in MOODS
        }
        self._before = Words(
            (("announced", t, v) for v in vocabularies for t in v.announced_before), script
        )
        self._background_before = Words(
            (("before", t, v) for v in vocabularies for t in v.background_before), script
        )
        self._background_after = Words(
            (("after", t, v) for v in vocabularies for t in v.background_after), script
        )
        self._verb_last = any(v.verb_last for v in vocabularies)
        self._stopwords = frozenset(w for v in vocabularies for w in v.stopwords)
        self.items = [self._completed(item, vocabularies) for item in items]
        self._telling = Words(
            (
                (str(index), term, self._vocabulary(lang))
                for index, item in enumerate(self.items)
                for lang, terms in item.match.items()
                for term in terms
            ),
            script,
            scoped=True,
        )
        self._dates = _Dates(vocabularies, script)
        kinds: dict[str, int] = {}
        for item in self.items:
            for kind in set(item.events):
                kinds[kind] = kinds.get(kind, 0) + 1
        self._shared_kinds = frozenset(k for k, n in kinds.items() if n > 1)

    def _vocabulary(self, lang: str) -> Vocabulary:
        vocabularies = self.visit.vocabularies
        return vocabularies.get(lang) or vocabularies.get("en") or next(iter(vocabularies.values()))

    def _completed(self, item: ProgrammeItem, vocabularies: Sequence[Vocabulary]) -> ProgrammeItem:
        """An item with kinds and telling words, from its titles when it has neither (one an
        admin added; a visit file's item says what it wants)."""
        if item.events or item.match:
            return item
        events = item.events
        match = dict(item.match)
        for lang, title in item.titles.items():
            text = Text.of(title)
            hits = self._events.hits(text)
            if not item.events:
                events = tuple(dict.fromkeys((*events, *(h.key for h in hits))))
            if not item.match:
                words = _other_words(text, hits, self._stopwords)
                if words:
                    match[lang] = tuple(dict.fromkeys((*match.get(lang, ()), *words)))
        return ProgrammeItem(
            item.id, item.starts_at, item.time_known, item.titles, events, match, item.key
        )

    # -- reading -------------------------------------------------------------------------------

    def read(
        self, title: str, published: dt.datetime | None, now: dt.datetime
    ) -> ProgrammeNews | None:
        """What the headline says about the programme; None when it names no kind of item."""
        text = Text.of(title)
        moment = published or now
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        kinds = self._events.hits(text)
        found = self._item(text, kinds, moment)
        if found.item is None and not kinds:
            return None
        anchor = found.anchor or self._main(text, kinds)
        said = self._dates.said(text, moment.astimezone(self.visit.timezone).date(), self.visit)
        mood, how = self._mood(text, anchor)
        mood, when = self._timed(mood, found.item, moment, said)
        item = found.item
        events = item.events if item else tuple(dict.fromkeys(h.key for h in kinds))
        reason = "; ".join(r for r in (found.why, how, when) if r)
        return ProgrammeNews(mood, item, events, said, reason, ambiguous=found.ambiguous)

    def _item(self, text: Text, kinds: list[Hit], moment: dt.datetime) -> _Found:
        """The item the headline is about, the hit that names it first, and why.

        Words in the background of the news ("after arrival") count only for an item that has
        nothing else; a kind several items share names one only when it is the sole such item
        on the story's day.
        """
        telling: dict[int, list[Hit]] = {}
        for hit in self._telling.hits(text):
            telling.setdefault(int(hit.key), []).append(hit)
        today = moment.astimezone(self.visit.timezone).date()
        shared_today: dict[str, int] = {}
        for item in self.items:
            if item.starts_at.astimezone(self.visit.timezone).date() == today:
                for kind in set(item.events):
                    shared_today[kind] = shared_today.get(kind, 0) + 1
        scored: list[_Scored] = []
        ambiguous = False
        for index, item in enumerate(self.items):
            own = [h for h in kinds if h.key in item.events]
            words = telling.get(index, [])
            hits = sorted([*own, *words], key=lambda h: h.start)
            background = any(self._background(text, h) for h in hits)
            score = (1 if own else 0) + 2 * len({(h.start, h.end) for h in words})
            is_today = item.starts_at.astimezone(self.visit.timezone).date() == today
            alone = any(
                h.key not in self._shared_kinds or (is_today and shared_today.get(h.key) == 1)
                for h in own
            )
            if score >= 2 or (score == 1 and alone):
                scored.append(_Scored(score - 10 * background, index, item, hits[0]))
            elif own:
                ambiguous = True  # a kind on the programme, but whose item cannot be told
        if not scored:
            return _Found(None, None, "several items" if ambiguous else "no item", ambiguous)
        # The main clause first: among the items named in the earliest clause naming any (and
        # not in the background), the best named.
        first_clause = (
            min(_clause_index(text, s.first) for s in scored if s.score > 0)
            if any(s.score > 0 for s in scored)
            else None
        )
        if first_clause is not None:
            scored = [
                s for s in scored if s.score > 0 and _clause_index(text, s.first) == first_clause
            ]
        best = max(s.score for s in scored)
        top = [s for s in scored if s.score == best]
        if len(top) > 1:
            top = self._nearest(top, today)
        # Still several, each named as well as the other: the one named first is the news.
        chosen = min(top, key=lambda s: s.first.start)
        return _Found(chosen.item, chosen.first, f"item {chosen.item.key or chosen.item.id}")

    def _background(self, text: Text, hit: Hit) -> bool:
        """Whether a word stands in the background of the headline ("after arrival, …",
        "도착 직후 헌화")."""
        start, end = clause_of(text, hit)
        for marker in self._background_before.hits(text):
            if start <= marker.start and marker.end <= hit.start:
                words_between = re.findall(r"\w+", text.low[marker.end : hit.start])
                if len(words_between) <= 1:
                    return True
        for marker in self._background_after.hits(text):
            gap = text.low[hit.end : marker.start]
            if hit.end <= marker.start and marker.end <= end and not re.search(r"\w", gap):
                return True
        return False

    def _main(self, text: Text, kinds: list[Hit]) -> Hit:
        """The first kind word that is not in the background."""
        return next((h for h in kinds if not self._background(text, h)), kinds[0])

    def _nearest(self, tied: list[_Scored], today: dt.date) -> list[_Scored]:
        """Among equally named items, those on the story's own day, else the next one to come."""

        def day(s: _Scored) -> dt.date:
            return s.item.starts_at.astimezone(self.visit.timezone).date()

        same = [s for s in tied if day(s) == today]
        if same:
            return same
        ahead = sorted((s for s in tied if day(s) > today), key=day)
        if ahead:
            return [s for s in ahead if day(s) == day(ahead[0])]
        past = sorted((s for s in tied if day(s) < today), key=day)
        return [s for s in past if day(s) == day(past[-1])]

    def _mood(self, text: Text, anchor: Hit) -> tuple[Mood | None, str]:
        """The mood the words of the anchor's clause give, if any (and in languages whose verbs
        come last, the words after it when its clause has none)."""
        start, end = clause_of(text, anchor)
        spans = [(start, end)]
        if self._verb_last:
            sentence = _SENTENCE.search(text.low, anchor.end)
            spans.append((anchor.end, sentence.start() if sentence else len(text.low)))
        quoted = _quoted(text)
        for low, high in spans:
            for mood in MOODS:
                for hit in self._moods[mood].hits(text):
                    if any(q0 <= hit.start < q1 for q0, q1 in quoted):
                        continue
                    if low <= hit.start and hit.end <= high and not _inside(hit, anchor):
                        return mood, f"{mood}: {text.low[hit.start : hit.end]!r}"
            if low == start:
                for hit in self._before.hits(text):
                    if start <= hit.start and hit.end <= anchor.start:
                        between = re.findall(r"\w+", text.low[hit.end : anchor.start])
                        if len(between) < BEFORE_WINDOW:
                            return "announced", f"announced: {text.low[hit.start : hit.end]!r}"
        return None, ""

    def _timed(
        self, mood: Mood | None, item: ProgrammeItem | None, moment: dt.datetime, said: Said
    ) -> tuple[Mood, str]:
        """The mood checked against the calendar: the story's date where the words said none,
        a report of an item still ahead is an announcement, an announcement for another
        day than the item's is a move."""
        tz = self.visit.timezone
        local_day = moment.astimezone(tz).date()
        if item is None:
            if mood is not None:
                return mood, ""
            started = local_day >= self.visit.starts_on
            return ("reported" if started else "announced"), "by date"
        item_day = item.starts_at.astimezone(tz).date()
        if item.time_known:
            begun = moment >= item.starts_at - EARLY_REPORT
        elif said.time is not None and (said.day or local_day) == item_day == local_day:
            # "lays wreath at 11 a.m.", published at 8 on the day: the headline's own time
            stated = dt.datetime.combine(item_day, said.time, tz)
            begun = moment >= stated - EARLY_REPORT
        else:
            begun = local_day >= item_day
        if mood in ("reported", "underway") and not begun:
            return "announced", "before the item"
        if mood is None:
            return ("reported" if begun else "announced"), "by date"
        if mood == "announced" and said.explicit and said.day and said.day != item_day:
            return "moved", f"announced for {said.day}"
        return mood, ""


def _clause_index(text: Text, hit: Hit) -> int:
    return sum(1 for m in CLAUSE.finditer(text.low) if m.end() <= hit.start)


def _quoted(text: Text) -> list[tuple[int, int]]:
    """Spans inside double quotes: what someone said is not how the headline speaks."""
    return [(m.start(), m.end()) for m in re.finditer(r"[\"“”«»][^\"“”«»]*[\"“”«»]", text.low)]


def _inside(hit: Hit, anchor: Hit) -> bool:
    """A mood word that is the item's own word ("visits" names the visit, and reports it)
    still counts; only a word strictly inside the anchor is ignored."""
    return anchor.start < hit.start and hit.end < anchor.end


def _other_words(text: Text, kinds: list[Hit], stopwords: frozenset[str]) -> list[str]:
    """A title's words outside its kind words: an admin item's telling words."""
    found = []
    for m in re.finditer(r"\w+", text.low):
        if any(h.start <= m.start() < h.end for h in kinds):
            continue
        word = m.group()
        if len(word) >= 4 and word not in stopwords and not word.isdigit():
            found.append(word)
    return found


# --- dates ----------------------------------------------------------------------------------


class _Dates:
    """Days and times as the vocabularies write them: "26 November", "Nov. 26", "11월 26일",
    "Wednesday", "tomorrow", "10:30", "3 p.m.", "오후 3시"."""

    def __init__(self, vocabularies: Sequence[Vocabulary], script: Script) -> None:
        def words(pairs: Iterable[tuple[str, str, Vocabulary]]) -> Words:
            return Words(pairs, script)

        self.months = words(
            (str(n), form, v)
            for v in vocabularies
            for n, forms in enumerate(v.months, start=1)
            for form in forms
        )
        self.weekdays = words(
            (str(n), form, v)
            for v in vocabularies
            for n, forms in enumerate(v.weekdays)
            for form in forms
        )
        self.relative = words(
            (str(offset), form, v)
            for v in vocabularies
            for offset, forms in ((0, v.today), (1, v.tomorrow), (-1, v.yesterday))
            for form in forms
        )
        self.am = words(("am", t, v) for v in vocabularies for t in v.am)
        self.pm = words(("pm", t, v) for v in vocabularies for t in v.pm)

        def suffix(values: Iterable[str]) -> str:
            escaped = sorted({re.escape(fold(s)) for s in values if fold(s)}, key=len, reverse=True)
            return "|".join(escaped)

        month_suffix = suffix(s for v in vocabularies for s in v.month_suffix)
        day_suffix = suffix(s for v in vocabularies for s in v.day_suffix)
        hour_suffix = suffix(s for v in vocabularies for s in v.hour_suffix)
        minute_suffix = suffix(s for v in vocabularies for s in v.minute_suffix)
        self.numbered_month = (
            re.compile(rf"(?<!\d)(\d{{1,2}})\s?(?:{month_suffix})") if month_suffix else None
        )
        self.numbered_day = (
            re.compile(rf"(?<!\d)(\d{{1,2}})\s?(?:{day_suffix})") if day_suffix else None
        )
        minutes = rf"(?:\s?(\d{{1,2}})\s?(?:{minute_suffix}))?" if minute_suffix else ""
        self.numbered_hour = (
            re.compile(rf"(?<!\d)(\d{{1,2}})\s?(?:{hour_suffix}){minutes}") if hour_suffix else None
        )

    def said(self, text: Text, today: dt.date, visit: Visit) -> Said:
        day, explicit = self._day(text, today, visit)
        return Said(day, self._time(text), explicit)

    def _day(self, text: Text, today: dt.date, visit: Visit) -> tuple[dt.date | None, bool]:
        low = text.low
        for hit in self.months.hits(text):
            number = _number_next_to(low, hit)
            if number is not None:
                found = _dated(visit, int(hit.key), number)
                if found:
                    return found, True
        if self.numbered_day is not None:
            month_hit = self.numbered_month.search(low) if self.numbered_month else None
            for m in self.numbered_day.finditer(low):
                month = int(month_hit.group(1)) if month_hit else None
                found = _dated(visit, month, int(m.group(1)))
                if found:
                    return found, True
        for hit in self.relative.hits(text):
            return today + dt.timedelta(days=int(hit.key)), False
        for hit in self.weekdays.hits(text):
            ahead = (int(hit.key) - today.weekday()) % 7
            return today + dt.timedelta(days=ahead), False
        return None, False

    def _time(self, text: Text) -> dt.time | None:
        low = text.low
        pm = bool(self.pm.hits(text))
        am = bool(self.am.hits(text))
        m = re.search(r"(?<![\d.:])([01]?\d|2[0-3])[:.]([0-5]\d)(?![\d.:])", low)
        if m:
            hour, minute = int(m.group(1)), int(m.group(2))
            return dt.time(hour + 12 if pm and hour < 12 else hour, minute)
        if self.numbered_hour is not None:
            m = self.numbered_hour.search(low)
            if m and int(m.group(1)) <= 24:
                hour = int(m.group(1)) % 24
                minute = int(m.group(2)) if m.lastindex and m.group(2) else 0
                return dt.time(hour + 12 if pm and hour < 12 else hour, min(minute, 59))
        if am or pm:
            for hit in [*self.am.hits(text), *self.pm.hits(text)]:
                number = re.search(r"(\d{1,2})\s*$", low[: hit.start])
                if number and 1 <= int(number.group(1)) <= 12:
                    hour = int(number.group(1)) % 12 + (12 if hit.key == "pm" else 0)
                    return dt.time(hour, 0)
        return None


def _number_next_to(low: str, hit: Hit) -> int | None:
    """A day number right before or after a month word ("26 November", "Nov. 26")."""
    before = re.search(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s*$", low[: hit.start])
    after = re.match(r"\.?\s*(\d{1,2})(?!\d)", low[hit.end :])
    for found in (before, after):
        if found and 1 <= int(found.group(1)) <= 31:
            return int(found.group(1))
    return None


def _dated(visit: Visit, month: int | None, day: int) -> dt.date | None:
    """The date of that day (and month: the visit's own when not given) nearest the visit."""
    months = [month] if month else sorted({visit.starts_on.month, visit.ends_on.month})
    found = []
    for m in months:
        for year in (visit.starts_on.year - 1, visit.starts_on.year, visit.starts_on.year + 1):
            try:
                found.append(dt.date(year, m, day))
            except ValueError:
                continue
    if not found:
        return None
    return min(found, key=lambda d: abs((d - visit.starts_on).days))


# --- what the polling job does with it ------------------------------------------------------


def stored_items(items: Sequence[AgendaItem]) -> list[ProgrammeItem]:
    """The stored programme (admin items included) as the reader takes it."""
    return [
        ProgrammeItem(
            id=item.id,
            starts_at=item.starts_at,
            time_known=item.time_known,
            titles=item.titles,
            events=item.events,
            match=item.match,
            key=item.key or "",
        )
        for item in items
    ]


_READERS: dict[tuple[str, str, tuple[object, ...]], ProgrammeReader] = {}


def _signature(item: ProgrammeItem) -> object:
    """What the reader depends on, hashable (the item's mappings are not)."""
    return (
        item.id,
        item.starts_at,
        item.time_known,
        tuple(sorted(item.titles.items())),
        item.events,
        tuple(sorted(item.match.items())),
        item.key,
    )


def reader_for(visit: Visit, items: Sequence[ProgrammeItem]) -> ProgrammeReader:
    """A cached reader for the visit and its programme as it stands (compiling one takes a
    moment; the programme changes rarely)."""
    key = (visit.slug, visit.content_hash, tuple(_signature(i) for i in items))
    reader = _READERS.get(key)
    if reader is None:
        if len(_READERS) > 32:
            _READERS.clear()
        reader = _READERS[key] = ProgrammeReader(visit, items)
    return reader


def effect_of(news: ProgrammeNews, visit: Visit, published: dt.datetime) -> ProgrammeEffect | None:
    """What the story does: mark its item (done, under way), record an announcement, or
    propose a move, a cancellation or a new item. A story naming a kind that is on the
    programme without saying which item (`ambiguous`) does nothing: it is not new either."""
    said = news.said
    if news.item is not None:
        effect: Effect = {
            "reported": "done",
            "underway": "underway",
            "announced": "announced",
            "moved": "moved",
            "cancelled": "cancelled",
        }[news.mood]  # type: ignore[assignment]
        return ProgrammeEffect(
            effect,
            news.item.id,
            news.item.events,
            said.day if effect == "moved" else None,
            said.time if effect == "moved" else None,
            said.explicit,
        )
    if news.ambiguous or not news.events or news.mood in ("moved", "cancelled"):
        return None
    day = said.day
    if day is None or not visit.tracking_from <= day <= visit.tracking_until:
        local = published.astimezone(visit.timezone).date()
        day = min(max(local, visit.starts_on), visit.ends_on)
    return ProgrammeEffect("new", None, news.events, day, said.time, said.day is not None)
