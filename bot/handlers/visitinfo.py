"""/agenda and /agreements: the programme and the registry, for everyone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.alert_render import fit
from bot.handlers.common import args_text, reply, visit_header, visit_of
from bot.i18n import Html, t
from bot.render import (
    MESSAGE_LIMIT,
    bullet_list,
    format_clock,
    format_day,
    link,
    truncate,
    visible_len,
)
from bot.services import Services
from storage.agenda import AgendaItem, agenda_items, chat_timezone
from storage.agreements import Agreement, list_agreements, story_ids
from storage.alerts import zone
from storage.news import story_sources
from storage.programme import reported_sources, reported_status
from storage.visit import LoadedVisit


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
    """The programme by day, in the reader's time zone, marking done, under way and next;
    `/agenda trip` shows every stop of the visit's trip in order."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    data = await svc.reading(update, loaded)
    chat = update.effective_chat
    chosen = await chat_timezone(svc.db, chat.id) if chat else None
    whole_trip = args_text(update).strip().lower() == "trip"
    stops = svc.visits.trip(loaded) if whole_trip else [loaded]
    admin = await svc.is_admin(update.effective_user.id if update.effective_user else None)
    head = "" if whole_trip else visit_header(svc, loaded, lang)
    sections: list[str] = []
    if whole_trip and loaded.visit.trip is not None:
        sections.append(t(lang, "agenda.trip_title", trip=loaded.visit.trip.name.get(lang)))
    elif whole_trip:
        sections.append(t(lang, "agenda.no_trip"))
    for stop in stops:
        tz = zone(chosen, stop.visit.timezone)
        items = await agenda_items(svc.db, stop.id)
        if not items and not whole_trip:
            await reply(update, context, head + t(lang, "agenda.empty"))
            return
        lines: list[str] = []
        if whole_trip:
            lines.append(t(lang, "agenda.stop", visit=stop.visit.name.get(lang)))
        reported = await reported_sources(svc.db, [i.id for i in items if reported_status(i)])
        lines += _agenda_lines(items, svc.now(), tz, lang, data, admin=admin, reported=reported)
        sections.append("\n".join(lines))
    sections.append(t(lang, "agenda.footer"))
    await reply(update, context, Html(head + "\n\n".join(sections)))


def _agenda_lines(
    items: Sequence[AgendaItem],
    now: dt.datetime,
    tz: dt.tzinfo,
    lang: str,
    data: str,
    *,
    admin: bool,
    reported: Mapping[int, Sequence[tuple[str, str]]] | None = None,
) -> list[str]:
    """The programme in interface language `lang`, its titles and places in `data`; items the
    news reported under way or done say so, with the stories' sources (`reported`)."""
    if not items:
        return [t(lang, "agenda.empty")]
    marks = agenda_marks(list(items), now, tz)
    lines: list[str] = [t(lang, "agenda.title", tz=str(tz))]
    current_day: dt.date | None = None
    for item in items:
        day = item.starts_at.astimezone(tz).date()
        if day != current_day:
            lines += ["", t(lang, "agenda.day", day=format_day(day, lang))]
            current_day = day
        when = format_clock(item.starts_at, tz, lang) if item.time_known else "—"
        status = reported_status(item)
        mark = f"reported_{status}" if status else marks.get(item.id)
        if item.status_origin == "admin" and item.status != "scheduled":
            mark = "done" if item.status == "done" else "now"  # as an admin set it
        line = t(
            lang,
            "agenda.item",
            time=when,
            title=item.title(data),
            place=item.place(data),
            mark=t(lang, f"agenda.mark.{mark}") if mark else Html(""),
        )
        lines.append(t(lang, "agenda.admin_id", id=item.id) + line if admin else line)
        sources = (reported or {}).get(item.id) if status else None
        if sources:
            links = ", ".join(link(url, truncate(title or url, 60)) for title, url in sources)
            lines.append(t(lang, "agenda.reported_by", links=Html(links)))
    return lines


AGREEMENTS_PER_PAGE = 8
PAGE_PATTERN = r"^agl:\d+$"
ITEM_SEPARATOR = "\n"  # between entries, as `bullet_list` joins them
HEADING_SEPARATOR = "\n\n"  # the heading, then a blank line


def page_bounds(
    sizes: Sequence[int], budget: int, per_page: int = AGREEMENTS_PER_PAGE
) -> list[tuple[int, int]]:
    """Split entries of the given sizes into pages (start, end) of at most `budget` units each.

    Greedy and deterministic: the same entries always give the same pages, so the page number
    a Previous/Next button carries still points at the same entries when it is pressed. A page
    holds up to `per_page` entries, fewer when long entries would not fit in one message; every
    entry is on exactly one page (callers cut any entry longer than `budget` first).
    """
    bounds: list[tuple[int, int]] = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        extra = size + (visible_len(ITEM_SEPARATOR) if index > start else 0)
        if index > start and (index - start >= per_page or used + extra > budget):
            bounds.append((start, index))
            start, used, extra = index, 0, size
        used += extra
    if start < len(sizes):
        bounds.append((start, len(sizes)))
    return bounds


async def _agreement_items(
    svc: Services, loaded: LoadedVisit, lang: str, entries: list[Agreement], *, admin: bool
) -> list[Html]:
    """Every entry rendered as it appears in the list (with its ID for admins)."""
    linked = await story_ids(svc.db, [e.id for e in entries])
    extra = await story_sources(svc.db, list(linked.values()), limit=3)
    items: list[Html] = []
    for entry in entries:
        sector = loaded.visit.sector(entry.sector)
        sources = [link(entry.source_url, entry.source_title)] if entry.source_title else []
        for title, url in extra.get(linked.get(entry.id, -1), []):
            if url != entry.source_url:
                sources.append(link(url, truncate(title, 80)))
        item = t(
            lang,
            "agreements.item",
            title=entry.title,
            status=t(lang, f"agreements.status.{entry.status}"),
            sector=sector.name.get(lang) if sector else "—",
            date=format_day(dt.date.fromisoformat(entry.signed_on), lang)
            if entry.signed_on
            else "—",
            parties=entry.parties or "—",
            source=Html(" · ".join(sources)) if sources else "—",
        )
        items.append(Html(t(lang, "agreements.admin_id", id=entry.id) + item) if admin else item)
    return items


async def agreements_page(
    svc: Services, loaded: LoadedVisit, lang: str, page: int, *, admin: bool
) -> tuple[Html, InlineKeyboardMarkup | None]:
    """One page of the registry (newest first) and its Previous/Next buttons, if any.

    The page is always one message: its text as Telegram counts it (`visible_len`) stays
    within MESSAGE_LIMIT, so it can be sent whole and edited in place by the buttons.
    """
    entries = await list_agreements(svc.db, loaded.id)
    head = visit_header(svc, loaded, lang)
    if not entries:
        return Html(head + t(lang, "agreements.empty")), None
    title = Html(head + t(lang, "agreements.title", count=len(entries)))
    # The widest heading any page can have: page numbers never have more digits than this.
    widest = len(entries)
    heading_room = visible_len(
        title + " " + t(lang, "agreements.page", page=widest, pages=widest) + HEADING_SEPARATOR
    )
    budget = MESSAGE_LIMIT - heading_room
    # An entry too long for a message on its own (it cannot be, with the input limits) is cut.
    rendered = await _agreement_items(svc, loaded, lang, entries, admin=admin)
    items = [fit(item, budget) for item in rendered]
    bounds = page_bounds([visible_len(item) for item in items], budget)
    pages = len(bounds)
    page = min(max(page, 0), pages - 1)
    start, end = bounds[page]
    if pages > 1:
        title = Html(title + " " + t(lang, "agreements.page", page=page + 1, pages=pages))
    keyboard = None
    if pages > 1:
        buttons = []
        if page > 0:
            buttons.append(
                InlineKeyboardButton(
                    t(lang, "agreements.previous"), callback_data=f"agl:{page - 1}"
                )
            )
        if page < pages - 1:
            buttons.append(
                InlineKeyboardButton(t(lang, "agreements.next"), callback_data=f"agl:{page + 1}")
            )
        keyboard = InlineKeyboardMarkup([buttons])
    return bullet_list(title, items[start:end]), keyboard


async def agreements(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The registry, newest first, paged with buttons when long; admins also see entry IDs.

    The page goes out as exactly one message (never through `reply`, which may split): the
    buttons edit that message, and an edit can only ever replace one message.
    """
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    admin = await svc.is_admin(update.effective_user.id if update.effective_user else None)
    text, keyboard = await agreements_page(svc, loaded, lang, 0, admin=admin)
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_message(
        chat.id, text, reply_markup=keyboard, disable_web_page_preview=True
    )


async def agreements_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Previous/Next: the same message shows another page."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    await query.answer()
    admin = await svc.is_admin(query.from_user.id)
    text, keyboard = await agreements_page(
        svc, loaded, lang, int(query.data.removeprefix("agl:")), admin=admin
    )
    try:
        await query.edit_message_text(text, reply_markup=keyboard, disable_web_page_preview=True)
    except BadRequest as exc:  # "message is not modified" when pressed twice
        if "not modified" not in str(exc):
            raise
