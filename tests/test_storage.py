"""Storage: migrations, idempotent visit loading, folded search in three languages."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import storage.db as dbmod
from storage import facts as fact_store
from storage.db import Database, DatabaseError, migrations
from storage.visit import VisitFileError, load_visit
from storage.visitdata import sync_visit

BUNDLED = Path(__file__).resolve().parents[1] / "storage/visits/lee-jae-myung-turkiye-2025.toml"


async def test_migrations_from_empty_and_rerun(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    async with await Database.open(path) as db:
        assert await db.schema_version() == migrations()[-1][0]
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        assert await db.fetchval("PRAGMA foreign_keys") == 1
    async with await Database.open(path, migrate=False) as db:
        assert await db.migrate() == []  # starting twice is a no-op
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master")}
    for table in (
        "facts",
        "agenda_items",
        "agreements",
        "subscriptions",
        "feeds",
        "news_items",
        "stories",
        "alerts",
        "deliveries",
        "audit_log",
        "admins",
        "users",
        "chats",
    ):
        assert table in tables


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    async with await Database.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 'x')")
    with pytest.raises(DatabaseError, match="newer than this visitbot knows"):
        await Database.open(path)


async def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = dbmod.migrations()
    broken = [
        *real,
        (real[-1][0] + 1, "9999_broken.sql", "CREATE TABLE ok (x); SELECT * FROM nope;"),
    ]
    monkeypatch.setattr(dbmod, "migrations", lambda: broken)
    with pytest.raises(DatabaseError, match="9999_broken"):
        await Database.open(tmp_path / "v.db")
    monkeypatch.setattr(dbmod, "migrations", lambda: real)
    async with await Database.open(tmp_path / "v.db") as db:
        assert await db.fetchval("SELECT COUNT(*) FROM sqlite_master WHERE name = 'ok'") == 0
        assert await db.schema_version() == real[-1][0]


async def test_visit_loading_is_idempotent(tmp_path: Path) -> None:
    visit = load_visit()
    async with await Database.open(tmp_path / "v.db") as db:
        first = await sync_visit(db, visit)
        counts = [
            await db.fetchval(f"SELECT COUNT(*) FROM {t}")
            for t in ("facts", "facts_fts", "agenda_items", "agreements", "topics")
        ]
        assert await sync_visit(db, visit) == first
        again = [
            await db.fetchval(f"SELECT COUNT(*) FROM {t}")
            for t in ("facts", "facts_fts", "agenda_items", "agreements", "topics")
        ]
    assert counts == again
    assert counts[0] == counts[1] == sum(len(f.text.values) for f in visit.facts)


async def test_changed_visit_file_updates_facts(tmp_path: Path) -> None:
    text = BUNDLED.read_text(encoding="utf-8")
    changed = tmp_path / "visit.toml"
    changed.write_text(
        text.replace(
            "721 Turkish soldiers were killed in combat in the Korean War.",
            "Seven hundred and twenty-one Turkish soldiers were killed in the Korean War.",
        ),
        encoding="utf-8",
    )
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        assert await sync_visit(db, load_visit(changed)) == visit_id
        found = await fact_store.search_facts(db, visit_id, "twenty-one", "en")
        assert [f.key for f in found] == ["war-killed"]
        assert await db.fetchval("SELECT COUNT(*) FROM facts WHERE text LIKE '721 Turkish%'") == 0
        assert await db.fetchval("SELECT COUNT(*) FROM facts") == await db.fetchval(
            "SELECT COUNT(*) FROM facts_fts"
        )


@pytest.mark.parametrize(
    ("query", "lang", "key"),
    [
        ("Canakkale", "en", "canakkale-bridge"),
        ("ÇANAKKALE", "en", "canakkale-bridge"),
        ("Turkiye embassy", "en", "embassy"),
        ("erdogan", "en", "visit-invitation"),
        ("ERDOĞAN", "tr", "visit-invitation"),
        ("izmit", "en", "hyundai-izmit"),
        ("İzmit", "tr", "hyundai-izmit"),
        ("IZMIT", "en", "hyundai-izmit"),
        ("Fırtına", "en", "defense-programs"),
        ("firtina", "en", "defense-programs"),
        ("교역", "ko", "trade-growth"),
        ("부산", "ko", "war-busan"),
        ("차나칼레", "ko", "canakkale-bridge"),
        ("köprü", "tr", "canakkale-bridge"),
        ("kopru", "tr", "canakkale-bridge"),
        ("şehit", "tr", "war-killed"),
    ],
)
async def test_search_folds_three_languages(
    tmp_path: Path, query: str, lang: str, key: str
) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        found = await fact_store.search_facts(db, visit_id, query, lang)
        assert key in [f.key for f in found]
        assert all(f.lang == lang for f in found)


async def test_search_crosses_languages(tmp_path: Path) -> None:
    """A Korean word finds the fact, shown in the reader's language."""
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        found = await fact_store.search_facts(db, visit_id, "부산", "en")
        assert found[0].lang == "en"
        assert "462" in found[0].text


async def test_hostile_queries_do_not_break_fts(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, load_visit())
        for query in ['"', "AND OR NOT", "*", "x" * 5000, "NEAR(a b)", "😀", "a\"b'c", "-"]:
            assert isinstance(await fact_store.search_facts(db, visit_id, query, "en"), list)


async def test_visit_keys_must_fit_in_callback_data(tmp_path: Path) -> None:
    bad = tmp_path / "visit.toml"
    bad.write_text(
        BUNDLED.read_text(encoding="utf-8").replace('key = "trade"', 'key = "Trade & Commerce"'),
        encoding="utf-8",
    )
    with pytest.raises(
        VisitFileError, match=r"topics\[3\]\.key: 'Trade & Commerce' is not 1-32 lower-case"
    ):
        load_visit(bad)


async def test_a_transaction_cancelled_at_begin_leaves_the_connection_usable(
    tmp_path: Path,
) -> None:
    async with await Database.open(tmp_path / "v.db") as db:
        for _ in range(20):

            async def write() -> None:
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO kv (key, value) VALUES ('a', 'b')")

            task = asyncio.create_task(write())
            await asyncio.sleep(0)  # the task now waits for BEGIN on aiosqlite's thread
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with db.transaction() as tx:  # would fail: "within a transaction"
                await tx.execute("INSERT OR REPLACE INTO kv (key, value) VALUES ('ok', '1')")
        assert await db.fetchval("SELECT COUNT(*) FROM kv WHERE key = 'a'") == 0
