"""Stories: one event as reported by one or more feed entries, in any language.

The polling job creates stories and merges new reports into them (`recent_stories` are the
candidates detection compares with); a signing story waits in the review queue
(`storage.review`) until an admin claims it.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass

from storage.audit import Actor
from storage.db import Database, Tx, from_db_time, to_db_time


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


async def claim_story(tx: Tx, actor: Actor, story_id: int, decision: str) -> bool:
    """Move a signing story out of the review queue; False when someone decided it first.

    Race-safe: only the transaction whose UPDATE changed the row (rowcount 1) goes on, so two
    admins pressing Confirm at the same moment create one agreement.
    """
    changed = await tx.execute_rowcount(
        "UPDATE stories SET review = ?, reviewed_by = ?, reviewed_at = ?"
        " WHERE id = ? AND visit_id = ? AND review IN ('pending', 'none')"
        " AND kind = 'agreement'",
        (decision, actor.user_id, to_db_time(actor.now), story_id, actor.visit_id),
    )
    return changed == 1


async def stories_by_kind(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT kind, COUNT(*) AS n FROM stories GROUP BY kind")
    return {str(r["kind"]): int(r["n"]) for r in rows}
