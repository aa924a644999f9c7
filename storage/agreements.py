"""The agreement registry: documents signed during the visit, confirmed or as reported."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class Agreement:
    id: int
    title: str
    sector: str
    signed_on: str | None
    parties: str
    source_title: str
    source_url: str | None
    status: str  # 'confirmed' | 'reported'


def _agreement(row: sqlite3.Row) -> Agreement:
    return Agreement(
        id=row["id"],
        title=row["title"],
        sector=row["sector"],
        signed_on=row["signed_on"],
        parties=row["parties"],
        source_title=row["source_title"],
        source_url=row["source_url"],
        status=row["status"],
    )


async def list_agreements(db: Database, visit_id: int) -> list[Agreement]:
    """Newest first: by signing date, then by entry."""
    rows = await db.fetchall(
        "SELECT * FROM agreements WHERE visit_id = ? AND deleted_at IS NULL"
        " ORDER BY COALESCE(signed_on, '') DESC, id DESC",
        (visit_id,),
    )
    return [_agreement(r) for r in rows]


async def story_sources(
    db: Database, story_ids: list[int], limit: int = 3
) -> dict[int, list[tuple[str, str]]]:
    """Feed items (title, link) of the stories entries are linked to, oldest first."""
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
        if len(items) < limit and all(link != row["link"] for _, link in items):
            items.append((row["title"], row["link"]))
    return found


async def story_ids(db: Database, agreement_ids: list[int]) -> dict[int, int]:
    """agreement id -> linked story id, for the entries that have one."""
    if not agreement_ids:
        return {}
    marks = ",".join("?" * len(agreement_ids))
    rows = await db.fetchall(
        f"SELECT id, story_id FROM agreements WHERE id IN ({marks}) AND story_id IS NOT NULL",
        tuple(agreement_ids),
    )
    return {int(r["id"]): int(r["story_id"]) for r in rows}
