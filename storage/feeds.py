"""Feeds: the sources visits are watched through, their health, and admin changes to them.

A feed is one row per URL and serves every visit linked to it (`feed_visits`): it is fetched
once, and each item goes to the visit it is about. A link says how the visit came to the feed
(`default`: its visit file, `env`: FEED_URLS, `admin`) and whether it was removed there (by an
admin, or by leaving the configuration: kept as a mark, so a restart does not bring it back and
its entries stay as the sources of stories). Health and pauses belong to the feed itself.

The polling job records each poll's outcome (`record_success`, `record_failure`); admins add,
remove, pause and resume feeds through the audited writes below.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from storage.audit import Actor, audited
from storage.db import Database, Tx, from_db_time, to_db_time

FeedOrigin = Literal["default", "env", "admin"]
# A feed row with the visits it serves now, and whether any of them trusts it (configured by the
# operator rather than added by an admin: admin feeds must stay on public addresses).
_SELECT = (
    "SELECT f.*, json_group_array(l.visit_id) AS visit_ids,"
    " MAX(l.origin IN ('default', 'env')) AS trusted"
    " FROM feeds f JOIN feed_visits l ON l.feed_id = f.id AND l.removed_at IS NULL"
)


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    title: str
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
    visit_ids: tuple[int, ...] = ()  # the visits it serves
    trusted: bool = False  # configured by the operator for at least one of them


def _time(value: str | None) -> dt.datetime | None:
    return from_db_time(value) if value else None


def _feed(row: sqlite3.Row) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
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
        visit_ids=tuple(sorted(json.loads(row["visit_ids"]))),
        trusted=bool(row["trusted"]),
    )


async def _feed_id(tx: Tx, url: str, now: dt.datetime) -> int:
    await tx.execute(
        "INSERT OR IGNORE INTO feeds (url, created_at) VALUES (?, ?)", (url, to_db_time(now))
    )
    row = await tx.fetchone("SELECT id FROM feeds WHERE url = ?", (url,))
    assert row is not None
    return int(row["id"])


async def _reset_if_unused(tx: Tx, feed_id: int) -> None:
    """A feed that served no visit and serves one again: its first poll fetches for real
    (validators forgotten) and stays silent, so what appeared meanwhile floods nobody."""
    await tx.execute(
        "UPDATE feeds SET first_polled_at = NULL, etag = NULL, last_modified = NULL,"
        " body_hash = NULL, consecutive_failures = 0, first_failure_at = NULL,"
        " next_poll_at = NULL WHERE id = ? AND NOT EXISTS (SELECT 1 FROM feed_visits"
        " WHERE feed_id = ? AND removed_at IS NULL)",
        (feed_id, feed_id),
    )


async def link_feed(
    db: Database, visit_id: int, url: str, origin: FeedOrigin, now: dt.datetime
) -> int:
    """The feed of `url`, linked to one visit (configuration and tests; admins use add_feed)."""
    async with db.transaction() as tx:
        feed_id = await _feed_id(tx, url, now)
        await _reset_if_unused(tx, feed_id)
        await tx.execute(
            "INSERT INTO feed_visits (feed_id, visit_id, origin, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (feed_id, visit_id) DO UPDATE SET removed_at = NULL, removed_by = NULL",
            (feed_id, visit_id, origin, to_db_time(now)),
        )
    return feed_id


async def ensure_feeds(
    db: Database, visit_id: int, urls: Sequence[str], origin: FeedOrigin, now: dt.datetime
) -> None:
    """Make sure a visit's configured feeds are linked to it; feeds already known keep their
    state. Configured links that left the configuration are marked removed, not deleted, and
    a URL that comes back is linked again (an admin's removal stays)."""
    stamp = to_db_time(now)
    async with db.transaction() as tx:
        for url in dict.fromkeys(urls):
            feed_id = await _feed_id(tx, url, now)
            link = await tx.fetchone(
                "SELECT removed_by FROM feed_visits WHERE feed_id = ? AND visit_id = ?",
                (feed_id, visit_id),
            )
            if link is None:
                await _reset_if_unused(tx, feed_id)
                await tx.execute(
                    "INSERT INTO feed_visits (feed_id, visit_id, origin, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (feed_id, visit_id, origin, stamp),
                )
            elif link["removed_by"] == "configuration":
                await _reset_if_unused(tx, feed_id)
                await tx.execute(
                    "UPDATE feed_visits SET removed_at = NULL, removed_by = NULL, origin = ?"
                    " WHERE feed_id = ? AND visit_id = ?",
                    (origin, feed_id, visit_id),
                )
        await tx.execute(
            "UPDATE feed_visits SET removed_at = ?, removed_by = 'configuration'"
            " WHERE visit_id = ? AND origin IN ('default', 'env') AND removed_at IS NULL"
            " AND feed_id NOT IN (SELECT id FROM feeds WHERE url IN"
            " (SELECT value FROM json_each(?)))",
            (stamp, visit_id, json.dumps(list(urls))),
        )


async def due_feeds(db: Database, visit_ids: Sequence[int], now: dt.datetime) -> list[Feed]:
    """Feeds to poll now for the visits news can be about (`visit_ids`), soonest due first;
    each lists only those of its visits."""
    if not visit_ids:
        return []
    rows = await db.fetchall(
        _SELECT + " AND l.visit_id IN (SELECT value FROM json_each(?))"
        " WHERE f.paused = 0 AND (f.next_poll_at IS NULL OR f.next_poll_at <= ?)"
        " GROUP BY f.id ORDER BY f.next_poll_at, f.id",
        (json.dumps(list(visit_ids)), to_db_time(now)),
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
    """The feeds a visit uses, with every visit each serves."""
    rows = await db.fetchall(
        _SELECT + " WHERE f.id IN (SELECT feed_id FROM feed_visits WHERE visit_id = ?"
        " AND removed_at IS NULL) GROUP BY f.id ORDER BY f.id",
        (visit_id,),
    )
    return [_feed(r) for r in rows]


async def find_feed(db: Database, visit_id: int, ref: str) -> Feed | None:
    """A feed the visit uses, by its ID or its exact URL."""
    ref = ref.strip()
    for feed in await list_feeds(db, visit_id):
        if (ref.lstrip("#").isdigit() and feed.id == int(ref.lstrip("#"))) or feed.url == ref:
            return feed
    return None


async def add_feed(db: Database, actor: Actor, url: str, title: str) -> int | None:
    """Link a feed to the admin's visit, due for polling now; None when it already uses it."""
    stamp = to_db_time(actor.now)
    async with audited(db, actor) as tx:
        feed_id = await _feed_id(tx, url, actor.now)
        link = await tx.fetchone(
            "SELECT removed_at FROM feed_visits WHERE feed_id = ? AND visit_id = ?",
            (feed_id, actor.visit_id),
        )
        if link is not None and link["removed_at"] is None:
            return None
        await _reset_if_unused(tx, feed_id)
        await tx.execute(
            "INSERT INTO feed_visits (feed_id, visit_id, origin, created_at)"
            " VALUES (?, ?, 'admin', ?) ON CONFLICT (feed_id, visit_id) DO UPDATE SET"
            " origin = 'admin', removed_at = NULL, removed_by = NULL",
            (feed_id, actor.visit_id, stamp),
        )
        await tx.execute(
            "UPDATE feeds SET title = CASE WHEN title = '' THEN ? ELSE title END, paused = 0,"
            " paused_reason = NULL, next_poll_at = COALESCE(next_poll_at, ?) WHERE id = ?",
            (title, stamp, feed_id),
        )
        await tx.log("feed.add", f"feed:{feed_id}", after={"url": url, "title": title})
        return feed_id


async def remove_feed(db: Database, actor: Actor, feed_id: int) -> bool:
    """The admin's visit no longer uses the feed (other visits may); marked, not deleted."""
    async with audited(db, actor) as tx:
        row = await tx.fetchone(
            "SELECT f.url, f.title, l.origin FROM feed_visits l JOIN feeds f ON f.id = l.feed_id"
            " WHERE l.feed_id = ? AND l.visit_id = ? AND l.removed_at IS NULL",
            (feed_id, actor.visit_id),
        )
        if row is None:
            return False
        await tx.execute(
            "UPDATE feed_visits SET removed_at = ?, removed_by = 'admin'"
            " WHERE feed_id = ? AND visit_id = ?",
            (to_db_time(actor.now), feed_id, actor.visit_id),
        )
        before = {"url": row["url"], "title": row["title"], "origin": row["origin"]}
        await tx.log("feed.delete", f"feed:{feed_id}", before=before)
        return True


async def set_feed_paused(db: Database, actor: Actor, feed_id: int, paused: bool) -> bool:
    """Pause, or resume with a clean slate (failure counters cleared, polled again soon).

    A pause is the feed's: it stops polling for every visit the feed serves.
    """
    async with audited(db, actor) as tx:
        row = await tx.fetchone(
            "SELECT f.* FROM feeds f JOIN feed_visits l ON l.feed_id = f.id"
            " WHERE f.id = ? AND l.visit_id = ? AND l.removed_at IS NULL",
            (feed_id, actor.visit_id),
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
        " MAX(last_success_at) AS last_ok FROM feeds WHERE id IN (SELECT feed_id FROM feed_visits"
        " WHERE visit_id = ? AND removed_at IS NULL)",
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
