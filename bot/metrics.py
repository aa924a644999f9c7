"""Prometheus metrics: what the bot does, in the text format scraped from `/metrics`.

Why it is shaped like this
--------------------------
* One `Metrics` object per Application, with its own `CollectorRegistry` (never the process-wide
  default one): two Applications in one process (tests, the console) do not share or collide on
  counters, and nothing is registered by import side effect.
* Events the bot sees in memory are counted where they happen: updates by command (a
  `TypeHandler` in its own group), feed polls by outcome and their latency (the poller's
  `on_polled` callback), and every Bot API response by method and status, including the 429s,
  at the request layer (`CountingRequest` wraps PTB's request object, so no feature has to
  remember to count).
* Facts that live in the database (stories, alerts, deliveries, the outbox) are read from it at
  scrape time (`DatabaseCollector`). They survive restarts and need no cooperation from the code
  that writes the rows. Counts of rows that only ever grow are exposed as counters; the HELP text
  says they come from the tables.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram import Update
from telegram.ext import CallbackContext
from telegram.request import BaseRequest

from bot.commands import COMMANDS
from bot.ptb_private import WrappingRequest
from storage.alerts import ALERT_KINDS, alerts_by_kind, deliveries_by_status, last_delivery_at
from storage.db import Database
from storage.feeds import last_feed_success
from storage.stories import stories_by_kind

log = logging.getLogger(__name__)

METRICS_KEY = "metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FEED_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0)
_KNOWN_COMMANDS = frozenset(c.name for c in COMMANDS)


def command_label(update: object) -> str:
    """A bounded label for an update: a known command's name, or the update's broad kind.

    Unknown commands fold into "other" so a user typing random `/words` cannot grow the label
    set (every label value is a time series kept forever by Prometheus).
    """
    if not isinstance(update, Update):
        return "other"
    if update.callback_query is not None:
        return "callback"
    if update.inline_query is not None or update.chosen_inline_result is not None:
        return "inline"
    message = update.message or update.edited_message or update.channel_post
    text = message.text if message is not None else None
    if not text:
        return "other"
    if text.startswith("/"):
        name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
        return name if name in _KNOWN_COMMANDS else "other"
    return "text"


class Metrics:
    """Every metric of one Application, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.updates = Counter(
            "visitbot_updates_handled",
            "Updates handled, by command (known commands; else callback, inline, text, other).",
            ["command"],
            registry=reg,
        )
        self.feed_polls = Counter(
            "visitbot_feed_polls",
            "Feed polls by outcome (changed, unchanged, not_modified, failed).",
            ["outcome"],
            registry=reg,
        )
        self.feed_latency = Histogram(
            "visitbot_feed_poll_seconds",
            "Time to poll one feed (fetch, parse, store), successful or not.",
            buckets=FEED_LATENCY_BUCKETS,
            registry=reg,
        )
        self.last_feed_success = Gauge(
            "visitbot_last_successful_feed_poll_timestamp_seconds",
            "Unix time of the last successful feed poll in this process (0: none yet).",
            registry=reg,
        )
        self.api_responses = Counter(
            "visitbot_bot_api_responses",
            "Bot API responses by method and HTTP status (network/timeout: no response).",
            ["method", "status"],
            registry=reg,
        )
        self.api_errors = Counter(
            "visitbot_bot_api_errors",
            "Bot API error responses by method and Telegram error_code.",
            ["method", "error_code"],
            registry=reg,
        )
        self.rate_limited = Counter(
            "visitbot_telegram_429",
            "429 Too Many Requests answers received from the Bot API, by method.",
            ["method"],
            registry=reg,
        )
        self.database = DatabaseCollector()
        reg.register(self.database)

    # --- recording --------------------------------------------------------------------

    async def count_update(
        self, update: object, context: CallbackContext[Any, Any, Any, Any]
    ) -> None:
        """TypeHandler callback (its own handler group, so it never stops other handlers)."""
        del context
        self.updates.labels(command_label(update)).inc()

    def observe_feed_poll(self, outcome: str, seconds: float) -> None:
        """The poller's `on_polled` callback: one call per feed per poll."""
        self.feed_polls.labels(outcome).inc()
        self.feed_latency.observe(seconds)
        if outcome != "failed":
            self.last_feed_success.set(time.time())

    def observe_response(self, method: str, status: int, payload: bytes) -> None:
        self.api_responses.labels(method, str(status)).inc()
        if status == 200:
            return
        code = status
        try:
            parsed = json.loads(payload)
            if isinstance(parsed, dict) and isinstance(parsed.get("error_code"), int):
                code = parsed["error_code"]
        except ValueError:
            pass
        self.api_errors.labels(method, str(code)).inc()
        if code == 429 or status == 429:
            self.rate_limited.labels(method).inc()

    def observe_transport_error(self, method: str, exc: BaseException) -> None:
        status = "timeout" if "timed out" in str(exc).lower() else "network"
        self.api_responses.labels(method, status).inc()

    # --- exposition -------------------------------------------------------------------

    async def render(self, db: Database | None) -> bytes:
        """The Prometheus text exposition; reads the database first (asynchronously)."""
        await self.database.refresh(db)
        return generate_latest(self.registry)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """One sample's current value (0 when absent): for tests and the health endpoint."""
        found = self.registry.get_sample_value(name, labels or {})
        return 0.0 if found is None else float(found)


def metrics_of(app: Any) -> Metrics | None:
    found = app.bot_data.get(METRICS_KEY)
    return found if isinstance(found, Metrics) else None


# --- the database, read at scrape time -------------------------------------------------------


@dataclass
class DbSnapshot:
    deliveries: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    stories: dict[str, int] = field(default_factory=dict)
    outbox_depth: int = 0
    last_delivery: float | None = None
    last_feed_success: float | None = None
    ok: bool = False


OUTCOMES = ("sent", "failed", "dropped")
STORY_KINDS = ("agreement", "agenda")


async def read_snapshot(db: Database) -> DbSnapshot:
    """Everything the collector exposes, in a handful of indexed aggregate queries."""
    snap = DbSnapshot()
    snap.deliveries = await deliveries_by_status(db)
    snap.alerts = await alerts_by_kind(db)
    snap.stories = await stories_by_kind(db)
    snap.outbox_depth = snap.deliveries.get("pending", 0) + snap.deliveries.get("sending", 0)
    snap.last_delivery = _timestamp(await last_delivery_at(db))
    snap.last_feed_success = _timestamp(await last_feed_success(db))
    snap.ok = True
    return snap


def _timestamp(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


class DatabaseCollector(Collector):
    """Exposes the last `DbSnapshot`; `refresh` (async) runs just before each scrape."""

    def __init__(self) -> None:
        self.snapshot = DbSnapshot()

    async def refresh(self, db: Database | None) -> None:
        if db is None:
            self.snapshot = DbSnapshot()
            return
        try:
            self.snapshot = await read_snapshot(db)
        except Exception as exc:  # a scrape must still answer; /healthz names the problem
            log.warning("metrics: cannot read the database: %s", exc)
            self.snapshot = DbSnapshot()

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        up = GaugeMetricFamily(
            "visitbot_database_up", "1 if the last scrape could read the database, else 0."
        )
        up.add_metric([], 1.0 if snap.ok else 0.0)
        yield up
        deliveries = CounterMetricFamily(
            "visitbot_deliveries",
            "Alert deliveries by final outcome, from the outbox's per-alert totals at scrape"
            " time (compacted rows stay counted, so it is monotonic).",
            labels=["outcome"],
        )
        for outcome in OUTCOMES:
            deliveries.add_metric([outcome], float(snap.deliveries.get(outcome, 0)))
        yield deliveries
        depth = GaugeMetricFamily(
            "visitbot_outbox_depth", "Deliveries not yet done (pending or sending), from the table."
        )
        depth.add_metric([], float(snap.outbox_depth))
        yield depth
        alerts = CounterMetricFamily(
            "visitbot_alerts_created",
            "Alerts created, by kind, counted from rows of the alerts table at scrape time.",
            labels=["kind"],
        )
        for kind in sorted(set(ALERT_KINDS) | set(snap.alerts)):
            alerts.add_metric([kind], float(snap.alerts.get(kind, 0)))
        yield alerts
        stories = CounterMetricFamily(
            "visitbot_stories_detected",
            "News stories detected, by kind, counted from rows of the stories table at scrape"
            " time.",
            labels=["kind"],
        )
        for kind in sorted(set(STORY_KINDS) | set(snap.stories)):
            stories.add_metric([kind], float(snap.stories.get(kind, 0)))
        yield stories
        for name, help_text, value in (
            (
                "visitbot_last_delivery_timestamp_seconds",
                "Unix time of the last delivery marked sent (from the table; 0: none yet).",
                snap.last_delivery,
            ),
            (
                "visitbot_last_feed_success_timestamp_seconds",
                "Unix time of the last successful poll of any feed (from the table; 0: none).",
                snap.last_feed_success,
            ),
        ):
            gauge = GaugeMetricFamily(name, help_text)
            gauge.add_metric([], value or 0.0)
            yield gauge


# --- the request layer ---------------------------------------------------------------------


class CountingRequest(WrappingRequest):
    """Wraps PTB's request object (HTTPXRequest, or the stand-in's) to count every answer.

    This is the one place every Bot API call passes through, whoever makes it (handlers, the
    delivery worker, the rate limiter's retries), so 429s and other errors are counted once,
    as Telegram sent them, before PTB turns them into exceptions.
    """

    __slots__ = ("_metrics",)

    def __init__(self, inner: BaseRequest, metrics: Metrics) -> None:
        super().__init__(inner)
        self._metrics = metrics

    async def answered(self, url: str, status: int, payload: bytes) -> None:
        self._metrics.observe_response(_api_method(url), status, payload)

    def failed(self, url: str, exc: Exception) -> None:
        self._metrics.observe_transport_error(_api_method(url), exc)


def _api_method(url: str) -> str:
    # The last path segment is the Bot API method; the token before it never becomes a label.
    return url.rsplit("/", 1)[-1] or "unknown"
