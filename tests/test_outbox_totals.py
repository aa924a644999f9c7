"""The outbox's per-alert totals, set-based scheduling and compaction (issue 15, scale).

Counts are kept by triggers, so every path that changes a delivery's status is checked against
counting the rows themselves; compaction deletes rows and must leave every number /stats and
/metrics show unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import storage.db as db_module
from bot.config import Settings
from bot.handlers.stats import stats_text
from jobs.compaction import COMPACTION_JOB_NAME, compact
from storage import subscriptions
from storage.alerts import (
    ChatPrefs,
    Outcome,
    claim_due,
    compact_deliveries,
    create_alert,
    deliveries_by_status,
    delivery_stats,
    due_time,
    last_delivery_at,
    postpone,
    record_outcomes,
    recover_in_flight,
    release,
)
from storage.db import Database, to_db_time
from storage.visit import load_visit
from storage.visitdata import sync_visit
from tests.conftest import Clock, running_bot

NOW = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
ISTANBUL = ZoneInfo("Europe/Istanbul")


async def _chat(
    db: Database,
    visit_id: int,
    chat_id: int,
    kind: str = "private",
    prefs: dict[str, object] | None = None,
) -> None:
    prefs = prefs or {}
    stamp = to_db_time(NOW)
    await db.execute(
        "INSERT INTO chats (chat_id, type, timezone, quiet_start, quiet_end, digest_hour,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            chat_id,
            kind,
            prefs.get("timezone"),
            prefs.get("quiet_start"),
            prefs.get("quiet_end"),
            prefs.get("digest_hour"),
            stamp,
            stamp,
        ),
    )
    await db.execute(
        "INSERT INTO subscriptions (visit_id, chat_id, set_by, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (visit_id, chat_id, chat_id if chat_id > 0 else None, stamp, stamp),
    )


async def _alert(
    db: Database, visit_id: int, kind: str = "broadcast", at: dt.datetime = NOW
) -> int:
    payload: dict[str, object] = {"text": "x"}
    if kind == "agenda":
        payload = {"item_id": 1, "change": "new", "starts_at": to_db_time(at), "title": {}}
    async with db.transaction() as tx:
        alert_id = await create_alert(
            tx,
            visit_id=visit_id,
            kind=kind,  # type: ignore[arg-type]
            payload=payload,
            now=at,
            default_tz=ISTANBUL,
        )
    assert alert_id is not None
    return alert_id


async def _counted(db: Database) -> dict[str, int]:
    """The truth the totals must match: the rows themselves."""
    rows = await db.fetchall("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
    return {str(r["status"]): int(r["n"]) for r in rows}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[Database, int]]:
    db = await Database.open(tmp_path / "o.db")
    visit_id = await sync_visit(db, load_visit())
    yield db, visit_id
    await db.close()


async def test_totals_follow_every_status_change(store: tuple[Database, int]) -> None:
    db, visit_id = store
    for chat_id in range(1, 9):
        await _chat(db, visit_id, chat_id)
    await _chat(db, visit_id, -1001, "supergroup")
    first = await _alert(db, visit_id)
    assert await deliveries_by_status(db) == await _counted(db) == {"pending": 9}
    claimed = await claim_due(db, NOW, max_chats=5)
    rows = [d for ds in claimed.values() for d in ds]
    assert await deliveries_by_status(db) == await _counted(db) == {"pending": 4, "sending": 5}
    await record_outcomes(
        db,
        [
            Outcome(rows[0].id, "sent", 11, None, NOW),
            Outcome(rows[1].id, "sent", 12, None, NOW + dt.timedelta(seconds=5)),
            Outcome(rows[2].id, "failed", None, "boom"),
        ],
    )
    await release(db, [rows[3].id])
    await postpone(db, [rows[4].id], NOW + dt.timedelta(hours=1))
    await subscriptions.deactivate(db, 7, "blocked", NOW)
    await subscriptions.unsubscribe(db, visit_id, 8)
    await subscriptions.migrate_chat(db, -1001, -1002, NOW)
    second = await _alert(db, visit_id)
    await claim_due(db, NOW, max_chats=2)
    await recover_in_flight(db)
    assert await deliveries_by_status(db) == await _counted(db)
    stats = await delivery_stats(db, visit_id)
    assert stats.deliveries == {
        "pending": 0,
        "sending": 0,
        **{s: 0 for s in ("sent", "failed", "dropped")},
        **await _counted(db),
    }
    assert stats.last_sent_at == to_db_time(NOW + dt.timedelta(seconds=5))
    assert await last_delivery_at(db) == NOW + dt.timedelta(seconds=5)
    assert first != second


async def test_one_insert_schedules_quiet_hours_digests_and_channels(
    store: tuple[Database, int],
) -> None:
    db, visit_id = store
    quiet: dict[str, object] = {"quiet_start": 11 * 60, "quiet_end": 18 * 60}  # 14:00 inside
    await _chat(db, visit_id, 1)
    await _chat(db, visit_id, 2, prefs={"timezone": "Asia/Seoul", "digest_hour": 8})
    await _chat(db, visit_id, 3, prefs=quiet)
    await _chat(db, visit_id, 4, prefs=quiet)  # the same preferences: computed once, used twice
    await _chat(db, visit_id, -1005, "channel", quiet)  # never held in a channel
    for kind in ("broadcast", "agenda"):
        alert_id = await _alert(db, visit_id, kind)
        rows = await db.fetchall(
            "SELECT chat_id, not_before FROM deliveries WHERE alert_id = ? ORDER BY id",
            (alert_id,),
        )
        due = {int(r["chat_id"]): str(r["not_before"]) for r in rows}

        def expected(prefs: ChatPrefs, kind: str = kind) -> str:
            return to_db_time(due_time(prefs, kind, NOW, ISTANBUL))

        assert list(due)[0] == -1005  # groups and channels first
        assert due == {
            -1005: to_db_time(NOW),
            1: to_db_time(NOW),
            2: expected(ChatPrefs("Asia/Seoul", None, None, 8)),
            3: expected(ChatPrefs(None, 660, 1080, None)),
            4: expected(ChatPrefs(None, 660, 1080, None)),
        }
        assert due[3] != to_db_time(NOW) and due[2] != to_db_time(NOW)


async def test_compaction_deletes_old_finished_rows_and_keeps_every_count(
    store: tuple[Database, int],
) -> None:
    db, visit_id = store
    for chat_id in range(1, 13):
        await _chat(db, visit_id, chat_id)
    old = await _alert(db, visit_id, at=NOW - dt.timedelta(days=10))
    new = await _alert(db, visit_id)
    claimed = await claim_due(db, NOW, max_chats=20)
    rows = sorted((d for ds in claimed.values() for d in ds), key=lambda d: d.id)
    unsent = [r for r in rows if r.alert_id == new][:2]  # stay in flight, then pending
    await record_outcomes(
        db,
        [
            Outcome(r.id, "failed", None, "x")
            if r.chat_id == 12
            else Outcome(r.id, "sent", 1, None, NOW)
            for r in rows
            if r not in unsent
        ],
    )
    await recover_in_flight(db)
    before = (await delivery_stats(db, visit_id), await deliveries_by_status(db))
    deleted = 0
    while chunk := await compact_deliveries(db, NOW - dt.timedelta(days=7), batch=5):
        assert chunk <= 5
        deleted += chunk
    assert deleted == 12  # every row of the old alert, none of the new one
    assert (await delivery_stats(db, visit_id), await deliveries_by_status(db)) == before
    left = await db.fetchall("SELECT DISTINCT alert_id FROM deliveries")
    assert [int(r["alert_id"]) for r in left] == [new]
    compacted = await db.fetchval("SELECT compacted FROM alert_totals WHERE alert_id = ?", (old,))
    assert compacted == 12
    # pending rows of an old alert are never compacted: they still have to go out
    await db.execute("UPDATE alerts SET created_at = ? WHERE id = ?", ("2020-01-01", new))
    while await compact_deliveries(db, NOW - dt.timedelta(days=7)):
        pass
    assert await _counted(db) == {"pending": 2}
    assert await last_delivery_at(db) == NOW


async def test_upgrade_counts_what_older_releases_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = db_module.migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db_module, "migrations", lambda: [m for m in every if m[0] <= 7])
        db = await Database.open(tmp_path / "u.db")
    visit_id = await sync_visit(db, load_visit())
    await db.execute(
        "INSERT INTO alerts (id, visit_id, kind, payload, created_at)"
        " VALUES (1, ?, 'broadcast', '{}', ?)",
        (visit_id, to_db_time(NOW)),
    )
    for chat_id, status, sent_at in (
        (1, "sent", "2025-11-24T12:00:01+00:00"),
        (2, "pending", None),
        (3, "sent", "2025-11-24T12:00:03+00:00"),
    ):
        await db.execute(
            "INSERT INTO deliveries (alert_id, chat_id, status, not_before, sent_at)"
            " VALUES (1, ?, ?, ?, ?)",
            (chat_id, status, to_db_time(NOW), sent_at),
        )
    await db.close()
    async with await Database.open(tmp_path / "u.db") as db:
        stats = await delivery_stats(db, visit_id)
        assert stats.deliveries["sent"] == 2 and stats.deliveries["pending"] == 1
        assert stats.last_sent_at == "2025-11-24T12:00:03+00:00"


async def test_the_hourly_job_compacts_and_stats_read_the_same(
    settings: Settings, clock: Clock
) -> None:
    clock.now = NOW
    async with running_bot(settings, clock) as bot:
        svc = bot.services
        queue = bot.app.job_queue  # type: ignore[attr-defined]
        assert [j.name for j in queue.jobs() if j.name == COMPACTION_JOB_NAME]
        for chat_id in (1, 2, 3):
            await _chat(svc.db, svc.visit_id, chat_id)
            bot.standin.add_user(chat_id)
        await _alert(svc.db, svc.visit_id, at=NOW - dt.timedelta(days=8))
        assert svc.delivery is not None
        await svc.delivery.wait_idle()
        loaded = svc.visits.get(svc.visit_id)
        assert loaded is not None
        before = await stats_text(svc, loaded, "en")
        assert "3 sent" in before
        assert await compact(svc.db, clock(), svc.settings.delivery_retention_days) == 3
        assert await _counted(svc.db) == {}
        assert await stats_text(svc, loaded, "en") == before
