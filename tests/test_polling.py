"""Feed polling against real HTTP servers on 127.0.0.1 and a real SQLite file."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import load_settings
from jobs.detection import detector_for
from jobs.feeds import make_client
from jobs.pipeline import Followed
from jobs.polling import FEED_JOB_NAME, Poller, tick_seconds
from storage import feeds, news
from storage.audit import Actor
from storage.db import Database, to_db_time
from storage.feeds import remove_feed
from storage.visit import load_visit
from storage.visitdata import sync_visit
from tests.conftest import ADMIN_ID, Clock, running_bot
from tests.feedserver import FeedServer, Reply

VISIT = load_visit()
SUBSCRIBER = 5001


def rss(*items: tuple[str, str, str]) -> bytes:
    """(guid, title, RFC-822 date) items as an RSS document."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{g}</guid><title>{t}</title>"
        f"<link>https://news.example/{g}</link><pubDate>{d}</pubDate></item>"
        for g, t, d in items
    )
    head = "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title>"
    return f"{head}{body}</channel></rss>".encode()


OLD_ITEM = ("old", "Lee, Erdoğan hold summit talks in Ankara", "Mon, 24 Nov 2025 12:00:00 +0300")
NUCLEAR_EN = (
    "n-en",
    "South Korea, Türkiye sign nuclear energy MoU between KEPCO and TÜNAŞ",
    "Mon, 24 Nov 2025 16:00:00 +0300",
)
NUCLEAR_KO = (
    "n-ko",
    "한·튀르키예, 한국전력-TÜNAŞ 원전 협력 양해각서 체결",
    "Mon, 24 Nov 2025 23:00:00 +0900",
)
ROADS_TR = (
    "r-tr",
    "Türkiye ile Güney Kore arasında karayolu ve KÖİ projeleri için mutabakat zaptı imzalandı",
    "Mon, 24 Nov 2025 17:00:00 +0300",
)
LEE_MYUNG_BAK = (
    "lmb",
    "Lee Myung-bak and Erdoğan sign nuclear accord in Seoul",
    "Mon, 24 Nov 2025 10:00:00 +0300",
)


@dataclass
class Setup:
    db: Database
    visit_id: int
    poller: Poller
    clock: list[dt.datetime]
    server: FeedServer
    paused: list[str]
    stories_announced: list[int]

    def advance(self, **delta: float) -> None:
        self.clock[0] += dt.timedelta(**delta)

    async def add_feed(self, path: str) -> int:
        return await feeds.link_feed(
            self.db, self.visit_id, self.server.url(path), "admin", self.clock[0]
        )

    async def make_due(self) -> None:
        await self.db.execute("UPDATE feeds SET next_poll_at = ?", (to_db_time(self.clock[0]),))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
async def setup(tmp_path: Path, server: FeedServer) -> AsyncIterator[Setup]:
    db = await Database.open(tmp_path / "poll.db")
    visit_id = await sync_visit(db, VISIT)
    now = [dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)]
    stamp = to_db_time(now[0])
    await db.execute(
        "INSERT INTO chats (chat_id, type, created_at, updated_at) VALUES (?, 'private', ?, ?)",
        (SUBSCRIBER, stamp, stamp),
    )
    await db.execute(
        "INSERT INTO subscriptions (visit_id, chat_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (visit_id, SUBSCRIBER, stamp, stamp),
    )
    paused: list[str] = []
    announced: list[int] = []

    async def on_paused(feed: feeds.Feed, reason: str) -> None:
        paused.append(f"{feed.url}: {reason}")

    async def on_story(story_id: int) -> None:
        announced.append(story_id)

    async with make_client() as client:
        poller = Poller(
            db=db,
            visits=[Followed(visit_id, VISIT, detector_for(VISIT))],
            client=client,
            interval=300.0,
            clock=lambda: now[0],
            rng=random.Random(7),
            host_spacing=0.0,
            on_new_agreement_story=on_story,
            on_feed_paused=on_paused,
        )
        yield Setup(db, visit_id, poller, now, server, paused, announced)
    await db.close()


async def count(db: Database, sql: str, *params: object) -> int:
    return int(await db.fetchval(sql, params))


async def test_first_poll_is_silent_then_new_signings_alert_once(setup: Setup) -> None:
    setup.server.route("/en", Reply(body=rss(OLD_ITEM, NUCLEAR_EN)))
    await setup.add_feed("/en")
    report = await setup.poller.poll_due()
    assert list(report.outcomes.values()) == ["changed"]
    assert report.new_items == 2
    assert await count(setup.db, "SELECT COUNT(*) FROM alerts") == 0  # no flood on start-up
    # The story exists and waits for review, but nobody was pinged about old news.
    assert await count(setup.db, "SELECT COUNT(*) FROM stories WHERE review = 'pending'") == 1
    assert setup.stories_announced == []

    setup.server.route("/en", Reply(body=rss(OLD_ITEM, NUCLEAR_EN, ROADS_TR)))
    setup.advance(minutes=6)
    report = await setup.poller.poll_due()
    assert report.new_items == 1 and len(report.new_stories) == 1
    alert = await setup.db.fetchone("SELECT kind, payload FROM alerts")
    assert alert is not None and alert["kind"] == "agreement"
    payload = json.loads(alert["payload"])
    assert payload["status"] == "reported" and payload["story_id"] == report.new_stories[0]
    assert payload["sources"][0]["url"] == "https://news.example/r-tr"
    assert (
        await count(setup.db, "SELECT COUNT(*) FROM deliveries WHERE chat_id = ?", SUBSCRIBER) == 1
    )
    assert setup.stories_announced == report.new_stories


async def test_reports_in_other_languages_merge_into_one_story(setup: Setup) -> None:
    setup.server.route("/en", Reply(body=rss()))
    setup.server.route("/ko", Reply(body=rss()))
    await setup.add_feed("/en")
    await setup.add_feed("/ko")
    await setup.poller.poll_due()  # first polls: empty, silent
    setup.server.route("/en", Reply(body=rss(NUCLEAR_EN)))
    setup.server.route("/ko", Reply(body=rss(NUCLEAR_KO, ROADS_TR)))
    setup.advance(minutes=6)
    await setup.make_due()
    report = await setup.poller.poll_due()
    assert report.new_items == 3
    assert report.merged == 1
    stories = await setup.db.fetchall("SELECT id, title FROM stories ORDER BY id")
    assert len(stories) == 2  # the nuclear MoU (EN + KO) and the road MoU
    sources = (await news.story_sources(setup.db, [int(stories[0]["id"])]))[int(stories[0]["id"])]
    assert len(sources) == 2
    assert await count(setup.db, "SELECT COUNT(*) FROM alerts") == 2  # one per story


async def test_conditional_get_and_unchanged_body(setup: Setup) -> None:
    setup.server.route("/etag", Reply(body=rss(OLD_ITEM), etag='"v1"'))
    setup.server.route("/plain", Reply(body=rss(OLD_ITEM)))
    await setup.add_feed("/etag")
    await setup.add_feed("/plain")
    await setup.poller.poll_due()
    setup.advance(minutes=6)
    await setup.make_due()
    report = await setup.poller.poll_due()
    assert sorted(report.outcomes.values()) == ["not_modified", "unchanged"]
    second = setup.server.requests_to("/etag")[-1]
    assert second.headers.get("if-none-match") == '"v1"'
    found = await feeds.list_feeds(setup.db, setup.visit_id)
    assert all(f.consecutive_failures == 0 and f.last_success_at == setup.clock[0] for f in found)


async def test_next_poll_uses_the_interval_with_jitter(setup: Setup) -> None:
    setup.server.route("/a", Reply(body=rss()))
    await setup.add_feed("/a")
    await setup.poller.poll_due()
    [feed] = await feeds.list_feeds(setup.db, setup.visit_id)
    assert feed.next_poll_at is not None
    wait = (feed.next_poll_at - setup.clock[0]).total_seconds()
    assert 270 <= wait <= 330
    assert await feeds.due_feeds(setup.db, [setup.visit_id], setup.clock[0]) == []


async def test_backoff_grows_then_resets_and_feed_pauses_after_two_days(setup: Setup) -> None:
    setup.server.route("/flaky", Reply(status=500, body=b"oops"))
    await setup.add_feed("/flaky")
    waits = []
    for _ in range(4):
        await setup.make_due()
        await setup.poller.poll_due()
        [feed] = await feeds.list_feeds(setup.db, setup.visit_id)
        assert feed.next_poll_at is not None
        waits.append((feed.next_poll_at - setup.clock[0]).total_seconds())
        setup.advance(minutes=1)
    assert feed.consecutive_failures == 4
    assert feed.last_error == "server returned HTTP 500"
    assert waits == sorted(waits) and waits[-1] > 3 * waits[0]

    setup.server.route("/flaky", Reply(body=rss()))
    await setup.make_due()
    await setup.poller.poll_due()
    [feed] = await feeds.list_feeds(setup.db, setup.visit_id)
    assert feed.consecutive_failures == 0 and feed.first_failure_at is None

    setup.server.route("/flaky", Reply(status=503, body=b"down"))
    await setup.make_due()
    await setup.poller.poll_due()  # the first failure of a new streak
    setup.advance(days=2, minutes=1)
    await setup.make_due()
    report = await setup.poller.poll_due()
    assert report.paused == [feed.id]
    [feed] = await feeds.list_feeds(setup.db, setup.visit_id)
    assert feed.paused and "503" in (feed.paused_reason or "")
    assert len(setup.paused) == 1 and "503" in setup.paused[0]
    setup.advance(days=1)
    assert await feeds.due_feeds(setup.db, [setup.visit_id], setup.clock[0]) == []


async def test_retry_after_is_respected(setup: Setup) -> None:
    setup.server.route("/busy", Reply(status=429, headers={"Retry-After": "7200"}, body=b""))
    await setup.add_feed("/busy")
    await setup.poller.poll_due()
    [feed] = await feeds.list_feeds(setup.db, setup.visit_id)
    assert feed.next_poll_at is not None
    assert (feed.next_poll_at - setup.clock[0]).total_seconds() >= 7200


async def test_hostile_responses_are_failures_with_reasons(setup: Setup) -> None:
    setup.server.route(
        "/html",
        Reply(body=b"<html><body>Not a feed</body></html>", headers={"Content-Type": "text/html"}),
    )
    setup.server.route("/broken", Reply(body=b"<rss><channel><title>x</ti"))
    await setup.add_feed("/html")
    await setup.add_feed("/broken")
    report = await setup.poller.poll_due()
    assert list(report.outcomes.values()) == ["failed", "failed"]
    reasons = {
        f.url.rsplit("/", 1)[1]: f.last_error
        for f in await feeds.list_feeds(setup.db, setup.visit_id)
    }
    assert "HTML page" in (reasons["html"] or "")
    assert "malformed" in (reasons["broken"] or "") or "not a feed" in (reasons["broken"] or "")


async def test_old_and_trap_entries_never_alert(setup: Setup) -> None:
    setup.server.route("/f", Reply(body=rss()))
    await setup.add_feed("/f")
    await setup.poller.poll_due()
    ancient = (
        "2011",
        "South Korea, Turkey sign nuclear power agreement",
        "Mon, 14 Mar 2011 10:00:00 +0200",
    )
    setup.server.route("/f", Reply(body=rss(ancient, LEE_MYUNG_BAK)))
    setup.advance(minutes=6)
    await setup.make_due()
    report = await setup.poller.poll_due()
    assert report.new_items == 2 and report.new_stories == []
    assert await count(setup.db, "SELECT COUNT(*) FROM alerts") == 0
    reasons = [r["reason"] for r in await setup.db.fetchall("SELECT reason FROM news_items")]
    assert any("window" in r for r in reasons) and any("trap" in r for r in reasons)


async def test_overlapping_ticks_do_not_run_twice(setup: Setup) -> None:
    setup.server.route("/slow", Reply(body=rss(), delay=0.5))
    await setup.add_feed("/slow")
    first, second = await asyncio.gather(setup.poller.poll_due(), setup.poller.poll_due())
    assert len(first.outcomes) + len(second.outcomes) == 1
    assert len(setup.server.requests_to("/slow")) == 1


async def test_one_host_is_polled_one_feed_at_a_time(setup: Setup) -> None:
    setup.poller.host_spacing = 0.2
    for name in ("a", "b", "c"):
        setup.server.route(f"/{name}", Reply(body=rss()))
        await setup.add_feed(f"/{name}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await setup.poller.poll_due()
    assert loop.time() - started >= 0.4  # two pauses between three feeds on 127.0.0.1


def test_tick_follows_the_interval() -> None:
    assert tick_seconds(1) == 1.0
    assert tick_seconds(300) == 30.0
    assert tick_seconds(60) == 6.0


async def test_the_job_polls_in_the_running_bot_and_tells_admins_of_a_pause(
    tmp_path: Path, server: FeedServer
) -> None:
    server.route("/feed", Reply(body=rss(OLD_ITEM)))
    server.route("/down", Reply(status=500, body=b""))
    settings = load_settings(
        environ={
            "DATABASE_PATH": str(tmp_path / "bot.db"),
            "ADMIN_IDS": str(ADMIN_ID),
            "FEED_URLS": f"{server.url('/feed')},{server.url('/down')}",
            "POLL_INTERVAL_SECONDS": "1",
        },
        dotenv=None,
    )
    clock = Clock(dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC))
    async with running_bot(settings, clock) as bot:
        db = bot.services.db
        [job] = bot.app.job_queue.get_jobs_by_name(FEED_JOB_NAME)  # type: ignore[attr-defined]
        # No overlapping runs; after a sleep or a slow poll, one late run instead of a skip
        # (APScheduler's default grace is one second) or a pile-up.
        assert job.job.max_instances == 1 and job.job.coalesce
        assert job.job.misfire_grace_time is None
        for _ in range(100):
            if await count(db, "SELECT COUNT(*) FROM feeds WHERE last_polled_at IS NOT NULL") == 2:
                break
            await asyncio.sleep(0.1)
        assert await count(db, "SELECT COUNT(*) FROM news_items") == 1
        clock.now += dt.timedelta(days=2, minutes=5)
        [notice] = await bot.standin.wait_for_messages(ADMIN_ID, 1, timeout=10)
        assert "Feed paused" in notice.text and "/down" in notice.text
        assert "HTTP 500" in notice.text


async def test_configured_feeds_follow_the_configuration_but_removals_stick(setup: Setup) -> None:
    a, b = setup.server.url("/a"), setup.server.url("/b")
    now = setup.clock[0]
    await feeds.ensure_feeds(setup.db, setup.visit_id, (a, b), "env", now)
    await feeds.ensure_feeds(setup.db, setup.visit_id, (a,), "env", now)  # b left FEED_URLS
    assert [f.url for f in await feeds.due_feeds(setup.db, [setup.visit_id], now)] == [a]
    await setup.db.execute(
        "UPDATE feeds SET etag = 'v1', first_polled_at = ? WHERE url = ?", (to_db_time(now), b)
    )
    await feeds.ensure_feeds(setup.db, setup.visit_id, (a, b), "env", now)  # b is back
    assert len(await feeds.due_feeds(setup.db, [setup.visit_id], now)) == 2
    back = next(f for f in await feeds.list_feeds(setup.db, setup.visit_id) if f.url == b)
    assert back.etag is None and back.first_polled_at is None  # a real, silent first poll

    feed_a = (await feeds.list_feeds(setup.db, setup.visit_id))[0]
    assert await remove_feed(setup.db, Actor(1, setup.visit_id, now), feed_a.id)
    await feeds.ensure_feeds(setup.db, setup.visit_id, (a, b), "env", now)  # a restart
    assert [f.url for f in await feeds.list_feeds(setup.db, setup.visit_id)] == [b]


async def test_admin_feeds_stay_public_when_the_deployment_says_so(setup: Setup) -> None:
    setup.server.route("/internal", Reply(body=rss(OLD_ITEM)))
    await setup.add_feed("/internal")  # origin 'admin', on 127.0.0.1
    setup.poller.admin_feeds_public_only = True
    report = await setup.poller.poll_due()
    assert list(report.outcomes.values()) == ["failed"]
    [feed] = await feeds.list_feeds(setup.db, setup.visit_id)
    assert "not a public address" in (feed.last_error or "")
    assert setup.server.requests_to("/internal") == []


@pytest.fixture
def other_host() -> Iterator[FeedServer]:
    with FeedServer(host="127.0.0.2") as srv:
        yield srv


async def test_a_slow_host_never_delays_another_host(setup: Setup, other_host: FeedServer) -> None:
    other_host.route("/slow", Reply(body=rss(), delay=3.0))
    await feeds.link_feed(
        setup.db, setup.visit_id, other_host.url("/slow"), "admin", setup.clock[0]
    )
    setup.server.route("/fast", Reply(body=rss()))
    fast = await setup.add_feed("/fast")
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = await setup.poller.start_due()  # returns at once, both polls in flight
    assert len(tasks) == 2 and loop.time() - started < 0.5
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    assert loop.time() - started < 2.5  # the fast host finished while the slow one answers
    assert len(done) == 1 and len(pending) == 1
    fast_feed = await feeds.find_feed(setup.db, setup.visit_id, str(fast))
    assert fast_feed is not None and fast_feed.last_success_at is not None
    # A tick while the slow poll is in flight does not start it again.
    assert await setup.poller.start_due() == []
    assert setup.poller.in_flight == 1
    await asyncio.gather(*pending)
    assert len(other_host.requests_to("/slow")) == 1


async def test_on_one_host_a_healthy_feed_goes_before_failing_ones(setup: Setup) -> None:
    setup.poller.host_spacing = 0.0
    setup.server.route("/slow", Reply(body=rss(), delay=0.6))
    for name in ("broken1", "broken2", "broken3"):
        setup.server.route(f"/{name}", Reply(status=500, body=b"", delay=0.3))
    ids = {name: await setup.add_feed(f"/{name}") for name in ("slow", "broken1", "broken2")}
    ids["broken3"] = await setup.add_feed("/broken3")
    setup.server.route("/healthy", Reply(body=rss()))
    ids["healthy"] = await setup.add_feed("/healthy")
    await setup.db.execute(
        "UPDATE feeds SET consecutive_failures = 1 WHERE id IN (?, ?, ?)",
        (ids["broken1"], ids["broken2"], ids["broken3"]),
    )
    await setup.db.execute(
        "UPDATE feeds SET last_success_at = ? WHERE id IN (?, ?)",
        (to_db_time(setup.clock[0]), ids["slow"], ids["healthy"]),
    )
    await setup.poller.poll_due()
    order = [r.path for r in setup.server.requests]
    # The slow feed was first in line; the healthy feed waited for it only, not for the three
    # failing feeds queued before it.
    assert order[:2] == ["/slow", "/healthy"]
    assert sorted(order[2:]) == ["/broken1", "/broken2", "/broken3"]


async def test_stop_cancels_polls_in_flight_cleanly(setup: Setup) -> None:
    setup.server.route("/slow", Reply(body=rss(OLD_ITEM), delay=5.0))
    feed_id = await setup.add_feed("/slow")
    before = await feeds.find_feed(setup.db, setup.visit_id, str(feed_id))
    tasks = await setup.poller.start_due()
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await setup.poller.stop()
    assert loop.time() - started < 1.0
    assert all(t.done() for t in tasks) and setup.poller.in_flight == 0
    after = await feeds.find_feed(setup.db, setup.visit_id, str(feed_id))
    assert after == before  # nothing half-recorded: the poll simply did not happen
    assert await setup.poller.start_due() == []  # a stopped poller starts nothing
    assert await setup.db.fetchval("SELECT COUNT(*) FROM news_items") == 0
