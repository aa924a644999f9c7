"""Admins added by owners, and the audit log every admin action writes to.

`audit()` takes a `Tx` on purpose: the record of a change is written in the same transaction as
the change, so the log can never claim something that was rolled back, nor miss something that
was committed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from storage.db import Database, Tx, from_db_time, to_db_time


@dataclass(frozen=True)
class AdminRow:
    user_id: int
    added_by: int | None
    added_at: dt.datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_id: int | None
    action: str
    target: str
    before: Any
    after: Any
    at: dt.datetime


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


async def audit(
    tx: Tx,
    *,
    visit_id: int | None,
    actor_id: int | None,
    action: str,
    target: str = "",
    before: Any = None,
    after: Any = None,
    at: dt.datetime,
) -> None:
    """Record one admin action; `before`/`after` are JSON-serialisable snapshots (or None)."""
    await tx.execute(
        "INSERT INTO audit_log (visit_id, actor_id, action, target, before, after, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (visit_id, actor_id, action, target, _dump(before), _dump(after), to_db_time(at)),
    )


async def is_listed_admin(db: Database, user_id: int) -> bool:
    """An admin an owner added (owners themselves come from ADMIN_IDS, not the database)."""
    return await db.fetchone("SELECT 1 FROM admins WHERE user_id = ?", (user_id,)) is not None


async def admin_user_ids(db: Database) -> set[int]:
    return {int(r["user_id"]) for r in await db.fetchall("SELECT user_id FROM admins")}


async def latest_audit(db: Database, limit: int = 20) -> list[AuditEntry]:
    rows = await db.fetchall("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
    return [
        AuditEntry(
            id=r["id"],
            actor_id=r["actor_id"],
            action=r["action"],
            target=r["target"],
            before=json.loads(r["before"]) if r["before"] else None,
            after=json.loads(r["after"]) if r["after"] else None,
            at=from_db_time(r["at"]),
        )
        for r in rows
    ]


async def list_admins(db: Database) -> list[AdminRow]:
    rows = await db.fetchall("SELECT * FROM admins ORDER BY added_at, user_id")
    return [AdminRow(r["user_id"], r["added_by"], from_db_time(r["added_at"])) for r in rows]


async def add_admin(
    db: Database, visit_id: int, user_id: int, *, actor_id: int, now: dt.datetime
) -> bool:
    """Add an admin; False when they already were one (nothing is written then)."""
    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM admins WHERE user_id = ?", (user_id,)):
            return False
        await tx.execute(
            "INSERT INTO admins (user_id, added_by, added_at) VALUES (?, ?, ?)",
            (user_id, actor_id, to_db_time(now)),
        )
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="admin.add",
            target=str(user_id),
            after={"user_id": user_id},
            at=now,
        )
    return True


async def remove_admin(
    db: Database, visit_id: int, user_id: int, *, actor_id: int, now: dt.datetime
) -> bool:
    """Remove an admin added in the database; False when there was none."""
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT * FROM admins WHERE user_id = ?", (user_id,))
        if row is None:
            return False
        await tx.execute("DELETE FROM admins WHERE user_id = ?", (user_id,))
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="admin.remove",
            target=str(user_id),
            before={"user_id": user_id, "added_by": row["added_by"], "added_at": row["added_at"]},
            at=now,
        )
    return True
