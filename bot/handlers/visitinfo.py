"""/agenda and /agreements: the programme and the registry, for everyone."""

from __future__ import annotations

import datetime as dt

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import reply
from bot.i18n import Html, t
from bot.render import bullet_list, format_clock, format_day, link
from bot.services import services
from storage.agenda import AgendaItem, agenda_items
from storage.agreements import list_agreements


def agenda_marks(items: list[AgendaItem], now: dt.datetime, tz: dt.tzinfo) -> dict[int, str]:
    """done / now / next for each item. Items with a date only are done once their day is."""
    marks: dict[int, str] = {}
    today = now.astimezone(tz).date()
    upcoming_found = False
    for index, item in enumerate(items):
        day = item.starts_at.astimezone(tz).date()
        if item.time_known:
            following = items[index + 1].starts_at if index + 1 < len(items) else None
            started = item.starts_at <= now
            finished = started and following is not None and following <= now
            if started and not finished and day == today:
                marks[item.id] = "now"
                continue
            if started:
                marks[item.id] = "done"
                continue
        elif day < today:
            marks[item.id] = "done"
            continue
        elif day == today:
            marks[item.id] = "today"
            continue
        if not upcoming_found:
            marks[item.id] = "next"
            upcoming_found = True
    return marks


async def agenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    lang = await svc.language(update)
    tz = svc.visit.timezone
    items = await agenda_items(svc.db, svc.visit_id)
    if not items:
        await reply(update, context, t(lang, "agenda.empty"))
        return
    marks = agenda_marks(items, svc.now(), tz)
    lines: list[str] = [t(lang, "agenda.title", tz=str(tz))]
    current_day: dt.date | None = None
    for item in items:
        day = item.starts_at.astimezone(tz).date()
        if day != current_day:
            lines += ["", t(lang, "agenda.day", day=format_day(day, lang))]
            current_day = day
        when = format_clock(item.starts_at, tz, lang) if item.time_known else "—"
        mark = marks.get(item.id)
        lines.append(
            t(
                lang,
                "agenda.item",
                time=when,
                title=item.title(lang),
                place=item.place(lang),
                mark=t(lang, f"agenda.mark.{mark}") if mark else Html(""),
            )
        )
    lines += ["", t(lang, "agenda.footer")]
    await reply(update, context, Html("\n".join(lines)))


async def agreements(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    lang = await svc.language(update)
    entries = await list_agreements(svc.db, svc.visit_id)
    if not entries:
        await reply(update, context, t(lang, "agreements.empty"))
        return
    lines = []
    for entry in entries:
        sector = svc.visit.sector(entry.sector)
        lines.append(
            t(
                lang,
                "agreements.item",
                title=entry.title,
                status=t(lang, f"agreements.status.{entry.status}"),
                sector=sector.name.get(lang) if sector else "—",
                date=entry.signed_on or "—",
                parties=entry.parties or "—",
                source=link(entry.source_url, entry.source_title) if entry.source_title else "—",
            )
        )
    title = t(lang, "agreements.title", count=len(entries))
    await reply(update, context, bullet_list(title, lines))
