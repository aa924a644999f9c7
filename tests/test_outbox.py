"""The outbox in storage: what `claim_due` does with rows it cannot deliver."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from storage.alerts import claim_due, create_alert
from storage.db import Database, to_db_time
from storage.visit import load_visit
from storage.visitdata import sync_visit

NOW = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)


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


async def test_the_worker_sleeps_while_the_only_due_chat_cools_down(
    tmp_path: Path,
) -> None:
    """A second alert to a chat that just got one waits ~1 s; the worker must not spin."""
    import asyncio

    from bot.config import load_settings
    from jobs.delivery import worker_of
    from storage import subscriptions
    from tests.conftest import ADMIN_ID, Clock, running_bot

    settings = load_settings(
        environ={
            "DATABASE_PATH": str(tmp_path / "bot.db"),
            "ADMIN_IDS": str(ADMIN_ID),
            "FEED_URLS": "http://127.0.0.1:9/closed.xml",
        },
        dotenv=None,
    )
    clock = Clock(NOW)
    async with running_bot(settings, clock) as bot:
        svc = bot.services
        bot.standin.add_user(5000, first_name="Reader")
        await subscriptions.subscribe(
            svc.db,
            visit_id=svc.visit_id,
            chat_id=5000,
            chat_type="private",
            title="",
            set_by=5000,
            topics="all",
            now=clock.now,
        )
        worker = worker_of(svc)
        assert worker is not None

        async def broadcast(text: str) -> None:
            async with svc.db.transaction() as tx:
                await create_alert(
                    tx, visit_id=svc.visit_id, kind="broadcast", payload={"text": text}, now=NOW
                )

        await broadcast("one")
        await bot.standin.wait_for_messages(5000, 1)
        rounds = 0
        original = worker._round

        async def counted() -> None:
            nonlocal rounds
            rounds += 1
            await original()

        worker._round = counted  # type: ignore[method-assign]
        await broadcast("two")
        await bot.standin.wait_for_messages(5000, 2, timeout=5)
        await asyncio.sleep(0.3)
        assert rounds < 15, f"{rounds} rounds for one cooling chat: the worker is spinning"
