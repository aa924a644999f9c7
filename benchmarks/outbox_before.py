"""The outbox's queries before issue 15, kept only to measure against (benchmarks/scale.py).

Copied from `storage/alerts.py` and `storage/subscriptions.py` as they were: deliveries written
one Python row at a time, claims that sort every due row by id, a window over every
subscription for each claim's chat views, and statistics that count the deliveries table.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from storage.alerts import ChatPrefs, due_time
from storage.db import Database, Tx, to_db_time

_TARGETS = {"broadcast": "1 = 1"}


async def queue_deliveries(
    tx: Tx, alert_id: int, visit_id: int, now: dt.datetime, default_tz: dt.tzinfo
) -> int:
    """`create_alert`'s delivery rows as before: read every target chat, insert from Python."""
    wanted = _TARGETS["broadcast"]
    rows = await tx.fetchall(
        "SELECT c.chat_id, c.timezone, c.quiet_start, c.quiet_end, c.digest_hour FROM chats c"
        " WHERE c.active = 1 AND c.chat_id IN ("
        f" SELECT chat_id FROM subscriptions WHERE visit_id = ? AND {wanted}"
        f" UNION SELECT chat_id FROM all_visit_subscriptions WHERE {wanted})",
        (visit_id,),
    )
    cache: dict[ChatPrefs, str] = {}
    values: list[tuple[int, int, str]] = []
    for row in rows:
        prefs = ChatPrefs(row["timezone"], row["quiet_start"], row["quiet_end"], row["digest_hour"])
        when = cache.get(prefs)
        if when is None:
            when = cache[prefs] = to_db_time(due_time(prefs, "broadcast", now, default_tz))
        values.append((alert_id, int(row["chat_id"]), when))
    await tx.executemany(
        "INSERT OR IGNORE INTO deliveries (alert_id, chat_id, status, not_before)"
        " VALUES (?, ?, 'pending', ?)",
        values,
    )
    return len(values)


async def due_chats(db: Database, now: dt.datetime, max_chats: int) -> list[int]:
    """The first step of `claim_due` as before: every due row sorted by id, for each claim."""
    rows = await db.fetchall(
        "SELECT DISTINCT chat_id FROM ("
        " SELECT chat_id FROM deliveries WHERE status = 'pending' AND not_before <= ?"
        " AND chat_id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?)",
        (to_db_time(now), "[]", max_chats * 4),
    )
    return [int(r["chat_id"]) for r in rows][:max_chats]


async def due_rows(db: Database, now: dt.datetime, chat_ids: list[int]) -> int:
    """The second step as before (read, not claimed): the chats' due rows, found through the
    (status, not_before) index, so through every pending row."""
    rows = await db.fetchall(
        "SELECT id FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending'"
        " AND not_before <= ? AND chat_id IN (SELECT value FROM json_each(?)))",
        (to_db_time(now), json.dumps(chat_ids)),
    )
    return len(rows)


async def chat_views(db: Database, chat_ids: list[int]) -> int:
    """`chat_views` as before: a window over every subscription, for a handful of chats."""
    rows = await db.fetchall(
        "WITH subs AS (SELECT chat_id, set_by, updated_at FROM subscriptions"
        "   UNION ALL SELECT chat_id, set_by, updated_at FROM all_visit_subscriptions),"
        " latest AS (SELECT chat_id, set_by FROM"
        "   (SELECT chat_id, set_by, ROW_NUMBER() OVER"
        "    (PARTITION BY chat_id ORDER BY updated_at DESC) AS n FROM subs) WHERE n = 1)"
        " SELECT c.chat_id, c.timezone, c.digest_hour, COALESCE(c.language, u.language) AS lang,"
        " u.language_code, c.quiet_start, c.quiet_end"
        " FROM chats c LEFT JOIN latest l ON l.chat_id = c.chat_id"
        " LEFT JOIN users u ON u.user_id ="
        "   CASE WHEN c.chat_id > 0 THEN c.chat_id ELSE l.set_by END"
        " WHERE c.chat_id IN (SELECT value FROM json_each(?))",
        (json.dumps(chat_ids),),
    )
    return len(rows)


async def delivery_stats(db: Database, visit_id: int) -> dict[str, Any]:
    """`delivery_stats` as before: the visit's deliveries counted, row by row."""
    statuses = await db.fetchall(
        "SELECT d.status, COUNT(*) AS n FROM deliveries d JOIN alerts a ON a.id = d.alert_id"
        " WHERE a.visit_id = ? GROUP BY d.status",
        (visit_id,),
    )
    last = await db.fetchval(
        "SELECT MAX(d.sent_at) FROM deliveries d JOIN alerts a ON a.id = d.alert_id"
        " WHERE a.visit_id = ? AND d.status = 'sent'",
        (visit_id,),
    )
    return {"by_status": {str(r["status"]): int(r["n"]) for r in statuses}, "last": last}
