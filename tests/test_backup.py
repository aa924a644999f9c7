"""Backups while the bot writes, `visitbot db backup|check|migrate`, and automatic backups."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from jobs.backups import BACKUP_JOB_NAME, first_delay, take_backup
from storage import subscriptions
from storage.alerts import create_alert
from storage.backup import BackupError, backup_database, check_database, list_backups
from storage.db import Database, migrations
from tests.conftest import Clock, running_bot, with_settings

SUBSCRIBERS = range(7000, 7200)
LATEST = migrations()[-1][0]
ALL_VERSIONS = ", ".join(f"{version:04d}" for version, _, _ in migrations())


def visitbot(*args: str, database: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, "DATABASE_PATH": str(database), **env},
        cwd=database.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def visitbot_async(*args: str, database: Path) -> tuple[int, str, str]:
    """The CLI as a subprocess without blocking the loop (the bot keeps writing meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env={**os.environ, "DATABASE_PATH": str(database)},
        cwd=database.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_backup_during_a_fan_out_is_consistent_and_passes_db_check(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    async with running_bot(settings, clock) as bot:
        svc = bot.services
        for uid in SUBSCRIBERS:
            bot.standin.add_user(uid, first_name=f"U{uid}", language_code="en")
            await subscriptions.subscribe(
                svc.db,
                visit_id=svc.visit_id,
                chat_id=uid,
                chat_type="private",
                title="",
                set_by=uid,
                topics="all",
                now=clock.now,
            )
        created = 0
        stop = asyncio.Event()
        going = asyncio.Event()

        async def fan_out() -> None:
            """Alert after alert, each fanning out to every subscriber in one transaction."""
            nonlocal created
            while not stop.is_set():
                async with svc.db.transaction() as tx:
                    await create_alert(
                        tx,
                        visit_id=svc.visit_id,
                        kind="broadcast",
                        payload={"text": f"Fan-out {created}"},
                        now=clock.now,
                    )
                created += 1
                if created >= 5:
                    going.set()
                await asyncio.sleep(0)

        writers = [asyncio.create_task(fan_out()) for _ in range(3)]
        await asyncio.wait_for(going.wait(), 10)
        in_process = tmp_path / "backups" / "in-process.db"
        cli_copy = tmp_path / "backups" / "cli.db"
        created_before = created
        report, (code, out, err) = await asyncio.gather(
            asyncio.to_thread(backup_database, svc.db.path, in_process),
            visitbot_async("db", "backup", str(cli_copy), database=svc.db.path),
        )
        created_during = created
        stop.set()
        await asyncio.gather(*writers)

    assert created_during > created_before, "the bot kept writing while the backups ran"
    assert report.integrity_ok and report.pending == []
    assert code == 0, err
    assert out.strip() == f"backup written to {cli_copy} (integrity ok, schema version {LATEST})"
    for copy in (in_process, cli_copy):
        check = visitbot("db", "check", str(copy), database=settings.database_path)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "integrity: ok" in check.stdout and "pending migrations: none" in check.stdout
        async with await Database.open(copy) as db:
            alerts = int(await db.fetchval("SELECT COUNT(*) FROM alerts"))
            per_alert = await db.fetchall(
                "SELECT a.id, COUNT(d.id) AS n FROM alerts a"
                " LEFT JOIN deliveries d ON d.alert_id = a.id GROUP BY a.id"
            )
        # A snapshot of one moment: every alert with all its deliveries (the outbox invariant).
        assert 5 <= alerts <= created_during
        assert {int(r["n"]) for r in per_alert} == {len(SUBSCRIBERS)}
    assert not list((tmp_path / "backups").glob("*.partial*"))


def test_cli_db_commands_exit_codes_and_one_line_errors(tmp_path: Path) -> None:
    database = tmp_path / "visitbot.db"
    missing = visitbot("db", "check", database=database)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"visitbot: database {database} does not exist"
    missing = visitbot("db", "migrate", database=database)
    assert (missing.returncode, len(missing.stderr.strip().splitlines())) == (1, 1)

    async def empty_database() -> None:
        async with await Database.open(database, migrate=False):
            pass

    asyncio.run(empty_database())
    check = visitbot("db", "check", database=database)
    assert check.returncode == 0
    assert f"schema version: 0 (this visitbot: {LATEST})" in check.stdout
    assert "pending migrations: 0001_initial.sql" in check.stdout
    migrate = visitbot("db", "migrate", database=database)
    assert (migrate.returncode, migrate.stdout.strip()) == (
        0,
        f"applied migrations {ALL_VERSIONS}; now at {LATEST}",
    )
    again = visitbot("db", "migrate", database=database)
    assert again.stdout.strip() == f"already up to date (schema version {LATEST})"

    backup = tmp_path / "copy.db"
    assert visitbot("db", "backup", str(backup), database=database).returncode == 0
    exists = visitbot("db", "backup", str(backup), database=database)
    assert exists.returncode == 1
    assert exists.stderr.strip() == f"visitbot: {backup} already exists; choose a new file name"

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    broken = visitbot("db", "check", str(garbage), database=database)
    assert broken.returncode == 1
    assert broken.stderr.strip().splitlines() == [
        f"visitbot: cannot check database {garbage}: file is not a database"
    ]

    newer = tmp_path / "newer.db"
    assert visitbot("db", "backup", str(newer), database=database).returncode == 0
    with __import__("sqlite3").connect(newer) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (99, '0099_future.sql', '2030-01-01T00:00:00')"
        )
    future = visitbot("db", "check", str(newer), database=database)
    assert future.returncode == 1 and "NEWER than this visitbot" in future.stdout
    refused = visitbot("db", "migrate", database=newer)
    assert refused.returncode == 2 and "newer than this visitbot" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    bad = visitbot("db", "check", database=database, BACKUP_KEEP="none")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "visitbot: BACKUP_KEEP must be a whole number of backups >= 1, got 'none'"
    ]


@pytest.mark.parametrize("suffix", ["-journal", "-wal", "-shm", ".lock"])
def test_backup_refuses_the_databases_side_files(tmp_path: Path, suffix: str) -> None:
    """SQLite deletes <db>-wal/-shm (and replays a -journal) on the next start: not a backup."""
    database = tmp_path / "visitbot.db"
    asyncio.run(_create(database))
    target = tmp_path / f"visitbot.db{suffix}"
    refused = visitbot("db", "backup", str(target), database=database)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"visitbot: {target} is one of the database's own side files (-journal, -wal, -shm, "
        ".lock); choose another file name"
    ]
    assert not target.with_name(target.name + ".partial").exists()
    with pytest.raises(BackupError, match="side files"):  # a relative spelling is caught too
        backup_database(database, Path(os.path.relpath(target)))
    assert check_database(database).ok


async def _create(database: Path) -> None:
    async with await Database.open(database):
        pass


async def test_automatic_backups_keep_the_newest(tmp_path: Path) -> None:
    database = tmp_path / "v.db"
    async with await Database.open(database):
        pass
    directory = tmp_path / "auto"
    start = dt.datetime(2025, 11, 24, tzinfo=dt.UTC)
    taken = [
        await take_backup(database, directory, keep=2, now=start + dt.timedelta(hours=h))
        for h in range(4)
    ]
    (directory / "notes.txt").write_text("operators' own files are never pruned")
    assert list_backups(directory) == taken[-2:]
    assert (directory / "notes.txt").exists()
    assert all(check_database(p).ok for p in taken[-2:])
    with pytest.raises(BackupError, match="already exists"):
        await take_backup(database, directory, keep=2, now=start + dt.timedelta(hours=3))


def test_first_backup_follows_the_newest_existing_one(tmp_path: Path) -> None:
    assert first_delay(tmp_path, 3600.0) == 60.0  # none yet: soon after start
    newest = tmp_path / "visitbot-20251124T000000Z.db"
    newest.write_bytes(b"")
    now = time.time()
    os.utime(newest, (now - 600, now - 600))
    assert first_delay(tmp_path, 3600.0, now=now) == pytest.approx(3000.0)
    os.utime(newest, (now - 7200, now - 7200))
    assert first_delay(tmp_path, 3600.0, now=now) == 60.0  # overdue: soon, not at once


async def test_backup_job_is_off_by_default_and_runs_when_configured(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    async with running_bot(settings, clock) as bot:
        app: Any = bot.app
        assert app.job_queue.get_jobs_by_name(BACKUP_JOB_NAME) == ()
    configured = with_settings(settings, backup_dir=tmp_path / "auto", backup_keep=3)
    async with running_bot(configured, clock) as bot:
        app = bot.app
        (job,) = app.job_queue.get_jobs_by_name(BACKUP_JOB_NAME)
        await job.run(app)
        (made,) = list_backups(tmp_path / "auto")
        assert check_database(made).ok


def _truncate(database: Path) -> None:
    """A database with a few hundred KB of rows, cut in half on disk (a full disk, a bad copy)."""
    import sqlite3

    asyncio.run(_create(database))
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE filler (x TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("z" * 300,)] * 2000)
    size = database.stat().st_size
    with open(database, "r+b") as handle:
        handle.truncate(size // 2)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_run_on_a_damaged_database_is_one_line_pointing_at_check_and_backup(
    tmp_path: Path, damage: str
) -> None:
    database = tmp_path / "data" / "visitbot.db"
    database.parent.mkdir()
    backups = tmp_path / "backups"
    asyncio.run(_create(tmp_path / "good.db"))
    for name in ("visitbot-20251124T000000Z.db", "visitbot-20251125T000000Z.db"):
        made = visitbot("db", "backup", str(backups / name), database=tmp_path / "good.db")
        assert made.returncode == 0, made.stderr
    if damage == "garbage":
        database.write_bytes(b"\x00garbage, not a database\n" * 500)
    else:
        _truncate(database)
    reason = "file is not a database" if damage == "garbage" else "malformed"
    env = {"BOT_TOKEN": "1:x", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"}
    result = visitbot("run", database=database, BACKUP_DIR=str(backups), **env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"visitbot: database {database} is damaged: ")
    assert reason in lines[0]
    assert f"run visitbot db check {database}" in lines[0]
    assert f"restore the latest backup, {backups / 'visitbot-20251125T000000Z.db'}" in lines[0]
    unset = visitbot("run", database=database, BACKUP_DIR="", **env)
    assert unset.returncode == 1 and len(unset.stderr.strip().splitlines()) == 1
    assert unset.stderr.strip().endswith("restore a backup (BACKUP_DIR is not set)")
    console = visitbot("console", database=database, BACKUP_DIR="")
    assert console.returncode == 1 and console.stderr == unset.stderr
