"""Feeds: the configured and admin-added sources, their health, and admin changes to them.

The polling job records each poll's outcome (`record_success`, `record_failure`); admins add,
remove, pause and resume feeds through the audited writes below.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Literal

from storage.audit import Actor, audited
from storage.db import Database, Tx, from_db_time, to_db_time

FeedOrigin = Literal["default", "env", "admin"]
UNCONFIGURED = "no longer configured"


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    title: str
    origin: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    first_polled_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_error_at: dt.datetime | None
    last_error: str | None
    first_failure_at: dt.datetime | None
    consecutive_failures: int
    next_poll_at: dt.datetime | None
    paused: bool
    paused_reason: str | None


def _time(value: str | None) -> dt.datetime | None:
    return from_db_time(value) if value else None


def _feed(row: sqlite3.Row) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        origin=row["origin"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        body_hash=row["body_hash"],
        first_polled_at=_time(row["first_polled_at"]),
        last_success_at=_time(row["last_success_at"]),
        last_error_at=_time(row["last_error_at"]),
        last_error=row["last_error"],
        first_failure_at=_time(row["first_failure_at"]),
        consecutive_failures=row["consecutive_failures"],
        next_poll_at=_time(row["next_poll_at"]),
        paused=bool(row["paused"]),
        paused_reason=row["paused_reason"],
    )


async def ensure_feeds(
    db: Database, visit_id: int, urls: tuple[str, ...], origin: FeedOrigin, now: dt.datetime
) -> None:
    """Make sure the configured feeds exist; feeds already known keep their state.

    Configured feeds that left the configuration are paused, not deleted: their entries stay
    as sources of stories, and coming back later resumes them without a flood.
    """
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT OR IGNORE INTO feeds (visit_id, url, origin, created_at) VALUES (?, ?, ?, ?)",
            [(visit_id, url, origin, to_db_time(now)) for url in urls],
        )
        marks = ",".join("?" * len(urls)) or "NULL"
        await tx.execute(
            f"UPDATE feeds SET paused = 1, paused_reason = '{UNCONFIGURED}' WHERE visit_id = ?"
            f" AND origin IN ('default', 'env') AND removed_at IS NULL AND url NOT IN ({marks})",
            (visit_id, *urls),
        )
        await tx.execute(
            # Back in the configuration: forget the validators so the first poll really
            # fetches, and keep it silent, so what appeared meanwhile does not flood anyone.
            f"UPDATE feeds SET paused = 0, paused_reason = NULL, first_polled_at = NULL,"
            f" etag = NULL, last_modified = NULL, body_hash = NULL WHERE visit_id = ?"
            f" AND paused_reason = '{UNCONFIGURED}' AND removed_at IS NULL AND url IN ({marks})",
            (visit_id, *urls),
        )


async def due_feeds(db: Database, visit_id: int, now: dt.datetime) -> list[Feed]:
    rows = await db.fetchall(
        "SELECT * FROM feeds WHERE visit_id = ? AND paused = 0 AND removed_at IS NULL"
        " AND (next_poll_at IS NULL OR next_poll_at <= ?) ORDER BY next_poll_at, id",
        (visit_id, to_db_time(now)),
    )
    return [_feed(r) for r in rows]


async def record_success(
    tx: Tx,
    feed_id: int,
    *,
    now: dt.datetime,
    next_poll_at: dt.datetime,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    title: str | None,
) -> None:
    stamp = to_db_time(now)
    await tx.execute(
        "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?,"
        " title = COALESCE(?, title), first_polled_at = COALESCE(first_polled_at, ?),"
        " last_polled_at = ?, last_success_at = ?, consecutive_failures = 0,"
        " first_failure_at = NULL, next_poll_at = ? WHERE id = ?",
        (
            etag,
            last_modified,
            body_hash,
            title,
            stamp,
            stamp,
            stamp,
            to_db_time(next_poll_at),
            feed_id,
        ),
    )


async def record_failure(
    db: Database,
    feed_id: int,
    *,
    now: dt.datetime,
    reason: str,
    next_poll_at: dt.datetime,
    pause: bool,
) -> None:
    stamp = to_db_time(now)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE feeds SET last_polled_at = ?, last_error_at = ?, last_error = ?,"
            " consecutive_failures = consecutive_failures + 1,"
            " first_failure_at = COALESCE(first_failure_at, ?), next_poll_at = ?,"
            " paused = CASE WHEN ? THEN 1 ELSE paused END,"
            " paused_reason = CASE WHEN ? THEN ? ELSE paused_reason END WHERE id = ?",
            (
                stamp,
                stamp,
                reason[:500],
                stamp,
                to_db_time(next_poll_at),
                pause,
                pause,
                reason[:500],
                feed_id,
            ),
        )


async def list_feeds(db: Database, visit_id: int) -> list[Feed]:
    rows = await db.fetchall(
        "SELECT * FROM feeds WHERE visit_id = ? AND removed_at IS NULL ORDER BY id", (visit_id,)
    )
    return [_feed(r) for r in rows]


async def find_feed(db: Database, visit_id: int, ref: str) -> Feed | None:
    """A feed by its ID or its exact URL."""
    ref = ref.strip()
    if ref.lstrip("#").isdigit():
        row = await db.fetchone(
            "SELECT * FROM feeds WHERE visit_id = ? AND id = ? AND removed_at IS NULL",
            (visit_id, int(ref.lstrip("#"))),
        )
    else:
        row = await db.fetchone(
            "SELECT * FROM feeds WHERE visit_id = ? AND url = ? AND removed_at IS NULL",
            (visit_id, ref),
        )
    return None if row is None else _feed(row)


async def add_feed(db: Database, actor: Actor, url: str, title: str) -> int | None:
    """Add an admin feed, due for polling now; None when the URL is already watched."""
    stamp = to_db_time(actor.now)
    async with audited(db, actor) as tx:
        existing = await tx.fetchone(
            "SELECT id, removed_at FROM feeds WHERE visit_id = ? AND url = ?",
            (actor.visit_id, url),
        )
        if existing is not None and existing["removed_at"] is None:
            return None
        if existing is not None:
            # Added again after removal: its first poll is silent again, like any new feed.
            feed_id = int(existing["id"])
            await tx.execute(
                "UPDATE feeds SET removed_at = NULL, paused = 0, paused_reason = NULL,"
                " origin = 'admin', title = ?, first_polled_at = NULL, consecutive_failures = 0,"
                " first_failure_at = NULL, next_poll_at = ?,"
                " etag = NULL, last_modified = NULL, body_hash = NULL WHERE id = ?",
                (title, stamp, feed_id),
            )
        else:
            feed_id = await tx.execute(
                "INSERT INTO feeds (visit_id, url, title, origin, next_poll_at, created_at)"
                " VALUES (?, ?, ?, 'admin', ?, ?)",
                (actor.visit_id, url, title, stamp, stamp),
            )
        await tx.log("feed.add", f"feed:{feed_id}", after={"url": url, "title": title})
        return feed_id


async def remove_feed(db: Database, actor: Actor, feed_id: int) -> bool:
    """No longer polled or listed; marked, not deleted (see migration 0002)."""
    async with audited(db, actor) as tx:
        row = await tx.fetchone(
            "SELECT * FROM feeds WHERE id = ? AND visit_id = ? AND removed_at IS NULL",
            (feed_id, actor.visit_id),
        )
        if row is None:
            return False
        await tx.execute(
            "UPDATE feeds SET removed_at = ?, paused = 1, paused_reason = 'removed' WHERE id = ?",
            (to_db_time(actor.now), feed_id),
        )
        before = {"url": row["url"], "title": row["title"], "origin": row["origin"]}
        await tx.log("feed.delete", f"feed:{feed_id}", before=before)
        return True


async def set_feed_paused(db: Database, actor: Actor, feed_id: int, paused: bool) -> bool:
    """Pause, or resume with a clean slate (failure counters cleared, polled again soon)."""
    async with audited(db, actor) as tx:
        row = await tx.fetchone(
            "SELECT * FROM feeds WHERE id = ? AND visit_id = ?", (feed_id, actor.visit_id)
        )
        if row is None:
            return False
        if paused:
            await tx.execute(
                "UPDATE feeds SET paused = 1, paused_reason = 'admin' WHERE id = ?", (feed_id,)
            )
        else:
            await tx.execute(
                "UPDATE feeds SET paused = 0, paused_reason = NULL, consecutive_failures = 0,"
                " first_failure_at = NULL, next_poll_at = ? WHERE id = ?",
                (to_db_time(actor.now), feed_id),
            )
        await tx.log(
            "feed.pause" if paused else "feed.resume",
            f"feed:{feed_id}",
            before={"paused": bool(row["paused"]), "failures": row["consecutive_failures"]},
            after={"paused": paused},
        )
        return True


async def last_feed_success(db: Database) -> dt.datetime | None:
    """The latest successful poll of any feed (health and metrics)."""
    return _time(await db.fetchval("SELECT MAX(last_success_at) FROM feeds"))


@dataclass(frozen=True)
class FeedHealth:
    total: int
    failing: int
    paused: int
    last_success: dt.datetime | None


async def feed_health(db: Database, visit_id: int) -> FeedHealth:
    """How a visit's feeds are doing, for /stats."""
    row = await db.fetchone(
        "SELECT COUNT(*) AS total, SUM(paused = 1) AS paused,"
        " SUM(consecutive_failures > 0 AND paused = 0) AS failing,"
        " MAX(last_success_at) AS last_ok FROM feeds WHERE visit_id = ? AND removed_at IS NULL",
        (visit_id,),
    )
    if row is None:
        return FeedHealth(0, 0, 0, None)
    return FeedHealth(
        total=int(row["total"] or 0),
        failing=int(row["failing"] or 0),
        paused=int(row["paused"] or 0),
        last_success=_time(row["last_ok"]),
    )
