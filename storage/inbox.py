"""The update inbox: what Telegram sent, kept until the bot has handled it (see bot/inbox.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from storage.db import Database, to_db_time


async def store_updates(
    db: Database, updates: Sequence[Mapping[str, Any]], now: dt.datetime
) -> None:
    """Record updates as received; one already known (Telegram sent it again) is left as it is."""
    rows = [
        (int(u["update_id"]), json.dumps(u, ensure_ascii=False), to_db_time(now))
        for u in updates
        if isinstance(u.get("update_id"), int)
    ]
    if not rows:
        return
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT OR IGNORE INTO update_inbox (update_id, payload, received_at) VALUES (?, ?, ?)",
            rows,
        )


async def is_handled(db: Database, update_id: int) -> bool:
    row = await db.fetchone("SELECT handled_at FROM update_inbox WHERE update_id = ?", (update_id,))
    return row is not None and row["handled_at"] is not None


async def mark_handled(db: Database, update_id: int, now: dt.datetime) -> None:
    await db.execute(
        "UPDATE update_inbox SET handled_at = ? WHERE update_id = ? AND handled_at IS NULL",
        (to_db_time(now), update_id),
    )


async def take_unhandled(
    db: Database, now: dt.datetime, *, max_replays: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """At start-up: (updates to feed in again, oldest first; ids given up after `max_replays`).

    Each call counts as a replay, so an update that takes the process down every time it is
    handled is given up (marked handled) instead of crashing every restart.
    """
    async with db.transaction() as tx:
        given_up = [
            int(r["update_id"])
            for r in await tx.fetchall(
                "SELECT update_id FROM update_inbox WHERE handled_at IS NULL AND replays >= ?"
                " ORDER BY update_id",
                (max_replays,),
            )
        ]
        await tx.execute(
            "UPDATE update_inbox SET handled_at = ? WHERE handled_at IS NULL AND replays >= ?",
            (to_db_time(now), max_replays),
        )
        rows = await tx.fetchall(
            "SELECT payload FROM update_inbox WHERE handled_at IS NULL ORDER BY update_id"
        )
        await tx.execute("UPDATE update_inbox SET replays = replays + 1 WHERE handled_at IS NULL")
    return [json.loads(r["payload"]) for r in rows], given_up


async def prune_handled(db: Database, before: dt.datetime) -> int:
    """Forget updates handled before `before`; returns how many."""
    async with db.transaction() as tx:
        return await tx.execute_rowcount(
            "DELETE FROM update_inbox WHERE handled_at IS NOT NULL AND handled_at < ?",
            (to_db_time(before),),
        )
