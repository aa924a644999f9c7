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
