"""Agenda items: the programme of the visit."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

from storage.db import Database, from_db_time, to_db_time


@dataclass(frozen=True)
class AgendaItem:
    id: int
    starts_at: dt.datetime
    time_known: bool
    titles: dict[str, str]
    places: dict[str, str]
    source_title: str
    source_url: str | None

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles.get("en") or ""

    def place(self, lang: str) -> str:
        return self.places.get(lang) or self.places.get("en") or ""


def _item(row: sqlite3.Row) -> AgendaItem:
    return AgendaItem(
        id=row["id"],
        starts_at=from_db_time(row["starts_at"]),
        time_known=bool(row["time_known"]),
        titles=json.loads(row["title"]),
        places=json.loads(row["place"]),
        source_title=row["source_title"],
        source_url=row["source_url"],
    )


async def agenda_items(db: Database, visit_id: int) -> list[AgendaItem]:
    rows = await db.fetchall(
        "SELECT * FROM agenda_items WHERE visit_id = ? AND deleted_at IS NULL"
        " ORDER BY starts_at, id",
        (visit_id,),
    )
    return [_item(r) for r in rows]


async def agenda_item(db: Database, item_id: int) -> AgendaItem | None:
    """One item of any visit, unless it was withdrawn."""
    row = await db.fetchone(
        "SELECT * FROM agenda_items WHERE id = ? AND deleted_at IS NULL", (item_id,)
    )
    return None if row is None else _item(row)


async def items_to_remind(
    db: Database, visit_id: int, now: dt.datetime
) -> list[tuple[int, dt.datetime]]:
    """(id, start) of the visit's timed items still ahead whose reminder was not created yet."""
    rows = await db.fetchall(
        "SELECT id, starts_at FROM agenda_items WHERE visit_id = ? AND deleted_at IS NULL"
        " AND time_known = 1 AND starts_at > ? AND NOT EXISTS (SELECT 1 FROM alerts"
        " WHERE dedupe_key = 'reminder:' || agenda_items.id || ':' || agenda_items.starts_at)",
        (visit_id, to_db_time(now)),
    )
    return [(int(r["id"]), from_db_time(str(r["starts_at"]))) for r in rows]


async def chat_timezone(db: Database, chat_id: int) -> str | None:
    """The time zone a chat chose for reading times (None: the visit's)."""
    row = await db.fetchone("SELECT timezone FROM chats WHERE chat_id = ?", (chat_id,))
    return str(row["timezone"]) if row is not None and row["timezone"] else None
