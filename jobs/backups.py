"""Periodic automatic backups with retention (off unless BACKUP_DIR is set).

Scheduling follows the newest backup already in BACKUP_DIR rather than the process start: a bot
restarted every few minutes (a crash loop, a deploy) neither takes a backup at each start nor
rotates the good old backups out with copies of a broken state. After a long downtime the first
backup is taken shortly after start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from telegram.ext import JobQueue

from storage.backup import BackupError, backup_database, backup_name, list_backups, prune_backups

log = logging.getLogger(__name__)

BACKUP_JOB_NAME = "db-backup"
FIRST_DELAY_SECONDS = 60.0  # when a backup is overdue: let start-up settle first


def first_delay(directory: Path, interval: float, now: float | None = None) -> float:
    """Seconds until the next backup is due, from the newest one's modification time."""
    found = list_backups(directory)
    if not found:
        return FIRST_DELAY_SECONDS
    age = (time.time() if now is None else now) - found[-1].stat().st_mtime
    return max(FIRST_DELAY_SECONDS, interval - age)


async def take_backup(
    database: Path, directory: Path, keep: int, now: dt.datetime | None = None
) -> Path:
    """One automatic backup, then retention; disk work runs off the event loop."""
    dest = directory / backup_name(now or dt.datetime.now(dt.UTC))
    await asyncio.to_thread(backup_database, database, dest)
    removed = await asyncio.to_thread(prune_backups, directory, keep)
    log.info("database backed up to %s (%d old backups removed)", dest, len(removed))
    return dest


def schedule_backups(
    job_queue: JobQueue[Any],
    database: Path,
    directory: Path,
    *,
    interval_hours: float,
    keep: int,
) -> None:
    """The repeating backup job of a running bot (BACKUP_DIR, BACKUP_INTERVAL_HOURS, ...)."""
    interval = interval_hours * 3600.0
    first = first_delay(directory, interval)

    async def job(context: object) -> None:
        try:
            await take_backup(database, directory, keep)
        except (BackupError, OSError) as exc:
            # A failed backup must be loud but must not stop the bot; the next run tries again.
            log.error("automatic backup failed: %s", exc)

    job_queue.run_repeating(
        job,
        interval=interval,
        first=first,
        name=BACKUP_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    log.info(
        "automatic backups to %s every %g h, keeping %d; next in %.0f s",
        directory,
        interval_hours,
        keep,
        first,
    )
