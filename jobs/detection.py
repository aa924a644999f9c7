"""Recognise news items about the visit and classify them. Pure: no I/O.

Everything visit-specific (names, aliases, venues, companies, sector terms, traps, the tracking
window) comes from the `Visit`; this module only knows how languages write things: Korean nouns
take particles and need substring matching, Latin words need word boundaries, Turkish adds
suffixes after an apostrophe, headlines announce future signings with "to sign" / "체결 예정" /
"imzalanacak". A `Detector` compiles the visit's terms once, so detecting one item is a handful
of regex scans.

Sides. An item is about the visit when it has evidence for both the host and the guest side.
Country aliases carry their side. Leaders and anchors carry a side too, taken (in order) from a
`side` attribute if the loader ever exposes one, from the countries named in their own display
name ("Korea Electric Power Corporation" is guest-side), from the venue (the venue is in the host
country) and, for leaders, from the visit's name (a state visit is named after its guest). An
anchor with no side is neutral: it is visit-specific evidence that can stand in for either side.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from storage.textfold import fold
from storage.visit import Named, Visit

Kind = Literal["agreement", "agenda", "other"]
Lang = Literal["en", "ko", "tr"]
Side = Literal["host", "guest", ""]

# Characters of "Latin-like" words: word characters that are not Hangul or Han. Latin aliases need
# a boundary against these, but not against Hangul, because Korean writes "MOU를", "KEPCO와".
_LW = r"[^\W\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3\u3400-\u9fff\uf900-\ufaff]"
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_AFTER_SYLLABLE = r"(?<![\uac00-\ud7a3])"

# `fold` keeps punctuation as is, and NFKC turns the Korean middle dot "ㆍ" into a jamo vowel, so
# the separators headlines use in "한·튀르키예" / "韓-土" are unified before folding.
_SEPARATORS = str.maketrans(
    {c: "·" for c in "ㆍ\u119e\u2027\u2219\u30fb\uff65\u22c5•"}
    | {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
    | {c: "'" for c in "\u2019\u2018\u02bc\u00b4`"}
)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Korean particles, stripped when comparing titles ("튀르키예와" and "튀르키예" are one term).
_KO_PARTICLES = re.compile(r"(?:에서|으로|와|과|은|는|이|가|을|를|의|에|서|로|도)$")
_STOPWORDS = _wordset(
    "during while amid says said new "
    "a an and as at by for from in into is are of on the to with after over its his their "
    "ve ile icin bir bu da de ki olarak"
)


def _prepare(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_SEPARATORS)


def _cased_fold(text: str) -> str:
    """Fold character by character, keeping upper case, so acronyms ("KIND", "AI") can be told
    from ordinary words ("kind", "said") after diacritics are gone."""
    return "".join(_fold_char(ch) for ch in _prepare(text))


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if ch.isspace():
        return " "
    folded = fold(ch)
    return folded.upper() if ch.isupper() else folded


@dataclass(frozen=True)
class _Text:
    """One piece of an item (title or summary), folded once for all matchers."""

    low: str
    cased: str

    @classmethod
    def of(cls, text: str) -> _Text:
        cased = _cased_fold(text)
        return cls(cased.lower(), cased)

    def tokens(self) -> list[tuple[int, str]]:
        return [(m.start(), m.group()) for m in re.finditer(r"\w+", self.low)]


def _is_acronym(term: str) -> bool:
    """Short all-capital terms ("KIND", "AI", "MB") collide with words once case is folded."""
    letters = [c for c in term if c.isalpha()]
    return 2 <= len(letters) <= 4 and all(c.isupper() for c in letters)


def _latin_body(folded: str) -> str:
    # "Lee Jae Myung", "Lee Jae-myung" and "public-private" / "public private" are one name.
    parts = [re.escape(p) for p in re.split(r"[\s-]+", folded) if p]
    return r"[\s-]?".join(parts)


def _term_pattern(term: str, stem: bool, name: bool) -> tuple[str, bool] | None:
    """A regex for one alias or term, and whether it must run on the case-preserving text.

    Hangul terms match as substrings (particles attach without a space), spaces optional. A
    *name* whose first word is one syllable ("이 대통령", "한·") must not continue a longer word,
    where that syllable is usually a particle; Han abbreviations (韓, 李, 土) likewise. Terms that
    are not names may start with a particle on purpose ("과 통화"). Latin terms need word
    boundaries; `stem` allows any ending (Turkish suffixes, English derivations), otherwise only
    an English plural. Turkish apostrophe suffixes ("Kore'nin") pass the boundary anyway.
    """
    acronym = _is_acronym(term)
    folded = _cased_fold(term).strip() if acronym else fold(_prepare(term))
    if not folded:
        return None
    if _HANGUL.search(folded) or _HAN.search(folded):
        first = re.split(r"[\s·\-]", folded, maxsplit=1)[0]
        guard = _NOT_AFTER_SYLLABLE if name and len(first) <= 1 else ""
        return guard + r"\s?".join(re.escape(p) for p in folded.split(" ")), acronym
    body = _latin_body(folded)
    if stem and not acronym and folded.endswith("y") and len(folded) >= 5:
        body = body[:-1] + "(?:y|ie)"  # technology / technologies
    tail = f"{_LW}*" if stem and not acronym else "(?:e?s)?"
    return rf"(?<!{_LW}){body}{tail}(?!{_LW})", acronym


@dataclass(frozen=True)
class _Hit:
    key: str
    start: int
    end: int


class _Matcher:
    """Many named terms compiled into two alternations (folded and case-preserving)."""

    def __init__(self, terms: Iterable[tuple[str, str, bool]], names: bool = True) -> None:
        # Longest first, so "Korea Expressway" wins over "Korea" and "한국전력" over "한국".
        ordered = sorted(terms, key=lambda t: -len(t[1]))
        self._keys: list[str] = []
        self._cache: dict[_Text, list[_Hit]] = {}
        # Latin terms all start at a word boundary: the regexes test that boundary and the
        # possible first letters once per position, before trying any alternative, which makes a
        # scan several times faster than one alternation of hundreds of terms would be.
        boundary = f"(?<!{_LW})"
        latin: dict[bool, list[str]] = {False: [], True: []}
        firsts: dict[bool, set[str]] = {False: set(), True: set()}
        other: dict[bool, list[str]] = {False: [], True: []}
        for key, term, stem in ordered:
            compiled = _term_pattern(term, stem, names)
            if compiled is None:
                continue
            pattern, cased = compiled
            group = f"(?P<g{len(self._keys)}>{{}})"
            if pattern.startswith(boundary):
                latin[cased].append(group.format(pattern[len(boundary) :]))
                folded = _cased_fold(term).strip() if cased else fold(_prepare(term))
                firsts[cased].add(folded[0])
            else:
                other[cased].append(group.format(pattern))
            self._keys.append(key)
        self._regexes: list[tuple[re.Pattern[str], bool, bool]] = []
        for cased in (False, True):
            if latin[cased]:
                first = "".join(sorted(re.escape(c) for c in firsts[cased]))
                alternation = "|".join(latin[cased])
                regex = re.compile(f"{boundary}(?=[{first}])(?:{alternation})")
                self._regexes.append((regex, cased, False))
            if other[cased]:
                self._regexes.append((re.compile("|".join(other[cased])), cased, True))

    def hits(self, text: _Text) -> list[_Hit]:
        """Matches in text order; cached, because one item is scanned for several purposes."""
        cached = self._cache.get(text)
        if cached is None:
            if len(self._cache) > 512:
                self._cache.clear()
            cached = self._cache[text] = self._scan(text)
        return cached

    def _scan(self, text: _Text) -> list[_Hit]:
        found: list[_Hit] = []
        cjk = bool(_HANGUL.search(text.low) or _HAN.search(text.low))
        for regex, cased, needs_cjk in self._regexes:
            if needs_cjk and not cjk:
                continue
            for m in regex.finditer(text.cased if cased else text.low):
                name = m.lastgroup or ""
                found.append(_Hit(self._keys[int(name[1:])], m.start(), m.end()))
        return sorted(found, key=lambda h: h.start)

    def keys(self, text: _Text) -> set[str]:
        return {h.key for h in self.hits(text)}


# --- kind -----------------------------------------------------------------------------------

_EN_SIGN = re.compile(
    rf"(?<!{_LW})(?:sign|signs|signed|signing|ink|inks|inked|inking|seal|seals|sealed|sealing)"
    rf"(?!{_LW})(?! of )"
)
_EN_DOC = re.compile(
    rf"(?<!{_LW})(?:mous?|memorand(?:um|a)|agreements?|deals?|accords?|contracts?|protocols?|"
    rf"declarations?|pacts?|treaty|treaties|documents?|joint statement)(?!{_LW})"
)
# Words that, shortly before a signing verb, make it a plan ("set to sign", "will sign").
_EN_FUTURE_BEFORE = _wordset(
    "will would could may might set expected expect expects plan plans planned planning "
    "eye eyes eyeing seek seeks aim aims ahead upcoming likely poised ready agree agreed"
)
_EN_FUTURE_AFTER = _wordset("expected planned likely scheduled")

_KO_SIGN = re.compile(r"체결|서명")
_KO_DOC = re.compile(r"양해각서|mou|협정|계약|협약|약정|합의서|의향서|선언")
_KO_FUTURE = re.compile(
    r"(?:체결|서명)\s?(?:할|한다|키로|하기로|하기|될|된다|식 연다|식 갖는다)|"
    r"예정|계획|추진|앞두고|전망|할 듯|키로|하기로"
)
# A bare document noun reports a signing in a Korean headline ("원전 MOU") unless it is talked
# about rather than signed.
_KO_TALKED = re.compile(r"논의|협의|협상|검토|모색|합의(?!서)|기대|속도|필요|제안")

_TR_SIGNED = re.compile(
    r"imzala(?:ndi|di|dilar|nan|ndiktan)|imza(?:lar)? at(?:ti|tilar|ildi)|"
    r"imza altina alin(?:di|an)|imza toren"
)
_TR_FUTURE = re.compile(
    r"imzala(?:nacak|yacak|nmasi|mayi|mak)|imza(?:lar)? at(?:acak|acagiz|ilacak)|"
    r"imza altina alinacak|"
    r"planlan|beklen|ongorul|hazirlan|duzenlenecek|yapilacak"
)

_TR_DEAL = re.compile(r"imza|anlasma|mutabakat|protokol|sozlesme")

_AGENDA = re.compile(
    rf"(?<!{_LW})(?:summit|talks|meet|meets|met|meeting|visits?|visiting|trip|tour|agenda|"
    rf"discuss\w*|agrees?|agreed|arriv\w*|hosts?|hosted|welcom\w*|ceremony|dinner|banquet|"
    rf"schedul\w*|program\w*|cooperation|ties|partnership|heads? to|leaves for|depart\w*|"
    rf"wreath|press conference|negotiat\w*|state dinner|"
    rf"gorus\w*|gundem\w*|ziyaret\w*|zirve\w*|bir araya|karsila\w*|agirla\w*|toren\w*|"
    rf"isbirlig\w*|ele al\w*|geliyor|gelecek|masada|celenk|basin toplanti\w*|"
    rf"devlet yemeg\w*|bulus\w*|muzakere\w*)(?!{_LW})"
    r"|회담|방문|국빈|순방|일정|논의|합의|의제|도착|환영|만찬|헌화|간담회|협력|정상|회동|만나|만난"
    r"|협상|기자회견|언론발표"
)


def _en_signing(text: _Text) -> Literal["done", "planned", ""]:
    """English: a signing verb plus a document noun; a nearby modal makes it a plan."""
    if not _EN_DOC.search(text.low):
        return ""
    tokens = [t for _, t in text.tokens()]
    verdict: Literal["done", "planned", ""] = ""
    for m in _EN_SIGN.finditer(text.low):
        i = len(re.findall(r"\w+", text.low[: m.start()]))
        before, after = tokens[max(0, i - 3) : i], tokens[i + 1 : i + 3]
        planned = (
            bool(_EN_FUTURE_BEFORE & set(before))
            or bool(_EN_FUTURE_AFTER & set(after))
            or before[-1:] == ["to"]
            or before[-2:] == ["to", "be"]
            or before[-1:] == ["for"]
        )
        if not planned:
            return "done"
        verdict = "planned"
    return verdict


def _ko_signing(text: _Text) -> Literal["done", "planned", ""]:
    if not (_KO_SIGN.search(text.low) or _KO_DOC.search(text.low)):
        return ""
    if _KO_FUTURE.search(text.low):
        return "planned"
    if _KO_SIGN.search(text.low) or not _KO_TALKED.search(text.low):
        return "done"
    return ""


def _tr_signing(text: _Text) -> Literal["done", "planned", ""]:
    if _TR_FUTURE.search(text.low) and _TR_DEAL.search(text.low):
        return "planned"
    return "done" if _TR_SIGNED.search(text.low) else ""


def _kind_of(text: _Text) -> Kind:
    """Completed signing beats everything; a planned signing is agenda news."""
    verdicts = {_en_signing(text), _ko_signing(text), _tr_signing(text)}
    if "done" in verdicts and "planned" not in verdicts:
        return "agreement"
    if "planned" in verdicts or _AGENDA.search(text.low):
        return "agenda"
    return "other"


# --- language -------------------------------------------------------------------------------

_TR_LETTERS = re.compile(r"[ğşıİçöüĞŞÇÖÜ]")
# A suffix after an apostrophe ("Ankara'dan", "Kore'nin") is Turkish; English only has 's, 't...
_TR_SUFFIX = re.compile(r"'(?!(?:s|t|ll|re|ve|d|m)\b)[a-zçğıöşü]+")
_TR_WORDS = _wordset(
    "ve ile icin bir bu olarak arasinda iki ulke yeni ziyaret ziyareti cumhurbaskani "
    "gorustu gorusme baskan"
)
_EN_WORDS = _wordset("the a an of in on to for with and as at by from is are will after over ahead")


def _lang_of(raw: str, stripped: str) -> Lang:
    """Korean if any Hangul. Otherwise Turkish words, letters and apostrophe suffixes against
    English function words; `stripped` has the visit's names removed, because English headlines
    write "Türkiye" and "Erdoğan" too."""
    if _HANGUL.search(raw):
        return "ko"
    words = re.findall(r"\w+", stripped)
    folded = [fold(w) for w in words]
    tr_words = sum(1 for w in folded if w in _TR_WORDS)
    tr_letters = sum(1 for w in words if _TR_LETTERS.search(w))
    tr_letters += len(_TR_SUFFIX.findall(stripped.lower()))
    en = sum(1 for w in folded if w in _EN_WORDS)
    turkish = tr_words + tr_letters
    if (tr_words >= 1 or tr_letters >= 2) and turkish > en:
        return "tr"
    return "en"


# --- traps: which stop is the story about? ---------------------------------------------------

# "after the G20, ..." marks the rest of its clause as already visited; Korean and Turkish put the
# marker after the places ("UAE·이집트 이어", "BAE ve Mısır'ın ardından"); a Turkish ablative
# ("Mısır'dan") marks just its own word.
_PREVIOUS_BEFORE = _wordset("after following leaving leaves left")
_PREVIOUS_AFTER = re.compile(
    r"^(?:마치고|마친|이어|이어서|거쳐|거친|떠나|떠난|끝내고|끝낸|sonra\w*|ardindan)$"
)
_ABLATIVE = _wordset("den dan ten tan")
_CLAUSE = re.compile(r"[,;:…|]|\.\.\.|\s-\s")


def _previous_stop(text: _Text, hit: _Hit) -> bool:
    """Whether the place at `hit` is where the traveller comes from ("after the G20, ...",
    "UAE 일정 마치고", "Mısır'dan") rather than where the story happens."""
    starts = [0] + [m.end() for m in _CLAUSE.finditer(text.low) if m.end() <= hit.start]
    ends = [m.start() for m in _CLAUSE.finditer(text.low) if m.start() >= hit.end]
    before = re.findall(r"\w+", text.low[max(starts) : hit.start])
    after = re.findall(r"\w+", text.low[hit.end : min(ends, default=len(text.low))])
    if _PREVIOUS_BEFORE & set(before) or before[-1:] == ["from"]:
        return True
    return after[:1] != [] and after[0] in _ABLATIVE or any(_PREVIOUS_AFTER.match(w) for w in after)


# --- public API -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    relevant: bool
    kind: Kind
    sectors: tuple[str, ...]
    lang: Lang
    parties: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class _Evidence:
    """What one piece of text says about sides, anchors and traps."""

    host: bool
    guest: bool
    neutral: bool
    traps: tuple[_Hit, ...]
    host_places: tuple[_Hit, ...]

    @property
    def enough(self) -> bool:
        return (self.host and self.guest) or ((self.host or self.guest) and self.neutral)


OTHER_STOPS = "other-stops"


class Detector:
    """The visit's terms compiled once; `detect` is pure and cheap."""

    def __init__(self, visit: Visit) -> None:
        self.visit = visit
        countries = _Matcher(
            [("host", a, False) for a in (*visit.host.aliases, *visit.host.name.values.values())]
            + [
                ("guest", a, False)
                for a in (*visit.guest.aliases, *visit.guest.name.values.values())
            ]
        )
        venue = tuple(visit.venue.values.values())
        self.sides: dict[str, Side] = {}
        for leader in visit.leaders:
            self.sides[leader.key] = _side_of(leader, countries, venue) or _leader_side(
                visit, leader
            )
        for anchor in visit.anchors:
            self.sides[anchor.key] = _side_of(anchor, countries, venue)
        self._leaders = frozenset(x.key for x in visit.leaders)
        self._venues = frozenset(a.key for a in visit.anchors if _is_venue(a, venue))
        self._entities = _Matcher(
            _aliases_of("host", visit.host)
            + _aliases_of("guest", visit.guest)
            + [t for x in (*visit.leaders, *visit.anchors) for t in _aliases_of(x.key, x)]
        )
        self._traps = _Matcher(
            ((t.key, term, False) for t in visit.traps for term in t.terms), names=False
        )
        self._sectors = _Matcher(
            (
                (s.key, term, lang == "tr" or (lang == "en" and len(term) >= 5))
                for s in visit.sectors
                for lang, terms in s.terms.items()
                for term in terms
            ),
            names=False,
        )
        self._sector_order = {s.key: n for n, s in enumerate(visit.sectors)}
        self._anchor_order = {a.key: n for n, a in enumerate(visit.anchors)}

    # -- evidence ------------------------------------------------------------------------------

    def _evidence(self, text: _Text) -> _Evidence:
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

    def _side(self, key: str) -> Side:
        if key == "host":
            return "host"
        if key == "guest":
            return "guest"
        return self.sides.get(key, "")

    def _trap(self, ev: _Evidence, text: _Text) -> str | None:
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
        current = next((h for h in places if not _previous_stop(text, h)), None)
        if current is not None and current.key != OTHER_STOPS:
            return None
        return OTHER_STOPS

    def _in_window(self, published: dt.datetime | None) -> bool:
        if published is None:
            return True
        day = local_day(self.visit, published)
        return self.visit.tracking_from <= day <= self.visit.tracking_until

    # -- detection -----------------------------------------------------------------------------

    def detect(
        self, title: str, summary: str = "", published: dt.datetime | None = None
    ) -> Detection:
        """Title first. The summary may supply a missing side or anchor, and its traps count only
        when the title itself is weak (no host place and no news verb); a title trap dominates."""
        head, body = _Text.of(title), _Text.of(summary)
        kind = _kind_of(head)
        if kind == "other" and summary and _kind_of(body) == "agenda":
            kind = "agenda"  # a summary never makes an agreement: no signing inferred from context
        sectors = self._ordered(self._sectors.keys(head) or self._sectors.keys(body), "sector")
        parties = self._parties(head) or self._parties(body)
        lang = _lang_of(title + " " + summary, self._strip_names(title + " " + summary))

        def result(relevant: bool, reason: str) -> Detection:
            return Detection(relevant, kind, sectors, lang, parties, reason)

        ev = self._evidence(head)
        trap = self._trap(ev, head)
        if trap:
            return result(False, f"trap: {trap}")
        if not self._in_window(published):
            return result(False, "outside window")
        weak = not ev.host_places and _kind_of(head) == "other"
        if summary and (weak or not ev.enough):
            trap = self._trap(self._evidence(body), body)
            if trap:
                return result(False, f"trap: {trap} (summary)")
        if ev.enough:
            return result(True, _why(ev) + " + window")
        combined = self._evidence(_Text.of(title + " \n " + summary)) if summary else ev
        if combined.enough:
            return result(True, _why(combined) + " (summary) + window")
        return result(False, "one side only" if combined.host or combined.guest else "no sides")

    def _parties(self, text: _Text) -> tuple[str, ...]:
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
        hits = self._entities.hits(_Text.of(text))
        if not hits:
            return text
        kept, offset = [], 0
        for ch in _prepare(text):
            named = any(h.start <= offset < h.end for h in hits)
            kept.append(" " if named else ch)
            offset += len(_fold_char(ch))
        return "".join(kept)

    def title_terms(self, title: str) -> frozenset[str]:
        """Comparable terms of a title: anchors by key ("@kepco" for "한국전력" and "KEPCO"),
        sectors by key, and the remaining content words, lightly normalised. Country and leader
        names are left out: nearly every item has them."""
        text = _Text.of(title)
        named = self._entities.hits(text)
        terms = {f"@{h.key}" for h in named if h.key in self._anchor_order}
        terms |= {f"#{k}" for k in self._sectors.keys(text)}
        for m in re.finditer(r"\w+", text.low):
            if any(h.start <= m.start() < h.end for h in named):
                continue
            term = _normal_term(m.group())
            if term:
                terms.add(term)
        return frozenset(terms)


def _numbers(words: str) -> dict[str, str]:
    return {w: str(n) for n, w in enumerate(words.split())}


_NUMBERS = _numbers("zero one two three four five six seven eight") | _numbers(
    "sifir bir iki uc dort bes alti yedi sekiz"
)


def _normal_term(word: str) -> str:
    """One title word as a comparable term: Korean particles and English plurals dropped,
    number words as digits, function words ignored."""
    if _HANGUL.search(word):
        return _KO_PARTICLES.sub("", word) if len(word) > 2 else word
    if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
        return ""
    word = _NUMBERS.get(word, word)
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _why(ev: _Evidence) -> str:
    return "both sides" if ev.host and ev.guest else "side + anchor"


def _aliases_of(key: str, item: Named) -> list[tuple[str, str, bool]]:
    return [(key, alias, False) for alias in (*item.aliases, *item.name.values.values())]


def _side_of(named: Named, countries: _Matcher, venue: tuple[str, ...]) -> Side:
    declared = str(getattr(named, "side", ""))
    if declared == "host":
        return "host"
    if declared == "guest":
        return "guest"
    found: set[str] = set()
    for name in named.name.values.values():
        found |= countries.keys(_Text.of(name))
    if len(found) == 1:
        return "host" if "host" in found else "guest"
    return "host" if _is_venue(named, venue) else ""


def _is_venue(named: Named, venue: tuple[str, ...]) -> bool:
    """Whether an anchor names the visit's venue ("Presidential Complex" in "Presidential
    Complex, Ankara"): the venue's own words, matched like any alias."""
    own = _Matcher((named.key, a, False) for a in (*named.aliases, *named.name.values.values()))
    return any(own.keys(_Text.of(v)) for v in venue)


def _leader_side(visit: Visit, leader: Named) -> Side:
    """A state visit is named after its guest; any other leader is the host's."""
    own = _Matcher((leader.key, a, False) for a in (*leader.aliases, *leader.name.values.values()))
    named = any(own.keys(_Text.of(n)) for n in visit.name.values.values())
    return "guest" if named else "host"


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


_DETECTORS: dict[int, tuple[Visit, Detector]] = {}


def detector_for(visit: Visit) -> Detector:
    """A cached `Detector` per visit object (visits are immutable but not hashable)."""
    cached = _DETECTORS.get(id(visit))
    if cached is None or cached[0] is not visit:
        if len(_DETECTORS) > 8:
            _DETECTORS.clear()
        cached = (visit, Detector(visit))
        _DETECTORS[id(visit)] = cached
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
