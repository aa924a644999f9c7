"""What the news does to stored programme items: marks that only move forward and never over an
admin, proposals decided once however many admins press at the same moment, and confirmations
that spare the chats the Reported alert reached."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from storage import programme, stories
from storage.audit import Actor
from storage.db import Database, to_db_time
from storage.programme import Applied, ProgrammeEffect
from storage.visit import load_visit
from storage.visitdata import sync_visit

NOW = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
ANKARA = ZoneInfo("Europe/Istanbul")


async def _story(db: Database, visit_id: int, title: str) -> int:
    async with db.transaction() as tx:
        return await stories.create_story(
            tx,
            visit_id,
            kind="agenda",
            title=title,
            sectors=frozenset(),
            parties=frozenset(),
            day=NOW.date(),
            title_terms=frozenset(),
            now=NOW,
        )


async def _chat(db: Database, visit_id: int, chat_id: int, *, feed_agenda: bool = True) -> None:
    stamp = to_db_time(NOW)
    await db.execute(
        "INSERT INTO chats (chat_id, type, feed_agenda, created_at, updated_at)"
        " VALUES (?, 'private', ?, ?, ?)",
        (chat_id, int(feed_agenda), stamp, stamp),
    )
    await db.execute(
        "INSERT INTO subscriptions (visit_id, chat_id, wants_agreements, wants_agenda,"
        " created_at, updated_at) VALUES (?, ?, 0, 1, ?, ?)",
        (visit_id, chat_id, stamp, stamp),
    )


async def test_marks_move_forward_only_and_never_over_an_admin(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        talks = int(await db.fetchval("SELECT id FROM agenda_items WHERE key = 'talks'"))
        dinner = int(await db.fetchval("SELECT id FROM agenda_items WHERE key = 'state-dinner'"))
        story = await _story(db, visit_id, "Lee, Erdoğan hold talks")
        async with db.transaction() as tx:
            assert await programme.mark_item(tx, talks, "done", story, NOW)
            assert not await programme.mark_item(tx, talks, "done", story, NOW)  # no change
            assert not await programme.mark_item(tx, talks, "underway", story, NOW)  # backwards
            await tx.execute(
                "UPDATE agenda_items SET status = 'scheduled', status_origin = 'admin'"
                " WHERE id = ?",
                (dinner,),
            )
            assert not await programme.mark_item(tx, dinner, "done", story, NOW)
        row = await db.fetchone(
            "SELECT status, status_origin FROM agenda_items WHERE id = ?", (talks,)
        )
        assert row is not None and (row["status"], row["status_origin"]) == ("done", "feeds")


async def test_a_proposal_is_decided_once_and_its_confirmation_spares_those_told(
    tmp_path: Path,
) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        await _chat(db, visit_id, 1)  # keeps feed-driven alerts: told by the Reported one
        await _chat(db, visit_id, 2, feed_agenda=False)  # hears only the confirmation
        story = await _story(db, visit_id, "Lee to attend business forum on Tuesday")
        effect = ProgrammeEffect("new", None, ("forum",), dt.date(2025, 11, 25), None, True)
        async with db.transaction() as tx:
            await programme.record(tx, visit_id, story, effect, NOW)
            reported = await programme.programme_alert(
                tx,
                visit_id,
                story,
                effect,
                headline="Lee to attend business forum on Tuesday",
                link="https://news.example/f",
                now=NOW,
                default_tz=ANKARA,
            )
        assert reported is not None
        told = await db.fetchall("SELECT chat_id FROM deliveries WHERE alert_id = ?", (reported,))
        assert [r["chat_id"] for r in told] == [1]

        admins = [Actor(900 + n, visit_id, NOW) for n in range(2)]
        results = await asyncio.gather(
            *(programme.decide_proposal(db, a, story, "confirmed", ANKARA) for a in admins)
        )
        applied = [r for r in results if isinstance(r, Applied)]
        assert len(applied) == 1 and results.count(False) == 1
        item_id = applied[0].item_id
        assert (
            await db.fetchval(
                "SELECT COUNT(*) FROM agenda_items WHERE title LIKE '%business forum%'"
            )
            == 1
        )
        confirmation = await db.fetchone(
            "SELECT id, payload FROM alerts WHERE kind = 'agenda' ORDER BY id DESC LIMIT 1"
        )
        assert (
            confirmation is not None and json.loads(confirmation["payload"])["item_id"] == item_id
        )
        heard = await db.fetchall(
            "SELECT chat_id FROM deliveries WHERE alert_id = ?", (confirmation["id"],)
        )
        assert [r["chat_id"] for r in heard] == [2]
        payload = json.loads(
            await db.fetchval("SELECT payload FROM alerts WHERE id = ?", (reported,))
        )
        assert payload["status"] == "confirmed"  # a Reported alert still waiting says so
        assert await programme.decide_proposal(db, admins[0], story, "dismissed", ANKARA) is False


async def test_a_cancellation_of_a_withdrawn_item_applies_nothing(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        wreath = int(await db.fetchval("SELECT id FROM agenda_items WHERE key = 'anitkabir'"))
        story = await _story(db, visit_id, "Lee's visit to Anıtkabir cancelled")
        async with db.transaction() as tx:
            await programme.record(
                tx, visit_id, story, ProgrammeEffect("cancelled", wreath, ("wreath",)), NOW
            )
        await db.execute(
            "UPDATE agenda_items SET deleted_at = ? WHERE id = ?", (to_db_time(NOW), wreath)
        )
        admin = Actor(900, visit_id, NOW)
        assert await programme.decide_proposal(db, admin, story, "confirmed", ANKARA) is False
        view = await programme.proposal(db, visit_id, story)
        assert view is not None and view.review == "pending"  # nothing kept, still decidable
        assert await programme.decide_proposal(db, admin, story, "dismissed", ANKARA) is True


async def test_later_outlets_join_the_sources_of_the_reported_alert(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        arrival = int(await db.fetchval("SELECT id FROM agenda_items WHERE key = 'arrival'"))
        story = await _story(db, visit_id, "Lee arrives in Ankara")
        effect = ProgrammeEffect("done", arrival, ("arrival",))
        async with db.transaction() as tx:
            await programme.record(tx, visit_id, story, effect, NOW)
            alert = await programme.programme_alert(
                tx,
                visit_id,
                story,
                effect,
                headline="Lee arrives in Ankara",
                link="https://one.example/a",
                now=NOW,
                default_tz=ANKARA,
            )
            for link in ("https://two.example/b", "https://two.example/b", None):
                await programme.add_source(tx, story, link)
        payload = json.loads(await db.fetchval("SELECT payload FROM alerts WHERE id = ?", (alert,)))
        assert [s["url"] for s in payload["sources"]] == [
            "https://one.example/a",
            "https://two.example/b",
        ]
        assert payload["sources"][1]["title"] == "two.example"
