"""Admins added by owners (owners themselves are ADMIN_IDS, never stored)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from storage.audit import Actor, audited
from storage.db import Database, from_db_time, to_db_time


@dataclass(frozen=True)
class AdminRow:
    user_id: int
    added_by: int | None
    added_at: dt.datetime


async def is_listed_admin(db: Database, user_id: int) -> bool:
    """An admin an owner added (owners themselves come from ADMIN_IDS, not the database)."""
    return await db.fetchone("SELECT 1 FROM admins WHERE user_id = ?", (user_id,)) is not None


async def admin_user_ids(db: Database) -> set[int]:
    return {int(r["user_id"]) for r in await db.fetchall("SELECT user_id FROM admins")}


async def list_admins(db: Database) -> list[AdminRow]:
    rows = await db.fetchall("SELECT * FROM admins ORDER BY added_at, user_id")
    return [AdminRow(r["user_id"], r["added_by"], from_db_time(r["added_at"])) for r in rows]


async def add_admin(db: Database, actor: Actor, user_id: int) -> bool:
    """Add an admin; False when they already were one (nothing is written then)."""
    async with audited(db, actor) as tx:
        if await tx.fetchone("SELECT 1 FROM admins WHERE user_id = ?", (user_id,)):
            return False
        await tx.execute(
            "INSERT INTO admins (user_id, added_by, added_at) VALUES (?, ?, ?)",
            (user_id, actor.user_id, to_db_time(actor.now)),
        )
        await tx.log("admin.add", str(user_id), after={"user_id": user_id})
    return True


async def remove_admin(db: Database, actor: Actor, user_id: int) -> bool:
    """Remove an admin added in the database; False when there was none."""
    async with audited(db, actor) as tx:
        row = await tx.fetchone("SELECT * FROM admins WHERE user_id = ?", (user_id,))
        if row is None:
            return False
        await tx.execute("DELETE FROM admins WHERE user_id = ?", (user_id,))
        before = {"user_id": user_id, "added_by": row["added_by"], "added_at": row["added_at"]}
        await tx.log("admin.remove", str(user_id), before=before)
    return True
