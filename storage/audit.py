"""The audit log, and the one way admin changes are written: `audited(db, actor)`.

Every admin change is one transaction that does up to three things together: the change, its
audit record, and (where subscribers must hear of it) its alert in the outbox. `audited` opens
that transaction and yields an `AuditedTx`, a `Tx` whose `log()` writes the audit row for the
actor it was opened for; an alert created with the same `tx` commits with it. Either all of it
happens or none does, so the log can never claim something that was rolled back, nor miss
something that was committed, and a crash can neither lose an alert for a saved entry nor alert
about an entry that was rolled back.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from storage.db import Database, Tx, from_db_time, to_db_time


@dataclass(frozen=True)
class Actor:
    """Who changes something, in which visit, and when: what every audit row records."""

    user_id: int
    visit_id: int
    now: dt.datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_id: int | None
    action: str
    target: str
    before: Any
    after: Any
    at: dt.datetime


def snapshot(row: sqlite3.Row | None) -> dict[str, Any] | None:
    """A row as a JSON-ready dict, for the before and after of an audit record."""
    return None if row is None else {k: row[k] for k in row.keys()}  # noqa: SIM118


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class AuditedTx(Tx):
    """The statements of one admin change, and its audit record."""

    def __init__(self, tx: Tx, actor: Actor) -> None:
        super().__init__(tx._conn)  # the same connection, inside the same BEGIN
        self.actor = actor

    async def log(
        self, action: str, target: str = "", *, before: Any = None, after: Any = None
    ) -> None:
        """Record the change; `before`/`after` are JSON-serialisable snapshots (or None)."""
        await self.execute(
            "INSERT INTO audit_log (visit_id, actor_id, action, target, before, after, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.actor.visit_id,
                self.actor.user_id,
                action,
                target,
                _dump(before),
                _dump(after),
                to_db_time(self.actor.now),
            ),
        )


@asynccontextmanager
async def audited(db: Database, actor: Actor) -> AsyncIterator[AuditedTx]:
    """One admin change: BEGIN IMMEDIATE … COMMIT, with `log()` writing its audit record."""
    async with db.transaction() as tx:
        yield AuditedTx(tx, actor)


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
