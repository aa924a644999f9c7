"""Pure rendering of alerts for one chat: Telegram HTML, every outside string escaped.

Payload shapes are documented in `storage.alerts`. Everything that came from outside (titles,
parties, sources, broadcast text, notes) goes through `t()` parameters or `escape`, and is cut
to a cap first (`MAX_*`, in UTF-16 units, never below what admins may type, so admin text
arrives whole; a cut is marked "…"), so a single alert always fits in one message; several
alerts for the same chat are bundled into as few messages as fit in Telegram's 4,096. Sizes
are measured as Telegram measures them (`bot.render.visible_len`).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import DEFAULT_LANGUAGE, Html, escape, reading_language, resolve_language, t
from bot.render import (
    MESSAGE_LIMIT,
    cut_html,
    format_clock,
    format_day,
    link,
    truncate,
    visible_len,
)
from storage.alerts import DIGEST_EXEMPT, DueDelivery, zone
from storage.subscriptions import ChatView
from storage.textfold import strip_bidi
from storage.visit import Catalog, LoadedVisit

# Caps of outside text in UTF-16 units. Each is at least the matching limit of
# `bot.validation` (TITLE_MAX, PLACE_MAX, PARTIES_MAX, BROADCAST_MAX), and all of them together
# stay well inside one message (tests/test_render_fuzz.py checks both).
MAX_TITLE = 300
MAX_TEXT = 3000
MAX_SOURCE_TITLE = 120
MAX_NOTE = 500
MAX_CHANGE = 300  # each of a correction's old and new values (parties are up to 300 long)
MAX_PARTIES = 300
MAX_SOURCES = 5
SEPARATOR = "\n\n"
# Agreement columns an admin can edit, each with an `alert.correction.field.*` catalogue name.
CORRECTION_FIELDS = ("title", "sector", "signed_on", "parties", "source_url", "status")


@dataclass(frozen=True)
class AlertView:
    """One alert as the renderer sees it; `context` overrides the bundle's (its own visit)."""

    kind: str
    payload: Mapping[str, Any]
    context: RenderContext | None = None


@dataclass(frozen=True)
class RenderContext:
    """Who reads: their language, time zone, and the visit's sector names in that language."""

    lang: str
    tz: dt.tzinfo
    sector_names: Mapping[str, str] = field(default_factory=dict)
    digest: bool = False
    visit_name: str = ""  # shown above the alert when the chat follows several visits
    reading: str = ""  # the language of the visit's own texts (titles, places); "" = `lang`

    @property
    def data_lang(self) -> str:
        return self.reading or self.lang


@dataclass(frozen=True)
class RenderedMessage:
    """One message and the indexes of the alerts (in the input list) it carries."""

    html: Html
    alerts: tuple[int, ...]


def _text(value: Any, limit: int) -> str:
    """One line of outside text, at most `limit` UTF-16 units (a cut ends in "…")."""
    return truncate(" ".join(strip_bidi(str(value or "")).split()), limit)


def _localized(value: Any, lang: str) -> str:
    if isinstance(value, Mapping):
        found = value.get(lang) or value.get("en") or next(iter(value.values()), "")
        return str(found or "")
    return str(value or "")


def _when(payload: Mapping[str, Any], ctx: RenderContext) -> str:
    """The item's day (and time) in the reader's zone; "" for a time that cannot be shown
    (not a time, or one so far back that the reader's zone is outside the calendar)."""
    try:
        starts = dt.datetime.fromisoformat(str(payload.get("starts_at")))
        if starts.tzinfo is None:
            starts = starts.replace(tzinfo=dt.UTC)
        day = format_day(starts.astimezone(ctx.tz).date(), ctx.lang)
        clock = format_clock(starts, ctx.tz, ctx.lang)
    except (ValueError, OverflowError):
        return ""
    if not payload.get("time_known", True):
        return t(ctx.lang, "alert.when_day", day=day)
    return t(ctx.lang, "alert.when", day=day, time=clock)


def _sources(payload: Mapping[str, Any], lang: str) -> Html:
    """The first MAX_SOURCES sources as links, and how many more there are."""
    sources = [s for s in list(payload.get("sources") or []) if isinstance(s, Mapping)]
    links = []
    for source in sources[:MAX_SOURCES]:
        url = str(source.get("url") or "")
        title = _text(source.get("title") or url, MAX_SOURCE_TITLE) or "…"
        links.append(link(url, title))
    if not links:
        return Html("")
    shown = ", ".join(links)
    if len(sources) > MAX_SOURCES:
        shown += " " + t(lang, "alert.sources_more", count=len(sources) - MAX_SOURCES)
    return t(lang, "alert.sources", links=Html(shown))


def field_name(lang: str, field: str) -> Html:
    """An agreement column (`signed_on`) as the reader calls it ("Date signed", "서명일").

    Columns without a catalogue name (from a newer release, say) are shown as they are.
    """
    if field in CORRECTION_FIELDS:
        return t(lang, f"alert.correction.field.{field}")
    return escape(field)


def _change_value(field: str, value: Any, ctx: RenderContext) -> Html:
    """One side of a correction in the reader's terms: sector name, local date format, status."""
    if value in (None, ""):
        return Html("—")
    text = str(value)
    if field == "sector":
        return escape(_text(ctx.sector_names.get(text, text), MAX_TITLE))
    if field == "signed_on":
        try:
            return escape(format_day(dt.date.fromisoformat(text), ctx.lang))
        except ValueError:
            return escape(_text(text, 20))
    if field == "status" and text in ("confirmed", "reported"):
        return t(ctx.lang, f"alert.status.{text}")
    return escape(_text(text, MAX_CHANGE))


def _correction_note(payload: Mapping[str, Any], ctx: RenderContext) -> Html | None:
    """What changed, rendered for this reader; None when the payload says nothing.

    Current payloads carry raw data under "change" so every subscriber reads the note in their
    own language and it is escaped exactly once, here. Alerts written by older releases only
    have a plain-text "note" (in the admin's language); it is still shown, escaped once.
    """
    change = payload.get("change")
    if isinstance(change, Mapping) and change.get("field"):
        field = str(change["field"])
        return t(
            ctx.lang,
            "alert.correction.change",
            field=field_name(ctx.lang, field),
            old=_change_value(field, change.get("old"), ctx),
            new=_change_value(field, change.get("new"), ctx),
        )
    note = _text(payload.get("note"), MAX_NOTE)
    return t(ctx.lang, "alert.correction.note", note=note) if note else None


def _agreement(payload: Mapping[str, Any], ctx: RenderContext, *, correction: bool) -> Html:
    lang = ctx.lang
    status = "confirmed" if payload.get("status") == "confirmed" else "reported"
    lines = [
        t(lang, "alert.correction.head" if correction else f"alert.agreement.head.{status}"),
    ]
    if correction:
        lines.append(t(lang, f"alert.status.{status}"))
        note = _correction_note(payload, ctx)
        if note:
            lines.append(note)
    lines.append(t(lang, "alert.title", title=_text(payload.get("title"), MAX_TITLE) or "…"))
    details = []
    sector = str(payload.get("sector") or "")
    if sector:
        details.append(escape(_text(ctx.sector_names.get(sector, sector), MAX_TITLE)))
    signed_on = payload.get("signed_on")
    if signed_on:
        try:
            details.append(escape(format_day(dt.date.fromisoformat(str(signed_on)), lang)))
        except ValueError:
            details.append(escape(_text(signed_on, 20)))
    parties = _text(payload.get("parties"), MAX_PARTIES)
    if parties:
        details.append(escape(parties))
    if details:
        lines.append(Html(" · ".join(details)))
    sources = _sources(payload, lang)
    if sources:
        lines.append(sources)
    return Html("\n".join(lines))


def _agenda(payload: Mapping[str, Any], ctx: RenderContext, *, reminder: bool) -> Html:
    lang = ctx.lang
    title = _text(_localized(payload.get("title"), ctx.data_lang), MAX_TITLE) or "…"
    place = _text(_localized(payload.get("place"), ctx.data_lang), MAX_TITLE)
    if reminder:
        minutes = int(payload.get("minutes_before") or 0)
        head = t(lang, "alert.reminder.head", minutes=minutes)
    else:
        change = str(payload.get("change") or "new")
        if change not in ("new", "changed", "deleted"):
            change = "changed"
        head = t(lang, f"alert.agenda.head.{change}")
    lines = [head, t(lang, "alert.title", title=title), Html(escape(_when(payload, ctx)))]
    if place:
        lines.append(t(lang, "alert.place", place=place))
    return Html("\n".join(lines))


PROGRAMME_CHANGES = ("done", "moved", "cancelled", "new")


def _programme(payload: Mapping[str, Any], ctx: RenderContext) -> Html:
    """What the feeds report about the programme: marked Reported with its sources until an
    admin confirms it (then the status line says so)."""
    lang = ctx.lang
    change = str(payload.get("change") or "done")
    if change not in PROGRAMME_CHANGES:
        change = "done"
    status = "confirmed" if payload.get("status") == "confirmed" else "reported"
    title = _localized(payload.get("title"), ctx.data_lang) or str(payload.get("headline") or "")
    place = _text(_localized(payload.get("place"), ctx.data_lang), MAX_TITLE)
    lines = [
        t(lang, f"alert.programme.head.{change}"),
        t(lang, f"alert.status.{status}"),
        t(lang, "alert.title", title=_text(title, MAX_TITLE) or "…"),
    ]
    when = _when(payload, ctx)
    if when:
        lines.append(Html(escape(when)))
    if change == "moved":
        moved_to = payload.get("new_starts_at")
        if moved_to:
            shown = _when({"starts_at": moved_to, "time_known": payload.get("new_time_known")}, ctx)
            lines.append(t(lang, "alert.programme.moved_to", when=shown))
        else:
            lines.append(t(lang, "alert.programme.moved_unknown"))
    if place:
        lines.append(t(lang, "alert.place", place=place))
    sources = _sources(payload, lang)
    if sources:
        lines.append(sources)
    return Html("\n".join(lines))


def render_alert(alert: AlertView, ctx: RenderContext) -> Html:
    """One alert as HTML, always shorter than a message; labelled with its visit if asked."""
    body = _render_body(alert, ctx)
    if not ctx.visit_name:
        return body
    label = t(ctx.lang, "alert.visit", visit=_text(ctx.visit_name, MAX_TITLE))
    return Html(f"{label}\n{body}")


def _render_body(alert: AlertView, ctx: RenderContext) -> Html:
    kind = alert.kind
    if kind in ("agreement", "correction"):
        return _agreement(alert.payload, ctx, correction=kind == "correction")
    if kind in ("agenda", "reminder"):
        return _agenda(alert.payload, ctx, reminder=kind == "reminder")
    if kind == "programme":
        return _programme(alert.payload, ctx)
    if kind == "broadcast":
        text = strip_bidi(str(alert.payload.get("text") or "")).strip()
        return t(ctx.lang, "alert.broadcast", text=truncate(text, MAX_TEXT) or "…")
    raise ValueError(f"unknown alert kind {kind!r}")


def render_bundle(
    alerts: Sequence[AlertView], ctx: RenderContext, limit: int = MESSAGE_LIMIT
) -> list[RenderedMessage]:
    """Bundle the alerts, in order, into as few messages of at most `limit` as they fit in.

    A digest gets a heading on its first message; several alerts get a count heading.
    """
    heading: Html | None = None
    if ctx.digest:
        heading = t(ctx.lang, "alert.digest.head", count=len(alerts))
    elif len(alerts) > 1:
        heading = t(ctx.lang, "alert.bundle.head", count=len(alerts))
    room = limit - (visible_len(heading) + visible_len(SEPARATOR) if heading else 0)
    parts = [fit(render_alert(a, a.context or ctx), room) for a in alerts]
    messages: list[RenderedMessage] = []
    current: list[str] = [heading] if heading else []
    indexes: list[int] = []
    size = visible_len(heading) if heading else 0
    sep = visible_len(SEPARATOR)
    for index, part in enumerate(parts):
        part_size = visible_len(part)
        extra = part_size + (sep if current else 0)
        if indexes and size + extra > limit:
            messages.append(RenderedMessage(Html(SEPARATOR.join(current)), tuple(indexes)))
            current, indexes, size = [], [], 0
            extra = part_size
        current.append(part)
        indexes.append(index)
        size += extra
    if indexes:
        messages.append(RenderedMessage(Html(SEPARATOR.join(current)), tuple(indexes)))
    return messages


def fit(part: Html, limit: int) -> Html:
    """`part` unchanged if Telegram would take it in `limit`, else cut there, marked "…".

    A safety net: with the caps above, no alert needs it.
    """
    return cut_html(part, limit)


_ANCHOR = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)
_TAG = re.compile(r"<[^>]+>")


def to_plain(text: str) -> str:
    """The HTML as plain text, links written out, for the 'can't parse entities' fallback.

    Written-out links make it longer than the HTML's visible text: cut (marked) to the limit.
    """
    text = _ANCHOR.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    return truncate(html.unescape(_TAG.sub("", text)), MESSAGE_LIMIT)


class ChatAlertRenderer:
    """The delivery worker's renderer: a chat's due alerts in its language and time zone, each
    in the terms of its own visit (sector names, the visit's zone when the chat chose none),
    named with its visit when the chat follows more than one."""

    def __init__(self, visits: Catalog) -> None:
        self.visits = visits

    def context(self, chat: ChatView | None, rows: Sequence[DueDelivery]) -> RenderContext:
        """The bundle's context: the reader's language, their zone, digest or not."""
        lang = DEFAULT_LANGUAGE
        digest = False
        if chat is not None:
            # A stored language that is not (or no longer) ours must not break rendering.
            lang = resolve_language(chat.language, chat.language_code)
            digest = chat.digest_hour is not None and any(r.kind not in DIGEST_EXEMPT for r in rows)
            digest = digest and not chat.channel  # no digests in a channel
        first = self.visits.get(rows[0].visit_id) if rows else None
        return self._visit_context(chat, lang, first, digest)

    def _visit_context(
        self, chat: ChatView | None, lang: str, loaded: LoadedVisit | None, digest: bool
    ) -> RenderContext:
        visit = (loaded or self.visits.all[0]).visit
        tz = zone(chat.timezone if chat else None, visit.timezone)
        chosen = chat is not None and chat.language is not None
        code = chat.language_code if chat else None
        reading = reading_language(lang, code, visit.languages, chosen=chosen)
        sectors = {s.key: s.name.get(reading) for s in visit.sectors}
        label = visit.name.get(reading) if chat is not None and chat.several_visits else ""
        return RenderContext(lang, tz, sectors, digest, visit_name=label, reading=reading)

    def render(self, rows: Sequence[DueDelivery], chat: ChatView | None) -> list[RenderedMessage]:
        """The chat's rows bundled into as few messages as fit; in a channel one post each
        (a channel's readers see posts, not a chat: each alert stands alone)."""
        ctx = self.context(chat, rows)
        views = [
            AlertView(
                r.kind,
                r.payload,
                self._visit_context(chat, ctx.lang, self.visits.get(r.visit_id), ctx.digest),
            )
            for r in rows
        ]
        if chat is not None and chat.channel:
            return [
                RenderedMessage(fit(render_alert(v, v.context or ctx), MESSAGE_LIMIT), (i,))
                for i, v in enumerate(views)
            ]
        return render_bundle(views, ctx)

    def plain(self, html: str) -> str:
        return to_plain(html)
