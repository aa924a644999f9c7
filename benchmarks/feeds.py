"""One poll cycle over 200 local feeds: visitbot's poller against the naive approach.

Run: `.venv/bin/python -m benchmarks.feeds` (writes the "Feed polling" section of BENCHMARKS.md).

Naive: `feedparser.parse(url)` for each feed, one after another, every cycle (feedparser fetches
with urllib and parses everything each time). visitbot: `jobs.polling.Poller.poll_due`, which
sends conditional GETs, skips parsing on 304 or an unchanged body, parses in a worker thread and
stores new entries. Both talk to the same threaded HTTP server on 127.0.0.1 in this process, so
the CPU time of each includes serving the feeds. All feeds share one host, so the poller polls
them one after another too (its per-host pause is set to 0 here).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import feedparser  # type: ignore[import-untyped]

from benchmarks.report import write_section
from jobs.detection import detector_for
from jobs.feeds import make_client
from jobs.pipeline import Followed
from jobs.polling import Poller
from storage import feeds
from storage.db import Database
from storage.visit import load_visit
from storage.visitdata import sync_visit
from tests.feedserver import FeedServer, Reply

FEEDS = 200
ITEMS = 40
NOW = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)


def feed_body(feed: int, generation: int) -> bytes:
    items = "".join(
        f"<item><guid isPermaLink='false'>{feed}-{generation}-{i}</guid>"
        f"<title>Headline {i} of feed {feed}: markets, weather and sport in Seoul</title>"
        f"<link>https://news.example/{feed}/{generation}/{i}</link>"
        f"<description>&lt;p&gt;Story {i} with &lt;b&gt;markup&lt;/b&gt; and some words "
        f"to parse, as real feeds carry.&lt;/p&gt;</description>"
        f"<pubDate>Mon, 24 Nov 2025 {10 + i % 10}:00:00 +0300</pubDate></item>"
        for i in range(ITEMS)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {feed}</title>{items}</channel></rss>"
    ).encode()


def serve(server: FeedServer, generation: int) -> None:
    for feed in range(FEEDS):
        server.route(
            f"/f{feed}.xml", Reply(body=feed_body(feed, generation), etag=f'"g{generation}"')
        )


async def measure(action: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await action()
    return time.perf_counter() - wall, time.process_time() - cpu


async def run() -> list[tuple[str, float, float]]:
    visit = load_visit()
    rows: list[tuple[str, float, float]] = []
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        serve(server, 0)
        urls = [server.url(f"/f{i}.xml") for i in range(FEEDS)]

        async def naive() -> None:
            for url in urls:
                parsed = await asyncio.to_thread(feedparser.parse, url)
                assert len(parsed.entries) == ITEMS

        db = await Database.open(Path(tmp) / "bench.db")
        visit_id = await sync_visit(db, visit)
        await feeds.ensure_feeds(db, visit_id, urls, "env", NOW)
        clock = [NOW]
        async with make_client() as client:
            poller = Poller(
                db=db,
                visits=[Followed(visit_id, visit, detector_for(visit))],
                client=client,
                interval=300.0,
                clock=lambda: clock[0],
                rng=random.Random(1),
                host_spacing=0.0,
            )

            async def cycle() -> None:
                clock[0] += dt.timedelta(minutes=10)
                await db.execute("UPDATE feeds SET next_poll_at = NULL")
                report = await poller.poll_due()
                assert len(report.outcomes) == FEEDS, report.outcomes

            rows.append(("naive: feedparser.parse(url), sequential", *await measure(naive)))
            rows.append(("visitbot: first poll (all new, parse + store)", *await measure(cycle)))
            rows.append(("visitbot: unchanged (304 Not Modified)", *await measure(cycle)))
            serve(server, 1)
            rows.append(("visitbot: changed (new items, parse + store)", *await measure(cycle)))
            rows.append(("naive again on the changed feeds", *await measure(naive)))
        await db.close()
    return rows


def main() -> None:
    rows = asyncio.run(run())
    table = ["| cycle over 200 feeds | wall (s) | CPU (s) |", "|---|---:|---:|"]
    table += [f"| {name} | {wall:.2f} | {cpu:.2f} |" for name, wall, cpu in rows]
    print("\n".join(table))
    naive_cpu = rows[0][2]
    unchanged_cpu = rows[2][2]
    body = "\n".join(
        [
            f"One poll cycle over {FEEDS} local feeds of {ITEMS} items each (about "
            f"{len(feed_body(0, 0)) // 1024} KB), served over HTTP on 127.0.0.1 in the same "
            "process, on this 2-core machine. CPU time is the whole process (client, parser, "
            "SQLite and the test server).",
            "",
            *table,
            "",
            f"An unchanged cycle costs {unchanged_cpu / naive_cpu:.0%} of the naive cycle's CPU: "
            "a 304 answer is neither downloaded nor parsed. The changed cycle also stores every "
            "new entry and runs detection on it, which the naive approach does not do.",
            "",
            "Produced by `.venv/bin/python -m benchmarks.feeds`.",
        ]
    )
    write_section("Feed polling", body)


if __name__ == "__main__":
    main()
