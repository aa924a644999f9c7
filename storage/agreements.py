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
        "SELECT * FROM agreements WHERE visit_id = ?"
        " ORDER BY COALESCE(signed_on, '') DESC, id DESC",
        (visit_id,),
    )
    return [_agreement(r) for r in rows]
