"""Compaction of the outbox: finished deliveries older than the retention period become counts.

Every alert to 100,000 subscribers leaves 100,000 rows. Nothing needs them for long: /stats and
/metrics read the per-alert totals (`alert_totals`, kept by triggers), which survive the rows.
So once an alert is older than `DELIVERY_RETENTION_DAYS`, its sent, failed and dropped rows are
deleted, in batches of a few thousand, each in its own short transaction, so replies and the
delivery worker get the database between batches. Rows still pending (a digest not yet due) or
in flight are never touched. The table then holds about one retention period of fan-outs, and
the size of every index on it stays bounded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from telegram.ext import JobQueue

from storage.alerts import compact_deliveries
from storage.db import Clock, Database

log = logging.getLogger(__name__)

COMPACTION_JOB_NAME = "outbox-compaction"
COMPACTION_INTERVAL_SECONDS = 3600.0
FIRST_DELAY_SECONDS = 120.0  # after start-up has settled
BATCH = 5000


async def compact(db: Database, now: dt.datetime, retention_days: float, batch: int = BATCH) -> int:
    """Fold every finished delivery of alerts older than the retention into counts."""
    cutoff = now - dt.timedelta(days=retention_days)
    total = 0
    while True:
        deleted = await compact_deliveries(db, cutoff, batch=batch)
        total += deleted
        if deleted == 0:
            break
        await asyncio.sleep(0)  # let what waits for the database go first
    if total:
        log.info("compacted %d delivery rows of alerts created before %s", total, cutoff)
    return total


def schedule_compaction(
    job_queue: JobQueue[Any], db: Database, clock: Clock, retention_days: float
) -> None:
    """The hourly compaction job of a running bot."""

    async def job(context: object) -> None:
        try:
            await compact(db, clock(), retention_days)
        except Exception:  # the next run tries again; delivery never depends on it
            log.exception("outbox compaction failed")

    job_queue.run_repeating(
        job,
        interval=COMPACTION_INTERVAL_SECONDS,
        first=FIRST_DELAY_SECONDS,
        name=COMPACTION_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
