"""An audience of any size: paid fan-outs of 10,000 and 100,000, /stats at a million rows.

Run: .venv/bin/python -m benchmarks.scale [--write] [--subscribers N]   (N: 100,000; a trial
with fewer is quicker, and says so in its command line). Not part of the test suite.

All in one run, on this machine, through the in-process Bot API stand-in in strict mode (sliding
windows, no burst: 30 free messages in any second, 1,000 in all with paid broadcasts, one per
private chat per second, 20 a minute per channel), the real Application, pacer, worker and a
SQLite file:

1. The outbox alone, on one database, as it grows to ten fan-outs of N (a million rows): the
   claim of 32 chats before issue 15 (`benchmarks/outbox_before.py`, the baseline) and now, and
   a whole claim-and-record round now, with one, five and ten fan-outs in the table; then
   create_alert, chat views and /stats's statistics before and now; then compaction of the
   nine finished fan-outs, and the same queries afterwards.
2. Free rate: 600 private subscribers, paid broadcasts off: the baseline of the fan-outs.
3. Paid: N/10 and then N private subscribers plus three channels, PAID_BROADCAST on with a
   cap no alert reaches: the rate from the alert's creation to its last delivery, as a share of
   1,000 msg/s; 429 answers; Stars billed; how soon every channel had its post; the resident
   memory above the level before the alert, sampled every 50 ms (the stand-in keeps no
   messages, so this is the bot's own).
4. The same N after nine more fan-outs' finished deliveries were added (a million rows):
   /stats, timed in storage and answered through the stand-in, and a second fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import outbox_before
from bot.app import build_application, running, services_of
from bot.config import load_settings
from bot.handlers.stats import stats_text
from bot.services import Services
from bot.standin import BotApiStandin, SentMessage
from jobs.compaction import compact
from jobs.ratelimit import Pacer
from storage.alerts import (
    Outcome,
    claim_due,
    create_alert,
    delivery_stats,
    record_outcomes,
    release,
)
from storage.alerts import _queue_deliveries as queue_deliveries
from storage.db import Database, to_db_time
from storage.subscriptions import chat_views, subscriber_stats
from storage.visit import BUNDLED_VISIT, bundled_visits_dir, load_visit
from storage.visitdata import sync_visit

PAID, FREE = 1000.0, 30.0
SUBSCRIBERS = 100_000
FREE_SUBSCRIBERS = 600  # the free-rate baseline: 20 s at 30/s
ADMIN = 42
FIRST = 1_000_000
CHANNELS = (-1001000000001, -1001000000002, -1001000000003)
VISIT_DAY = dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.UTC)
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident memory of this process, in bytes (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE


class Sampler:
    """The highest resident memory seen, every 50 ms, while it runs."""

    def __init__(self) -> None:
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss())
            await asyncio.sleep(0.05)

    def start(self) -> None:
        self.peak = rss()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> int:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return max(self.peak, rss())


async def subscribe_many(svc: Services, ids: range) -> None:
    stamp = to_db_time(VISIT_DAY)
    async with svc.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO chats (chat_id, type, created_at, updated_at) VALUES (?, 'private', ?, ?)",
            [(i, stamp, stamp) for i in ids],
        )
        await tx.executemany(
            "INSERT INTO subscriptions (visit_id, chat_id, set_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(svc.visit_id, i, i, stamp, stamp) for i in ids],
        )


async def broadcast(svc: Services, text: str) -> int:
    async with svc.db.transaction() as tx:
        alert_id = await create_alert(
            tx, visit_id=svc.visit_id, kind="broadcast", payload={"text": text}, now=VISIT_DAY
        )
    assert alert_id is not None
    return alert_id


class Run:
    """One application on one stand-in and one database, for a number of fan-outs."""

    def __init__(self, tmp: Path, subscribers: int, *, paid: bool) -> None:
        environ = {
            "DATABASE_PATH": str(tmp / "scale.db"),
            "FEED_URLS": "",
            "POLL_INTERVAL_SECONDS": "3600",
            "ADMIN_IDS": str(ADMIN),
            "VISIT_FILE": str(bundled_visits_dir() / BUNDLED_VISIT),
        }
        if paid:
            environ |= {"PAID_BROADCAST": "true", "PAID_BROADCAST_MAX_STARS_PER_ALERT": "1000000"}
        self.settings = load_settings(environ=environ, dotenv=None)
        self.subscribers = subscribers
        self.standin = BotApiStandin(rate_limits=True, keep_messages=False)
        self.standin.enable_paid_broadcasts(balance_stars=10_000_000)
        self.standin.add_user(ADMIN)
        for uid in range(FIRST, FIRST + subscribers):
            self.standin.add_user(uid)
        self.app = build_application(
            self.settings,
            request=self.standin.request(),
            get_updates_request=self.standin.request(),
            token=self.standin.token,
            clock=lambda: VISIT_DAY,
        )
        self.private: list[float] = []
        self.channel_posts: list[float] = []
        self.to_admin: asyncio.Event | None = None
        self.ready = asyncio.Event()  # every channel confirmed its subscription
        self.standin.subscribe(self._note)

    def _note(self, message: SentMessage) -> None:
        now = time.perf_counter()
        if message.chat_id >= FIRST:
            self.private.append(now)
        elif message.chat_id in CHANNELS:
            self.channel_posts.append(now)
            if len(self.channel_posts) >= len(CHANNELS):
                self.ready.set()
        elif message.chat_id == ADMIN and self.to_admin is not None:
            self.to_admin.set()

    @property
    def svc(self) -> Services:
        return services_of(self.app)

    async def setup(self, channels: bool) -> None:
        await subscribe_many(self.svc, range(FIRST, FIRST + self.subscribers))
        if channels:
            for chat_id in CHANNELS:
                self.standin.add_channel(chat_id, title=f"Desk {chat_id}", creator=ADMIN)
                self.standin.post_in_channel(chat_id, "/subscribe")
            await asyncio.wait_for(self.ready.wait(), 30)

    async def fanout(self, text: str) -> dict[str, float]:
        self.private.clear()
        self.channel_posts.clear()
        limiter = self.app.bot.rate_limiter
        assert isinstance(limiter, Pacer)
        billed_before, errors_before = self.standin.billed_messages, self._errors()
        counted_before = limiter.billed
        sampler = Sampler()
        sampler.start()
        before = sampler.peak
        started = time.perf_counter()
        await broadcast(self.svc, text)
        created = time.perf_counter() - started
        worker = self.svc.delivery
        assert worker is not None
        await worker.wait_idle(timeout=1200)
        peak = await sampler.stop()
        elapsed = self.private[-1] - started
        sent = len(self.private)
        assert sent == self.subscribers, (sent, self.subscribers)
        billed = self.standin.billed_messages - billed_before
        counted = limiter.billed - counted_before
        assert billed <= counted, (billed, counted)  # the cap is kept on what the pacer counts
        return {
            "subscribers": float(self.subscribers),
            "seconds": elapsed,
            "rate": sent / elapsed,
            "create": created,
            "retry_after": float(self._errors() - errors_before),
            "billed": float(billed),
            "counted": float(counted),
            "channels": (max(self.channel_posts) - started) if self.channel_posts else -1.0,
            "memory": float(peak - before),
            "rss": float(peak),
        }

    def _errors(self) -> int:
        return sum(n for (_, code), n in self.standin.errors_returned.items() if code == 429)

    async def older_rows(self, alerts: int) -> float:
        """`alerts` more fan-outs' worth of finished rows, written directly (not sent)."""
        started = time.perf_counter()
        stamp = to_db_time(VISIT_DAY)
        for n in range(alerts):
            async with self.svc.db.transaction() as tx:  # finished before the worker sees it
                alert_id = await create_alert(
                    tx,
                    visit_id=self.svc.visit_id,
                    kind="broadcast",
                    payload={"text": f"older {n}"},
                    now=VISIT_DAY,
                )
                assert alert_id is not None
                await tx.execute(
                    "UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = 1"
                    " WHERE alert_id = ?",
                    (stamp, alert_id),
                )
        return time.perf_counter() - started

    async def stats(self) -> dict[str, float]:
        svc = self.svc
        loaded = svc.visits.get(svc.visit_id)
        assert loaded is not None
        rows = await svc.db.fetchval("SELECT COUNT(*) FROM deliveries")
        inside = await timed(lambda: stats_text(svc, loaded, "en"))
        subscribers = await timed(lambda: subscriber_stats(svc.db, svc.visit_id))
        deliveries = await timed(lambda: delivery_stats(svc.db, svc.visit_id))
        self.to_admin = asyncio.Event()
        started = time.perf_counter()
        self.standin.send_text(ADMIN, "/stats")
        await asyncio.wait_for(self.to_admin.wait(), 30)
        answered = time.perf_counter() - started
        return {
            "rows": float(rows),
            "stats": inside,
            "answered": answered,
            "subscribers": subscribers,
            "deliveries": deliveries,
        }


async def timed(call: Callable[[], Any], repeat: int = 5) -> float:
    """The median of `repeat` runs of `call()`, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def paid_runs(subscribers: int) -> tuple[dict[str, float], ...]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp), FREE_SUBSCRIBERS, paid=False)
        async with running(run.app):
            await run.setup(channels=False)
            free = await run.fanout("free")
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp), subscribers // 10, paid=True)
        async with running(run.app):
            await run.setup(channels=True)
            small = await run.fanout("a tenth")
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp), subscribers, paid=True)
        async with running(run.app):
            await run.setup(channels=True)
            large = await run.fanout("all of them")
            built = await run.older_rows(9)
            stats = await run.stats()
            stats["built"] = built
            later = await run.fanout("after a million rows")
    return free, small, large, later, stats


async def claim_record(db: Database) -> None:
    """One round of the worker's outbox work: claim 32 chats' due rows, record them sent."""
    claimed = await claim_due(db, VISIT_DAY, max_chats=32)
    await record_outcomes(
        db,
        [
            Outcome(d.id, "sent", message_id=1, sent_at=VISIT_DAY)
            for ds in claimed.values()
            for d in ds
        ],
    )


async def claim_now(db: Database) -> None:
    """Claim 32 chats' due rows and put them back (`claim_due`, `release`)."""
    claimed = await claim_due(db, VISIT_DAY, max_chats=32)
    await release(db, [d.id for ds in claimed.values() for d in ds])


async def claim_before(db: Database) -> None:
    """The claim's two reads as before issue 15 (`benchmarks/outbox_before.py`)."""
    chats = await outbox_before.due_chats(db, VISIT_DAY, 32)
    await outbox_before.due_rows(db, VISIT_DAY, chats)


async def queries(subscribers: int) -> tuple[list[tuple[str, float, float]], dict[str, Any]]:
    """(query, before, now) in seconds as the table grows to ten fan-outs of `subscribers`
    (nine finished, the last pending), and then compaction of the nine finished ones."""
    found: list[tuple[str, float, float]] = []
    growth: list[tuple[int, float, float, float]] = []  # rows; claim before, now; claim+record
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.db"
        db = await Database.open(path)
        visit = load_visit()
        visit_id = await sync_visit(db, visit)
        stamp = to_db_time(VISIT_DAY)
        ids = range(FIRST, FIRST + subscribers)
        async with db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO chats (chat_id, type, created_at, updated_at)"
                " VALUES (?, 'private', ?, ?)",
                [(i, stamp, stamp) for i in ids],
            )
            await tx.executemany(
                "INSERT INTO subscriptions (visit_id, chat_id, set_by, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(visit_id, i, i, stamp, stamp) for i in ids],
            )

        async def alert_row() -> int:
            return await db.execute(
                "INSERT INTO alerts (visit_id, kind, payload, created_at)"
                " VALUES (?, 'broadcast', '{}', ?)",
                (visit_id, stamp),
            )

        old_times: list[float] = []
        new_times: list[float] = []
        for n in range(10):  # ten fan-outs: nine finished, the last pending
            alert_id = await alert_row()
            started = time.perf_counter()
            async with db.transaction() as tx:
                if n % 2:
                    await outbox_before.queue_deliveries(
                        tx, alert_id, visit_id, VISIT_DAY, visit.timezone
                    )
                else:
                    await queue_deliveries(
                        tx, alert_id, visit_id, "broadcast", VISIT_DAY, visit.timezone
                    )
            (old_times if n % 2 else new_times).append(time.perf_counter() - started)
            if n in (0, 4, 9):  # claiming and recording with 1, 5 and 10 fan-outs in the table
                rows = int(await db.fetchval("SELECT COUNT(*) FROM deliveries") or 0)
                growth.append(
                    (
                        rows,
                        await timed(lambda: claim_before(db)),
                        await timed(lambda: claim_now(db)),
                        await timed(lambda: claim_record(db)),
                    )
                )
            if n < 9:
                await db.execute(
                    "UPDATE deliveries SET status = 'sent', sent_at = ? WHERE alert_id = ?",
                    (stamp, alert_id),
                )
        found.append(
            (
                f"create_alert's {subscribers:,} delivery rows",
                statistics.median(old_times),
                statistics.median(new_times),
            )
        )
        chats = list(range(FIRST + subscribers // 2, FIRST + subscribers // 2 + 32))
        found.append(
            (
                "chat views of 32 chats",
                await timed(lambda: outbox_before.chat_views(db, chats)),
                await timed(lambda: chat_views(db, chats)),
            )
        )
        # the index the old statistics had, for a fair comparison
        await db.execute("CREATE INDEX deliveries_sent ON deliveries (status, sent_at)")
        found.append(
            (
                "delivery statistics of the visit (/stats)",
                await timed(lambda: outbox_before.delivery_stats(db, visit_id)),
                await timed(lambda: delivery_stats(db, visit_id)),
            )
        )
        await db.execute("DROP INDEX deliveries_sent")
        # Compaction, eight days later (the default retention is seven): the nine finished
        # fan-outs become counts; the pending one is left alone.
        stats_before = await delivery_stats(db, visit_id)
        rows_before = int(await db.fetchval("SELECT COUNT(*) FROM deliveries") or 0)
        started = time.perf_counter()
        compacted = await compact(db, VISIT_DAY + dt.timedelta(days=8), 7.0)
        compact_seconds = time.perf_counter() - started
        rows_after = int(await db.fetchval("SELECT COUNT(*) FROM deliveries") or 0)
        same_stats = await delivery_stats(db, visit_id) == stats_before
        after_compaction = await timed(lambda: claim_record(db))
        stats_after = await timed(lambda: delivery_stats(db, visit_id))
        await db.close()
    return found, {
        "growth": growth,
        "compacted": compacted,
        "compact_seconds": compact_seconds,
        "rows_before": rows_before,
        "rows_after": rows_after,
        "same_stats": same_stats,
        "claim_after": after_compaction,
        "stats_after": stats_after,
    }


def capacity(free: float, paid: float, channel: float) -> str:
    rows = []
    for audience in (1_000, 10_000, 100_000, 1_000_000):
        rows.append(
            f"| {audience:,} | {duration(audience / free)} | {duration(audience / paid)} "
            f"| {channel:.2f} s |"
        )
    return "\n".join(rows)


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def reflow(markdown: str, width: int = 96) -> str:
    """Paragraphs and bullets filled to `width`; tables, headings and code left as they are."""
    blocks = []
    for block in markdown.strip().split("\n\n"):
        lines = block.split("\n")
        if lines[0].startswith(("|", "#", "`")) and not lines[0].startswith("`."):
            blocks.append(block)
        elif lines[0].startswith("- "):
            items = re.split(r"\n(?=- )", block)
            blocks.append(
                "\n".join(
                    textwrap.fill(
                        " ".join(i[2:].split()),
                        width,
                        initial_indent="- ",
                        break_on_hyphens=False,
                        subsequent_indent="  ",
                    )
                    for i in items
                )
            )
        else:
            blocks.append(textwrap.fill(" ".join(block.split()), width, break_on_hyphens=False))
    return "\n\n".join(blocks) + "\n"


def fan_row(name: str, r: dict[str, float], limit: float = PAID) -> str:
    mib = 1024 * 1024
    share = f"{r['rate'] / limit:.1%}" + ("" if limit == PAID else " of 30/s")
    channels = f"{r['channels'] * 1000:.0f} ms" if r["channels"] >= 0 else "–"
    return (
        f"| {name} | {r['subscribers']:,.0f} | {r['seconds']:.1f} s | {r['rate']:.0f} msg/s "
        f"= **{share}** | {int(r['retry_after'])} | {r['billed'] / 10:,.1f}"
        f" ({r['counted'] / 10:,.1f}) | {channels} | "
        f"{r['memory'] / mib:.1f} MiB | {r['create'] * 1000:.0f} ms |"
    )


async def main(subscribers: int, write: bool) -> None:
    command = ".venv/bin/python -m benchmarks.scale --write"
    if subscribers != SUBSCRIBERS:
        command += f" --subscribers {subscribers}"
    began = time.perf_counter()
    found, outbox = await queries(subscribers)
    free, small, large, later, stats = await paid_runs(subscribers)
    runtime = f"{(time.perf_counter() - began) / 60:.1f} minutes in all"
    mib = 1024 * 1024
    query_rows = "\n".join(
        f"| {name} | {before * 1000:.1f} ms | **{now * 1000:.1f} ms** | {before / now:.0f}× |"
        for name, before, now in found
    )
    growth_rows = "\n".join(
        f"| {rows:,} | {before * 1000:.1f} ms | **{now * 1000:.1f} ms** | {rec * 1000:.1f} ms |"
        for rows, before, now, rec in outbox["growth"]
    )
    (first_rows, first_old, first_new, first_rec) = outbox["growth"][0]
    (last_rows, last_old, last_new, last_rec) = outbox["growth"][-1]
    heading = (
        "| run | subscribers | time | rate (share of the limit) | 429"
        " | Stars billed (pacer's count) | channels posted after | memory above start (peak)"
        " | create_alert |"
    )
    stats_line = (
        f"/stats with {large['subscribers']:,.0f} subscribers and {stats['rows']:,.0f} delivery"
        f" rows: **{stats['stats'] * 1000:.0f} ms** to compose (median of 5),"
        f" **{stats['answered'] * 1000:.0f} ms** from the admin's message to the answer through"
        f" the stand-in. Of that, counting the {large['subscribers']:,.0f} subscribers takes"
        f" {stats['subscribers'] * 1000:.0f} ms and the delivery totals"
        f" {stats['deliveries'] * 1000:.1f} ms (from `alert_totals`, whatever the number of rows)."
        f" (Writing the extra finished rows took {stats['built']:.1f} s.)"
    )
    channel = max(small["channels"], large["channels"], later["channels"])  # the slowest
    table = capacity(free["rate"], large["rate"], channel)
    body = f"""Command: `{command}` (this 2-core machine, one run, {runtime}; the in-process
stand-in in strict mode: at most 30 unbilled messages in any second, 1,000 in all with paid
broadcasts, one per private chat per second, 20 a minute per channel; real Application, pacer,
delivery worker and SQLite file).

Fan-outs (rate from the alert's creation to its last delivery; the share is of the paid limit,
1,000 msg/s, and the pacer's own ceiling is 1,000 per 1.02 s = 98%; the first row, with paid
broadcasts off, is the baseline, its share of the free 30/s):

{heading}
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{fan_row("free rate (paid broadcasts off), the baseline", free, FREE)}
{fan_row("paid", small)}
{fan_row("paid", large)}
{fan_row(f"paid, with {stats['rows']:,.0f} rows in the table", later)}

- Paid broadcasts against the free baseline: {large["rate"] / free["rate"]:.0f}× the rate.
  From {small["subscribers"]:,.0f} to {large["subscribers"]:,.0f} subscribers the rate goes
  from {small["rate"]:.0f} to {large["rate"]:.0f} msg/s, and the fan-out after the table
  holds {stats["rows"]:,.0f} rows runs at {later["rate"]:.0f} msg/s: earlier fan-outs do not
  slow later ones.
- Memory: the peak resident memory above the level before the alert, sampled every 50 ms. In
  a fresh process the first fan-out raises it by {small["memory"] / mib:.1f} MiB
  ({small["subscribers"]:,.0f} subscribers) and {large["memory"] / mib:.1f} MiB
  ({large["subscribers"]:,.0f}); that is mostly per-chat rate windows, which are bounded: the
  stand-in's flood control keeps up to 50,000 chats' windows and the pacer forgets idle ones
  beyond 10,000. The second fan-out of {later["subscribers"]:,.0f} in the same process raised
  the peak by {later["memory"] / mib:.1f} MiB: no list of subscribers is held. (The process
  held {later["rss"] / mib:.0f} MiB in all, the stand-in's {large["subscribers"]:,.0f} users
  included; the stand-in keeps no messages.)
- Stars billed: what the stand-in billed, 0.1 Star for each message beyond the free 30 a
  second; in brackets what the pacer counted, which the per-alert cap is kept on: never less
  than the stand-in billed (the benchmark checks), at most a few per cent more.
- Channels: one post each, whatever the channel's size; "posted after" is from the start of
  `create_alert` to the last of the three channel posts, so it includes writing the outbox
  rows (the last column). A channel post cannot carry `allow_paid_broadcast`, so during a paid
  fan-out it waits until fewer than 30 messages went out in the last 1.02 s (the pacer holds
  the paid alerts for it), at most about a second.

{stats_line}

The outbox as the table grows ({subscribers:,} subscribers; one fan-out of pending rows, and
then four and nine more finished ones). Claiming 32 chats' due rows before issue 15
(`benchmarks/outbox_before.py`, on the same database) and now, and a whole round of the
worker's outbox work now (claim, then record the outcomes as sent: the alert_totals triggers
included); median of 5:

| rows in the table | claim, before | claim, now | claim + record, now |
|---:|---:|---:|---:|
{growth_rows}

From {first_rows:,} to {last_rows:,} rows a claim before went from {first_old * 1000:.1f} to
{last_old * 1000:.1f} ms; now from {first_new * 1000:.1f} to {last_new * 1000:.1f} ms, and a
claim with its recording from {first_rec * 1000:.1f} to {last_rec * 1000:.1f} ms.

Other queries at {subscribers:,} pending among {last_rows:,} rows, before and now (median of
5; the old `deliveries_sent` index put back for the old statistics):

| query | before | now | faster |
|---|---:|---:|---:|
{query_rows}

Compaction (eight days later, retention seven): {outbox["compacted"]:,} finished rows of nine
fan-outs folded into counts in **{outbox["compact_seconds"]:.1f} s** (batches of 5,000, each
its own transaction); the table went from {outbox["rows_before"]:,} to
{outbox["rows_after"]:,} rows, the pending fan-out untouched; the visit's delivery statistics
{"unchanged" if outbox["same_stats"] else "CHANGED"} by it. Afterwards a claim and record round
takes {outbox["claim_after"] * 1000:.1f} ms and the statistics
{outbox["stats_after"] * 1000:.1f} ms.

Capacity (time until the last subscriber has the alert), from the rates above: direct alerts at
the free rate ({free["rate"]:.1f} msg/s), with paid broadcasts ({large["rate"]:.0f} msg/s), and
through a channel (one post: the slowest of the channels' times above; Telegram's own fan-out
to the channel's members is not included):

| audience | direct, free | direct, paid | channel |
|---:|---:|---:|---:|
{table}
"""
    body = reflow(body)
    print(body)
    if write:
        from benchmarks.report import write_section

        write_section("An audience of any size: paid fan-outs, channels, a million rows", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument(
        "--subscribers", type=int, default=SUBSCRIBERS, help="the large audience (a trial: less)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.subscribers, arguments.write))
