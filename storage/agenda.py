"""Agenda items: the programme of the visit."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

from storage.db import Database, from_db_time


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


async def chat_timezone(db: Database, chat_id: int) -> str | None:
    """The time zone a chat chose for reading times (None: the visit's)."""
    row = await db.fetchone("SELECT timezone FROM chats WHERE chat_id = ?", (chat_id,))
    return str(row["timezone"]) if row is not None and row["timezone"] else None
