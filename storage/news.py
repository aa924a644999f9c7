"""Feed entries: every entry ever seen, relevant or not, so nothing is processed twice.

The polling job is the only writer; readers use the entries as the sources of stories.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Reader, Tx, to_db_time


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
    visit_id: int | None = None  # the visit it counts for; None: about none of them


async def insert_items(tx: Tx, items: Sequence[NewItem], now: dt.datetime) -> None:
    """One statement for all new entries: most are irrelevant, and a round trip each to
    SQLite's thread would dominate a poll of a busy feed."""
    stamp = to_db_time(now)
    await tx.executemany(
        "INSERT INTO news_items (feed_id, entry_id, title, link, published_at, lang,"
        " relevant, kind, sectors, reason, story_id, visit_id, seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                i.visit_id,
                stamp,
            )
            for i in items
        ],
    )


async def known_entry_ids(db: Reader, feed_id: int, entry_ids: list[str]) -> set[str]:
    """The entries of the feed recorded already, of those given."""
    known: set[str] = set()
    for start in range(0, len(entry_ids), 500):
        chunk = entry_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            f"SELECT entry_id FROM news_items WHERE feed_id = ? AND entry_id IN ({marks})",
            (feed_id, *chunk),
        )
        known.update(r["entry_id"] for r in rows)
    return known


async def story_sources(
    db: Reader, story_ids: Sequence[int], limit: int = 5
) -> dict[int, list[tuple[str, str]]]:
    """(title, link) of the entries reporting each story, earliest published first, at most
    `limit` per story, each link once: the sources shown with stories and agreements."""
    if not story_ids:
        return {}
    marks = ",".join("?" * len(story_ids))
    rows = await db.fetchall(
        f"SELECT story_id, title, link FROM news_items WHERE story_id IN ({marks})"
        " AND link IS NOT NULL ORDER BY COALESCE(published_at, seen_at), id",
        tuple(story_ids),
    )
    found: dict[int, list[tuple[str, str]]] = {}
    for row in rows:
        items = found.setdefault(int(row["story_id"]), [])
        if len(items) < limit and all(row["link"] != link for _, link in items):
            items.append((row["title"], row["link"]))
    return found
