"""Crash safety: SIGKILL a real `visitbot run` process mid-fan-out, restart it on the same
database, and check that every subscriber got the alert once, give or take the in-flight few.

The stand-in is served over HTTP on 127.0.0.1 (tests/standin_http.py) with Telegram's rate
limits on, so the fan-out takes seconds and the kill lands in the middle of it. This also shows
that `python -m bot.cli run` works against a configurable Bot API base URL.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.standin import BotApiStandin
from jobs.delivery import DeliveryWorker
from storage import subscriptions as subscription_store
from storage.alerts import create_alert
from storage.db import Database
from storage.visitdata import sync_visit
from tests.standin_http import StandinHttpServer

ROOT = Path(__file__).resolve().parents[1]
SUBSCRIBERS = 300
FIRST = 7000
TEXT = "Crash test broadcast"
IN_FLIGHT_BOUND = DeliveryWorker.__init__.__kwdefaults__["concurrency"] + 8  # type: ignore[index]


async def prepare(db_path: Path) -> None:
    settings = load_settings(environ={"DATABASE_PATH": str(db_path)}, dotenv=None)
    now = dt.datetime.now(dt.UTC)
    async with await Database.open(db_path) as db:
        visit_id = await sync_visit(db, settings.visit)
        for uid in range(FIRST, FIRST + SUBSCRIBERS):
            await subscription_store.subscribe(
                db,
                visit_id=visit_id,
                chat_id=uid,
                chat_type="private",
                title="",
                set_by=uid,
                topics="all",
                now=now,
            )
        async with db.transaction() as tx:
            await create_alert(
                tx, visit_id=visit_id, kind="broadcast", payload={"text": TEXT}, now=now
            )


async def start_bot(
    base_url: str, token: str, db_path: Path, log: Path
) -> asyncio.subprocess.Process:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "TELEGRAM_", "ADMIN_", "FEED_", "VISIT_"))
    }
    env.update(
        BOT_TOKEN=token,
        TELEGRAM_API_BASE_URL=base_url,
        DATABASE_PATH=str(db_path),
        FEED_URLS="http://127.0.0.1:9/none.xml",
        POLL_INTERVAL_SECONDS="3600",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="INFO",
    )
    handle = log.open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=str(db_path.parent),  # no stray .env
        env=env,
        stdout=handle,
        stderr=handle,
    )


def delivered(standin: BotApiStandin) -> collections.Counter[int]:
    return collections.Counter(m.chat_id for m in standin.sent if TEXT in m.text)


async def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_sigkill_mid_fanout_loses_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "visitbot.db"
    log = tmp_path / "bot.log"
    await prepare(db_path)
    standin = BotApiStandin(rate_limits=True)
    for uid in range(FIRST, FIRST + SUBSCRIBERS):
        standin.add_user(uid, first_name=f"U{uid}")
    async with StandinHttpServer(standin) as server:
        first = await start_bot(server.base_url, standin.token, db_path, log)
        try:
            await wait_until(
                lambda: len(delivered(standin)) >= 100, 30, f"no fan-out: {log.read_text()}"
            )
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        before_restart = sum(delivered(standin).values())
        assert before_restart < SUBSCRIBERS, "the kill came too late to test anything"

        second = await start_bot(server.base_url, standin.token, db_path, log)
        try:
            await wait_until(
                lambda: len(delivered(standin)) == SUBSCRIBERS,
                60,
                f"not everyone got the alert: {log.read_text()[-3000:]}",
            )
            await asyncio.sleep(1.0)  # anything sent twice would show up now
        finally:
            second.send_signal(signal.SIGTERM)  # a clean stop, like systemd
            await asyncio.wait_for(second.wait(), 20)
    got = delivered(standin)
    doubled = sum(n - 1 for n in got.values())
    print(
        f"\nkilled after {before_restart} of {SUBSCRIBERS}; after restart all {len(got)} got it;"
        f" {doubled} duplicate(s) (bound {IN_FLIGHT_BOUND})"
    )
    assert set(got) == set(range(FIRST, FIRST + SUBSCRIBERS))
    assert doubled <= IN_FLIGHT_BOUND
    assert second.returncode == 0, log.read_text()[-3000:]
    async with await Database.open(db_path) as db:
        rows = await db.fetchall("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
    assert {r["status"]: r["n"] for r in rows} == {"sent": SUBSCRIBERS}
