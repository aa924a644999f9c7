"""Recognise news items about a visit and classify them. Pure: no I/O.

Everything visit-specific (names, aliases, venues, companies, sector terms, traps, the tracking
window, the other stops of its trip) comes from the `Visit`, and everything language-specific
(what "signed", "will sign", "talks" or "after the G20" look like, how words attach, how to tell a
language in a headline) from the visit's vocabularies (`storage.vocabulary`, data files in
storage/languages/). This module only knows how text is shaped: some scripts attach particles to
words and are matched inside words, others need word boundaries; clitics may precede a word and
suffixes follow it. A `Detector` compiles the visit's terms once, so detecting one item is a
handful of regex scans.

Sides. An item is about the visit when it has evidence for both the host and the guest side.
Country aliases carry their side; leaders and anchors carry the side their visit file declares
(`host`, `guest`, or `neutral` for an anchor that says none). A neutral anchor is visit-specific
evidence that can stand in for either side, and so is a word naming an item of the programme
(`match` of an agenda entry: "Anıtkabir") next to the visiting leader.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from jobs.textmatch import (
    Hit,
    Matcher,
    Rule,
    Script,
    Text,
    Words,
    clause_of,
    fold_char,
    prepare,
)
from storage.textfold import fold
from storage.visit import Named, Visit
from storage.vocabulary import Vocabulary, in_ranges

Kind = Literal["agreement", "agenda", "other"]
Side = Literal["host", "guest", ""]
Verdict = Literal["done", "planned", ""]

_APOSTROPHE_SUFFIX = re.compile(r"'([^\W\d_]+)")

# --- kind -----------------------------------------------------------------------------------


class _Signing:
    """One language's signing vocabulary, compiled: is a signing reported, planned, or neither?

    A signing is *planned* when a phrase announces it ("체결 예정", "imzalanacak") or a future
    word stands near its verb ("set to sign", "will sign"); it is *done* when a signing verb
    stands without one, or (in languages that say so) when a document is simply named without
    being talked about ("원전 MOU"). Languages that require a document count a verb only in a
    headline that also names one ("signs MoU", not "signs off").
    """

    def __init__(self, vocab: Vocabulary, script: Script) -> None:
        self.vocab = vocab

        def words(terms: Sequence[str]) -> Words | None:
            return Words(((t, t, vocab) for t in terms), script) if terms else None

        self.documents = words(vocab.documents)
        self.signed = words(vocab.signed)
        self.planned = words((*vocab.planned, *vocab.future_anywhere))
        self.talked = words(vocab.talked_about)

    def verdict(self, text: Text) -> Verdict:
        v = self.vocab
        document = bool(self.documents and self.documents.hits(text))
        signs = self.signed.hits(text) if self.signed else []
        if not document and not signs:
            return ""
        if v.requires_document and not document:
            return ""
        if self.planned and self.planned.hits(text):
            return "planned"
        verdict: Verdict = ""
        words = text.words()
        for hit in signs:
            index = len(re.findall(r"\w+", text.low[: hit.start]))
            before, after = words[max(0, index - 3) : index], words[index + 1 : index + 3]
            right_before = any(
                before[-len(phrase) :] == list(phrase) for phrase in v.future_right_before
            )
            if v.future_before & set(before) or v.future_after & set(after) or right_before:
                verdict = "planned"
                continue
            return "done"
        if verdict:
            return verdict
        talked = bool(self.talked and self.talked.hits(text))
        if v.document_reports_signing and document and not talked:
            return "done"
        return ""


# --- language -------------------------------------------------------------------------------


class _Languages:
    """Which of the visit's languages a headline is in.

    A language with a script of its own (Hangul, Arabic) is recognised by that script. Among
    the others, English is the default, and another language wins with enough of its own
    function words, letters and apostrophe suffixes ("Ankara'dan") to outnumber English words.
    """

    def __init__(self, vocabularies: Sequence[Vocabulary]) -> None:
        self.by_script = [v for v in vocabularies if v.script]
        self.others = [v for v in vocabularies if not v.script]
        self.default = next((v.code for v in vocabularies if v.code == "en"), vocabularies[0].code)
        self.contractions = frozenset(c for v in vocabularies for c in v.contractions)

    def of(self, raw: str, stripped: str) -> str:
        """`stripped` has the visit's names removed: English headlines write "Türkiye" too."""
        for vocab in self.by_script:
            if in_ranges(raw, vocab.script):
                return vocab.code
        words = re.findall(r"\w+", stripped)
        folded = [fold(w) for w in words]
        suffixes = [
            s for s in _APOSTROPHE_SUFFIX.findall(stripped.lower()) if s not in self.contractions
        ]
        baseline = 0
        best, best_score = self.default, 0
        for vocab in self.others:
            own_words = sum(1 for w in folded if w in vocab.words)
            if vocab.code == self.default:
                baseline = own_words
                continue
            letters = sum(1 for w in words if vocab.letters and any(c in vocab.letters for c in w))
            if vocab.apostrophe_suffixes:
                letters += len(suffixes)
            if (own_words >= 1 or letters >= 2) and own_words + letters > best_score:
                best, best_score = vocab.code, own_words + letters
        return best if best_score > baseline else self.default


# --- traps: which stop is the story about? ---------------------------------------------------


class _PreviousStop:
    """Whether a place is where the traveller comes from ("after the G20, ...", "UAE 일정
    마치고", "Mısır'dan") rather than where the story happens: the vocabularies' markers before
    and after a place, within its clause."""

    def __init__(self, vocabularies: Sequence[Vocabulary]) -> None:
        self.before = frozenset(w for v in vocabularies for w in v.previous_before)
        self.right_before = tuple(p for v in vocabularies for p in v.previous_right_before)
        self.suffixes = frozenset(s for v in vocabularies for s in v.previous_suffixes)
        self.after = tuple(
            (fold(t.rstrip("*")), t.endswith("*")) for v in vocabularies for t in v.previous_after
        )

    def __call__(self, text: Text, hit: Hit) -> bool:
        start, end = clause_of(text, hit)
        before = re.findall(r"\w+", text.low[start : hit.start])
        after = re.findall(r"\w+", text.low[hit.end : end])
        if self.before & set(before):
            return True
        if any(before[-len(p) :] == list(p) for p in self.right_before):
            return True
        if after[:1] and after[0] in self.suffixes:
            return True
        return any(
            word == term or (stem and word.startswith(term))
            for word in after
            for term, stem in self.after
        )


# --- public API -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    relevant: bool
    kind: Kind
    sectors: tuple[str, ...]
    lang: str
    parties: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class _Evidence:
    """What one piece of text says about sides, anchors and traps."""

    host: bool
    guest: bool
    neutral: bool
    traps: tuple[Hit, ...]
    host_places: tuple[Hit, ...]

    @property
    def enough(self) -> bool:
        return (self.host and self.guest) or ((self.host or self.guest) and self.neutral)

    @property
    def strength(self) -> int:
        """2 for both sides, 1 for a side and an anchor, 0 otherwise (ranks competing visits)."""
        return 2 if self.host and self.guest else int(self.enough)


OTHER_STOPS = "other-stops"


def _vocabulary(visit: Visit, lang: str) -> Vocabulary:
    """The visit's vocabulary for `lang`; terms in another language use English rules."""
    return (
        visit.vocabularies.get(lang)
        or visit.vocabularies.get("en")
        or next(iter(visit.vocabularies.values()))
    )


def _spellings(visit: Visit, named: Named) -> list[tuple[str, Rule]]:
    return [(text, Rule(_vocabulary(visit, lang), "name")) for lang, text in named.spellings()]


class Detector:
    """The visit's terms compiled once; `detect` is pure and cheap.

    `other_stops` are the other visits of the same trip: their host countries and venues are
    traps here, so an item about one stop is not credited to another.
    """

    def __init__(self, visit: Visit, other_stops: Sequence[Visit] = ()) -> None:
        self.visit = visit
        vocabularies = list(visit.vocabularies.values())
        every = vocabularies + [v for s in other_stops for v in s.vocabularies.values()]
        self._script = script = Script(every)
        self.sides: dict[str, Side] = {}
        for named in (*visit.leaders, *visit.anchors):
            self.sides[named.key] = "" if named.side == "neutral" else named.side
        venue = tuple(visit.venue.values.values())
        self._leaders = frozenset(x.key for x in visit.leaders)
        self._venues = frozenset(a.key for a in visit.anchors if self._is_venue(a, venue))
        own = [
            (item.key, text, rule)
            for item in (visit.host, visit.guest, *visit.leaders, *visit.anchors)
            for text, rule in _spellings(visit, item)
        ]
        self._entities = Matcher(own, script)
        self._traps = Matcher(
            [
                (trap.key, term, Rule(_vocabulary(visit, lang), "trap"))
                for trap in visit.traps
                for lang, terms in trap.terms.items()
                for term in terms
            ]
            + self._stop_terms(visit, other_stops, own),
            script,
        )
        self._sectors = Matcher(
            [
                (s.key, term, Rule(_vocabulary(visit, lang), "term"))
                for s in visit.sectors
                for lang, terms in s.terms.items()
                for term in terms
            ],
            script,
        )
        self._signing = [_Signing(v, script) for v in vocabularies]
        # Programme news: the agenda words, and the words naming a kind of programme item
        # ("lands", "헌화", "çelenk"), which `jobs.programme` reads further.
        self._agenda = Words(
            (
                (v.code, t, v)
                for v in vocabularies
                for t in (*v.agenda, *(w for words in v.events.values() for w in words))
            ),
            script,
        )
        # The words telling the visit's programme items apart ("Anıtkabir", "war memorial"):
        # visit-specific, so with the guest they make an item about the visit.
        self._programme = Words(
            (
                (entry.key, term, _vocabulary(visit, lang))
                for entry in visit.agenda
                for lang, terms in entry.match.items()
                for term in terms
            ),
            script,
            scoped=True,
        )
        self._languages = _Languages(vocabularies)
        self._previous_stop = _PreviousStop(vocabularies)
        self._stopwords = frozenset(w for v in vocabularies for w in v.stopwords)
        self._numbers = {w: n for v in vocabularies for w, n in v.numbers.items()}
        self._particles = [
            (re.compile("(?:" + "|".join(map(re.escape, v.particles)) + ")$"), v)
            for v in vocabularies
            if v.particles
        ]
        self._sector_order = {s.key: n for n, s in enumerate(visit.sectors)}
        self._anchor_order = {a.key: n for n, a in enumerate(visit.anchors)}

    @staticmethod
    def _stop_terms(
        visit: Visit, stops: Sequence[Visit], own: Sequence[tuple[str, str, Rule]]
    ) -> list[tuple[str, str, Rule]]:
        """The other stops' host countries, venues and host leaders, minus anything naming
        this visit (two stops in one country must not trap each other)."""
        mine = {fold(text) for _, text, _ in own}
        found = []
        for stop in stops:
            if stop.slug == visit.slug:
                continue
            hosts = [x for x in stop.leaders if x.side == "host"]
            places = [*_spellings(stop, stop.host)]
            places += [spelling for leader in hosts for spelling in _spellings(stop, leader)]
            places += [
                (text, Rule(_vocabulary(stop, lang), "name"))
                for lang, text in stop.venue.values.items()
            ]
            found += [(OTHER_STOPS, text, rule) for text, rule in places if fold(text) not in mine]
        return found

    def _is_venue(self, named: Named, venue: tuple[str, ...]) -> bool:
        """Whether an anchor names the visit's venue ("Presidential Complex" in "Presidential
        Complex, Ankara"): the venue's own words, matched like any alias."""
        own = Matcher(
            [(named.key, text, rule) for text, rule in _spellings(self.visit, named)], self._script
        )
        return any(own.keys(Text.of(v)) for v in venue)

    # -- evidence ------------------------------------------------------------------------------

    def _evidence(self, text: Text) -> _Evidence:
        hits = self._entities.hits(text)
        sides = {self._side(h.key) for h in hits}
        places = [h for h in hits if self._side(h.key) == "host" and h.key not in self._leaders]
        return _Evidence(
            host="host" in sides,
            guest="guest" in sides,
            neutral="" in sides,
            traps=tuple(self._traps.hits(text)),
            host_places=tuple(places),
        )

    def _guest_leader(self, text: Text) -> bool:
        return any(
            h.key in self._leaders and self._side(h.key) == "guest"
            for h in self._entities.hits(text)
        )

    def _side(self, key: str) -> Side:
        if key == "host":
            return "host"
        if key == "guest":
            return "guest"
        return self.sides.get(key, "")

    def _trap(self, ev: _Evidence, text: Text) -> str | None:
        """The trap that decides the item, if any. Other stops of the tour only count when the
        first place the story is *at* is one of them, so "After G20, Lee heads to Türkiye" and
        "Lee arrives in Ankara; UAE, Egypt next" stay relevant."""
        for hit in ev.traps:
            if hit.key != OTHER_STOPS:
                return hit.key
        stops = [h for h in ev.traps if h.key == OTHER_STOPS]
        if not stops:
            return None
        places = sorted([*stops, *ev.host_places], key=lambda h: h.start)
        current = next((h for h in places if not self._previous_stop(text, h)), None)
        if current is not None and current.key != OTHER_STOPS:
            return None
        return OTHER_STOPS

    def _in_window(self, published: dt.datetime | None) -> bool:
        if published is None:
            return True
        day = local_day(self.visit, published)
        return self.visit.tracking_from <= day <= self.visit.tracking_until

    def _kind_of(self, text: Text) -> Kind:
        """A completed signing beats everything; a planned signing is agenda news."""
        verdicts = {signing.verdict(text) for signing in self._signing}
        if "done" in verdicts and "planned" not in verdicts:
            return "agreement"
        if "planned" in verdicts or self._agenda.hits(text) or self._programme.hits(text):
            return "agenda"
        return "other"

    # -- detection -----------------------------------------------------------------------------

    def detect(
        self, title: str, summary: str = "", published: dt.datetime | None = None
    ) -> Detection:
        """Title first. The summary may supply a missing side or anchor, and its traps count only
        when the title itself is weak (no host place and no news verb); a title trap dominates."""
        return self.weigh(title, summary, published)[0]

    def weigh(
        self, title: str, summary: str = "", published: dt.datetime | None = None
    ) -> tuple[Detection, int]:
        """The detection and the strength of its evidence (2 both sides, 1 side and anchor),
        so an item several visits claim can go to the one it is most about."""
        head, body = Text.of(title), Text.of(summary)
        kind = self._kind_of(head)
        if kind == "other" and summary and self._kind_of(body) == "agenda":
            kind = "agenda"  # a summary never makes an agreement: no signing inferred from context
        sectors = self._ordered(self._sectors.keys(head) or self._sectors.keys(body), "sector")
        parties = self._parties(head) or self._parties(body)
        full = title + " " + summary
        lang = self._languages.of(full, self._strip_names(full))

        def result(relevant: bool, reason: str, strength: int = 0) -> tuple[Detection, int]:
            return Detection(relevant, kind, sectors, lang, parties, reason), strength

        ev = self._evidence(head)
        trap = self._trap(ev, head)
        if trap:
            return result(False, f"trap: {trap}")
        if not self._in_window(published):
            return result(False, "outside window")
        weak = not ev.host_places and self._kind_of(head) == "other"
        if summary and (weak or not ev.enough):
            trap = self._trap(self._evidence(body), body)
            if trap:
                return result(False, f"trap: {trap} (summary)")
        if ev.enough:
            return result(True, _why(ev) + " + window", ev.strength)
        combined = self._evidence(Text.of(title + " \n " + summary)) if summary else ev
        if combined.enough:
            return result(True, _why(combined) + " (summary) + window", combined.strength)
        if self._guest_leader(head) and self._programme.hits(head):
            # "Lee lays wreath at Anıtkabir": the visiting leader at a place of the programme
            # (the guest country is not enough: "Korean tourists visit Anıtkabir").
            return result(True, "guest leader + programme item + window", 1)
        return result(False, "one side only" if combined.host or combined.guest else "no sides")

    def _parties(self, text: Text) -> tuple[str, ...]:
        keys = {
            k
            for k in self._entities.keys(text)
            if k in self._anchor_order and k not in self._venues
        }
        return self._ordered(keys, "anchor")

    def _ordered(self, keys: set[str], what: str) -> tuple[str, ...]:
        order = self._sector_order if what == "sector" else self._anchor_order
        return tuple(sorted(keys, key=lambda k: order.get(k, len(order))))

    def _strip_names(self, text: str) -> str:
        """`text` with the visit's names blanked out, for language detection."""
        hits = self._entities.hits(Text.of(text))
        if not hits:
            return text
        kept, offset = [], 0
        for ch in prepare(text):
            named = any(h.start <= offset < h.end for h in hits)
            kept.append(" " if named else ch)
            offset += len(fold_char(ch))
        return "".join(kept)

    def title_terms(self, title: str) -> frozenset[str]:
        """Comparable terms of a title: anchors by key ("@kepco" for "한국전력" and "KEPCO"),
        sectors by key, and the remaining content words, lightly normalised. Country and leader
        names are left out: nearly every item has them."""
        text = Text.of(title)
        named = self._entities.hits(text)
        terms = {f"@{h.key}" for h in named if h.key in self._anchor_order}
        terms |= {f"#{k}" for k in self._sectors.keys(text)}
        for m in re.finditer(r"\w+", text.low):
            if any(h.start <= m.start() < h.end for h in named):
                continue
            term = self._normal_term(m.group())
            if term:
                terms.add(term)
        return frozenset(terms)

    def _normal_term(self, word: str) -> str:
        """One title word as a comparable term: particles and English plurals dropped, number
        words as digits, function words ignored."""
        if self._script.is_attached(word):
            if len(word) <= 2:
                return word
            for particles, _vocab in self._particles:
                word = particles.sub("", word)
            return word
        if word in self._stopwords or (len(word) < 2 and not word.isdigit()):
            return ""
        word = self._numbers.get(word, word)
        return (
            word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
        )


def _why(ev: _Evidence) -> str:
    return "both sides" if ev.host and ev.guest else "side + anchor"


def local_day(visit: Visit, moment: dt.datetime) -> dt.date:
    """The calendar day in the visit's time zone; naive datetimes are taken as UTC (feeds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(visit.timezone).date()


# --- story merging --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryKey:
    """What merging needs to know about an item or a story."""

    kind: str
    sectors: frozenset[str]
    parties: frozenset[str]
    day: dt.date
    title_terms: frozenset[str]
    at: dt.datetime | None = field(default=None, compare=False)


_DETECTORS: dict[tuple[str, ...], tuple[tuple[Visit, ...], Detector]] = {}


def detector_for(visit: Visit, other_stops: Sequence[Visit] = ()) -> Detector:
    """A cached `Detector` per visit and trip: compiling one takes about a second.

    Keyed by the files' content hashes, so a visit loaded again (each start, each test) finds
    the detector compiled before; the cached visits must also be equal to the ones asked for,
    so a visit changed in memory (tests build variants) never gets another's detector.
    """
    objects = (visit, *other_stops)
    key = tuple(f"{v.slug}:{v.content_hash}" for v in objects)
    cached = _DETECTORS.get(key)
    if cached is None or cached[0] != objects:
        if len(_DETECTORS) > 16:
            _DETECTORS.clear()
        cached = (objects, Detector(visit, other_stops))
        _DETECTORS[key] = cached
    return cached[1]


def story_key(
    detector_or_visit: Detector | Visit,
    title: str,
    detection: Detection,
    published: dt.datetime | None,
    now: dt.datetime,
) -> StoryKey:
    """The merge key of an item; items without a date are dated `now`."""
    detector = (
        detector_or_visit
        if isinstance(detector_or_visit, Detector)
        else detector_for(detector_or_visit)
    )
    moment = published or now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return StoryKey(
        kind=detection.kind,
        sectors=frozenset(detection.sectors),
        parties=frozenset(detection.parties),
        day=local_day(detector.visit, moment),
        title_terms=detector.title_terms(title),
        at=moment,
    )


MAX_APART = dt.timedelta(hours=36)
MIN_JACCARD = 0.5
MIN_SHARED_TERMS = 4


def _close_in_time(a: StoryKey, b: StoryKey) -> bool:
    if a.day == b.day:
        return True
    if a.at is not None and b.at is not None:
        return abs(a.at - b.at) <= MAX_APART
    return abs((a.day - b.day).days) <= 1


def title_similarity(a: StoryKey, b: StoryKey) -> float:
    union = a.title_terms | b.title_terms
    return len(a.title_terms & b.title_terms) / len(union) if union else 0.0


def same_story(a: StoryKey, b: StoryKey) -> bool:
    """Reports of one event: same kind, compatible sectors, close in time, and either the same
    named parties or similar titles. Sectors must overlap (or both be absent) so a nuclear MoU and
    a road MoU signed at the same ceremony stay two stories."""
    if a.kind != b.kind or not _close_in_time(a, b):
        return False
    if (a.sectors or b.sectors) and not a.sectors & b.sectors:
        return False
    if a.parties & b.parties:
        return True
    shared = len(a.title_terms & b.title_terms)
    return title_similarity(a, b) >= MIN_JACCARD or shared >= MIN_SHARED_TERMS


K = TypeVar("K")


def match_story(key: StoryKey, candidates: Mapping[K, StoryKey]) -> K | None:
    """The existing story `key` should merge into: among those `same_story` accepts, the one
    sharing most parties, then the most similar title."""
    best: tuple[int, float] | None = None
    chosen: K | None = None
    for story_id, other in candidates.items():
        if not same_story(key, other):
            continue
        score = (len(key.parties & other.parties), title_similarity(key, other))
        if best is None or score > best:
            best, chosen = score, story_id
    return chosen
