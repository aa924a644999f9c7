"""Pure parsing and validation of what admins type: fields, dates, URLs, lengths, near-duplicates.

No I/O and no Telegram here, so every rule (and every message key it can produce) is tested
directly. A problem is a `ValidationError` carrying a catalogue key and its parameters; the
handlers turn it into a message with `t(lang, error.key, **error.params)`, so the wording lives in
the catalogue and user text is escaped like everywhere else.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.render import utf16_len
from storage.textfold import fold, strip_bidi, words

# Limits are generous for real titles and tight enough that one entry cannot swamp a message.
# They are in UTF-16 units, as Telegram counts (an emoji is two), so what is accepted here is
# shown whole: the renderers' caps (`bot.alert_render.MAX_*`) are never below these.
TITLE_MAX = 200
SECTOR_MAX = 60
PARTIES_MAX = 300
PLACE_MAX = 200
URL_MAX = 2000
FACT_MAX = 1000
SOURCE_TITLE_MAX = 200
BROADCAST_MAX = 3000
NOTE_MAX = 300

SIMILAR_THRESHOLD = 0.6


class ValidationError(ValueError):
    """Input that cannot be accepted; `key` names the catalogue message explaining why."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


# --- single values ---------------------------------------------------------------------------


def one_line(value: str) -> str:
    """Whitespace folded to single spaces and bidi overrides removed: names, titles and places
    are one line, so a value never carries a line break into a tag of the message that shows
    it, nor adds a line of its own (a fake day in /agenda), nor reorders what others read."""
    return " ".join(strip_bidi(value).split())


def split_fields(text: str) -> list[str]:
    """`a | b |  c` -> ['a', 'b', 'c']: whitespace around the separators is ignored."""
    return [one_line(part) for part in text.split("|")] if text.strip() else []


def check_length(field: str, value: str, limit: int, key: str = "validation.too_long") -> str:
    """`value` if it is at most `limit` long as Telegram counts (UTF-16 units), else refused
    with its real length: a cut later on would drop text without anyone noticing."""
    length = utf16_len(value)
    if length > limit:
        raise ValidationError(key, field=field, limit=limit, length=length)
    return value


def parse_date(value: str) -> dt.date:
    """A calendar date written YYYY-MM-DD."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValidationError("validation.bad_date", value=value)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError("validation.bad_date", value=value) from None


def parse_local_time(value: str, tz: dt.tzinfo) -> tuple[dt.datetime, bool]:
    """'YYYY-MM-DD HH:MM' (or a date alone) in `tz` -> (aware UTC datetime, time known)."""
    text = " ".join(value.split())
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2}))?", text)
    if match is None:
        raise ValidationError("validation.bad_datetime", value=value)
    day = parse_date(match.group(1))
    if match.group(2) is None:
        return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC), False
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValidationError("validation.bad_datetime", value=value)
    local = dt.datetime.combine(day, dt.time(hour, minute), tz)
    return local.astimezone(dt.UTC), True


def parse_url(value: str) -> str:
    """An absolute http(s) URL with a host; anything else (javascript:, ftp:, bare words) fails.

    Bidi overrides are removed like everywhere else: a URL is shown as a link's label too."""
    url = strip_bidi(value).strip()
    check_length("url", url, URL_MAX)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port ("x:99999") only raises when it is read
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket, a bad port
        raise ValidationError("validation.bad_url", value=value) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in url:
        raise ValidationError("validation.bad_url", value=value)
    return url


def parse_id(value: str) -> int:
    """A positive whole number (an entry's ID, a Telegram user id)."""
    text = value.strip().lstrip("#")
    if not text.isdecimal() or int(text) <= 0 or len(text) > 18:
        raise ValidationError("validation.bad_id", value=value)
    return int(text)


def parse_choice(value: str, choices: Mapping[str, Iterable[str]], error: str) -> str:
    """The key whose key or any name equals `value`, folded ('high technology' -> key)."""
    wanted = " ".join(words(value))
    for key, names in choices.items():
        if wanted in {" ".join(words(key.replace("-", " "))), *(" ".join(words(n)) for n in names)}:
            return key
    raise ValidationError(error, value=value, known=", ".join(choices))


# --- agreements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementDraft:
    title: str
    sector: str = ""
    signed_on: dt.date | None = None
    parties: str = ""
    source_url: str | None = None


def parse_title(value: str) -> str:
    title = one_line(value)
    if not title:
        raise ValidationError("validation.title_required")
    return check_length("title", title, TITLE_MAX)


def parse_sector(value: str, sectors: Mapping[str, Iterable[str]]) -> str:
    """'' stays '' (no sector); otherwise a known sector key or name."""
    if not value.strip():
        return ""
    return parse_choice(value, sectors, "validation.unknown_sector")


def parse_parties(value: str) -> str:
    return check_length("parties", one_line(value), PARTIES_MAX)


def parse_place(value: str) -> str:
    """An agenda item's place ('' for none): one line, like every value shown in a list."""
    return check_length("place", one_line(value), PLACE_MAX)


def parse_optional_url(value: str) -> str | None:
    return parse_url(value) if value.strip() else None


def parse_optional_date(value: str) -> dt.date | None:
    return parse_date(value) if value.strip() else None


def parse_agreement_line(text: str, sectors: Mapping[str, Iterable[str]]) -> AgreementDraft:
    """`title | sector | YYYY-MM-DD | parties | source url`; only the title is required."""
    fields = split_fields(text)
    if len(fields) > 5:
        raise ValidationError("validation.too_many_fields", expected=5, got=len(fields))
    fields += [""] * (5 - len(fields))
    title, sector, date, parties, url = fields
    return AgreementDraft(
        title=parse_title(title),
        sector=parse_sector(sector, sectors),
        signed_on=parse_optional_date(date),
        parties=parse_parties(parties),
        source_url=parse_optional_url(url),
    )


EDITABLE_FIELDS = ("title", "sector", "date", "parties", "source", "status")


@dataclass(frozen=True)
class AgreementEdit:
    agreement_id: int
    field: str  # a column of `agreements`
    value: str | None


def parse_agreement_edit(text: str, sectors: Mapping[str, Iterable[str]]) -> AgreementEdit:
    """`ID field=value`: one field at a time, so values may contain spaces and `=`."""
    head, _, rest = text.strip().partition(" ")
    if not head or "=" not in rest:
        raise ValidationError("validation.edit_usage", fields=", ".join(EDITABLE_FIELDS))
    agreement_id = parse_id(head)
    name, _, raw = rest.partition("=")
    name, raw = name.strip().lower(), raw.strip()
    value: str | None
    if name == "title":
        column, value = "title", parse_title(raw)
    elif name == "sector":
        column, value = "sector", parse_sector(raw, sectors)
    elif name == "date":
        date = parse_optional_date(raw)
        column, value = "signed_on", date.isoformat() if date else None
    elif name == "parties":
        column, value = "parties", parse_parties(raw)
    elif name == "source":
        column, value = "source_url", parse_optional_url(raw)
    elif name == "status":
        if raw.lower() not in ("confirmed", "reported"):
            raise ValidationError("validation.bad_status", value=raw)
        column, value = "status", raw.lower()
    else:
        raise ValidationError(
            "validation.unknown_field", value=name, fields=", ".join(EDITABLE_FIELDS)
        )
    return AgreementEdit(agreement_id, column, value)


# --- agenda, facts, broadcasts ----------------------------------------------------------------


@dataclass(frozen=True)
class AgendaDraft:
    starts_at: dt.datetime  # UTC
    time_known: bool
    title: str
    place: str


def parse_agenda_line(text: str, tz: dt.tzinfo) -> AgendaDraft:
    """`YYYY-MM-DD HH:MM | title | place`, the time in the visit's zone; place is optional."""
    fields = split_fields(text)
    if len(fields) < 2 or len(fields) > 3:
        raise ValidationError("validation.agenda_usage")
    fields += [""] * (3 - len(fields))
    starts_at, time_known = parse_local_time(fields[0], tz)
    return AgendaDraft(
        starts_at=starts_at,
        time_known=time_known,
        title=parse_title(fields[1]),
        place=parse_place(fields[2]),
    )


@dataclass(frozen=True)
class FactDraft:
    topic: str
    text: str
    source_title: str
    source_url: str | None


_TRAILING_URL = re.compile(r"^(.*?)\s*(\S+://\S+)$")


def parse_source(value: str) -> tuple[str, str | None]:
    """'Title https://…', a bare URL (titled by its host) or a title alone."""
    text = one_line(value)
    match = _TRAILING_URL.match(text)
    if match is None:
        return check_length("source", text, SOURCE_TITLE_MAX), None
    url = parse_url(match.group(2))
    title = match.group(1).strip() or (urlsplit(url).hostname or url)
    return check_length("source", title, SOURCE_TITLE_MAX), url


def parse_fact_line(text: str, topics: Mapping[str, Iterable[str]]) -> FactDraft:
    """`topic | text | source`; the source (title and/or URL) is required: facts carry one."""
    fields = split_fields(text)
    if len(fields) != 3 or not all(fields):
        raise ValidationError("validation.fact_usage")
    topic = parse_choice(fields[0], topics, "validation.unknown_topic")
    body = check_length("text", fields[1], FACT_MAX)
    source_title, source_url = parse_source(fields[2])
    return FactDraft(topic, body, source_title, source_url)


def parse_broadcast(text: str) -> str:
    """The text as typed (line breaks kept, bidi overrides removed), if it fits one message.

    Refused up front with its real length rather than sent in parts: a broadcast is one alert,
    and one alert is one message to every chat (the outbox records each delivery as one
    message), so it never arrives cut, nor as pieces a reader could get only some of.
    """
    body = strip_bidi(text).strip()
    if not body:
        raise ValidationError("validation.broadcast_usage")
    return check_length("text", body, BROADCAST_MAX, "validation.broadcast_too_long")


# --- near-duplicates -------------------------------------------------------------------------


def title_words(title: str) -> frozenset[str]:
    """Folded words of a title, without one-letter noise."""
    return frozenset(w for w in words(title) if len(w) > 1 or not w.isascii())


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of folded title words; identical folded titles score 1."""
    if fold(a) == fold(b):
        return 1.0
    wa, wb = title_words(a), title_words(b)
    union = wa | wb
    return len(wa & wb) / len(union) if union else 0.0


def similar_titles(
    title: str, existing: Sequence[tuple[int, str]], threshold: float = SIMILAR_THRESHOLD
) -> list[tuple[int, str]]:
    """Existing (id, title) pairs that look like the same entry, most similar first."""
    scored = [(similarity(title, other), ident, other) for ident, other in existing]
    return [(i, o) for s, i, o in sorted(scored, key=lambda x: -x[0]) if s >= threshold]


# --- feed addresses --------------------------------------------------------------------------
