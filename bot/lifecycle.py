"""Start-up and shutdown of the long-lived services, in one readable order.

Each start hook builds one service from the settings and the shared objects, hands it what it
needs from the Telegram side (the bot to send with, the alert renderer, callbacks that tell the
admins), keeps it in its field of `Services` and starts it. `post_init` runs the start hooks in
order, `post_shutdown` the stop hooks in reverse. The services themselves (`jobs/`) know nothing
of handlers, catalogues or `Services`: this module is where the two sides meet.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telegram.ext import JobQueue

from bot.alert_render import ChatAlertRenderer
from bot.handlers.programme_review import notify_admins_of_proposal
from bot.handlers.review import notify_admins_of_story
from bot.i18n import t
from bot.inbox import PRUNE_INTERVAL_SECONDS, PRUNE_JOB_NAME, inbox_of, prune, replay_unhandled
from bot.metrics import metrics_of
from bot.notify import notify_admins, tell_chat_lost
from bot.ops_server import OpsServer
from bot.services import AnyApp, Services
from jobs.backups import schedule_backups
from jobs.compaction import schedule_compaction
from jobs.delivery import DeliveryWorker
from jobs.feeds import make_client
from jobs.pipeline import followed_visits
from jobs.polling import Poller, schedule_polling
from jobs.ratelimit import BULK, Pacer
from jobs.reminders import Reminders
from storage import feeds
from storage.subscriptions import LostChat

log = logging.getLogger(__name__)

FREE_CONCURRENCY = 32  # chats in flight at the free 30 messages a second
PAID_CONCURRENCY = 128  # ... and at the paid 1,000

StartupHook = Callable[[AnyApp, Services], Awaitable[None]]
ShutdownHook = Callable[[Services], Awaitable[None]]


def _job_queue(app: AnyApp) -> JobQueue[Any]:
    if app.job_queue is None:  # installed with python-telegram-bot[job-queue]
        raise RuntimeError("the JobQueue is missing: install python-telegram-bot[job-queue]")
    return app.job_queue


def _time_zones(svc: Services) -> dict[int, dt.tzinfo]:
    """Each followed visit's zone, by id: the quiet hours of a chat that chose no zone."""
    return {loaded.id: loaded.visit.timezone for loaded in svc.visits}


async def start_inbox(app: AnyApp, svc: Services) -> None:
    """Attach the update inbox, replay what a crash interrupted, prune it regularly."""
    inbox = inbox_of(app)
    if inbox is None:
        return
    inbox.attach(svc.db, svc.clock)
    svc.inbox = inbox
    await prune(inbox, svc.now())
    await replay_unhandled(app, inbox, svc.now())

    async def prune_job(context: object) -> None:
        await prune(inbox, svc.now())

    _job_queue(app).run_repeating(
        prune_job,
        interval=PRUNE_INTERVAL_SECONDS,
        first=PRUNE_INTERVAL_SECONDS,
        name=PRUNE_JOB_NAME,
    )


async def stop_inbox(svc: Services) -> None:
    """Nothing is stored or marked once the database is about to close."""
    if svc.inbox is not None:
        svc.inbox.detach()


async def start_feed_polling(app: AnyApp, svc: Services) -> None:
    """The configured feeds, one HTTP client, the poller and its repeating job."""
    settings = svc.settings
    for loaded in svc.visits:
        # FEED_URLS replaces every visit's own list; a URL several visits list is one feed.
        origin: feeds.FeedOrigin = "env" if settings.feed_urls is not None else "default"
        urls = settings.feed_urls if settings.feed_urls is not None else loaded.visit.default_feeds
        await feeds.ensure_feeds(svc.db, loaded.id, urls, origin, svc.now())
    svc.feed_client = make_client()

    # Polls in flight outlive the application's stop by a moment (`stop_feed_polling` cancels
    # them); what they would tell admins then is in /feeds and /review anyway.
    async def feed_paused(feed: feeds.Feed, reason: str) -> None:
        if not app.running:
            return
        await notify_admins(
            app.bot,
            svc,
            lambda lang: t(lang, "feeds.paused_notice", url=feed.url, reason=reason),
            what="the paused-feed notice",
        )

    async def new_agreement_story(story_id: int) -> None:
        if not app.running:
            return
        await notify_admins_of_story(app.bot, svc, story_id)

    async def new_proposal(story_id: int) -> None:
        if not app.running:
            return
        await notify_admins_of_proposal(app.bot, svc, story_id)

    metrics = metrics_of(app)
    svc.poller = Poller(
        db=svc.db,
        visits=followed_visits(svc.visits),
        client=svc.feed_client,
        interval=float(settings.poll_interval_seconds),
        clock=svc.clock,
        admin_feeds_public_only=not settings.allow_private_feeds,
        on_new_agreement_story=new_agreement_story,
        on_new_proposal=new_proposal,
        on_feed_paused=feed_paused,
        on_polled=metrics.observe_feed_poll if metrics is not None else None,
    )
    schedule_polling(_job_queue(app), svc.poller, settings.poll_interval_seconds)


async def stop_feed_polling(svc: Services) -> None:
    if svc.poller is not None:
        await svc.poller.stop()  # polls in flight end before their client closes
    client, svc.feed_client = svc.feed_client, None
    if client is not None:
        await client.aclose()


async def start_delivery(app: AnyApp, svc: Services) -> None:
    """Resume the outbox where the last run stopped.

    Alerts are marked bulk for the pacer, so that replies to people go first; another limiter
    (a benchmark's baseline) gets PTB's default arguments, and no paid broadcasts (only the
    pacer keeps their limit and counts their cost).
    """
    limiter = app.bot.rate_limiter

    async def chat_lost(lost: LostChat) -> None:
        await tell_chat_lost(app.bot, svc, lost)

    paced = isinstance(limiter, Pacer)
    paid = svc.settings.paid_broadcast and paced
    svc.delivery = DeliveryWorker(
        app.bot,
        svc.db,
        ChatAlertRenderer(svc.visits),
        clock=svc.clock,
        time_zones=_time_zones(svc),
        rate_limit_args=BULK if paced else None,
        on_chat_lost=chat_lost,
        is_running=lambda: app.running,
        # 1,000 messages a second behind a 50 ms round trip to Telegram are 50 in flight
        concurrency=PAID_CONCURRENCY if paid else FREE_CONCURRENCY,
        paid_max_messages=svc.settings.paid_broadcast_max_messages if paid else 0,
    )
    await svc.delivery.start()


async def stop_delivery(svc: Services) -> None:
    if svc.delivery is not None:
        await svc.delivery.stop()


async def start_reminders(app: AnyApp, svc: Services) -> None:
    svc.reminders = Reminders(
        svc.db,
        _job_queue(app),
        clock=svc.clock,
        time_zones=_time_zones(svc),
    )
    await svc.reminders.start()


async def start_backups(app: AnyApp, svc: Services) -> None:
    """Automatic backups, when BACKUP_DIR is configured."""
    settings = svc.settings
    if settings.backup_dir is None or str(svc.db.path) == ":memory:":
        return
    schedule_backups(
        _job_queue(app),
        Path(svc.db.path),
        Path(settings.backup_dir),
        interval_hours=settings.backup_interval_hours,
        keep=settings.backup_keep,
    )


async def start_compaction(app: AnyApp, svc: Services) -> None:
    """Finished deliveries older than DELIVERY_RETENTION_DAYS become per-alert counts."""
    schedule_compaction(_job_queue(app), svc.db, svc.clock, svc.settings.delivery_retention_days)


async def start_ops_server(app: AnyApp, svc: Services) -> None:
    """`/healthz` and `/metrics`, when OPS_PORT is configured."""
    settings = svc.settings
    if settings.ops_port is None:
        return
    svc.ops = OpsServer(app, svc, metrics_of(app), settings.ops_listen, settings.ops_port)
    await svc.ops.start()


async def stop_ops_server(svc: Services) -> None:
    server, svc.ops = svc.ops, None
    if server is not None:
        await server.stop()


STARTUP_HOOKS: list[StartupHook] = [
    start_inbox,  # replays updates a crash interrupted (they wait in the queue until start)
    start_feed_polling,
    start_delivery,
    start_reminders,
    start_backups,
    start_compaction,
    start_ops_server,
]
SHUTDOWN_HOOKS: list[ShutdownHook] = [  # run in reverse
    stop_feed_polling,
    stop_delivery,
    stop_ops_server,
    stop_inbox,
]
