"""Pure rendering helpers: Telegram-safe HTML, message splitting, facts, status, times.

No I/O here, so every rule about what a message may contain is tested directly.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from babel.dates import format_date, format_datetime, format_timedelta

from bot.i18n import Html, escape, t
from storage.facts import FactView

MESSAGE_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units; emoji outside the BMP count twice."""
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int) -> str:
    """Shorten plain text to `limit` characters with an ellipsis (before escaping)."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def link(url: str | None, label: str) -> Html:
    """An <a> link for http(s) URLs; anything else is shown as plain escaped text."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return Html(f'<a href="{escape(url)}">{escape(label)}</a>')
    return escape(label)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split HTML into messages of at most `limit` UTF-16 units, at line boundaries.

    Templates keep each tag on one line, but a value filled into a tag may itself contain a
    line break (a multi-line source title inside <i>…</i>). Tags still open at a cut are
    closed at the end of one part and reopened at the start of the next, and every part is
    balanced at the end, so each message is valid Telegram HTML on its own. A single line that
    is still too long loses its markup and is cut as plain text.
    """
    budget = limit - TAG_RESERVE
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    open_tags: list[tuple[str, str]] = []  # (name, opening tag) still open after `current`
    for line in text.split("\n"):
        if utf16_len(line) > budget:
            line = _plain_cut(line, budget)
        extra = utf16_len(line) + (1 if current else 0)
        if current and size + extra > budget:
            chunks.append("\n".join(current))
            reopen = "".join(tag for _, tag in open_tags)
            if utf16_len(reopen) > TAG_RESERVE // 2:
                reopen = ""  # e.g. a very long link: the next part goes without it
            current, size = [reopen + line], utf16_len(reopen + line)
        else:
            current.append(line)
            size += extra
        _track_tags(line, open_tags)
    if current:
        chunks.append("\n".join(current))
    parts = [_balanced(c) for c in (chunk.strip("\n") for chunk in chunks) if c.strip()]
    return parts or [_plain_cut(text, limit)]


TAG_RESERVE = 128  # room kept in each part for the tags carried across a cut
_TAG_TOKEN = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")


def _track_tags(line: str, open_tags: list[tuple[str, str]]) -> None:
    for match in _TAG_TOKEN.finditer(line):
        name = match.group(2).lower()
        if not match.group(1):
            open_tags.append((name, match.group(0)))
            continue
        for index in range(len(open_tags) - 1, -1, -1):
            if open_tags[index][0] == name:
                del open_tags[index]
                break


def _balanced(chunk: str) -> str:
    """`chunk` with closing tags that close nothing removed and open tags closed at the end."""
    open_tags: list[str] = []
    pieces: list[str] = []
    position = 0
    for match in _TAG_TOKEN.finditer(chunk):
        pieces.append(chunk[position : match.start()])
        position = match.end()
        name = match.group(2).lower()
        if not match.group(1):
            open_tags.append(name)
            pieces.append(match.group(0))
        elif open_tags and open_tags[-1] == name:
            open_tags.pop()
            pieces.append(match.group(0))
        # else: a stray closing tag (its opening was in an earlier part): dropped
    pieces.append(chunk[position:])
    pieces.extend(f"</{name}>" for name in reversed(open_tags))
    return "".join(pieces)


def _plain_cut(line: str, limit: int) -> str:
    """Drop the markup of one line and cut its text so that, escaped, it fits in `limit`."""
    return escaped_cut(html.unescape(_TAG.sub("", line)), limit)


def escaped_cut(plain: str, limit: int) -> str:
    """`plain` escaped, cut (with an ellipsis) so that the escaped text fits in `limit`."""
    keep = limit
    while True:
        cut = escape(truncate(plain, keep))
        size = utf16_len(cut)
        if size <= limit:
            return cut
        keep = max(1, keep * limit // size - 1)


def fact_lines(facts: Sequence[FactView], lang: str) -> list[str]:
    """One bullet per fact with its source as a link."""
    lines: list[str] = []
    for fact in facts:
        source = link(fact.source_url, fact.source_title) if fact.source_title else ""
        lines.append(t(lang, "facts.item", text=fact.text, source=source))
    return lines


def bullet_list(title: Html, lines: Iterable[str]) -> Html:
    return Html("\n".join([title, "", *lines]))


# --- the visit's status -------------------------------------------------------------------

Phase = Literal["upcoming", "under_way", "concluded"]


@dataclass(frozen=True)
class VisitStatus:
    phase: Phase
    delta: dt.timedelta  # until the start (upcoming), since the start (under way), since the end
    day: int  # 1-based day of the visit while under way, else 0
    days: int  # length of the visit in days


def visit_status(
    now: dt.datetime, starts_on: dt.date, ends_on: dt.date, tz: dt.tzinfo
) -> VisitStatus:
    """Where `now` falls relative to the visit's days, judged in the visit's time zone."""
    start = dt.datetime.combine(starts_on, dt.time(), tz)
    end = dt.datetime.combine(ends_on + dt.timedelta(days=1), dt.time(), tz)
    days = (ends_on - starts_on).days + 1
    if now < start:
        return VisitStatus("upcoming", start - now, 0, days)
    if now < end:
        day = (now.astimezone(tz).date() - starts_on).days + 1
        return VisitStatus("under_way", now - start, day, days)
    return VisitStatus("concluded", now - end, 0, days)


def human_delta(delta: dt.timedelta, lang: str) -> str:
    """'3 days', '5 hours', '2일', '3 gün': Babel picks the unit and the grammar."""
    return format_timedelta(delta, threshold=1.5, locale=lang)


def days_between(later: dt.date, earlier: dt.date) -> int:
    return (later - earlier).days


def format_day(day: dt.date, lang: str) -> str:
    return format_date(day, format="long", locale=lang)


def format_time(moment: dt.datetime, tz: dt.tzinfo, lang: str) -> str:
    return format_datetime(moment.astimezone(tz), format="medium", tzinfo=tz, locale=lang)


def format_clock(moment: dt.datetime, tz: dt.tzinfo, lang: str) -> str:
    return format_datetime(moment.astimezone(tz), format="HH:mm", tzinfo=tz, locale=lang)
