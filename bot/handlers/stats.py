"""/stats for admins: who is subscribed, what was sent, what failed, and how the feeds are."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import admin_only, reply
from bot.i18n import Html, t
from bot.render import format_time
from bot.services import Services, services
from storage.alerts import ALERT_KINDS, delivery_stats
from storage.db import from_db_time
from storage.feeds import feed_health
from storage.subscriptions import subscriber_stats


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _stats(update, context)


@admin_only
async def _stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    lang = await svc.language(update)
    await reply(update, context, await stats_text(svc, lang))


async def stats_text(svc: Services, lang: str) -> Html:
    subs = await subscriber_stats(svc.db, svc.visit_id)
    sent = await delivery_stats(svc.db, svc.visit_id)
    d = sent.deliveries
    last = (
        format_time(from_db_time(sent.last_sent_at), svc.visit.timezone, lang)
        if sent.last_sent_at
        else t(lang, "stats.never")
    )
    kinds = ", ".join(f"{k} {sent.alerts_by_kind.get(k, 0)}" for k in ALERT_KINDS)
    lines = [
        t(lang, "stats.title"),
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
        await _feed_line(svc, lang),
    ]
    return Html("\n".join(lines))


async def _feed_line(svc: Services, lang: str) -> Html:
    health = await feed_health(svc.db, svc.visit_id)
    if health.total == 0:
        return t(lang, "stats.feeds.none")
    when = (
        format_time(health.last_success, svc.visit.timezone, lang)
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
