"""/stats for admins: who is subscribed, what was sent, what failed, and how the feeds are."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import admin_header, admin_only, admin_visit, reply
from bot.i18n import Html, t
from bot.render import format_time
from bot.services import Services, services
from storage.alerts import ALERT_KINDS, delivery_stats
from storage.db import from_db_time
from storage.feeds import feed_health
from storage.subscriptions import subscriber_stats
from storage.visit import LoadedVisit


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _stats(update, context)


@admin_only
async def _stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    lang = await svc.language(update)
    await reply(update, context, await stats_text(svc, await admin_visit(update, svc), lang))


async def stats_text(svc: Services, loaded: LoadedVisit, lang: str) -> Html:
    """The admin's current visit: its subscribers (and those of every visit), alerts,
    deliveries and feeds."""
    tz = loaded.visit.timezone
    subs = await subscriber_stats(svc.db, loaded.id)
    sent = await delivery_stats(svc.db, loaded.id)
    d = sent.deliveries
    last = (
        format_time(from_db_time(sent.last_sent_at), tz, lang)
        if sent.last_sent_at
        else t(lang, "stats.never")
    )
    kinds = ", ".join(f"{k} {sent.alerts_by_kind.get(k, 0)}" for k in ALERT_KINDS)
    lines = [
        admin_header(svc, loaded, lang) + t(lang, "stats.title"),
        "",
        t(
            lang,
            "stats.subscribers",
            active=subs.active,
            inactive=subs.inactive,
            agreements=subs.agreements,
            agenda=subs.agenda,
            groups=subs.groups,
            quiet=subs.quiet,
            digest=subs.digest,
        ),
        t(lang, "stats.alerts", total=sum(sent.alerts_by_kind.values()), kinds=kinds),
        t(
            lang,
            "stats.deliveries",
            pending=d["pending"],
            sending=d["sending"],
            sent=d["sent"],
            failed=d["failed"],
            dropped=d["dropped"],
        ),
        t(lang, "stats.last", when=last),
        await _feed_line(svc, loaded, lang),
    ]
    stars = f"{sent.paid_messages / 10:.1f}"  # 0.1 Star per billed message
    if svc.settings.paid_broadcast:
        cap = f"{svc.settings.paid_broadcast_max_stars:g}"
        lines.append(t(lang, "stats.paid", messages=sent.paid_messages, stars=stars, cap=cap))
    elif sent.paid_messages:
        lines.append(t(lang, "stats.paid_off", stars=stars))
    return Html("\n".join(lines))


async def _feed_line(svc: Services, loaded: LoadedVisit, lang: str) -> Html:
    tz = loaded.visit.timezone
    health = await feed_health(svc.db, loaded.id)
    if health.total == 0:
        return t(lang, "stats.feeds.none")
    when = (
        format_time(health.last_success, tz, lang)
        if health.last_success
        else t(lang, "stats.never")
    )
    return t(
        lang,
        "stats.feeds",
        total=health.total,
        failing=health.failing,
        paused=health.paused,
        last=when,
    )
