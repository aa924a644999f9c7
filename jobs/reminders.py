"""Agenda reminders: a 'reminder' alert shortly before each agenda item starts.

The schedule lives in the database (agenda_items), not in memory: at start-up, and every few
minutes after (so admins' agenda edits are picked up), one JobQueue job is scheduled per upcoming
item. A reminder whose time passed while the bot was down but whose item has not started yet
fires at once. Each reminder's alert carries the dedupe key 'reminder:<item id>:<start>', so it
is created once even across restarts and resyncs, and a moved item gets a new reminder.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from telegram.ext import Application, CallbackContext

from bot.services import Services, services
from storage.alerts import create_alert
from storage.db import from_db_time, to_db_time

log = logging.getLogger(__name__)

AnyApp = Application[Any, Any, Any, Any, Any, Any]
REMINDER_MINUTES = 30
RESYNC_SECONDS = 300.0
JOB_PREFIX = "reminder:"


def reminder_key(item_id: int, starts_at: dt.datetime) -> str:
    return f"reminder:{item_id}:{to_db_time(starts_at)}"


async def start_reminders(app: AnyApp, svc: Services) -> None:
    """Start-up hook: rebuild the reminder jobs from the database, then keep them in sync."""
    if app.job_queue is None:
        log.warning("no JobQueue: agenda reminders are off")
        return
    await resync_reminders(app, svc)
    app.job_queue.run_repeating(
        _resync_job, interval=RESYNC_SECONDS, first=RESYNC_SECONDS, name="reminders-resync"
    )


async def _resync_job(context: CallbackContext[Any, Any, Any, Any]) -> None:
    await resync_reminders(context.application, services(context))


async def resync_reminders(app: AnyApp, svc: Services) -> int:
    """(Re)schedule one job per upcoming agenda item whose reminder was not sent yet."""
    queue = app.job_queue
    if queue is None:
        return 0
    for job in queue.jobs():
        if job.name and job.name.startswith(JOB_PREFIX):
            job.schedule_removal()
    now = svc.now()
    lead = dt.timedelta(minutes=REMINDER_MINUTES)
    rows = await svc.db.fetchall(
        "SELECT id, starts_at FROM agenda_items WHERE visit_id = ? AND deleted_at IS NULL"
        " AND time_known = 1 AND starts_at > ? AND NOT EXISTS (SELECT 1 FROM alerts"
        " WHERE dedupe_key = 'reminder:' || agenda_items.id || ':' || agenda_items.starts_at)",
        (svc.visit_id, to_db_time(now)),
    )
    for row in rows:
        starts = from_db_time(str(row["starts_at"]))
        delay = max(0.0, (starts - lead - now).total_seconds())
        key = reminder_key(int(row["id"]), starts)
        queue.run_once(_fire, when=delay, data=key, name=key)
    log.info("%d agenda reminders scheduled", len(rows))
    return len(rows)


async def _fire(context: CallbackContext[Any, Any, Any, Any]) -> None:
    job = context.job
    if job is None or not isinstance(job.data, str):
        return
    await fire_reminder(services(context), job.data)


async def fire_reminder(svc: Services, key: str) -> int | None:
    """Create the reminder alert for `key` unless the item moved, went or was reminded of."""
    _, item_id, _ = key.split(":", 2)
    row = await svc.db.fetchone(
        "SELECT * FROM agenda_items WHERE id = ? AND deleted_at IS NULL", (int(item_id),)
    )
    if row is None:
        return None
    starts = from_db_time(str(row["starts_at"]))
    if reminder_key(int(row["id"]), starts) != key or starts <= svc.now():
        return None  # moved (a new job exists) or already started
    payload = {
        "item_id": int(row["id"]),
        "change": "new",
        "starts_at": to_db_time(starts),
        "time_known": bool(row["time_known"]),
        "title": json.loads(row["title"]),
        "place": json.loads(row["place"]),
        "minutes_before": max(1, round((starts - svc.now()).total_seconds() / 60)),
    }
    async with svc.db.transaction() as tx:
        alert_id = await create_alert(
            tx,
            visit_id=svc.visit_id,
            kind="reminder",
            payload=payload,
            dedupe_key=key,
            now=svc.now(),
            default_tz=svc.visit.timezone,
        )
    if alert_id is not None:
        log.info("reminder for agenda item %s queued (alert %s)", item_id, alert_id)
    return alert_id
