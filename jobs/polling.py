"""Scheduled feed polling: fetch due feeds politely, remember their health, form stories.

Scheduling: one JobQueue job ticks every few seconds and polls the feeds whose own
`next_poll_at` has come (each feed keeps its interval with jitter, or its backoff after
failures). The job runs with `max_instances=1` and an asyncio lock, so runs never overlap;
`coalesce=True` with no misfire grace limit means that after the machine sleeps, or a slow
poll, the job runs once as soon as it can instead of being skipped (APScheduler's default grace is
one second) or piling up. Feeds on one host are polled one after another with a pause between
them; different hosts are polled concurrently, up to a bound.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from jobs.backoff import jittered_interval, next_delay, should_pause
from jobs.detection import Detector, StoryKey, match_story, story_key
from jobs.feeds import FeedEntry, FeedError, Validators, fetch_feed
from jobs.pipeline import ScannedEntry, classify
from storage import news
from storage.alerts import create_alert
from storage.db import Database, Tx, to_db_time
from storage.visit import Visit

log = logging.getLogger(__name__)

Outcome = Literal["not_modified", "unchanged", "changed", "failed", "skipped"]
HOST_SPACING_SECONDS = 2.0
MAX_CONCURRENT_HOSTS = 8


@dataclass
class PollReport:
    """What one tick did, for logs, metrics and tests."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    new_items: int = 0
    new_stories: list[int] = field(default_factory=list)
    merged: int = 0
    paused: list[int] = field(default_factory=list)


StoryCallback = Callable[[int], Awaitable[None]]
FeedCallback = Callable[[news.FeedState, str], Awaitable[None]]


@dataclass
class Poller:
    db: Database
    visit: Visit
    visit_id: int
    client: httpx.AsyncClient
    interval: float
    clock: Callable[[], dt.datetime]
    detector: Detector
    rng: random.Random = field(default_factory=random.Random)
    host_spacing: float = HOST_SPACING_SECONDS
    # Feeds added by admins must stay on public addresses (redirects included); feeds the
    # operator configured are trusted.
    admin_feeds_public_only: bool = False
    # Called after the transaction that stored them commits.
    on_new_agreement_story: StoryCallback | None = None
    on_feed_paused: FeedCallback | None = None
    # Called once per feed poll with the outcome and its duration in seconds (metrics).
    on_polled: Callable[[Outcome, float], None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def poll_due(self) -> PollReport:
        """Poll every due feed once; a tick finding the previous one still running does nothing."""
        report = PollReport()
        if self._lock.locked():
            log.info("previous feed poll still running; skipping this tick")
            return report
        async with self._lock:
            due = await news.due_feeds(self.db, self.visit_id, self.clock())
            by_host: dict[str, list[news.FeedState]] = defaultdict(list)
            for feed in due:
                by_host[urlsplit(feed.url).hostname or feed.url].append(feed)
            limit = asyncio.Semaphore(MAX_CONCURRENT_HOSTS)

            async def poll_host(feeds: list[news.FeedState]) -> None:
                async with limit:
                    for index, feed in enumerate(feeds):
                        if index:
                            await asyncio.sleep(self.host_spacing)
                        started = time.perf_counter()
                        outcome = await self.poll_feed(feed, report)
                        report.outcomes[feed.id] = outcome
                        if self.on_polled is not None:
                            self.on_polled(outcome, time.perf_counter() - started)

            await asyncio.gather(*(poll_host(feeds) for feeds in by_host.values()))
        return report

    async def poll_feed(self, feed: news.FeedState, report: PollReport) -> Outcome:
        previous = Validators(feed.etag, feed.last_modified, feed.body_hash)
        try:
            public_only = self.admin_feeds_public_only and feed.origin == "admin"
            result = await fetch_feed(self.client, feed.url, previous, public_only=public_only)
        except FeedError as exc:
            await self._failed(feed, exc, report)
            return "failed"
        now = self.clock()
        scanned = (
            await asyncio.to_thread(classify, self.detector, result.feed.entries)
            if result.feed
            else []
        )
        new_stories: list[int] = []
        async with self.db.transaction() as tx:
            await news.record_success(
                tx,
                feed.id,
                now=now,
                next_poll_at=now + dt.timedelta(seconds=jittered_interval(self.interval, self.rng)),
                etag=result.validators.etag,
                last_modified=result.validators.last_modified,
                body_hash=result.validators.body_hash,
                title=result.feed.title if result.feed and result.feed.title else None,
            )
            if scanned:
                silent = feed.first_polled_at is None
                new_stories = await self._store(tx, feed, scanned, now, silent, report)
        report.new_stories.extend(new_stories)
        if self.on_new_agreement_story:
            for story_id in new_stories:
                await self.on_new_agreement_story(story_id)
        return result.status

    async def _failed(self, feed: news.FeedState, exc: FeedError, report: PollReport) -> None:
        now = self.clock()
        failures = feed.consecutive_failures + 1
        delay = next_delay(failures, self.interval, retry_after=exc.retry_after, rng=self.rng)
        pause = should_pause(feed.first_failure_at or now, now)
        log.warning("feed %s failed (%d in a row): %s", feed.url, failures, exc.reason)
        await news.record_failure(
            self.db,
            feed.id,
            now=now,
            reason=exc.reason,
            next_poll_at=now + dt.timedelta(seconds=delay),
            pause=pause,
        )
        if pause:
            report.paused.append(feed.id)
            log.warning("feed %s paused after failing since %s", feed.url, feed.first_failure_at)
            if self.on_feed_paused:
                await self.on_feed_paused(feed, exc.reason)

    async def _store(
        self,
        tx: Tx,
        feed: news.FeedState,
        scanned: list[ScannedEntry],
        now: dt.datetime,
        silent: bool,
        report: PollReport,
    ) -> list[int]:
        """Record new entries; merge relevant ones into stories. Returns new agreement stories
        that alerted.

        On a feed's first poll everything is recorded as seen and nothing alerts, so adding a
        feed (or starting the bot) never floods subscribers with old news.
        """
        known = await news.known_entry_ids(tx, feed.id, [s.entry.id for s in scanned])
        alerted: list[int] = []
        rows: list[tuple[object, ...]] = []
        stamp = to_db_time(now)
        for item in scanned:
            if item.entry.id in known:
                continue
            known.add(item.entry.id)
            det = item.detection
            story_id = None
            if det.relevant and det.kind != "other":
                story_id, created = await self._story_for(tx, item.entry, item, now)
                if not created:
                    report.merged += 1
                elif det.kind == "agreement" and not silent:
                    await self._agreement_alert(tx, story_id, item, now)
                    alerted.append(story_id)
            published = item.entry.published
            rows.append(
                (
                    feed.id,
                    item.entry.id,
                    item.entry.title,
                    item.entry.link,
                    to_db_time(published) if published else None,
                    det.lang,
                    int(det.relevant),
                    det.kind,
                    json.dumps(list(det.sectors)),
                    det.reason,
                    story_id,
                    stamp,
                )
            )
        # One statement for all new entries: most are irrelevant, and a round trip each to
        # SQLite's thread would dominate a poll of a busy feed.
        await tx.executemany(
            "INSERT INTO news_items (feed_id, entry_id, title, link, published_at, lang,"
            " relevant, kind, sectors, reason, story_id, seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        report.new_items += len(rows)
        return alerted

    async def _story_for(
        self, tx: Tx, entry: FeedEntry, item: ScannedEntry, now: dt.datetime
    ) -> tuple[int, bool]:
        """The story this item belongs to, creating it when no recent story matches."""
        det = item.detection
        key = story_key(self.detector, entry.title, det, entry.published, now)
        candidates = await news.recent_stories(tx, self.visit_id, det.kind, key.day)
        keys = {
            s.id: StoryKey(s.kind, s.sectors, s.parties, s.day, s.title_terms, s.first_seen_at)
            for s in candidates
        }
        match = match_story(key, keys)
        if match is not None:
            existing = next(s for s in candidates if s.id == match)
            await tx.execute(
                "UPDATE stories SET sectors = ?, parties = ? WHERE id = ?",
                (
                    json.dumps(sorted(existing.sectors | key.sectors)),
                    json.dumps(sorted(existing.parties | key.parties)),
                    match,
                ),
            )
            return match, False
        story_id = await tx.execute(
            "INSERT INTO stories (visit_id, kind, title, sectors, parties, day, title_terms,"
            " first_seen_at, review) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.visit_id,
                det.kind,
                entry.title,
                json.dumps(sorted(key.sectors)),
                json.dumps(sorted(key.parties)),
                key.day.isoformat(),
                json.dumps(sorted(key.title_terms)),
                to_db_time(now),
                "pending" if det.kind == "agreement" else "none",
            ),
        )
        return story_id, True

    async def _agreement_alert(
        self, tx: Tx, story_id: int, item: ScannedEntry, now: dt.datetime
    ) -> None:
        """A newly reported signing alerts once, marked Reported, with its first source."""
        entry = item.entry
        payload: dict[str, Any] = {
            "title": entry.title,
            "sector": item.detection.sectors[0] if item.detection.sectors else "",
            "signed_on": entry.published.date().isoformat() if entry.published else None,
            "parties": "",
            "status": "reported",
            "sources": [{"title": urlsplit(entry.link or "").hostname or "", "url": entry.link}],
            "agreement_id": None,
            "story_id": story_id,
        }
        await create_alert(
            tx,
            visit_id=self.visit_id,
            kind="agreement",
            payload=payload,
            dedupe_key=f"story:{story_id}",
            now=now,
            default_tz=self.visit.timezone,
        )


# --- wiring into the application ---------------------------------------------------------------

FEED_JOB_NAME = "feed-poll"


def tick_seconds(poll_interval: int) -> float:
    """How often to look for due feeds: often enough to honour short intervals, cheap otherwise."""
    return float(min(30, max(1, poll_interval // 10)))


async def start_feed_polling(app: Any, svc: Any) -> None:
    """Startup hook: configured feeds, one HTTP client, the poller and its repeating job."""
    from bot.i18n import t
    from bot.services import Services
    from jobs.detection import detector_for
    from jobs.feeds import make_client

    assert isinstance(svc, Services)
    settings = svc.settings
    if settings.feed_urls is not None:
        await news.ensure_feeds(svc.db, svc.visit_id, settings.feed_urls, "env", svc.now())
    else:
        await news.ensure_feeds(svc.db, svc.visit_id, svc.visit.default_feeds, "default", svc.now())
    client = make_client()

    async def feed_paused(feed: news.FeedState, reason: str) -> None:
        for admin_id in sorted(await svc.admin_ids()):
            lang = await svc.language_of(admin_id)
            try:
                await app.bot.send_message(
                    admin_id, t(lang, "feeds.paused_notice", url=feed.url, reason=reason)
                )
            except Exception as exc:  # an unreachable admin must not stop polling
                log.warning("could not tell admin %s about paused feed: %s", admin_id, exc)

    async def new_agreement_story(story_id: int) -> None:
        from bot.handlers.review import notify_admins_of_story

        await notify_admins_of_story(app.bot, svc, story_id)

    metrics = app.bot_data.get("metrics")
    poller = Poller(
        db=svc.db,
        visit=svc.visit,
        visit_id=svc.visit_id,
        client=client,
        interval=float(settings.poll_interval_seconds),
        clock=svc.clock,
        detector=detector_for(svc.visit),
        admin_feeds_public_only=not settings.allow_private_feeds,
        on_new_agreement_story=new_agreement_story,
        on_feed_paused=feed_paused,
        on_polled=metrics.observe_feed_poll if metrics is not None else None,
    )
    svc.extras["feed_client"] = client
    svc.extras["poller"] = poller
    app.job_queue.run_repeating(
        _tick,
        interval=tick_seconds(settings.poll_interval_seconds),
        first=1.0,
        name=FEED_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )


async def stop_feed_polling(svc: Any) -> None:
    client = svc.extras.pop("feed_client", None)
    if client is not None:
        await client.aclose()


async def _tick(context: Any) -> None:
    from bot.services import services

    poller = services(context).extras.get("poller")
    if isinstance(poller, Poller):
        await poller.poll_due()
