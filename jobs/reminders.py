"""Agenda reminders: a 'reminder' alert shortly before each agenda item starts.

The schedule lives in the database (agenda_items), not in memory: at start-up, and every few
minutes after (so admins' agenda edits are picked up), one JobQueue job is scheduled per upcoming
item. A reminder whose time passed while the bot was down but whose item has not started yet
fires at once. Each reminder's alert carries the dedupe key 'reminder:<item id>:<start>', so it
is created once even across restarts and resyncs, and a moved item gets a new reminder.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from telegram.ext import CallbackContext, JobQueue

from storage.agenda import agenda_item, items_to_remind
from storage.alerts import create_alert
from storage.db import Clock, Database, to_db_time

log = logging.getLogger(__name__)

REMINDER_MINUTES = 30
RESYNC_SECONDS = 300.0
JOB_PREFIX = "reminder:"


def reminder_key(item_id: int, starts_at: dt.datetime) -> str:
    return f"reminder:{item_id}:{to_db_time(starts_at)}"


class Reminders:
    """The reminder jobs of the followed visits, kept in step with their agendas."""

    def __init__(
        self,
        db: Database,
        job_queue: JobQueue[Any],
        *,
        clock: Clock,
        time_zones: Mapping[int, dt.tzinfo],
    ) -> None:
        self.db = db
        self.job_queue = job_queue
        self.clock = clock
        self.time_zones = time_zones  # visit id -> its zone (quiet hours of chats without one)

    async def start(self) -> None:
        """Rebuild the reminder jobs from the database, then keep them in sync."""
        await self.resync()
        self.job_queue.run_repeating(
            self._resync_job, interval=RESYNC_SECONDS, first=RESYNC_SECONDS, name="reminders-resync"
        )

    async def _resync_job(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        await self.resync()

    async def resync(self) -> int:
        """(Re)schedule one job per upcoming agenda item whose reminder was not sent yet."""
        for job in self.job_queue.jobs():
            if job.name and job.name.startswith(JOB_PREFIX):
                job.schedule_removal()
        now = self.clock()
        lead = dt.timedelta(minutes=REMINDER_MINUTES)
        upcoming = await items_to_remind(self.db, list(self.time_zones), now)
        for item_id, starts in upcoming:
            delay = max(0.0, (starts - lead - now).total_seconds())
            key = reminder_key(item_id, starts)
            self.job_queue.run_once(self._fire, when=delay, data=key, name=key)
        log.info("%d agenda reminders scheduled", len(upcoming))
        return len(upcoming)

    async def _fire(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        job = context.job
        if job is not None and isinstance(job.data, str):
            await self.fire(job.data)

    async def fire(self, key: str) -> int | None:
        """Create the reminder alert for `key` unless the item moved, went or was reminded of."""
        _, item_id, _ = key.split(":", 2)
        item = await agenda_item(self.db, int(item_id))
        now = self.clock()
        if item is None or reminder_key(item.id, item.starts_at) != key or item.starts_at <= now:
            return None  # gone, moved (a new job exists) or already started
        payload = {
            "item_id": item.id,
            "change": "new",
            "starts_at": to_db_time(item.starts_at),
            "time_known": item.time_known,
            "title": item.titles,
            "place": item.places,
            "minutes_before": max(1, round((item.starts_at - now).total_seconds() / 60)),
        }
        async with self.db.transaction() as tx:
            alert_id = await create_alert(
                tx,
                visit_id=item.visit_id,
                kind="reminder",
                payload=payload,
                dedupe_key=key,
                now=now,
                default_tz=self.time_zones.get(item.visit_id),
            )
        if alert_id is not None:
            log.info("reminder for agenda item %s queued (alert %s)", item_id, alert_id)
        return alert_id
