"""Curation in storage: alerts are never lost to reused ids, and admin work survives a new
release of the visit file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from storage.agenda import edit_agenda_item
from storage.agreements import AgreementFields, delete_agreement, edit_agreement, save_agreement
from storage.audit import Actor
from storage.db import Database
from storage.visit import load_visit
from storage.visitdata import sync_visit

NOW = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
BUNDLED = Path(__file__).resolve().parents[1] / "storage/visits/lee-jae-myung-turkiye-2025.toml"


async def test_an_agreement_saved_after_a_delete_still_alerts(tmp_path: Path) -> None:
    """SQLite reuses the highest rowid after a delete; the alert must not be deduplicated away."""
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        admin = Actor(1, visit_id, NOW)
        first = await save_agreement(db, admin, AgreementFields("First MoU"))
        assert await delete_agreement(db, admin, first.agreement_id)
        second = await save_agreement(db, admin, AgreementFields("Second MoU"))
        assert second.agreement_id == first.agreement_id  # the id was reused
        titles = [
            r["payload"]
            for r in await db.fetchall("SELECT payload FROM alerts WHERE kind = 'agreement'")
        ]
        assert len(titles) == 2 and "Second MoU" in titles[1]


async def test_a_new_visit_file_keeps_what_admins_changed(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        nuclear = await db.fetchval("SELECT id FROM agreements WHERE key = 'mou-nuclear'")
        roads = await db.fetchval("SELECT id FROM agreements WHERE key = 'mou-roads-ppp'")
        talks = await db.fetchval("SELECT id FROM agenda_items WHERE key = 'talks'")
        wreath = await db.fetchval("SELECT id FROM agenda_items WHERE key = 'wreath'")
        admin = Actor(1, visit_id, NOW)
        await edit_agreement(db, admin, nuclear, "title", "Nuclear MoU (edited)")
        await delete_agreement(db, admin, roads)
        moved = dt.datetime(2025, 11, 24, 7, 30, tzinfo=dt.UTC)
        await edit_agenda_item(db, admin, talks, starts_at=moved, time_known=True)

        release = tmp_path / "visit.toml"  # a new release: every bundled title reworded
        release.write_text(
            BUNDLED.read_text(encoding="utf-8")
            .replace('title = "MoU on', 'title = "Memorandum on')
            .replace("Wreath-laying at", "Laying a wreath at"),
            encoding="utf-8",
        )
        assert await sync_visit(db, load_visit(release)) == visit_id

        titles = {
            r["key"]: r["title"]
            for r in await db.fetchall(
                "SELECT key, title FROM agreements WHERE deleted_at IS NULL AND key IS NOT NULL"
            )
        }
        assert titles["mou-nuclear"] == "Nuclear MoU (edited)"  # the admin's edit stays
        assert "mou-roads-ppp" not in titles  # the deletion stays
        assert titles["mou-korean-war"].startswith("Memorandum on")  # untouched rows follow
        talks_at = await db.fetchval("SELECT starts_at FROM agenda_items WHERE id = ?", (talks,))
        assert talks_at == "2025-11-24T07:30:00+00:00"
        wreath_title = await db.fetchval("SELECT title FROM agenda_items WHERE id = ?", (wreath,))
        assert "Laying a wreath" in wreath_title
