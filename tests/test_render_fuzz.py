"""Fuzzing the renderers (Hypothesis): any text, any language, any length.

Checked with the stand-in's own parser (`bot.standin.parse_html`, which enforces Telegram's
HTML rules), for alerts of every kind and for replies:

1. every message is valid Telegram HTML and not empty;
2. every message's visible text (after Telegram's trimming) is at most 4,096 UTF-16 units;
3. no visible character is lost:
   - alerts: each alert is in exactly one message, in order; every outside string shows
     whole (whitespace folded to single spaces in one-line fields, line breaks kept in a
     broadcast), or, where it is longer than its cap (`MAX_*`), as its beginning of at least
     cap - 3 UTF-16 units followed by "…"; sources beyond the fifth are counted ("+3 more");
   - replies: split into parts only when the whole does not fit; the parts' visible text,
     put together, has every non-whitespace character of the original, in order, each with
     the same formatting (bold, italic, link target ...): only the line breaks or spaces a
     cut replaces are gone;
4. no bidi override character (U+202A-U+202E, U+2066-U+2069) reaches a reader.

"Visible" excludes the bidi overrides, which are removed on purpose.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping, Sequence
from itertools import accumulate
from types import SimpleNamespace
from typing import cast
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bot.alert_render import (
    CORRECTION_FIELDS,
    MAX_CHANGE,
    MAX_NOTE,
    MAX_PARTIES,
    MAX_SOURCE_TITLE,
    MAX_SOURCES,
    MAX_TEXT,
    MAX_TITLE,
    AlertView,
    RenderContext,
    render_bundle,
)
from bot.config import load_settings
from bot.handlers.review import story_card
from bot.i18n import LANGUAGES, keys, placeholders, t, template
from bot.render import MESSAGE_LIMIT, bullet_list, fact_lines, split_message, truncate, utf16_len
from bot.services import Services
from bot.standin import parse_html
from bot.validation import BROADCAST_MAX, PARTIES_MAX, PLACE_MAX, TITLE_MAX
from storage.facts import FactView
from storage.review import ReviewStory
from storage.textfold import BIDI_CONTROLS, strip_bidi
from storage.visit import Catalog, LoadedVisit

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VISIT = load_settings(environ={}, dotenv=None).visit
SECTOR_NAMES = {s.key: s.name.get("en") for s in VISIT.sectors}
ZONES = [ZoneInfo("Europe/Istanbul"), ZoneInfo("Asia/Seoul"), dt.UTC, ZoneInfo("America/Lima")]

# Characters that grow when escaped, count twice, combine, join, reorder or break lines.
AWKWARD = [
    "&", "<", ">", '"', "'", "&amp;", "<b>", "</i>", "😀", "🇹🇷", "👩\u200d💻", "e\u0301",
    "\u0308", "\ufe0f", "한", "국", "ş", "İ", "ı", "\u202e", "\u2067", "\u2069", "\n", " ",
    "\t", "…", "—", "\u2028", "\x00", "\u200f",
]  # fmt: skip
piece = st.one_of(st.text(max_size=12), st.sampled_from(AWKWARD))
# Short, long and very long: runs of a piece reach past every cap and past 4,096.
text = st.one_of(
    st.lists(piece, max_size=12).map("".join),
    st.tuples(piece, st.integers(1, 900)).map(lambda p: p[0] * p[1]),
    st.lists(st.tuples(piece, st.integers(1, 300)), max_size=6).map(
        lambda runs: "".join(p * n for p, n in runs)
    ),
)
url = st.one_of(
    st.builds(lambda path: f"https://news.example/{path}", st.text(max_size=300)),
    text,
)
localized = st.one_of(text, st.dictionaries(st.sampled_from(LANGUAGES), text, max_size=3))
date = st.one_of(st.none(), st.dates().map(dt.date.isoformat), text)


def one_line(value: object) -> str:
    return " ".join(strip_bidi(str(value or "")).split())


# --- payloads of every alert kind (shapes documented in storage/alerts.py) ---------------------

sources = st.lists(st.fixed_dictionaries({"title": text, "url": url}), max_size=MAX_SOURCES + 3)
agreement = st.fixed_dictionaries(
    {
        "title": text,
        "sector": st.one_of(st.sampled_from(sorted(SECTOR_NAMES)), text),
        "signed_on": date,
        "parties": text,
        "status": st.one_of(st.sampled_from(["confirmed", "reported"]), text),
        "sources": sources,
        "agreement_id": st.one_of(st.none(), st.integers(1, 10**6)),
        "story_id": st.none(),
    }
)
agenda = st.fixed_dictionaries(
    {
        "item_id": st.integers(1, 10**6),
        "change": st.one_of(st.sampled_from(["new", "changed", "deleted"]), text),
        "starts_at": st.one_of(
            st.datetimes(timezones=st.just(dt.UTC)).map(dt.datetime.isoformat), text
        ),
        "time_known": st.booleans(),
        "title": localized,
        "place": localized,
    }
)
change = st.fixed_dictionaries(
    {
        "field": st.one_of(st.sampled_from(CORRECTION_FIELDS), st.text(min_size=1, max_size=30)),
        "old": st.one_of(st.none(), text, date),
        "new": st.one_of(st.none(), text, date),
    }
)
alert = st.one_of(
    st.builds(AlertView, st.just("agreement"), agreement),
    st.builds(AlertView, st.just("agenda"), agenda),
    st.builds(
        AlertView,
        st.just("reminder"),
        st.builds(lambda p, m: {**p, "minutes_before": m}, agenda, st.integers(0, 1440)),
    ),
    st.builds(AlertView, st.just("broadcast"), st.fixed_dictionaries({"text": text})),
    st.builds(
        AlertView,
        st.just("correction"),
        st.one_of(
            st.builds(lambda p, c, n: {**p, "change": c, "note": n}, agreement, change, text),
            st.builds(lambda p, n: {**p, "note": n}, agreement, text),  # older releases
        ),
    ),
)


def visible(html: str) -> str:
    """Property 1 and 2 for one message: valid, not empty, within the limit; its text."""
    plain, _entities = parse_html(html)  # raises like Telegram on invalid HTML
    shown = plain.strip()
    assert shown, f"an empty message: {html!r}"
    assert utf16_len(shown) <= MESSAGE_LIMIT, utf16_len(shown)
    assert BIDI_CONTROLS.isdisjoint(plain)
    return plain


def assert_shown(value: str, cap: int, seen: str) -> None:
    """Property 3 for one field: whole, or at least cap - 3 units of it and "…"."""
    if utf16_len(value) <= cap:
        assert value in seen, (value[:80], cap)
        return
    event("an alert field over its cap")
    cut = truncate(value, cap)
    assert cut.endswith("…") and value.startswith(cut[:-1])
    assert utf16_len(cut[:-1]) >= cap - 3
    assert cut in seen, (cut[:80], cap)


def expected_fields(view: AlertView, lang: str) -> list[tuple[str, int]]:
    """The outside strings of one alert that a reader must see, with their caps."""
    payload = view.payload
    if view.kind == "broadcast":
        return [(strip_bidi(str(payload["text"] or "")).strip(), MAX_TEXT)]
    if view.kind in ("agenda", "reminder"):
        fields = []
        for name in ("title", "place"):
            value = payload[name]
            if isinstance(value, Mapping):
                value = value.get(lang) or value.get("en") or next(iter(value.values()), "")
            fields.append((one_line(value), MAX_TITLE))
        return fields
    fields = [(one_line(payload["title"]), MAX_TITLE), (one_line(payload["parties"]), MAX_PARTIES)]
    if payload["sector"] not in SECTOR_NAMES:
        fields.append((one_line(payload["sector"]), MAX_TITLE))
    signed_on = payload["signed_on"]
    if signed_on and not _is_date(signed_on):
        fields.append((one_line(signed_on), 20))
    for source in payload["sources"][:MAX_SOURCES]:
        fields.append((one_line(source["title"] or source["url"]), MAX_SOURCE_TITLE))
    if view.kind == "correction":
        found = payload.get("change")
        if isinstance(found, Mapping):
            for side in ("old", "new"):
                fields += _change_fields(str(found["field"]), found[side])
        else:
            fields.append((one_line(payload["note"]), MAX_NOTE))
    return [(value, cap) for value, cap in fields if value]


def _is_date(value: object) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _change_fields(field: str, value: object) -> list[tuple[str, int]]:
    if value in (None, ""):
        return []
    if field == "sector":
        return [] if value in SECTOR_NAMES else [(one_line(value), MAX_TITLE)]
    if field == "signed_on":
        return [] if _is_date(value) else [(one_line(value), 20)]
    if field == "status" and value in ("confirmed", "reported"):
        return []
    return [(one_line(value), MAX_CHANGE)]


def test_caps_are_never_below_what_admins_may_type() -> None:
    """So admin text is never cut by the renderer: it was refused up front if too long."""
    assert max(TITLE_MAX, PLACE_MAX) <= MAX_TITLE
    assert MAX_PARTIES >= PARTIES_MAX and MAX_TEXT >= BROADCAST_MAX
    assert max(TITLE_MAX, PARTIES_MAX) <= MAX_CHANGE


@FUZZ
@given(
    views=st.lists(alert, min_size=1, max_size=5),
    lang=st.sampled_from(LANGUAGES),
    tz=st.sampled_from(ZONES),
    digest=st.booleans(),
)
def test_alerts_are_valid_within_limits_and_lose_nothing(
    views: list[AlertView], lang: str, tz: dt.tzinfo, digest: bool
) -> None:
    ctx = RenderContext(lang, tz, SECTOR_NAMES, digest)
    messages = render_bundle(views, ctx)
    event(f"alerts in {len(messages)} message(s)")
    carried = [index for message in messages for index in message.alerts]
    assert carried == list(range(len(views)))  # each alert once, in order
    seen = {index: visible(m.html) for m in messages for index in m.alerts}
    for index, view in enumerate(views):
        for value, cap in expected_fields(view, lang):
            assert_shown(value, cap, seen[index])
        extra = len(view.payload.get("sources", ())) - MAX_SOURCES
        if extra > 0:
            assert t(lang, "alert.sources_more", count=extra) in seen[index]


# --- replies --------------------------------------------------------------------------------


Styles = dict[tuple[str, str], list[tuple[int, int]]]


def styled(html: str) -> tuple[str, Styles]:
    """The visible non-whitespace characters, and for each kind of formatting (type and link
    target) the ranges of them it covers, as Telegram parses the HTML."""
    plain, entities = parse_html(html)
    starts = list(accumulate((2 if ord(c) > 0xFFFF else 1 for c in plain), initial=0))
    kept_before = list(accumulate((0 if c.isspace() else 1 for c in plain), initial=0))
    styles: Styles = {}
    for entity in entities:
        first = kept_before[bisect.bisect_left(starts, entity["offset"])]
        last = kept_before[bisect.bisect_left(starts, entity["offset"] + entity["length"])]
        key = (entity["type"], str(entity.get("url", "")))
        styles.setdefault(key, []).append((first, last))
    return "".join(plain.split()), {k: merged(v) for k, v in styles.items() if merged(v)}


def merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for first, last in sorted(r for r in ranges if r[1] > r[0]):
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def joined(parts: Sequence[str]) -> tuple[str, Styles]:
    """`styled` of the parts, read one after the other as a single text."""
    text = ""
    styles: Styles = {}
    for part in parts:
        chars, own = styled(part)
        for key, ranges in own.items():
            styles.setdefault(key, []).extend((a + len(text), b + len(text)) for a, b in ranges)
        text += chars
    return text, {k: merged(v) for k, v in styles.items()}


def assert_split_keeps_everything(html: str) -> None:
    """Properties 1-4 for a reply, through the same split `reply` uses."""
    parts = split_message(html)
    event(f"reply in {min(len(parts), 3)}{'+' if len(parts) >= 3 else ''} part(s)")
    for part in parts:
        visible(part)
    whole = utf16_len(parse_html(html)[0])
    if whole <= MESSAGE_LIMIT:
        assert parts == [html]
    else:  # cuts go no earlier than half-way through a part, unless a line is longer
        assert len(parts) <= 1 + 2 * whole // MESSAGE_LIMIT
    assert joined(parts) == styled(html)


REPLY_KEYS = sorted(k for k in keys("en") if placeholders(template("en", k) or ""))


@st.composite
def reply_lines(draw: st.DrawFn) -> str:
    """A reply as handlers build it: catalogue lines, filled with outside text, one per line."""
    lang = draw(st.sampled_from(LANGUAGES))
    lines = []
    for key in draw(st.lists(st.sampled_from(REPLY_KEYS), min_size=1, max_size=40)):
        names = placeholders(template(lang, key) or template("en", key) or "")
        lines.append(t(lang, key, **{name: draw(text) for name in names}))
    return "\n".join(lines)


@FUZZ
@given(html=reply_lines())
def test_replies_built_from_the_catalogue_are_split_only_as_needed_and_keep_all(
    html: str,
) -> None:
    assume(parse_html(html)[0].strip())  # handlers never send a message with nothing in it
    assert_split_keeps_everything(html)


fact = st.builds(
    FactView,
    id=st.integers(1, 10**6),
    key=st.just("k"),
    topic=st.just("trade"),
    lang=st.sampled_from(LANGUAGES),
    text=text,
    source_title=text,
    source_url=st.one_of(st.none(), url),
)


@FUZZ
@given(facts=st.lists(fact, min_size=1, max_size=12), lang=st.sampled_from(LANGUAGES), query=text)
def test_facts_answers_keep_every_fact(facts: list[FactView], lang: str, query: str) -> None:
    title = t(lang, "facts.search_title", query=truncate(query, 80), count=len(facts))
    html = bullet_list(title, fact_lines(facts, lang))
    assert_split_keeps_everything(html)
    shown = "".join(parse_html(part)[0] for part in split_message(html))
    for item in facts:
        assert "".join(strip_bidi(item.text).split()) in "".join(shown.split())


story = st.builds(
    ReviewStory,
    id=st.integers(1, 10**6),
    title=text,
    sectors=st.lists(st.one_of(st.sampled_from(sorted(SECTOR_NAMES)), text), max_size=4).map(tuple),
    parties=st.lists(text, max_size=4).map(tuple),
    day=st.one_of(st.dates().map(dt.date.isoformat), st.just("")),
    review=st.just("pending"),
    reviewed_by=st.none(),
    sources=st.lists(st.tuples(text, url), max_size=8).map(tuple),
    agreement_id=st.none(),
)


@FUZZ
@given(view=story, lang=st.sampled_from(LANGUAGES))
def test_review_cards_keep_every_source(view: ReviewStory, lang: str) -> None:
    loaded = LoadedVisit(view.visit_id, VISIT)
    svc = cast(Services, SimpleNamespace(visits=Catalog([loaded]), default_visit=loaded))
    html = story_card(lang, svc, view)
    assert_split_keeps_everything(html)
    shown = "".join("".join(parse_html(p)[0] for p in split_message(html)).split())
    for title, link in view.sources:
        assert "".join(strip_bidi(title or link).split()) in shown
