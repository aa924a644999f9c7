"""One bot per database: a second real `visitbot run` on the same DATABASE_PATH refuses to start
while the first is mid-fan-out, sends nothing and takes no updates; after the first is killed
(SIGKILL: the OS drops its lock) a restart works and finishes the fan-out.

Before the lock, the second process's start-up recovery put the first's in-flight deliveries
back to 'pending' (those chats got the alert twice), and the two traded 409s on getUpdates.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.standin import BotApiStandin
from storage.db import Database
from storage.lock import AlreadyRunning, DatabaseLock, lock_path
from tests.standin_http import StandinHttpServer
from tests.test_delivery_crash import (
    FIRST,
    IN_FLIGHT_BOUND,
    SUBSCRIBERS,
    delivered,
    prepare,
    start_bot,
    wait_until,
)


@pytest.mark.slow
async def test_a_second_run_on_the_same_database_refuses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "visitbot.db"
    log = tmp_path / "first.log"
    await prepare(db_path)
    standin = BotApiStandin(rate_limits=True)
    for uid in range(FIRST, FIRST + SUBSCRIBERS):
        standin.add_user(uid, first_name=f"U{uid}")
    async with StandinHttpServer(standin) as server:
        first = await start_bot(server.base_url, standin.token, db_path, log)
        try:
            await wait_until(
                lambda: len(delivered(standin)) >= 60, 30, f"no fan-out: {log.read_text()}"
            )
            calls_before = dict(standin.calls)
            second_log = tmp_path / "second.log"
            second = await start_bot(server.base_url, standin.token, db_path, second_log)
            await asyncio.wait_for(second.wait(), 30)
            output = second_log.read_text()
            assert second.returncode == 1, output
            assert output.splitlines() == [
                f"visitbot: another visitbot is already running on {db_path} "
                f"(process {first.pid}); stop it first (lock file {lock_path(db_path)})"
            ]
            # The second never reached Telegram: no getMe, no getUpdates, so no 409 either.
            assert standin.calls["getMe"] == calls_before.get("getMe")
            assert standin.errors_returned[("getUpdates", 409)] == 0
            await asyncio.sleep(1.0)  # anything the second had re-queued would be resent now
            assert first.returncode is None, "the first keeps running"
            doubled = {chat: n for chat, n in delivered(standin).items() if n > 1}
            assert doubled == {}, "the second process re-queued the first's in-flight work"
            assert len(delivered(standin)) < SUBSCRIBERS, "fan-out ended before the check"
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()

        # SIGKILL cannot run any clean-up: the lock must be gone with the process anyway.
        with DatabaseLock(db_path) as probe:
            assert probe.held
        third = await start_bot(server.base_url, standin.token, db_path, log)
        try:
            await wait_until(
                lambda: len(delivered(standin)) == SUBSCRIBERS,
                60,
                f"the restart did not finish the fan-out: {log.read_text()[-3000:]}",
            )
            # While it runs, it holds the lock in its turn.
            with pytest.raises(AlreadyRunning, match=f"process {third.pid}"):
                DatabaseLock(db_path).acquire()
        finally:
            third.send_signal(signal.SIGTERM)
            await asyncio.wait_for(third.wait(), 20)
    assert third.returncode == 0, log.read_text()[-3000:]
    got = delivered(standin)
    assert set(got) == set(range(FIRST, FIRST + SUBSCRIBERS))
    assert sum(n - 1 for n in got.values()) <= IN_FLIGHT_BOUND  # the SIGKILL's in-flight few
    async with await Database.open(db_path) as db:
        rows = await db.fetchall("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
    assert {r["status"]: r["n"] for r in rows} == {"sent": SUBSCRIBERS}


def test_the_lock_is_per_database_file(tmp_path: Path) -> None:
    """Two databases, two locks; the lock file stays (deleting it could split the lock)."""
    with DatabaseLock(tmp_path / "a.db") as a, DatabaseLock(tmp_path / "b.db") as b:
        assert a.held and b.held
        with pytest.raises(AlreadyRunning, match="a.db"):
            DatabaseLock(tmp_path / "a.db").acquire()
    assert not a.held and lock_path(tmp_path / "a.db").exists()
    with DatabaseLock(tmp_path / "a.db") as again:
        assert again.held
