"""The application factory: one function that builds the bot, for Telegram, console and tests.

Shared services are created in `post_init` and closed in `post_shutdown`, so the same
Application object runs unchanged against Telegram, the offline console and the test stand-in.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    Defaults,
    TypeHandler,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot import handlers
from bot.config import Settings
from bot.inbox import INBOX_KEY, Inbox, InboxApplication, InboxRequest
from bot.lifecycle import SHUTDOWN_HOOKS, STARTUP_HOOKS
from bot.menus import publish_commands
from bot.metrics import METRICS_KEY, CountingRequest, Metrics
from bot.services import SERVICES_KEY, AnyApp, Services, services_of, system_clock
from bot.updates import FairUpdateProcessor
from bot.webhook import WebhookConfig, start_webhook_server, stop_webhook_server
from jobs.ratelimit import Pacer
from storage.db import Clock, Database
from storage.visitdata import sync_visits

log = logging.getLogger(__name__)

__all__ = ["WebhookParams", "build_application", "running", "running_webhook", "services_of"]

OFFLINE_TOKEN = "0:OFFLINE"
# Handler group of the update counter: before every feature's group, and alone in it, so it sees
# every update and never keeps another handler from running.
METRICS_GROUP = -100


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    clock: Clock = system_clock,
    token: str | None = None,
    rate_limits: bool = True,
    rate_limiter: BaseRateLimiter[Any] | None = None,
    update_processor: BaseUpdateProcessor | None = None,
) -> AnyApp:
    """Build the Application; pass `request`s to talk to a stand-in instead of Telegram.

    `rate_limits=False` drops the rate limiter (only for measuring the raw sending path);
    `rate_limiter` and `update_processor` replace the pacer and the fair update processor
    (tests of features, and the baselines in benchmarks/).
    """
    inbox = Inbox()  # fetched updates are stored before PTB confirms them (bot/inbox.py)
    builder = (
        ApplicationBuilder()
        .application_class(InboxApplication)
        .token(token or settings.bot_token or OFFLINE_TOKEN)
        .base_url(settings.api_base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=dt.UTC))
        .post_init(_post_init_with(settings, clock))
        .post_shutdown(_post_shutdown)
        # different chats at once, each chat in order, nobody flooding the others
        .concurrent_updates(update_processor or FairUpdateProcessor(on_discard=inbox.discarded))
    )
    if rate_limits:
        # the builder's type parameter follows the limiter's argument type; the Application
        # is handled as AnyApp everywhere, so the narrower type is not needed
        builder = builder.rate_limiter(rate_limiter or Pacer())  # type: ignore[arg-type]
    # Every Bot API answer is counted at the request layer (429s included); the defaults mirror
    # ApplicationBuilder's own (a pool of 256 connections, one for getUpdates).
    metrics = Metrics()
    builder = builder.request(
        CountingRequest(request or HTTPXRequest(connection_pool_size=256), metrics)
    ).get_updates_request(
        InboxRequest(
            CountingRequest(get_updates_request or HTTPXRequest(connection_pool_size=1), metrics),
            inbox,
        )
    )
    app = builder.build()
    app.bot_data[METRICS_KEY] = metrics
    app.bot_data[INBOX_KEY] = inbox
    app.add_handler(TypeHandler(Update, metrics.count_update), group=METRICS_GROUP)
    handlers.register(app)
    return app


def _post_init_with(
    settings: Settings, clock: Clock
) -> Callable[[AnyApp], Coroutine[Any, Any, None]]:
    async def post_init(app: AnyApp) -> None:
        db = await Database.open(settings.database_path)
        try:
            catalog = await sync_visits(db, settings.visits)
        except BaseException:
            await db.close()
            raise
        svc = Services(settings=settings, db=db, visits=catalog, clock=clock)
        app.bot_data[SERVICES_KEY] = svc
        for hook in STARTUP_HOOKS:
            await hook(app, svc)
        await publish_commands(app, svc)
        slugs = ", ".join(v.slug for v in catalog)
        log.info("visitbot ready for %s as @%s", slugs, app.bot.username)

    return post_init


async def _post_shutdown(app: AnyApp) -> None:
    svc = app.bot_data.pop(SERVICES_KEY, None)
    if isinstance(svc, Services):
        for hook in reversed(SHUTDOWN_HOOKS):
            try:
                await hook(svc)
            except Exception:
                log.exception("shutdown hook failed")
        await svc.db.close()


@asynccontextmanager
async def running(app: AnyApp, *, webhook: WebhookParams | None = None) -> AsyncIterator[AnyApp]:
    """Run `app` inside the current event loop, like `run_polling`/`run_webhook` do.

    Long polling by default; with `webhook`, our webhook server (bot/webhook.py) listens for
    Telegram's POSTs instead.

    `run_polling` owns the loop and the signals; the console and the tests need the same
    lifecycle (initialize, post_init, start, polling … stop, shutdown, post_shutdown) in a loop
    they already run.
    """
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        if webhook is None:
            await app.updater.start_polling(poll_interval=0, timeout=1)
        else:
            await start_webhook_server(app, webhook.config())
        try:
            yield app
        finally:
            await stop_webhook_server(app)
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


@dataclass(frozen=True)
class WebhookParams:
    """Where the webhook listens and what Telegram is told.

    `secret_token` is sent to Telegram with setWebhook; the webhook server (bot/webhook.py) then
    answers 403 to any request without the matching `X-Telegram-Bot-Api-Secret-Token` header,
    before reading its body.
    """

    listen: str
    port: int
    url_path: str
    webhook_url: str
    secret_token: str

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookParams:
        if not settings.webhook_url or not settings.webhook_secret:
            raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
        return cls(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=settings.webhook_path,
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret,
        )

    def config(self) -> WebhookConfig:
        return WebhookConfig(
            listen=self.listen,
            port=self.port,
            url_path=self.url_path,
            webhook_url=self.webhook_url,
            secret_token=self.secret_token,
        )

    def kwargs(self) -> dict[str, Any]:
        return {
            "listen": self.listen,
            "port": self.port,
            "url_path": self.url_path,
            "webhook_url": self.webhook_url,
            "secret_token": self.secret_token,
            "allowed_updates": Update.ALL_TYPES,
            "drop_pending_updates": False,
        }


@asynccontextmanager
async def running_webhook(app: AnyApp, params: WebhookParams) -> AsyncIterator[AnyApp]:
    """`running` in webhook mode: what `visitbot run` does when WEBHOOK_URL is set."""
    async with running(app, webhook=params) as started:
        yield started
