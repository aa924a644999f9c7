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
from storage.agenda import edit_agenda_item
from storage.audit import Actor
from storage.db import Database, to_db_time
from storage.programme import Applied, ProgrammeEffect
from storage.visit import load_visit
from storage.visitdata import sync_visit

NOW = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
ANKARA = ZoneInfo("Europe/Istanbul")


async def _story(
    db: Database, visit_id: int, title: str, terms: frozenset[str] = frozenset()
) -> int:
    async with db.transaction() as tx:
        return await stories.create_story(
            tx,
            visit_id,
            kind="agenda",
            title=title,
            sectors=frozenset(),
            parties=frozenset(),
            day=NOW.date(),
            title_terms=terms,
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
            assert await programme.mark_item(tx, talks, "done", story, NOW) == "marked"
            assert await programme.mark_item(tx, talks, "done", story, NOW) == "unchanged"
            assert await programme.mark_item(tx, talks, "underway", story, NOW) == "unchanged"
        # An admin edits the dinner (curated): the feeds leave it to an admin to confirm.
        admin = Actor(900, visit_id, NOW)
        later = dt.datetime(2025, 11, 24, 17, 0, tzinfo=dt.UTC)
        await edit_agenda_item(db, admin, dinner, starts_at=later, time_known=True)
        async with db.transaction() as tx:
            assert await programme.mark_item(tx, dinner, "done", story, NOW) == "curated"
        # An admin's own status (undoing a wrong report) is never overridden either.
        assert await programme.set_status(db, admin, talks, "scheduled")
        async with db.transaction() as tx:
            assert await programme.mark_item(tx, talks, "done", story, NOW) == "curated"
        row = await db.fetchone(
            "SELECT status, status_origin FROM agenda_items WHERE id = ?", (talks,)
        )
        assert row is not None and (row["status"], row["status_origin"]) == ("scheduled", "admin")


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


async def test_a_cancellation_of_a_withdrawn_item_applies_nothing_and_leaves_review(
    tmp_path: Path,
) -> None:
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
        # Nothing applied, and nothing left to decide: it no longer waits in /review.
        assert view is not None and view.review == "dismissed"
        assert await programme.pending_proposals(db, visit_id) == []


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


async def _reported(
    db: Database, visit_id: int, story: int, effect: ProgrammeEffect, *, now: dt.datetime = NOW
) -> int:
    async with db.transaction() as tx:
        await programme.record(tx, visit_id, story, effect, now, lang="en")
        alert = await programme.programme_alert(
            tx,
            visit_id,
            story,
            effect,
            headline="Lee to attend business forum on Tuesday",
            link=f"https://news.example/{story}",
            now=now,
            default_tz=ANKARA,
        )
    assert alert is not None
    return alert


FORUM = ProgrammeEffect("new", None, ("forum",), dt.date(2025, 11, 25), None, True)


async def test_an_edited_confirmation_tells_everyone_and_a_dismissal_recalls_what_waits(
    tmp_path: Path,
) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        await _chat(db, visit_id, 1)
        first = await _story(db, visit_id, "Lee to attend business forum on Tuesday")
        reported = await _reported(db, visit_id, first, FORUM)
        admin = Actor(900, visit_id, NOW)
        corrected = programme.NewItemFields(
            dt.datetime(2025, 11, 25, 10, 0, tzinfo=ANKARA), True, "Business forum", "Ankara"
        )
        result = await programme.decide_proposal(db, admin, first, "confirmed", ANKARA, corrected)
        assert isinstance(result, Applied)
        # The reader told of the headline hears the corrected item; the Reported alert, still
        # waiting, is not sent any more.
        agenda = await db.fetchval(
            "SELECT id FROM alerts WHERE kind = 'agenda' ORDER BY id DESC LIMIT 1"
        )
        assert (
            await db.fetchval(
                "SELECT COUNT(*) FROM deliveries WHERE alert_id = ? AND chat_id = 1", (agenda,)
            )
            == 1
        )
        assert (
            await db.fetchval("SELECT status FROM deliveries WHERE alert_id = ?", (reported,))
            == "dropped"
        )

        second = await _story(db, visit_id, "Lee to attend forum in Istanbul")
        other = ProgrammeEffect("new", None, ("forum",), dt.date(2025, 11, 26), None, True)
        held = await _reported(db, visit_id, second, other)
        assert await programme.decide_proposal(db, admin, second, "dismissed", ANKARA) is True
        assert (
            await db.fetchval("SELECT status FROM deliveries WHERE alert_id = ?", (held,))
            == "dropped"
        )


async def test_merges_keep_distinct_news_apart(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        lunch = int(await db.fetchval("SELECT id FROM agenda_items WHERE key = 'residents'"))
        day = NOW.date()
        to_26 = ProgrammeEffect("moved", lunch, ("lunch",), dt.date(2025, 11, 26))
        to_27 = ProgrammeEffect("moved", lunch, ("lunch",), dt.date(2025, 11, 27))
        first = await _story(db, visit_id, "Lunch moved to the 26th")
        await _reported(db, visit_id, first, to_26)
        forum = await _story(
            db, visit_id, "Lee to attend business forum", frozenset({"attend", "forum"})
        )
        silent = await _story(db, visit_id, "Lee to visit shipyard")
        async with db.transaction() as tx:
            assert await programme.story_for_item(tx, to_26, visit_id, day) == first
            assert await programme.story_for_item(tx, to_27, visit_id, day) is None
            # The same kind of new item on the same day: the same news only when it shares a
            # title word in the same language, or comes in another language.
            await programme.record(tx, visit_id, forum, FORUM, NOW, lang="en")
            terms = frozenset({"business", "forum"})  # "forum" is shared
            assert await programme.story_for_new(tx, FORUM, visit_id, "en", terms) == forum
            assert await programme.story_for_new(tx, FORUM, visit_id, "tr", frozenset()) == forum
            assert (
                await programme.story_for_new(tx, FORUM, visit_id, "en", frozenset({"chp"})) is None
            )
            # Old news a feed's first poll recorded is never a merge target for a proposal.
            yard = ProgrammeEffect("new", None, ("visit",), dt.date(2025, 11, 25), None, True)
            await programme.record(tx, visit_id, silent, yard, NOW, lang="en", review=False)
            assert await programme.story_for_new(tx, yard, visit_id, "tr", frozenset()) is None


async def test_alerts_of_one_poll_share_a_message_under_the_hourly_cap(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        await _chat(db, visit_id, 1)
        stamps = [NOW + dt.timedelta(minutes=m) for m in (0, 10)]
        for index, moment in enumerate(stamps):
            story = await _story(db, visit_id, f"news {index}")
            effect = ProgrammeEffect("new", None, ("forum",), dt.date(2025, 11, 25 + index))
            await _reported(db, visit_id, story, effect, now=moment)
        # A third poll brings two stories at once: one message, the cap's third; both now.
        poll = NOW + dt.timedelta(minutes=20)
        for index in (2, 3):
            story = await _story(db, visit_id, f"news {index}")
            effect = ProgrammeEffect("new", None, (f"kind{index}",), dt.date(2025, 11, 25))
            await _reported(db, visit_id, story, effect, now=poll)
        rows = await db.fetchall("SELECT not_before FROM deliveries WHERE chat_id = 1 ORDER BY id")
        assert [r["not_before"] for r in rows][-2:] == [to_db_time(poll)] * 2
        # A fourth message within the hour waits for the hour after the first.
        story = await _story(db, visit_id, "news 4")
        late = NOW + dt.timedelta(minutes=30)
        await _reported(db, visit_id, story, ProgrammeEffect("new", None, ("x",), None), now=late)
        held = await db.fetchval(
            "SELECT not_before FROM deliveries WHERE chat_id = 1 ORDER BY id DESC LIMIT 1"
        )
        assert held == to_db_time(NOW + dt.timedelta(hours=1))
