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
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from telegram.ext import JobQueue

from jobs.backoff import jittered_interval, next_delay, should_pause
from jobs.detection import Detector, StoryKey, match_story, story_key
from jobs.feeds import FeedEntry, FeedError, Validators, fetch_feed
from jobs.pipeline import ScannedEntry, classify
from storage import feeds, news, stories
from storage.alerts import create_alert
from storage.db import Database, Tx
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
FeedCallback = Callable[[feeds.Feed, str], Awaitable[None]]


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
            due = await feeds.due_feeds(self.db, self.visit_id, self.clock())
            by_host: dict[str, list[feeds.Feed]] = defaultdict(list)
            for feed in due:
                by_host[urlsplit(feed.url).hostname or feed.url].append(feed)
            limit = asyncio.Semaphore(MAX_CONCURRENT_HOSTS)

            async def poll_host(host_feeds: list[feeds.Feed]) -> None:
                async with limit:
                    for index, feed in enumerate(host_feeds):
                        if index:
                            await asyncio.sleep(self.host_spacing)
                        started = time.perf_counter()
                        outcome = await self.poll_feed(feed, report)
                        report.outcomes[feed.id] = outcome
                        if self.on_polled is not None:
                            self.on_polled(outcome, time.perf_counter() - started)

            await asyncio.gather(*(poll_host(group) for group in by_host.values()))
        return report

    async def poll_feed(self, feed: feeds.Feed, report: PollReport) -> Outcome:
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
            await feeds.record_success(
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

    async def _failed(self, feed: feeds.Feed, exc: FeedError, report: PollReport) -> None:
        now = self.clock()
        failures = feed.consecutive_failures + 1
        delay = next_delay(failures, self.interval, retry_after=exc.retry_after, rng=self.rng)
        pause = should_pause(feed.first_failure_at or now, now)
        log.warning("feed %s failed (%d in a row): %s", feed.url, failures, exc.reason)
        await feeds.record_failure(
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
        feed: feeds.Feed,
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
        items: list[news.NewItem] = []
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
            items.append(
                news.NewItem(
                    feed_id=feed.id,
                    entry_id=item.entry.id,
                    title=item.entry.title,
                    link=item.entry.link,
                    published_at=item.entry.published,
                    lang=det.lang,
                    relevant=det.relevant,
                    kind=det.kind,
                    sectors=tuple(det.sectors),
                    reason=det.reason,
                    story_id=story_id,
                )
            )
        await news.insert_items(tx, items, now)
        report.new_items += len(items)
        return alerted

    async def _story_for(
        self, tx: Tx, entry: FeedEntry, item: ScannedEntry, now: dt.datetime
    ) -> tuple[int, bool]:
        """The story this item belongs to, creating it when no recent story matches."""
        det = item.detection
        key = story_key(self.detector, entry.title, det, entry.published, now)
        candidates = await stories.recent_stories(tx, self.visit_id, det.kind, key.day)
        keys = {
            s.id: StoryKey(s.kind, s.sectors, s.parties, s.day, s.title_terms, s.first_seen_at)
            for s in candidates
        }
        match = match_story(key, keys)
        if match is not None:
            existing = next(s for s in candidates if s.id == match)
            await stories.widen_story(tx, existing, key.sectors, key.parties)
            return match, False
        story_id = await stories.create_story(
            tx,
            self.visit_id,
            kind=det.kind,
            title=entry.title,
            sectors=key.sectors,
            parties=key.parties,
            day=key.day,
            title_terms=key.title_terms,
            now=now,
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


# --- scheduling ------------------------------------------------------------------------------

FEED_JOB_NAME = "feed-poll"


def tick_seconds(poll_interval: int) -> float:
    """How often to look for due feeds: often enough to honour short intervals, cheap otherwise."""
    return float(min(30, max(1, poll_interval // 10)))


def schedule_polling(job_queue: JobQueue[Any], poller: Poller, poll_interval: int) -> None:
    """The repeating job that polls due feeds (see the module docstring for its options)."""

    async def tick(context: object) -> None:
        await poller.poll_due()

    job_queue.run_repeating(
        tick,
        interval=tick_seconds(poll_interval),
        first=1.0,
        name=FEED_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
