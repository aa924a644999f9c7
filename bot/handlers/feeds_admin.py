"""/feeds, /addfeed, /delfeed, /pausefeed, /resumefeed: the sources the bot watches.

/addfeed fetches the feed once and shows what `visitbot scan` would see (the same pipeline as
the polling job) before anything is saved, so an admin adds a feed knowing it parses and what it
would detect. Addresses that resolve into private, loopback or link-local ranges are refused
unless ALLOW_PRIVATE_FEEDS is set: otherwise the command would let anyone with admin rights make
the server probe its own network.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.handlers.common import (
    acting,
    admin_drafts,
    admin_header,
    admin_only,
    admin_step,
    admin_visit,
    args_text,
    context_lang,
    reply,
    show_error,
)
from bot.i18n import Html, t
from bot.render import format_time, link, truncate
from bot.services import Services
from bot.validation import ValidationError, parse_url
from jobs.detection import detector_for
from jobs.feeds import FeedError, fetch_feed, make_client, resolves_publicly
from jobs.pipeline import Followed, classify
from storage.feeds import Feed, add_feed, find_feed, list_feeds, remove_feed, set_feed_paused
from storage.visit import LoadedVisit

log = logging.getLogger(__name__)

BUTTON_PATTERN = r"^fd:(add|drop):[0-9a-f]+$"
PENDING = "feed_pending"
admin_drafts(PENDING)
PREVIEW_ENTRIES = 5


def _when(tz: dt.tzinfo, lang: str, value: dt.datetime | None) -> str:
    return format_time(value, tz, lang) if value else "—"


def feed_lines(svc: Services, loaded: LoadedVisit, lang: str, feed: Feed) -> list[Html]:
    """One feed's health: last success, last error, failures, next poll, paused, and the
    other visits it serves (a pause is the feed's: it stops for them too)."""
    tz = loaded.visit.timezone
    state = (
        t(lang, "feeds.paused", reason=feed.paused_reason or "—")
        if feed.paused
        else t(lang, "feeds.active")
    )
    lines = [
        t(lang, "feeds.item", id=feed.id, url=link(feed.url, truncate(feed.url, 80)), state=state),
        t(
            lang,
            "feeds.health",
            success=_when(tz, lang, feed.last_success_at),
            failures=feed.consecutive_failures,
            next=_when(tz, lang, feed.next_poll_at),
        ),
    ]
    others = [
        v.visit.name.get(lang) for i in feed.visit_ids if i != loaded.id if (v := svc.visits.get(i))
    ]
    if others:
        lines.append(t(lang, "feeds.shared", visits=", ".join(others)))
    if feed.last_error:
        lines.append(
            t(
                lang,
                "feeds.error",
                at=_when(tz, lang, feed.last_error_at),
                error=truncate(feed.last_error, 200),
            )
        )
    return lines


@admin_only
async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc, lang = await context_lang(update, context)
    loaded = await admin_visit(update, svc)
    rows = await list_feeds(svc.db, loaded.id)
    head = admin_header(svc, loaded, lang)
    if not rows:
        await reply(update, context, head + t(lang, "feeds.empty"))
        return
    lines: list[str] = [head + t(lang, "feeds.title", count=len(rows))]
    for feed in rows:
        lines += ["", *feed_lines(svc, loaded, lang, feed)]
    await reply(update, context, Html("\n".join(lines)))


def _client(svc: Services) -> tuple[httpx.AsyncClient, bool]:
    """The polling job's client when it runs, else a short-lived one (closed by the caller)."""
    if svc.feed_client is not None:
        return svc.feed_client, False
    return make_client(), True


@admin_only
async def addfeed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/addfeed URL`: check the address, fetch once, preview the detections, ask to add."""
    svc, lang = await context_lang(update, context)
    text = args_text(update)
    if not text:
        await reply(update, context, t(lang, "feeds.add_usage"))
        return
    try:
        url = parse_url(text)
    except ValidationError as error:
        await show_error(update, context, error)
        return
    loaded = await admin_visit(update, svc)
    if await find_feed(svc.db, loaded.id, url):
        await reply(update, context, t(lang, "feeds.exists", url=url))
        return
    host = urlsplit(url).hostname or ""
    public_only = not svc.settings.allow_private_feeds
    if public_only and not await resolves_publicly(host):
        await reply(update, context, t(lang, "feeds.private", host=host))
        return
    client, own = _client(svc)
    try:
        result = await fetch_feed(client, url, public_only=public_only)
    except FeedError as exc:
        await reply(update, context, t(lang, "feeds.fetch_failed", url=url, reason=exc.reason))
        return
    finally:
        if own:
            await client.aclose()
    parsed = result.feed
    # Detection is CPU work (up to a thousand entries): off the event loop, as in the poller.
    # The preview is for the admin's visit: that is the visit the feed will be added to.
    visit = Followed(
        loaded.id, loaded.visit, detector_for(loaded.visit, svc.visits.other_stops(loaded))
    )
    entries = await asyncio.to_thread(classify, [visit], parsed.entries if parsed else [])
    relevant = [e for e in entries if e.detection.relevant]
    title = truncate(parsed.title if parsed else "", 200)
    lines = [
        t(
            lang,
            "feeds.preview",
            url=url,
            title=title or "—",
            entries=len(entries),
            relevant=len(relevant),
        )
    ]
    for item in relevant[:PREVIEW_ENTRIES]:
        lines.append(
            t(
                lang,
                "feeds.preview_item",
                kind=item.detection.kind,
                title=link(item.entry.link, truncate(item.entry.title, 150)),
            )
        )
    token = secrets.token_hex(4)
    pending: dict[str, Any] = context.user_data.setdefault(PENDING, {})  # type: ignore[union-attr]
    pending[token] = (url, title)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "feeds.add_button"), callback_data=f"fd:add:{token}"),
                InlineKeyboardButton(
                    t(lang, "feeds.cancel_button"), callback_data=f"fd:drop:{token}"
                ),
            ]
        ]
    )
    await reply(update, context, Html("\n".join(lines)), keyboard=keyboard)


@admin_step
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Add (or forget) the feed previewed by /addfeed."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc, lang = await context_lang(update, context)
    await query.answer()
    _prefix, action, token = query.data.split(":")
    await query.edit_message_reply_markup(None)
    pending = (context.user_data or {}).get(PENDING, {}).pop(token, None)
    if pending is None:
        await reply(update, context, t(lang, "feeds.expired"))
        return
    if action == "drop":
        await reply(update, context, t(lang, "feeds.not_added"))
        return
    url, title = pending
    feed_id = await add_feed(svc.db, await acting(update, svc), url, title)
    if feed_id is None:
        await reply(update, context, t(lang, "feeds.exists", url=url))
        return
    await reply(update, context, t(lang, "feeds.added", id=feed_id, url=url))


async def _target(
    update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str
) -> tuple[Services, str, Feed] | None:
    svc, lang = await context_lang(update, context)
    ref = args_text(update)
    if not ref:
        await reply(update, context, t(lang, usage))
        return None
    feed = await find_feed(svc.db, (await admin_visit(update, svc)).id, ref)
    if feed is None:
        await reply(update, context, t(lang, "feeds.not_found", ref=ref))
        return None
    return svc, lang, feed


@admin_only
async def delfeed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/delfeed ID|URL`: no longer polled or listed; its entries stay as sources of stories."""
    found = await _target(update, context, "feeds.del_usage")
    if found is None:
        return
    svc, lang, feed = found
    await remove_feed(svc.db, await acting(update, svc), feed.id)
    await reply(update, context, t(lang, "feeds.deleted", id=feed.id, url=feed.url))


@admin_only
async def pausefeed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await _target(update, context, "feeds.pause_usage")
    if found is None:
        return
    svc, lang, feed = found
    await set_feed_paused(svc.db, await acting(update, svc), feed.id, True)
    await reply(update, context, t(lang, "feeds.paused_done", id=feed.id, url=feed.url))


@admin_only
async def resumefeed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Resume a feed (paused by an admin or by repeated failures) and clear its failure count."""
    found = await _target(update, context, "feeds.resume_usage")
    if found is None:
        return
    svc, lang, feed = found
    await set_feed_paused(svc.db, await acting(update, svc), feed.id, False)
    await reply(update, context, t(lang, "feeds.resumed", id=feed.id, url=feed.url))
