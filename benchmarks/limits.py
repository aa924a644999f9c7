"""At the limits: fan-out pacing, replies during a fan-out, a healthy feed beside broken ones.

Run: .venv/bin/python -m benchmarks.limits [--write]

Every "before" is measured in the same run, from `benchmarks/baselines.py` (yesterday's
`FairRateLimiter` and tick) or PTB itself (stock `AIORateLimiter`, `SimpleUpdateProcessor`).

1. Fan-out: 1,000 private subscribers, the stand-in in strict mode (sliding windows, no burst:
   at most 30 messages in any second, one per chat per second), twenty people sending /facts
   during it, one a second. For each rate limiter: the rate (all messages the bot sent between
   the first and the last alert, as a share of 30/s), the 429 answers, the most messages in any
   one second, and how long the twenty waited for their answer.
2. Polling: one healthy feed on 127.0.0.1 beside six broken feeds on 127.0.0.2 (500, a 30 s
   answer, HTML, 50 MB, malformed XML, a redirect loop), POLL_INTERVAL_SECONDS=2, 60 s of
   ticks as the JobQueue runs them (one a second, a tick still running skips the next); a new
   item appears on the healthy feed after 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter, BaseUpdateProcessor, SimpleUpdateProcessor

from benchmarks.baselines import FairRateLimiter, TickPoller
from bot.app import build_application, running, services_of
from bot.config import load_settings
from bot.standin import BotApiStandin, SentMessage
from bot.updates import FairUpdateProcessor
from jobs.detection import detector_for
from jobs.feeds import make_client
from jobs.pipeline import Followed
from jobs.polling import Poller, tick_seconds
from jobs.ratelimit import Pacer
from storage import feeds
from storage.alerts import create_alert
from storage.db import Database, to_db_time
from storage.visit import load_visit
from storage.visitdata import sync_visit
from tests.feedserver import FeedServer, Reply

LIMIT = 30
SUBSCRIBERS = 1000
FIRST = 100_000
PEOPLE = range(9000, 9020)
VISIT_DAY = dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.UTC)


def max_in_any_second(stamps: list[float]) -> int:
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamps[start] <= stamp - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def fanout(limiter: BaseRateLimiter[Any], processor: BaseUpdateProcessor) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={
                "DATABASE_PATH": str(Path(tmp) / "bench.db"),
                "FEED_URLS": "http://127.0.0.1:9/none.xml",
                "POLL_INTERVAL_SECONDS": "3600",
            },
            dotenv=None,
        )
        standin = BotApiStandin(rate_limits=True)  # strict: no burst allowance
        ids = range(FIRST, FIRST + SUBSCRIBERS)
        for uid in [*ids, *PEOPLE]:
            standin.add_user(uid)
        app = build_application(
            settings,
            request=standin.request(),
            get_updates_request=standin.request(),
            token=standin.token,
            clock=lambda: VISIT_DAY,
            rate_limiter=limiter,
            update_processor=processor,
        )
        alerts: list[float] = []
        every: list[float] = []
        answered: dict[int, float] = {}

        def note(message: SentMessage) -> None:
            now = time.perf_counter()
            every.append(now)
            if message.chat_id >= FIRST:
                alerts.append(now)
            elif message.chat_id in PEOPLE:
                answered.setdefault(message.chat_id, now)

        standin.subscribe(note)
        async with running(app):
            svc = services_of(app)
            stamp = to_db_time(VISIT_DAY)
            async with svc.db.transaction() as tx:
                await tx.executemany(
                    "INSERT INTO chats (chat_id, type, created_at, updated_at)"
                    " VALUES (?, 'private', ?, ?)",
                    [(i, stamp, stamp) for i in ids],
                )
                await tx.executemany(
                    "INSERT INTO subscriptions (visit_id, chat_id, set_by, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?)",
                    [(svc.visit_id, i, i, stamp, stamp) for i in ids],
                )
            async with svc.db.transaction() as tx:
                await create_alert(
                    tx,
                    visit_id=svc.visit_id,
                    kind="broadcast",
                    payload={"text": "Benchmark"},
                    now=VISIT_DAY,
                )
            asked: dict[int, float] = {}
            await asyncio.sleep(2.0)
            for uid in PEOPLE:
                asked[uid] = time.perf_counter()
                standin.send_text(uid, "/facts")
                await asyncio.sleep(1.0)
            assert svc.delivery is not None
            await svc.delivery.wait_idle(timeout=600)
            await asyncio.sleep(3.0)  # late answers to the twenty
        first, last = alerts[0], alerts[-1]
        waits = sorted(answered.get(uid, float("inf")) - asked[uid] for uid in PEOPLE)
        return {
            "rate": (sum(1 for t in every if first <= t <= last) - 1) / (last - first),
            "alerts_rate": (len(alerts) - 1) / (last - first),
            "retry_after": float(standin.errors_returned[("sendMessage", 429)]),
            "max_second": float(max_in_any_second(every)),
            "median": statistics.median(waits),
            "worst": waits[-1],
            "sent": float(len(alerts)),
        }


class RunningClock:
    """Real time from the visit's first day, so the headlines fall in its window."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self) -> dt.datetime:
        start = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
        return start + dt.timedelta(seconds=time.monotonic() - self._t0)


def _rss(*titles: tuple[str, str]) -> bytes:
    items = "".join(
        f"<item><guid isPermaLink='false'>{g}</guid><title>{t}</title>"
        f"<link>https://news.example/{g}</link>"
        "<pubDate>Mon, 24 Nov 2025 16:00:00 +0300</pubDate></item>"
        for g, t in titles
    )
    head = "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
    return f"{head}{items}</channel></rss>".encode()


OLD = ("old", "Lee, Erdoğan hold summit talks in Ankara")
NEW = ("new", "South Korea, Türkiye sign nuclear energy MoU between KEPCO and TÜNAŞ")


def _broken(server: FeedServer) -> list[str]:
    def huge() -> Iterator[bytes]:
        for _ in range(50):
            yield b"<item>" + b"x" * (1 << 20) + b"</item>"

    server.route("/e500", Reply(status=500, body=b"oops"))
    server.route("/slow", Reply(body=_rss(OLD), delay=30.0))
    server.route("/html", Reply(body=b"<html>hi</html>", headers={"Content-Type": "text/html"}))
    server.route("/huge", Reply(body=huge))
    server.route("/bad", Reply(body=b"<rss><channel><title>x</title></chan"))
    server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    return [server.url(p) for p in ("/e500", "/slow", "/html", "/huge", "/bad", "/loop")]


async def polling(kind: type[Poller], seconds: float = 60.0) -> dict[str, float]:
    visit = load_visit()
    with (
        tempfile.TemporaryDirectory() as tmp,
        FeedServer() as healthy,
        FeedServer(host="127.0.0.2") as broken,
    ):
        healthy.route("/feed", Reply(body=_rss(OLD)))
        db = await Database.open(Path(tmp) / "poll.db")
        visit_id = await sync_visit(db, visit)
        clock = RunningClock()
        urls = [healthy.url("/feed"), *_broken(broken)]
        await feeds.ensure_feeds(db, visit_id, tuple(urls), "env", clock())
        async with make_client() as client:
            poller = kind(
                db=db,
                visits=[Followed(visit_id, visit, detector_for(visit))],
                client=client,
                interval=2.0,
                clock=clock,
            )
            tick = tick_seconds(2)
            current: asyncio.Task[Any] | None = None
            started = time.monotonic()
            published = seen = None
            while time.monotonic() - started < seconds:
                if current is None or current.done():  # max_instances=1: a running tick skips
                    current = asyncio.create_task(poller.start_due())
                if published is None and time.monotonic() - started >= seconds / 2:
                    healthy.route("/feed", Reply(body=_rss(OLD, NEW)))
                    published = time.monotonic()
                if published is not None and seen is None:
                    found = await db.fetchval(
                        "SELECT COUNT(*) FROM news_items WHERE entry_id = 'new'"
                    )
                    if found:
                        seen = time.monotonic()
                await asyncio.sleep(tick)
            polls = len(healthy.requests_to("/feed"))
            if current is not None:
                current.cancel()
            await poller.stop()
            await asyncio.gather(*(t for t in [current] if t is not None), return_exceptions=True)
        await db.close()
    return {
        "polls": float(polls),
        "seconds": seconds,
        "seen": (seen - published) if seen is not None and published is not None else -1.0,
    }


async def main(write: bool) -> None:
    pacer = await fanout(Pacer(), FairUpdateProcessor())
    stock = await fanout(AIORateLimiter(), FairUpdateProcessor())
    before = await fanout(FairRateLimiter(max_retries=2), SimpleUpdateProcessor(1))
    poll_before = await polling(TickPoller)
    poll_after = await polling(Poller)

    def fan_row(name: str, r: dict[str, float]) -> str:
        return (
            f"| {name} | {r['rate']:.2f} msg/s = **{r['rate'] / LIMIT:.1%}** "
            f"(alerts alone {r['alerts_rate']:.2f}) | {int(r['retry_after'])} | "
            f"{int(r['max_second'])} |"
        )

    def reply_row(name: str, r: dict[str, float]) -> str:
        return f"| {name} | {r['median'] * 1000:.0f} ms | {r['worst'] * 1000:.0f} ms |"

    def poll_row(name: str, r: dict[str, float]) -> str:
        seen = f"{r['seen']:.1f} s" if r["seen"] >= 0 else "not within the run"
        per_minute = r["polls"] / r["seconds"] * 60
        return f"| {name} | {int(r['polls'])} ({per_minute:.0f}/min) | {seen} |"

    body = f"""Command: `.venv/bin/python -m benchmarks.limits --write` (2-core machine, one run
each, all in the same run; the stand-in in strict mode: a sliding one-second window of 30
messages overall and one per chat, 20 a minute per group, no burst allowance).

Fan-out to {SUBSCRIBERS:,} private chats while twenty people send /facts, one a second:

| rate limiter | rate over the fan-out (share of 30/s) | 429 answers | most in any second |
|---|---:|---:|---:|
{fan_row("pacer (`jobs.ratelimit.Pacer`)", pacer)}
{fan_row("stock `AIORateLimiter`", stock)}
{fan_row("yesterday's `FairRateLimiter`", before)}

Replies to the twenty during the fan-out (from their message to the answer):

| setup | median | worst |
|---|---:|---:|
{reply_row("before: `FairRateLimiter`, updates one at a time", before)}
{reply_row("stock `AIORateLimiter`, `FairUpdateProcessor`", stock)}
{reply_row("after: pacer (replies first), `FairUpdateProcessor`", pacer)}

A healthy feed (interval 2 s) beside six broken feeds on another host, 60 s:

| poller | polls of the healthy feed | new item (after 30 s) seen after |
|---|---:|---:|
{poll_row("before: one tick gathers every due feed", poll_before)}
{poll_row("after: each feed started on its own", poll_after)}

- The rate counts every message the bot sent between the first and the last alert (the
  replies share the limit); "alerts alone" leaves the replies out. The pacer's pace is
  30 per 1.02 s, 98% of the limit, by design.
- With a leaky bucket (`AIORateLimiter`, and `FairRateLimiter` built on it) a burst goes out at
  the start of each second after a pause, which a strict window refuses: those are the 429s.
- Before, a tick lasted as long as its slowest feed (the 30 s answer, cut at the 20 s read
  timeout) and the healthy feed waited for it; after, a feed's next poll is planned from the
  end of its own.
  With three polls a minute, how soon a new item is seen before is the luck of the draw
  (anywhere from 0 to a whole tick, over 20 s); after, at most about one interval.
- "Most in any second" counts what the stand-in accepted, which never exceeds 30: the 429s
  are what the limiters tried beyond that.
"""
    print(body)
    if write:
        from benchmarks.report import write_section

        write_section("At the limits: pacing, replies, polling", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    asyncio.run(main(parser.parse_args().write))
