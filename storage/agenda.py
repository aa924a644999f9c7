"""Agenda items: the programme of the visit, and the admin changes that alert its subscribers."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from storage.alerts import create_alert
from storage.audit import Actor, AuditedTx, audited, snapshot
from storage.db import Database, Reader, from_db_time, to_db_time


@dataclass(frozen=True)
class AgendaItem:
    id: int
    starts_at: dt.datetime
    time_known: bool
    titles: dict[str, str]
    places: dict[str, str]
    source_title: str
    source_url: str | None
    visit_id: int = 0
    # How the news names it (the visit file's `events` and `match`), and what the news said
    # of it: 'underway' or 'done' as reported by a story (origin 'feeds'), or set by an admin.
    events: tuple[str, ...] = ()
    match: dict[str, tuple[str, ...]] = field(default_factory=dict)
    status: str = "scheduled"
    status_origin: str | None = None
    status_story_id: int | None = None
    key: str | None = None

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
        visit_id=int(row["visit_id"]),
        events=tuple(json.loads(row["events"])),
        match={k: tuple(v) for k, v in json.loads(row["match"]).items()},
        status=row["status"],
        status_origin=row["status_origin"],
        status_story_id=row["status_story_id"],
        key=row["key"],
    )


async def agenda_items(db: Reader, visit_id: int) -> list[AgendaItem]:
    rows = await db.fetchall(
        "SELECT * FROM agenda_items WHERE visit_id = ? AND deleted_at IS NULL"
        " ORDER BY starts_at, id",
        (visit_id,),
    )
    return [_item(r) for r in rows]


async def agenda_item(db: Reader, item_id: int) -> AgendaItem | None:
    """One item of any visit, unless it was withdrawn."""
    row = await db.fetchone(
        "SELECT * FROM agenda_items WHERE id = ? AND deleted_at IS NULL", (item_id,)
    )
    return None if row is None else _item(row)


async def items_to_remind(
    db: Database, visit_ids: Sequence[int], now: dt.datetime
) -> list[tuple[int, dt.datetime]]:
    """(id, start) of the visits' timed items still ahead whose reminder was not created yet."""
    rows = await db.fetchall(
        "SELECT id, starts_at FROM agenda_items WHERE deleted_at IS NULL"
        " AND visit_id IN (SELECT value FROM json_each(?))"
        " AND time_known = 1 AND starts_at > ? AND NOT EXISTS (SELECT 1 FROM alerts"
        " WHERE dedupe_key = 'reminder:' || agenda_items.id || ':' || agenda_items.starts_at)",
        (json.dumps(list(visit_ids)), to_db_time(now)),
    )
    return [(int(r["id"]), from_db_time(str(r["starts_at"]))) for r in rows]


async def chat_timezone(db: Database, chat_id: int) -> str | None:
    """The time zone a chat chose for reading times (None: the visit's)."""
    row = await db.fetchone("SELECT timezone FROM chats WHERE chat_id = ?", (chat_id,))
    return str(row["timezone"]) if row is not None and row["timezone"] else None


# --- admin writes ------------------------------------------------------------------------------

AgendaChange = Literal["new", "changed", "deleted"]
_ACTIONS: dict[AgendaChange, str] = {
    "new": "agenda.add",
    "changed": "agenda.edit",
    "deleted": "agenda.delete",
}


def agenda_payload(row: sqlite3.Row, change: AgendaChange) -> dict[str, Any]:
    """The alert payload of an agenda change (shape documented in `storage.alerts`)."""
    return {
        "item_id": row["id"],
        "change": change,
        "starts_at": row["starts_at"],
        "time_known": bool(row["time_known"]),
        "title": json.loads(row["title"]),
        "place": json.loads(row["place"]),
    }


async def _changed(
    tx: AuditedTx,
    item_id: int,
    change: AgendaChange,
    *,
    before: sqlite3.Row | None,
    after: sqlite3.Row | None,
    told: int | None = None,
) -> None:
    """Every agenda change is audited and alerted in the transaction that makes it; chats that
    were `told` by an earlier alert (the feeds reported it) are not told again."""
    await tx.log(
        _ACTIONS[change], f"agenda:{item_id}", before=snapshot(before), after=snapshot(after)
    )
    shown = after if after is not None else before
    assert shown is not None
    await create_alert(
        tx,
        visit_id=tx.actor.visit_id,
        kind="agenda",
        payload=agenda_payload(shown, change),
        created_by=tx.actor.user_id,
        now=tx.actor.now,
        spare_recipients_of=told,
    )


async def _current_item(tx: AuditedTx, item_id: int) -> sqlite3.Row | None:
    """The actor's visit's item as it stands, unless it was withdrawn."""
    return await tx.fetchone(
        "SELECT * FROM agenda_items WHERE id = ? AND visit_id = ? AND deleted_at IS NULL",
        (item_id, tx.actor.visit_id),
    )


async def insert_item(
    tx: AuditedTx,
    *,
    starts_at: dt.datetime,
    time_known: bool,
    title: str,
    place: str,
    told: int | None = None,
) -> int:
    """Add an item (English text as typed) and raise a 'new' agenda alert."""
    actor = tx.actor
    stamp = to_db_time(actor.now)
    item_id = await tx.execute(
        "INSERT INTO agenda_items (visit_id, starts_at, time_known, title, place, origin,"
        " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'admin', ?, ?, ?)",
        (
            actor.visit_id,
            to_db_time(starts_at),
            int(time_known),
            json.dumps({"en": title}, ensure_ascii=False),
            json.dumps({"en": place} if place else {}, ensure_ascii=False),
            actor.user_id,
            stamp,
            stamp,
        ),
    )
    row = await tx.fetchone("SELECT * FROM agenda_items WHERE id = ?", (item_id,))
    await _changed(tx, item_id, "new", before=None, after=row, told=told)
    return item_id


async def update_item(
    tx: AuditedTx,
    item_id: int,
    *,
    starts_at: dt.datetime | None = None,
    time_known: bool | None = None,
    title: str | None = None,
    place: str | None = None,
    told: int | None = None,
) -> dict[str, Any] | None:
    """Change an item's time, title or place (English) and raise a 'changed' agenda alert."""
    row = await _current_item(tx, item_id)
    if row is None:
        return None
    titles = json.loads(row["title"])
    places = json.loads(row["place"])
    if title is not None:
        titles = {"en": title}  # other languages would now be stale
    if place is not None:
        places = {"en": place} if place else {}
    stamp = to_db_time(tx.actor.now)
    await tx.execute(
        "UPDATE agenda_items SET starts_at = ?, time_known = ?, title = ?, place = ?,"
        " updated_at = ?, curated_at = ? WHERE id = ?",
        (
            to_db_time(starts_at) if starts_at else row["starts_at"],
            int(time_known) if time_known is not None else row["time_known"],
            json.dumps(titles, ensure_ascii=False),
            json.dumps(places, ensure_ascii=False),
            stamp,
            stamp,
            item_id,
        ),
    )
    after = await tx.fetchone("SELECT * FROM agenda_items WHERE id = ?", (item_id,))
    assert after is not None
    await _changed(tx, item_id, "changed", before=row, after=after, told=told)
    return snapshot(after)


async def withdraw_item(
    tx: AuditedTx, item_id: int, *, told: int | None = None
) -> dict[str, Any] | None:
    """Withdraw an item (kept, marked deleted, so the bundled sync does not bring it back)."""
    row = await _current_item(tx, item_id)
    if row is None:
        return None
    stamp = to_db_time(tx.actor.now)
    await tx.execute(
        "UPDATE agenda_items SET deleted_at = ?, updated_at = ? WHERE id = ?",
        (stamp, stamp, item_id),
    )
    await _changed(tx, item_id, "deleted", before=row, after=None, told=told)
    return snapshot(row)


async def add_agenda_item(
    db: Database,
    actor: Actor,
    *,
    starts_at: dt.datetime,
    time_known: bool,
    title: str,
    place: str,
) -> int:
    """Add an item (English text as typed) and raise a 'new' agenda alert."""
    async with audited(db, actor) as tx:
        return await insert_item(
            tx, starts_at=starts_at, time_known=time_known, title=title, place=place
        )


async def edit_agenda_item(
    db: Database,
    actor: Actor,
    item_id: int,
    *,
    starts_at: dt.datetime | None = None,
    time_known: bool | None = None,
    title: str | None = None,
    place: str | None = None,
) -> dict[str, Any] | None:
    """Change an item's time, title or place (English) and raise a 'changed' agenda alert."""
    async with audited(db, actor) as tx:
        return await update_item(
            tx, item_id, starts_at=starts_at, time_known=time_known, title=title, place=place
        )


async def delete_agenda_item(db: Database, actor: Actor, item_id: int) -> dict[str, Any] | None:
    """Withdraw an item (kept, marked deleted, so the bundled sync does not bring it back)."""
    async with audited(db, actor) as tx:
        return await withdraw_item(tx, item_id)
