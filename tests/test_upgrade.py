"""A database of the release before several visits (schema 5) upgrades in place: subscribers
keep following the Türkiye visit with their settings, admin edits and history intact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import storage.db as db_module
from bot.config import load_settings
from storage.db import Database
from tests.conftest import ADMIN_ID, Clock, running_bot

OLD_SCHEMA = 5
STAMP = "2025-11-20T09:00:00+00:00"
READER, GROUP, SETTER = 4001, -4002, 4003
TURKIYE = "lee-jae-myung-turkiye-2025"


async def old_database(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema 5 with what that release wrote: one visit, feeds keyed by visit, subscribers."""
    every = db_module.migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db_module, "migrations", lambda: [m for m in every if m[0] <= OLD_SCHEMA])
        db = await Database.open(path)
    async with db:
        assert await db.schema_version() == OLD_SCHEMA
        statements = [
            (
                "INSERT INTO visits (id, slug, name, timezone, starts_on, ends_on, content_hash,"
                " loaded_at) VALUES (1, ?, 'State visit to Türkiye', 'Europe/Istanbul',"
                " '2025-11-24', '2025-11-25', 'old-release', ?)",
                (TURKIYE, STAMP),
            ),
            (
                "INSERT INTO chats (chat_id, type, title, language, timezone, quiet_start,"
                " quiet_end, digest_hour, created_at, updated_at)"
                " VALUES (?, 'private', '', 'ko', 'Asia/Seoul', 1320, 420, NULL, ?, ?)",
                (READER, STAMP, STAMP),
            ),
            (
                "INSERT INTO chats (chat_id, type, title, created_at, updated_at, digest_hour)"
                " VALUES (?, 'supergroup', 'Diaspora', ?, ?, 8)",
                (GROUP, STAMP, STAMP),
            ),
            (
                "INSERT INTO users (user_id, language, language_code, first_seen_at,"
                " last_seen_at) VALUES (?, 'tr', 'tr', ?, ?)",
                (SETTER, STAMP, STAMP),
            ),
            (
                "INSERT INTO subscriptions (visit_id, chat_id, wants_agreements, wants_agenda,"
                " set_by, created_at, updated_at) VALUES (1, ?, 1, 0, ?, ?, ?)",
                (READER, READER, STAMP, STAMP),
            ),
            (
                "INSERT INTO subscriptions (visit_id, chat_id, set_by, created_at, updated_at)"
                " VALUES (1, ?, ?, ?, ?)",
                (GROUP, SETTER, STAMP, STAMP),
            ),
            (
                "INSERT INTO feeds (id, visit_id, url, origin, created_at, removed_at, paused,"
                " paused_reason) VALUES (7, 1, 'https://gone.example/rss', 'admin', ?, ?, 1,"
                " 'removed')",
                (STAMP, STAMP),
            ),
            (
                "INSERT INTO feeds (id, visit_id, url, origin, created_at, last_success_at)"
                " VALUES (8, 1, 'https://kept.example/rss', 'admin', ?, ?)",
                (STAMP, STAMP),
            ),
            (
                "INSERT INTO stories (id, visit_id, kind, title, day, first_seen_at, review)"
                " VALUES (5, 1, 'agreement', 'KEPCO signs MoU', '2025-11-24', ?, 'pending')",
                (STAMP,),
            ),
            (
                "INSERT INTO news_items (feed_id, entry_id, title, link, relevant, kind,"
                " story_id, seen_at) VALUES (7, 'e1', 'KEPCO signs MoU', 'https://gone.example/1',"
                " 1, 'agreement', 5, ?)",
                (STAMP,),
            ),
            (
                "INSERT INTO agreements (visit_id, key, title, status, origin, created_at,"
                " updated_at, curated_at) VALUES (1, 'mou-nuclear', 'Nuclear MoU, edited by an"
                " admin', 'confirmed', 'bundled', ?, ?, ?)",
                (STAMP, STAMP, STAMP),
            ),
            (
                "INSERT INTO audit_log (visit_id, actor_id, action, target, at)"
                " VALUES (1, ?, 'agreement.edit', 'agreement:1', ?)",
                (ADMIN_ID, STAMP),
            ),
        ]
        for sql, params in statements:
            await db.execute(sql, params)


async def test_an_old_database_keeps_its_subscribers_settings_and_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "visitbot.db"
    await old_database(path, monkeypatch)
    settings = load_settings(
        environ={"DATABASE_PATH": str(path), "ADMIN_IDS": str(ADMIN_ID), "FEED_URLS": ""},
        dotenv=None,
    )
    assert len(settings.visits) == 2  # this release follows both bundled visits
    clock = Clock(dt.datetime(2025, 11, 24, 9, 0, tzinfo=dt.UTC))
    async with running_bot(settings, clock) as bot:
        svc = bot.services
        db = svc.db
        turkiye = svc.visits.by_slug(TURKIYE)
        assert turkiye is not None and turkiye.id == 1  # the same row, so all it owns
        subs = {
            r["chat_id"]: (r["visit_id"], r["wants_agreements"], r["wants_agenda"], r["set_by"])
            for r in await db.fetchall("SELECT * FROM subscriptions")
        }
        assert subs == {READER: (1, 1, 0, READER), GROUP: (1, 1, 1, SETTER)}
        reader = await db.fetchone("SELECT * FROM chats WHERE chat_id = ?", (READER,))
        assert reader is not None
        assert (reader["language"], reader["timezone"], reader["quiet_start"]) == (
            "ko",
            "Asia/Seoul",
            1320,
        )
        title = await db.fetchval("SELECT title FROM agreements WHERE key = 'mou-nuclear'")
        assert title == "Nuclear MoU, edited by an admin"  # a new visit file does not undo it
        assert await db.fetchval("SELECT COUNT(*) FROM audit_log") >= 1
        links = {
            r["feed_id"]: (r["visit_id"], r["origin"], r["removed_by"])
            for r in await db.fetchall("SELECT * FROM feed_visits")
        }
        assert links[7] == (1, "admin", "admin")  # removed by an admin: stays removed
        assert links[8] == (1, "admin", None)
        assert await db.fetchval("SELECT paused FROM feeds WHERE id = 7") == 0
        item = await db.fetchone("SELECT visit_id, story_id FROM news_items WHERE entry_id = 'e1'")
        assert item is not None and (item["visit_id"], item["story_id"]) == (1, 5)
        # Nobody picked a visit: readers see the live one (Türkiye, on 24 November).
        assert (await svc.current_visit(READER)).id == 1
        # And alerts still reach the old subscribers, in their language.
        bot.standin.add_user(READER, first_name="Reader", language_code="ko")
        [_] = await bot.ask(ADMIN_ID, f"/visit {TURKIYE}")
        await bot.ask(
            ADMIN_ID, "/addagreement Rail MoU | | 2025-11-24 | ministries | https://a.example/r"
        )
        assert svc.delivery is not None
        await svc.delivery.wait_idle()
        [alert] = [m for m in bot.standin.messages_to(READER) if "Rail MoU" in m.text]
        assert "협정" in alert.text or "서명" in alert.text  # Korean, as the reader chose
