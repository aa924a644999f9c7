"""Pure rendering helpers: Telegram-safe HTML, message splitting, facts, status, times.

No I/O here, so every rule about what a message may contain is tested directly.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from babel.dates import format_date, format_datetime, format_timedelta

from bot.i18n import Html, escape, t
from storage.facts import FactView

MESSAGE_LIMIT = 4096

# --- measuring and cutting, the way Telegram counts ------------------------------------------
#
# Telegram's limit (4,096) is on the text a reader sees: tags removed, entities decoded, counted
# in UTF-16 code units ("&amp;" is one, an emoji outside the BMP two, an <a href> nothing).
# Everything that measures or cuts a message measures that, with these functions.

_TOKEN = re.compile(
    r"<(/?)([a-zA-Z][\w-]*)[^>]*>"  # a tag
    r"|&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z]+));"  # an entity
)
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16_len(text: str) -> int:
    """Length of plain text as Telegram counts it: UTF-16 code units (an emoji is two)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def visible_text(html_text: str) -> str:
    """What a reader sees of Telegram HTML: tags dropped, the entities Telegram knows decoded."""
    if "<" not in html_text and "&" not in html_text:
        return html_text
    return _TOKEN.sub(_decoded, html_text)


def _decoded(match: re.Match[str]) -> str:
    if match.group(2):  # a tag
        return ""
    dec, hexa, name = match.group(3), match.group(4), match.group(5)
    if name is not None:
        return _NAMED.get(name, match.group(0))
    code = int(dec) if dec is not None else int(hexa, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)


def visible_len(html_text: str) -> int:
    """The length Telegram checks against its 4,096 limit: `visible_text`, in UTF-16 units."""
    return utf16_len(visible_text(html_text))


def _prefix_within(text: str, units: int) -> int:
    """The number of characters of `text` whose UTF-16 length is at most `units`."""
    if text.isascii():
        return max(0, min(len(text), units))
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return index
    return len(text)


def truncate(text: str, limit: int) -> str:
    """Plain text at most `limit` UTF-16 units long; a cut is marked with an ellipsis."""
    if utf16_len(text) <= limit:
        return text
    return text[: _prefix_within(text, limit - 1)].rstrip() + "…"


def link(url: str | None, label: str) -> Html:
    """An <a> link for http(s) URLs; anything else is shown as plain escaped text."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return Html(f'<a href="{escape(url)}">{escape(label)}</a>')
    return escape(label)


# An atom of Telegram HTML: a tag (kind "open" or "close", with its name), a run of plain text
# (kind "text": shown as written) or one entity (kind "char", with the character it stands for).
_Atom = tuple[str, str, str]  # (kind, raw HTML, tag name or visible text)


def _atoms(html_text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    position = 0
    for match in _TOKEN.finditer(html_text):
        if match.start() > position:
            run = html_text[position : match.start()]
            atoms.append(("text", run, run))
        position = match.end()
        raw = match.group(0)
        if match.group(2):
            atoms.append(("close" if match.group(1) else "open", raw, match.group(2).lower()))
        elif len(decoded := _decoded(match)) == 1:
            atoms.append(("char", raw, decoded))
        else:  # not an entity Telegram knows: shown (and so measured) as written
            atoms.append(("text", raw, raw))
    if position < len(html_text):
        atoms.append(("text", html_text[position:], html_text[position:]))
    return atoms


def _joined_to_previous(text: str, index: int) -> bool:
    """True when `text[index]` belongs with the character before it (a combining mark, a
    variation selector, the far side of a zero-width joiner): a cut there would split what a
    reader sees as one character."""
    char = text[index]
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char in "\u200d\ufe0e\ufe0f"
        or text[index - 1] == "\u200d"
    )


MAX_CLUSTER = 16  # characters a cut steps back to keep marks and joined emoji together


def _cuts(plain: str, limit: int, *, soft: bool) -> list[tuple[int, int]]:
    """Where to cut `plain` into pieces of at most `limit` UTF-16 units: (end, next start).

    Soft cuts go at the last line break of the second half of a piece, else its last space;
    the break itself is dropped (Telegram trims it from both messages anyway). Otherwise, and
    for hard cuts, the piece is as long as fits without splitting a character from its marks
    (up to MAX_CLUSTER of them: a run of thousands of combining marks is cut anyway).
    """
    prefix = [0]
    for char in plain:
        prefix.append(prefix[-1] + (2 if ord(char) > 0xFFFF else 1))
    cuts: list[tuple[int, int]] = []
    start = 0
    while prefix[-1] - prefix[start] > limit:
        end = bisect.bisect_right(prefix, prefix[start] + limit) - 1  # plain[start:end] fits
        cut = -1
        if soft:
            middle = bisect.bisect_left(prefix, prefix[start] + limit // 2)
            cut = plain.rfind("\n", middle, end + 1)
            if cut < 0:
                cut = max(plain.rfind(" ", middle, end + 1), plain.rfind("\t", middle, end + 1))
        if cut > start:
            cuts.append((cut, cut + 1))
            start = cut + 1
            continue
        for _ in range(MAX_CLUSTER):
            if end <= start + 1 or not _joined_to_previous(plain, end):
                break
            end -= 1
        end = max(end, start + 1)
        cuts.append((end, end))
        start = end
    return cuts


def _pieces(html_text: str, limit: int, *, soft: bool) -> list[Html]:
    """`html_text` in pieces of at most `limit` visible units, each balanced on its own."""
    atoms = _atoms(html_text)
    plain = "".join(value for kind, _raw, value in atoms if kind in ("text", "char"))
    cuts = _cuts(plain, limit, soft=soft)
    pieces: list[Html] = []
    current: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, opening tag) open at this point

    def cut() -> None:
        nonlocal current
        current.extend(f"</{name}>" for name, _tag in reversed(open_tags))
        pieces.append(Html("".join(current)))
        current = [tag for _name, tag in open_tags]

    index = 0  # of the atom's first visible character in `plain`
    for kind, raw, value in atoms:
        if kind == "text":
            used = 0  # characters of the run already placed (or dropped at a cut)
            while cuts and cuts[0][0] < index + len(value):
                end, resume = cuts.pop(0)
                current.append(value[used : end - index])
                cut()
                used = resume - index  # past the line break or space the cut went at
            current.append(value[used:])
            index += len(value)
        elif kind == "char":
            if cuts and cuts[0][0] == index:
                end, resume = cuts.pop(0)
                cut()
                if resume > end:  # the cut went at this very character: it is dropped
                    index += 1
                    continue
            current.append(raw)
            index += 1
        elif kind == "open":
            open_tags.append((value, raw))
            current.append(raw)
        else:
            for position in range(len(open_tags) - 1, -1, -1):
                if open_tags[position][0] == value:
                    del open_tags[position]
                    break
            current.append(raw)
    current.extend(f"</{name}>" for name, _tag in reversed(open_tags))
    pieces.append(Html("".join(current)))
    return pieces


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[Html]:
    """`text` as one message when Telegram would take it, else as few whole parts as needed.

    Measured as Telegram measures (`visible_len`), so markup, escaping and long links never
    cause a split. Parts end at a line break where one is near the limit, else at a space,
    else where the limit falls; tags open at a cut are closed at the end of one part and
    reopened at the start of the next, so each part is valid HTML and keeps its formatting.
    Nothing visible is lost but the line break or space a cut replaces.
    """
    if visible_len(text) <= limit:
        return [Html(text)]
    parts = [p for p in _pieces(text, limit, soft=True) if visible_text(p).strip()]
    return parts or [Html(text)]


def cut_html(text: str, limit: int) -> Html:
    """`text` unchanged if it fits in `limit` visible units, else its beginning (markup kept,
    tags closed) and an ellipsis marking the cut."""
    if visible_len(text) <= limit:
        return Html(text)
    return Html(_pieces(text, max(1, limit - 1), soft=False)[0] + "…")


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
