"""Scheduled feed polling: fetch due feeds politely, remember their health, form stories.

Scheduling: one JobQueue job ticks every few seconds and *starts* a poll for each feed whose
own `next_poll_at` has come (each feed keeps its interval with jitter, or its backoff after
failures) and that is not already in flight; the tick returns at once. So no tick waits for its
slowest feed, and each feed's next poll is planned from when its own poll ended
(`record_success` / `record_failure` stamp the end). Politeness per host stays: one request at a
time, each at least `host_spacing` seconds after the previous one started. A host's queue lets
feeds that last succeeded go before failing or new ones (for up to a minute, so those are not
starved either), so however many broken feeds share a host, a healthy one waits for at most
the one request in progress (at most one timeout). Different
hosts never wait for each other, except for a global bound on polls running at once
(`MAX_CONCURRENT_POLLS`), which a slow host can hold only one of. `stop()` cancels the polls in
flight (a transaction under way rolls back).

The job runs with `max_instances=1` and `coalesce=True` with no misfire grace limit: after the
machine sleeps the job runs once as soon as it can instead of being skipped (APScheduler's
default grace is one second) or piling up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from telegram.ext import JobQueue

from jobs.backoff import jittered_interval, next_delay, should_pause
from jobs.detection import StoryKey, match_story, story_key
from jobs.feeds import FeedError, Validators, fetch_feed
from jobs.pipeline import Followed, ScannedEntry, classify
from jobs.programme import ProgrammeItem, effect_of, reader_for, stored_items
from storage import feeds, news, programme, stories
from storage.agenda import agenda_items
from storage.alerts import create_alert
from storage.db import Database, Tx
from storage.programme import ProgrammeEffect

log = logging.getLogger(__name__)

Outcome = Literal["not_modified", "unchanged", "changed", "failed", "skipped"]
HOST_SPACING_SECONDS = 2.0
MAX_CONCURRENT_POLLS = 16
# In a host's queue, a feed that is failing or was never polled yields to proven ones for up to
# this long (it ranks as if it had asked this much later), so it cannot starve them and is not
# starved itself.
UNPROVEN_YIELD_SECONDS = 60.0


@dataclass
class PollReport:
    """What the polls started by one `poll_due` did, for logs, metrics and tests."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    new_items: int = 0
    new_stories: list[int] = field(default_factory=list)
    merged: int = 0
    marked: list[int] = field(default_factory=list)  # programme items marked done / under way
    proposals: list[int] = field(default_factory=list)  # stories proposing a programme change
    paused: list[int] = field(default_factory=list)


StoryCallback = Callable[[int], Awaitable[None]]
FeedCallback = Callable[[feeds.Feed, str], Awaitable[None]]


@dataclass
class Poller:
    """Polls the feeds of the visits news can be about now (each visit's tracking window); an
    item goes to the visit it is about (`jobs.pipeline.classify`), its stories and alerts too."""

    db: Database
    visits: Sequence[Followed]
    client: httpx.AsyncClient
    interval: float
    clock: Callable[[], dt.datetime]
    rng: random.Random = field(default_factory=random.Random)
    host_spacing: float = HOST_SPACING_SECONDS
    # Feeds added by admins must stay on public addresses (redirects included); feeds the
    # operator configured are trusted.
    admin_feeds_public_only: bool = False
    # Called after the transaction that stored them commits.
    on_new_agreement_story: StoryCallback | None = None
    on_new_proposal: StoryCallback | None = None
    on_feed_paused: FeedCallback | None = None
    # Called once per feed poll with the outcome and its duration in seconds (metrics).
    on_polled: Callable[[Outcome, float], None] | None = None
    _in_flight: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    _hosts: dict[str, _HostQueue] = field(default_factory=dict)
    _slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_POLLS)
    )
    _stopping: bool = False

    async def start_due(self, report: PollReport | None = None) -> list[asyncio.Task[None]]:
        """Start a poll for every due feed not already in flight; returns without waiting."""
        if self._stopping:
            return []
        report = report if report is not None else PollReport()
        now = self.clock()
        tracking = [v.visit_id for v in self.visits if v.visit.tracking(now)]
        due = await feeds.due_feeds(self.db, tracking, now)
        started: list[asyncio.Task[None]] = []
        for feed in due:
            if feed.id in self._in_flight:
                continue
            task = asyncio.create_task(self._poll_in_turn(feed, report), name=f"feed-{feed.id}")
            self._in_flight[feed.id] = task
            task.add_done_callback(self._finished(feed.id))
            started.append(task)
        return started

    def _finished(self, feed_id: int) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._in_flight.pop(feed_id, None)

        return done

    async def poll_due(self) -> PollReport:
        """Start the due feeds and wait for the polls this call started (tests, benchmarks)."""
        report = PollReport()
        started = await self.start_due(report)
        if started:
            await asyncio.gather(*started)
        return report

    @property
    def in_flight(self) -> int:
        """Polls started and not finished (waiting for their host's turn, or running)."""
        return len(self._in_flight)

    async def stop(self) -> None:
        """Cancel the polls in flight and wait for them to unwind; no new ones start."""
        self._stopping = True
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll_in_turn(self, feed: feeds.Feed, report: PollReport) -> None:
        """Wait for the host's turn and a slot, poll, and let the next feed of the host go."""
        host_name = urlsplit(feed.url).hostname or feed.url
        host = self._hosts.get(host_name)
        if host is None:
            host = self._hosts[host_name] = _HostQueue()
        proven = feed.last_success_at is not None and feed.consecutive_failures == 0
        await host.turn(proven=proven)
        try:
            await host.spaced(self.host_spacing)
            async with self._slots:
                started = time.perf_counter()
                outcome = await self.poll_feed(feed, report)
            report.outcomes[feed.id] = outcome
            if self.on_polled is not None:
                self.on_polled(outcome, time.perf_counter() - started)
        except Exception:  # a database error, a bug: this feed's poll only
            log.exception("polling feed %s failed", feed.url)
        finally:
            host.release()  # hosts are kept: as many as feeds at most, and spacing needs them

    async def poll_feed(self, feed: feeds.Feed, report: PollReport) -> Outcome:
        previous = Validators(feed.etag, feed.last_modified, feed.body_hash)
        try:
            public_only = self.admin_feeds_public_only and not feed.trusted
            result = await fetch_feed(self.client, feed.url, previous, public_only=public_only)
        except FeedError as exc:
            await self._failed(feed, exc, report)
            return "failed"
        now = self.clock()
        served = [v for v in self.visits if v.visit_id in feed.visit_ids]
        scanned = (
            await asyncio.to_thread(classify, served, result.feed.entries)
            if result.feed and served
            else []
        )
        # Entries recorded by earlier polls: read here once, before the (slow) programme
        # reading skips them, and the store below. Only this poll writes this feed's entries.
        known = (
            await news.known_entry_ids(self.db, feed.id, [s.entry.id for s in scanned])
            if scanned
            else set()
        )
        readings = await self._read_programme(scanned, known, now) if scanned else {}
        new_stories: list[int] = []
        proposals: list[int] = []
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
                new_stories, proposals = await self._store(
                    tx, feed, scanned, known, readings, now, silent, report
                )
        report.new_stories.extend(new_stories)
        report.proposals.extend(proposals)
        if self.on_new_agreement_story:
            for story_id in new_stories:
                await self.on_new_agreement_story(story_id)
        if self.on_new_proposal:
            for story_id in proposals:
                await self.on_new_proposal(story_id)
        return result.status

    async def _read_programme(
        self, scanned: list[ScannedEntry], known: set[str], now: dt.datetime
    ) -> dict[int, ProgrammeEffect]:
        """What each new programme story does to its visit's programme as stored now (admin
        items included), by its index in `scanned`; read in a thread (compiling a reader is
        CPU)."""
        wanted = {
            s.visit_id for s in scanned if s.visit_id is not None and _programme_news(s, known)
        }
        programmes: dict[int, list[ProgrammeItem]] = {}
        for visit_id in wanted:
            programmes[visit_id] = stored_items(await agenda_items(self.db, visit_id))
        if not programmes:
            return {}
        visits = {v.visit_id: v for v in self.visits if v.visit_id in programmes}
        return await asyncio.to_thread(_read_all, visits, programmes, scanned, known, now)

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
        known: set[str],
        readings: dict[int, ProgrammeEffect],
        now: dt.datetime,
        silent: bool,
        report: PollReport,
    ) -> tuple[list[int], list[int]]:
        """Record new entries; merge relevant ones into stories; apply what programme stories
        do. Returns the new agreement stories that alerted and the new programme proposals.

        On a feed's first poll everything is recorded as seen and nothing alerts or is
        proposed (programme items are still marked, quietly), so adding a feed (or starting
        the bot) never floods subscribers with old news.
        """
        known = set(known)  # an entry listed twice in one feed is recorded once
        alerted: list[int] = []
        proposals: list[int] = []
        items: list[news.NewItem] = []
        for index, item in enumerate(scanned):
            if item.entry.id in known:
                continue
            known.add(item.entry.id)
            det = item.detection
            story_id = None
            visit = self._visit(item.visit_id)
            effect = readings.get(index)
            if visit is not None and det.relevant and det.kind != "other":
                story_id, created = await self._story_for(tx, visit, item, now, effect)
                if not created:
                    report.merged += 1
                    if effect is not None:
                        await programme.add_source(tx, story_id, item.entry.link)
                elif det.kind == "agreement" and not silent:
                    await self._agreement_alert(tx, visit, story_id, item, now)
                    alerted.append(story_id)
                elif effect is not None:
                    if await self._programme(tx, visit, story_id, item, effect, now, silent):
                        proposals.append(story_id)
                    if effect.effect in ("done", "underway") and effect.item_id is not None:
                        report.marked.append(effect.item_id)
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
                    visit_id=item.visit_id,
                )
            )
        await news.insert_items(tx, items, now)
        report.new_items += len(items)
        return alerted, proposals

    def _visit(self, visit_id: int | None) -> Followed | None:
        return next((v for v in self.visits if v.visit_id == visit_id), None)

    async def _story_for(
        self,
        tx: Tx,
        visit: Followed,
        item: ScannedEntry,
        now: dt.datetime,
        effect: ProgrammeEffect | None = None,
    ) -> tuple[int, bool]:
        """The story this item belongs to, creating it when no recent story matches.

        Programme news merges by what it says of which item ("arrives", "도착", "geldi" are one
        story about the arrival); news of an item not on the programme merges only with other
        such news, so that it still proposes the new item. Either stays apart from other agenda
        stories, whose merge would lose what it does.
        """
        det, entry = item.detection, item.entry
        key = story_key(visit.detector, entry.title, det, entry.published, now)
        if effect is not None:
            same = (
                await programme.story_for_item(tx, effect, visit.visit_id, key.day)
                if effect.item_id is not None
                else await programme.story_for_new(
                    tx, effect, visit.visit_id, det.lang, key.title_terms
                )
            )
            if same is not None:
                return same, False
        # Programme news merges only by what it does (above), other agenda news as usual.
        candidates = (
            []
            if effect is not None
            else await stories.recent_stories(tx, visit.visit_id, det.kind, key.day)
        )
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
            visit.visit_id,
            kind=det.kind,
            title=entry.title,
            sectors=key.sectors,
            parties=key.parties,
            day=key.day,
            title_terms=key.title_terms,
            now=now,
        )
        return story_id, True

    async def _programme(
        self,
        tx: Tx,
        visit: Followed,
        story_id: int,
        item: ScannedEntry,
        effect: ProgrammeEffect,
        now: dt.datetime,
        silent: bool,
    ) -> bool:
        """Apply a new programme story: mark its item (alerting "reported done" when that
        changed it), or propose its change to admins and alert it as Reported. An item under
        way only shows in /agenda: the "done" that follows is the news. True: a new proposal."""
        lang = item.detection.lang
        await programme.record(
            tx, visit.visit_id, story_id, effect, now, lang=lang, review=not silent
        )
        proposed = effect.effect in programme.PROPOSED
        if effect.effect in ("done", "underway"):
            assert effect.item_id is not None
            marked = await programme.mark_item(tx, effect.item_id, effect.effect, story_id, now)
            if marked == "unchanged" or silent or effect.effect == "underway":
                return False
            if marked == "curated":  # an admin's item: reported, and theirs to confirm
                await programme.propose(tx, story_id)
                proposed = True
        elif not proposed or silent:
            return False  # an announcement of an item on the programme: one more source
        await programme.programme_alert(
            tx,
            visit.visit_id,
            story_id,
            effect,
            headline=item.entry.title,
            link=item.entry.link,
            now=now,
            default_tz=visit.visit.timezone,
        )
        return proposed

    async def _agreement_alert(
        self, tx: Tx, visit: Followed, story_id: int, item: ScannedEntry, now: dt.datetime
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
            visit_id=visit.visit_id,
            kind="agreement",
            payload=payload,
            dedupe_key=f"story:{story_id}",
            now=now,
            default_tz=visit.visit.timezone,
        )


def _programme_news(item: ScannedEntry, known: set[str]) -> bool:
    """A new relevant agenda entry: what `jobs.programme` reads against the programme."""
    det = item.detection
    return det.relevant and det.kind == "agenda" and item.entry.id not in known


def _read_all(
    visits: dict[int, Followed],
    programmes: dict[int, list[ProgrammeItem]],
    scanned: list[ScannedEntry],
    known: set[str],
    now: dt.datetime,
) -> dict[int, ProgrammeEffect]:
    effects: dict[int, ProgrammeEffect] = {}
    for index, item in enumerate(scanned):
        followed = visits.get(item.visit_id) if item.visit_id is not None else None
        if followed is None or not _programme_news(item, known):
            continue
        reader = reader_for(followed.visit, programmes[followed.visit_id])
        news = reader.read(item.entry.title, item.entry.published, now)
        if news is not None:
            effect = effect_of(news, followed.visit, item.entry.published or now)
            if effect is not None:
                effects[index] = effect
    return effects


class _HostQueue:
    """One request at a time to a host. The next turn goes to the feed waiting longest, where a
    failing or never-polled feed counts as having asked `UNPROVEN_YIELD_SECONDS` later."""

    def __init__(self) -> None:
        self.busy = False
        self.last_start = -1e18
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def turn(self, *, proven: bool) -> None:
        if not self.busy and not self._waiting:
            self.busy = True
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        rank = loop.time() + (0.0 if proven else UNPROVEN_YIELD_SECONDS)
        heapq.heappush(self._waiting, (rank, next(self._seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the turn was ours already: pass it on
            raise

    async def spaced(self, spacing: float) -> None:
        """Politeness: start no sooner than `spacing` after the previous request started."""
        loop = asyncio.get_running_loop()
        wait = self.last_start + spacing - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self.last_start = loop.time()

    def release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self.busy = False


# --- scheduling ------------------------------------------------------------------------------

FEED_JOB_NAME = "feed-poll"


def tick_seconds(poll_interval: int) -> float:
    """How often to look for due feeds: often enough to honour short intervals, cheap otherwise."""
    return float(min(30, max(1, poll_interval // 10)))


def schedule_polling(job_queue: JobQueue[Any], poller: Poller, poll_interval: int) -> None:
    """The repeating job that starts due feeds (see the module docstring for its options)."""

    async def tick(context: object) -> None:
        await poller.start_due()

    job_queue.run_repeating(
        tick,
        interval=tick_seconds(poll_interval),
        first=1.0,
        name=FEED_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
