"""The outbox in storage: what `claim_due` does with rows it cannot deliver."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.lifecycle import start_delivery, stop_delivery
from storage import subscriptions
from storage.alerts import ChatPrefs, claim_due, create_alert, due_time
from storage.db import Database, to_db_time
from storage.visit import load_visit
from storage.visitdata import sync_visit
from tests.conftest import BotHarness, Clock, running_bot

NOW = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
READER = 5000


async def subscribe_reader(bot: BotHarness) -> None:
    svc = bot.services
    bot.standin.add_user(READER, first_name="Reader")
    await subscriptions.subscribe(
        svc.db,
        visit_id=svc.visit_id,
        chat_id=READER,
        chat_type="private",
        title="",
        set_by=READER,
        topics="all",
        now=bot.clock.now,
    )


async def test_an_unreadable_payload_fails_its_rows_and_others_still_go(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        stamp = to_db_time(NOW)
        for chat_id in (1, 2):
            await db.execute(
                "INSERT INTO chats (chat_id, type, created_at, updated_at)"
                " VALUES (?, 'private', ?, ?)",
                (chat_id, stamp, stamp),
            )
            await db.execute(
                "INSERT INTO subscriptions (visit_id, chat_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (visit_id, chat_id, stamp, stamp),
            )
        async with db.transaction() as tx:
            broken = await create_alert(
                tx, visit_id=visit_id, kind="broadcast", payload={"text": "x"}, now=NOW
            )
            fine = await create_alert(
                tx, visit_id=visit_id, kind="broadcast", payload={"text": "y"}, now=NOW
            )
        await db.execute("UPDATE alerts SET payload = '{not json' WHERE id = ?", (broken,))
        due = await claim_due(db, NOW, max_chats=10)
        assert {d.alert_id for ds in due.values() for d in ds} == {fine}
        failed = await db.fetchall(
            "SELECT status, last_error FROM deliveries WHERE alert_id = ?", (broken,)
        )
        assert [tuple(r) for r in failed] == [("failed", "unreadable alert payload")] * 2


async def test_the_worker_sleeps_while_the_only_due_chat_cools_down(settings: Settings) -> None:
    """A second alert to a chat that just got one waits ~1 s; the worker must not spin."""
    async with running_bot(settings, Clock(NOW)) as bot:
        svc = bot.services
        await subscribe_reader(bot)
        worker = svc.delivery
        assert worker is not None

        async def broadcast(text: str) -> None:
            async with svc.db.transaction() as tx:
                await create_alert(
                    tx, visit_id=svc.visit_id, kind="broadcast", payload={"text": text}, now=NOW
                )

        await broadcast("one")
        await bot.standin.wait_for_messages(READER, 1)
        rounds = 0
        original = worker._round

        async def counted() -> None:
            nonlocal rounds
            rounds += 1
            await original()

        worker._round = counted  # type: ignore[method-assign]
        await broadcast("two")
        await bot.standin.wait_for_messages(READER, 2, timeout=5)
        await asyncio.sleep(0.3)
        assert rounds < 15, f"{rounds} rounds for one cooling chat: the worker is spinning"


async def test_an_alert_that_waited_still_keeps_quiet_hours(settings: Settings) -> None:
    """Created just before quiet hours, sent after a restart inside them: held until they end."""
    clock = Clock(dt.datetime(2025, 11, 24, 18, 59, tzinfo=dt.UTC))  # 21:59 in Istanbul
    async with running_bot(settings, clock) as bot:
        svc = bot.services
        await subscribe_reader(bot)
        await subscriptions.set_preferences(
            svc.db, READER, now=clock.now, default_tz=svc.visit.timezone, quiet=(22 * 60, 7 * 60)
        )
        await stop_delivery(svc)  # the bot is down when the alert is created
        async with svc.db.transaction() as tx:
            await create_alert(
                tx, visit_id=svc.visit_id, kind="broadcast", payload={"text": "x"}, now=clock.now
            )
        clock.now = dt.datetime(2025, 11, 24, 23, 30, tzinfo=dt.UTC)  # 02:30 in Istanbul
        await start_delivery(bot.app, svc)  # type: ignore[arg-type]
        worker = svc.delivery
        assert worker is not None
        await worker.wait_idle()
        assert bot.standin.messages_to(READER) == []
        held = await db_value(svc.db, "SELECT not_before FROM deliveries")
        assert held == "2025-11-25T04:00:00+00:00"  # 07:00 in Istanbul
        clock.now = dt.datetime(2025, 11, 25, 4, 0, 1, tzinfo=dt.UTC)
        worker.wake()
        await bot.standin.wait_for_messages(READER, 1, timeout=5)


async def db_value(db: Database, sql: str) -> object:
    return await db.fetchval(sql)


def test_a_digest_hour_inside_quiet_hours_waits_for_their_end() -> None:
    istanbul = ZoneInfo("Europe/Istanbul")
    prefs = ChatPrefs("Europe/Istanbul", 22 * 60, 7 * 60, 23)  # digest at 23:00, quiet 22-07
    at = due_time(prefs, "broadcast", dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC), istanbul)
    assert at == dt.datetime(2025, 11, 25, 4, 0, tzinfo=dt.UTC)  # 07:00 local, not 23:00
    plain = ChatPrefs("Europe/Istanbul", None, None, 23)
    at = due_time(plain, "broadcast", dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC), istanbul)
    assert at == dt.datetime(2025, 11, 24, 20, 0, tzinfo=dt.UTC)  # 23:00 local
