"""Feeds, their health, the entries seen and the stories they form.

The polling job is the only writer of news rows; admins change feeds through `storage.curation`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from storage.db import Database, Tx, from_db_time, to_db_time

FeedOrigin = Literal["default", "env", "admin"]
UNCONFIGURED = "no longer configured"


@dataclass(frozen=True)
class FeedState:
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


def _feed(row: sqlite3.Row) -> FeedState:
    return FeedState(
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


async def all_feeds(db: Database, visit_id: int) -> list[FeedState]:
    rows = await db.fetchall(
        "SELECT * FROM feeds WHERE visit_id = ? AND removed_at IS NULL ORDER BY id", (visit_id,)
    )
    return [_feed(r) for r in rows]


async def due_feeds(db: Database, visit_id: int, now: dt.datetime) -> list[FeedState]:
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


@dataclass(frozen=True)
class NewItem:
    """A feed entry seen for the first time, as detection classified it."""

    feed_id: int
    entry_id: str
    title: str
    link: str | None
    published_at: dt.datetime | None
    lang: str
    relevant: bool
    kind: str
    sectors: tuple[str, ...]
    reason: str
    story_id: int | None


async def insert_items(tx: Tx, items: Sequence[NewItem], now: dt.datetime) -> None:
    """One statement for all new entries: most are irrelevant, and a round trip each to
    SQLite's thread would dominate a poll of a busy feed."""
    stamp = to_db_time(now)
    await tx.executemany(
        "INSERT INTO news_items (feed_id, entry_id, title, link, published_at, lang,"
        " relevant, kind, sectors, reason, story_id, seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i.feed_id,
                i.entry_id,
                i.title,
                i.link,
                to_db_time(i.published_at) if i.published_at else None,
                i.lang,
                int(i.relevant),
                i.kind,
                json.dumps(list(i.sectors)),
                i.reason,
                i.story_id,
                stamp,
            )
            for i in items
        ],
    )


async def known_entry_ids(tx: Tx, feed_id: int, entry_ids: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(entry_ids), 500):
        chunk = entry_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = await tx.fetchall(
            f"SELECT entry_id FROM news_items WHERE feed_id = ? AND entry_id IN ({marks})",
            (feed_id, *chunk),
        )
        known.update(r["entry_id"] for r in rows)
    return known


@dataclass(frozen=True)
class StoryRow:
    id: int
    kind: str
    title: str
    sectors: frozenset[str]
    parties: frozenset[str]
    day: dt.date
    title_terms: frozenset[str]
    first_seen_at: dt.datetime
    review: str


def _story(row: sqlite3.Row) -> StoryRow:
    return StoryRow(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        sectors=frozenset(json.loads(row["sectors"])),
        parties=frozenset(json.loads(row["parties"])),
        day=dt.date.fromisoformat(row["day"]),
        title_terms=frozenset(json.loads(row["title_terms"])),
        first_seen_at=from_db_time(row["first_seen_at"]),
        review=row["review"],
    )


async def recent_stories(
    tx: Tx, visit_id: int, kind: str, around: dt.date, days: int = 2
) -> list[StoryRow]:
    """Stories of `kind` dated within `days` of `around`: the candidates for a merge."""
    rows = await tx.fetchall(
        "SELECT * FROM stories WHERE visit_id = ? AND kind = ? AND day BETWEEN ? AND ?",
        (
            visit_id,
            kind,
            (around - dt.timedelta(days=days)).isoformat(),
            (around + dt.timedelta(days=days)).isoformat(),
        ),
    )
    return [_story(r) for r in rows]


async def create_story(
    tx: Tx,
    visit_id: int,
    *,
    kind: str,
    title: str,
    sectors: frozenset[str],
    parties: frozenset[str],
    day: dt.date,
    title_terms: frozenset[str],
    now: dt.datetime,
) -> int:
    """A new story; signings wait in the review queue, other kinds need no decision."""
    return await tx.execute(
        "INSERT INTO stories (visit_id, kind, title, sectors, parties, day, title_terms,"
        " first_seen_at, review) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            visit_id,
            kind,
            title,
            json.dumps(sorted(sectors)),
            json.dumps(sorted(parties)),
            day.isoformat(),
            json.dumps(sorted(title_terms)),
            to_db_time(now),
            "pending" if kind == "agreement" else "none",
        ),
    )


async def widen_story(
    tx: Tx, story: StoryRow, sectors: frozenset[str], parties: frozenset[str]
) -> None:
    """A merged report adds what it names to the story's sectors and parties."""
    await tx.execute(
        "UPDATE stories SET sectors = ?, parties = ? WHERE id = ?",
        (
            json.dumps(sorted(story.sectors | sectors)),
            json.dumps(sorted(story.parties | parties)),
            story.id,
        ),
    )


async def story(db: Database, story_id: int) -> StoryRow | None:
    row = await db.fetchone("SELECT * FROM stories WHERE id = ?", (story_id,))
    return _story(row) if row else None


async def story_sources(db: Database, story_id: int) -> list[tuple[str, str | None]]:
    """(title, link) of every item reporting the story, first seen first."""
    rows = await db.fetchall(
        "SELECT title, link FROM news_items WHERE story_id = ? ORDER BY seen_at, id", (story_id,)
    )
    return [(r["title"], r["link"]) for r in rows]
