"""The alert outbox: alerts and their per-chat deliveries, written in the creator's transaction.

Transactional outbox
--------------------
`create_alert` inserts the alert and one 'pending' delivery per target chat inside the caller's
transaction, so an alert exists if and only if its deliveries do. The delivery worker
(`jobs.delivery`) claims due rows ('pending' -> 'sending'), sends them and records the outcome
('sent', 'failed' or 'dropped'). On start-up every 'sending' row goes back to 'pending': a crash
can re-send what was in flight (at-least-once), never lose a row.

Who receives which kind
-----------------------
An alert belongs to one visit. It goes to the active chats subscribed to that visit, and to
those following every visit (`all_visit_subscriptions`), by kind:
agreement, correction -> subscriptions with wants_agreements;
agenda, reminder      -> subscriptions with wants_agenda;
programme             -> subscriptions with wants_agenda, in chats that kept feed-driven agenda
                         alerts on (chats.feed_agenda);
broadcast             -> every subscription (of the admin's current visit, and all-visit ones).
A confirmation may spare the chats an earlier alert told already (`spare_recipients_of`): the
feeds reported the item, an admin confirmed it, nobody hears it twice.

Payload shapes (JSON, rendered per chat at send time by `bot.alert_render`)
---------------------------------------------------------------------------
agreement:  {"title": str, "sector": sector key or "", "signed_on": "YYYY-MM-DD" | None,
             "parties": str, "status": "confirmed" | "reported",
             "sources": [{"title": str, "url": str}], "agreement_id": int | None,
             "story_id": int | None}
agenda:     {"item_id": int, "change": "new" | "changed" | "deleted",
             "starts_at": ISO-8601 UTC, "time_known": bool,
             "title": {"en": str, "ko": str, "tr": str}, "place": {"en": ..., ...}}
reminder:   the agenda shape plus "minutes_before": int
programme:  what the feeds report about the programme, until an admin confirms it:
            {"change": "done" | "moved" | "cancelled" | "new", "status": "reported" |
             "confirmed", "item_id": int | None, "story_id": int, "starts_at", "time_known",
             "title", "place" (the agenda shape; for "new", empty, and "headline": the story's),
             "new_starts_at": ISO-8601 UTC, "new_time_known": bool (a move's new day, and time
             when the story gives it; absent when it gives neither),
             "sources": [{"title": str, "url": str}]}
broadcast:  {"text": str}  (plain text; it is escaped when rendered)
correction: the agreement shape plus
            "change": {"field": agreement column, "old": str | None, "new": str | None}
            (raw values; rendered in each reader's language) and "note": str (a plain-text
            summary for the audit log; alerts from older releases have only the note, written
            in the admin's language, and are still rendered from it)

When a delivery becomes due
---------------------------
`not_before` is computed per chat when the alert is created: now, or the end of the chat's
quiet hours, or the chat's next digest hour (reminders skip the digest: they are only useful
before the item starts). Changing those preferences reschedules the chat's pending rows
(`reschedule_chat`). Feed-driven agenda alerts are also capped per chat and hour
(`PROGRAMME_PER_HOUR`): the ones beyond wait for the same moment and go out as one message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.audit import Actor, audited
from storage.db import Database, Tx, from_db_time, to_db_time

log = logging.getLogger(__name__)

AlertKind = Literal["agreement", "agenda", "reminder", "broadcast", "correction", "programme"]
ALERT_KINDS: tuple[AlertKind, ...] = (
    "agreement",
    "agenda",
    "reminder",
    "broadcast",
    "correction",
    "programme",
)
DeliveryStatus = Literal["pending", "sending", "sent", "failed", "dropped"]
_STATUSES: tuple[DeliveryStatus, ...] = ("pending", "sending", "sent", "failed", "dropped")

# Kinds a chat in digest mode still receives at once: a reminder is stale after its item starts.
DIGEST_EXEMPT: frozenset[str] = frozenset({"reminder"})

_TARGETS: dict[str, str] = {
    "agreement": "wants_agreements = 1",
    "correction": "wants_agreements = 1",
    "agenda": "wants_agenda = 1",
    "reminder": "wants_agenda = 1",
    "programme": "wants_agenda = 1",
    "broadcast": "1 = 1",
}
# What the chat itself must allow: feed-driven agenda alerts can be turned off (/settings).
_CHAT_TARGETS: dict[str, str] = {"programme": "c.feed_agenda = 1"}

# Feed-driven agenda alerts per chat: at most this many messages in any hour; beyond that they
# wait and go out folded into one message when the hour allows (see `_fold_programme`).
PROGRAMME_PER_HOUR = 3
PROGRAMME_WINDOW = dt.timedelta(hours=1)

# --- waking the worker --------------------------------------------------------------------

_WAKERS: list[Callable[[], None]] = []


def register_waker(waker: Callable[[], None]) -> None:
    """The delivery worker registers itself here so new alerts wake it without polling."""
    _WAKERS.append(waker)


def unregister_waker(waker: Callable[[], None]) -> None:
    if waker in _WAKERS:
        _WAKERS.remove(waker)


def _wake_all() -> None:
    for waker in list(_WAKERS):
        try:
            waker()
        except Exception:  # pragma: no cover - a waker only sets an event
            log.exception("delivery waker failed")


def wake_delivery() -> None:
    """Tell the delivery worker that new work exists (e.g. after changing preferences).

    `create_alert` already does this itself, so callers rarely need it. Every running worker in
    this process is woken (a spurious wake-up costs one query). Safe to call inside a
    transaction: the worker's next query waits for the database lock, so it sees the rows once
    the transaction commits.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _wake_all()
        return
    loop.call_soon(_wake_all)


# --- scheduling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatPrefs:
    """What decides when a chat may receive an alert."""

    timezone: str | None
    quiet_start: int | None  # minutes after local midnight
    quiet_end: int | None
    digest_hour: int | None


def zone(name: str | None, default: dt.tzinfo) -> dt.tzinfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def in_quiet_hours(local: dt.datetime, start: int, end: int) -> bool:
    minute = local.hour * 60 + local.minute
    if start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # spans midnight


def _next_local(local: dt.datetime, minute_of_day: int) -> dt.datetime:
    """The next local wall-clock time at `minute_of_day` strictly after... or at `local`."""
    target = local.replace(
        hour=minute_of_day // 60, minute=minute_of_day % 60, second=0, microsecond=0
    )
    if target < local:
        target += dt.timedelta(days=1)
    return target


def due_time(prefs: ChatPrefs, kind: str, now: dt.datetime, default_tz: dt.tzinfo) -> dt.datetime:
    """When an alert of `kind` created at `now` may be delivered to a chat with `prefs`."""
    tz = zone(prefs.timezone, default_tz)
    local = now.astimezone(tz)
    if prefs.digest_hour is not None and kind not in DIGEST_EXEMPT:
        local = _next_local(local, prefs.digest_hour * 60)  # then quiet hours still apply
    held = quiet_until(prefs, local, default_tz)
    if held is not None:
        return held
    return local.astimezone(dt.UTC)


def quiet_until(prefs: ChatPrefs, moment: dt.datetime, default_tz: dt.tzinfo) -> dt.datetime | None:
    """The end of the chat's quiet hours (UTC) when `moment` falls inside them, else None.

    Checked when an alert is created and again when it is sent, so an alert that waited (the
    bot was down, the chat was flood-limited, a long fan-out) still keeps quiet hours.
    """
    if prefs.quiet_start is None or prefs.quiet_end is None:
        return None
    local = moment.astimezone(zone(prefs.timezone, default_tz))
    if not in_quiet_hours(local, prefs.quiet_start, prefs.quiet_end):
        return None
    return _next_local(local, prefs.quiet_end).astimezone(dt.UTC)


# --- creating alerts ----------------------------------------------------------------------


async def create_alert(
    tx: Tx,
    *,
    visit_id: int,
    kind: AlertKind,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    created_by: int | None = None,
    now: dt.datetime | None = None,
    default_tz: dt.tzinfo | None = None,
    spare_recipients_of: int | None = None,
) -> int | None:
    """Insert the alert and one 'pending' delivery per active subscription that wants `kind`.

    Runs in the caller's transaction (transactional outbox). Returns the alert id, or None when
    `dedupe_key` already exists. `now` defaults to the real time and `default_tz` to the visit's
    time zone; pass `svc.now()` so a controlled clock schedules quiet hours and digests.
    """
    if kind not in _TARGETS:
        raise ValueError(f"unknown alert kind {kind!r}")
    now = now or dt.datetime.now(dt.UTC)
    if default_tz is None:
        row = await tx.fetchone("SELECT timezone FROM visits WHERE id = ?", (visit_id,))
        default_tz = zone(str(row["timezone"]) if row else None, dt.UTC)
    stamp = to_db_time(now)
    if dedupe_key is not None:
        exists = await tx.fetchone("SELECT 1 FROM alerts WHERE dedupe_key = ?", (dedupe_key,))
        if exists is not None:
            return None
    alert_id = await tx.execute(
        "INSERT INTO alerts (visit_id, kind, dedupe_key, payload, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (visit_id, kind, dedupe_key, json.dumps(payload, ensure_ascii=False), created_by, stamp),
    )
    queued = await _queue_deliveries(
        tx, alert_id, visit_id, kind, now, default_tz, spare_recipients_of
    )
    if kind == "programme":
        await _fold_programme(tx, alert_id, now)
    wake_delivery()
    log.info("alert %s (%s) queued for %d chats", alert_id, kind, queued)
    return alert_id


async def _queue_deliveries(
    tx: Tx,
    alert_id: int,
    visit_id: int,
    kind: str,
    now: dt.datetime,
    default_tz: dt.tzinfo,
    spare_recipients_of: int | None = None,
) -> int:
    """One 'pending' delivery per target chat, written by SQLite itself; returns how many.

    The targets are the visit's subscribers and the chats that follow every visit (a chat that
    is both gets one delivery: the targets are a UNION, and the INSERT ignores a second row).
    No row goes through Python: at 100,000 subscribers the insert is one statement, and no list
    of subscribers is ever held in memory. Only chats whose preferences can hold an alert
    (quiet hours or a digest; index `chats_held`, few of them) need a due time of their own: it
    is computed here once per distinct set of preferences and handed to the INSERT as JSON.
    Every other chat, and every channel (quiet hours and digests do not apply there), is due
    now. Groups and channels come first (negative ids): one message there reaches many people.
    """
    wanted = _TARGETS[kind]
    allowed = _CHAT_TARGETS.get(kind, "1 = 1")
    member = (
        f"(EXISTS (SELECT 1 FROM subscriptions s WHERE s.visit_id = ? AND s.chat_id = c.chat_id"
        f" AND {wanted}) OR EXISTS (SELECT 1 FROM all_visit_subscriptions s"
        f" WHERE s.chat_id = c.chat_id AND {wanted}))"
    )
    held = await tx.fetchall(
        "SELECT DISTINCT c.timezone, c.quiet_start, c.quiet_end, c.digest_hour"
        " FROM chats c INDEXED BY chats_held"
        " WHERE (c.quiet_start IS NOT NULL OR c.digest_hour IS NOT NULL)"
        f" AND c.active = 1 AND c.type != 'channel' AND {allowed} AND {member}",
        (visit_id,),
    )
    schedule = [
        [
            r["timezone"],
            r["quiet_start"],
            r["quiet_end"],
            r["digest_hour"],
            to_db_time(
                due_time(
                    ChatPrefs(r["timezone"], r["quiet_start"], r["quiet_end"], r["digest_hour"]),
                    kind,
                    now,
                    default_tz,
                )
            ),
        ]
        for r in held
    ]
    return await tx.execute_rowcount(
        "INSERT OR IGNORE INTO deliveries (alert_id, chat_id, status, not_before)"
        " SELECT ?, c.chat_id, 'pending', CASE"
        "  WHEN c.type = 'channel' OR (c.quiet_start IS NULL AND c.digest_hour IS NULL) THEN ?"
        "  ELSE (SELECT json_extract(h.value, '$[4]') FROM json_each(?) h"
        "   WHERE json_extract(h.value, '$[0]') IS c.timezone"
        "   AND json_extract(h.value, '$[1]') IS c.quiet_start"
        "   AND json_extract(h.value, '$[2]') IS c.quiet_end"
        "   AND json_extract(h.value, '$[3]') IS c.digest_hour) END"
        f" FROM chats c WHERE c.active = 1 AND {allowed} AND c.chat_id IN ("
        f"  SELECT chat_id FROM subscriptions WHERE visit_id = ? AND {wanted}"
        f"  UNION SELECT chat_id FROM all_visit_subscriptions WHERE {wanted})"
        # chats an earlier alert told of this already (see `spare_recipients_of`)
        " AND c.chat_id NOT IN (SELECT chat_id FROM deliveries WHERE alert_id = ?"
        "  AND status IN ('pending', 'sending', 'sent'))"
        " ORDER BY c.chat_id",
        (
            alert_id,
            to_db_time(now),
            json.dumps(schedule),
            visit_id,
            spare_recipients_of if spare_recipients_of is not None else -1,
        ),
    )


async def _fold_programme(tx: Tx, alert_id: int, now: dt.datetime) -> None:
    """Hold this feed-driven agenda alert in chats that had `PROGRAMME_PER_HOUR` of them in
    the last hour, until the hour allows one more message; every alert held in a chat waits for
    the same moment, so the worker, which bundles a chat's due alerts, sends them as one.

    Counted in messages, not alerts: alerts due at the same moment are one message. A chat with
    a fold already waiting joins it; otherwise the new fold goes out an hour after the oldest
    of its last `PROGRAMME_PER_HOUR` messages. No list of subscribers is held: SQLite returns
    only the chats at the cap.
    """
    stamp = to_db_time(now)
    # Per chat, its recent programme messages (distinct due times); the chats at the cap,
    # unless a message goes out at this very moment (alerts of the same poll), which takes
    # this one too. Computed by SQLite: only busy chats come back, usually none.
    busy = await tx.fetchall(
        "WITH slots AS (SELECT DISTINCT d.chat_id, d.not_before FROM deliveries d"
        "  WHERE d.alert_id IN (SELECT id FROM alerts WHERE kind = 'programme' AND id != ?"
        "   AND created_at > ?) AND d.not_before > ?"
        "  AND d.status IN ('pending', 'sending', 'sent')),"
        " ranked AS (SELECT chat_id, not_before,"
        "  ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY not_before DESC) AS back,"
        "  COUNT(*) OVER (PARTITION BY chat_id) AS slots,"
        "  SUM(not_before = ?) OVER (PARTITION BY chat_id) AS at_once,"
        "  MAX(not_before) OVER (PARTITION BY chat_id) AS last FROM slots)"
        " SELECT d.id, d.not_before AS mine, r.last, r.not_before AS oldest FROM ranked r"
        " JOIN deliveries d ON d.alert_id = ? AND d.chat_id = r.chat_id"
        " WHERE r.back = ? AND r.slots >= ? AND r.at_once = 0",
        (
            alert_id,
            to_db_time(now - dt.timedelta(days=1)),
            to_db_time(now - PROGRAMME_WINDOW),
            stamp,
            alert_id,
            PROGRAMME_PER_HOUR,
            PROGRAMME_PER_HOUR,
        ),
    )
    changes = []
    for row in busy:
        if row["last"] > stamp:
            fold = str(row["last"])  # a fold (or a held alert) is waiting: join it
        else:  # an hour after the oldest of the last PROGRAMME_PER_HOUR messages
            fold = to_db_time(from_db_time(str(row["oldest"])) + PROGRAMME_WINDOW)
        changes.append((max(fold, str(row["mine"])), int(row["id"])))
    if changes:
        await tx.executemany("UPDATE deliveries SET not_before = ? WHERE id = ?", changes)


async def reschedule_chat(
    tx: Tx, chat_id: int, prefs: ChatPrefs, now: dt.datetime, default_tz: dt.tzinfo
) -> int:
    """Recompute `not_before` of a chat's pending deliveries after its preferences changed."""
    # Each alert in the zone of its own visit when the chat chose none.
    rows = await tx.fetchall(
        "SELECT d.id, a.kind, v.timezone FROM deliveries d JOIN alerts a ON a.id = d.alert_id"
        " LEFT JOIN visits v ON v.id = a.visit_id WHERE d.chat_id = ? AND d.status = 'pending'",
        (chat_id,),
    )
    await tx.executemany(
        "UPDATE deliveries SET not_before = ? WHERE id = ?",
        [
            (
                to_db_time(due_time(prefs, str(r["kind"]), now, zone(r["timezone"], default_tz))),
                r["id"],
            )
            for r in rows
        ],
    )
    wake_delivery()
    return len(rows)


async def queue_broadcast(db: Database, actor: Actor, text: str) -> tuple[int | None, int]:
    """Queue an admin message to every subscriber; (alert id, number of deliveries)."""
    async with audited(db, actor) as tx:
        alert_id = await create_alert(
            tx,
            visit_id=actor.visit_id,
            kind="broadcast",
            payload={"text": text},
            created_by=actor.user_id,
            now=actor.now,
        )
        count = 0
        if alert_id is not None:
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM deliveries WHERE alert_id = ?", (alert_id,)
            )
            count = int(row["n"]) if row else 0
        await tx.log("broadcast", f"alert:{alert_id}", after={"text": text, "deliveries": count})
        return alert_id, count


# --- the worker's side --------------------------------------------------------------------


@dataclass(frozen=True)
class DueDelivery:
    id: int
    alert_id: int
    chat_id: int
    attempts: int
    kind: AlertKind
    visit_id: int
    payload: dict[str, Any]
    created_at: str


async def recover_in_flight(db: Database) -> int:
    """After a restart, whatever was 'sending' may or may not have arrived: send it again."""
    async with db.transaction() as tx:
        return await tx.execute_rowcount(
            "UPDATE deliveries SET status = 'pending' WHERE status = 'sending'"
        )


async def claim_due(
    db: Database,
    now: dt.datetime,
    *,
    max_chats: int,
    exclude_chats: Iterable[int] = (),
    max_per_chat: int = 50,
) -> dict[int, list[DueDelivery]]:
    """Mark the due deliveries of up to `max_chats` chats 'sending' and return them by chat.

    All due rows of a chat are claimed together so they can be bundled into one message;
    `exclude_chats` are chats with a send in flight or still cooling down (per-chat pacing).
    """
    stamp = to_db_time(now)
    excluded = json.dumps(sorted(set(exclude_chats)))
    async with db.transaction() as tx:
        # Earliest due first, in the order of the index `deliveries_due` (status, not_before,
        # then rowid): the first rows of the index, never a sort of every pending row.
        chats = await tx.fetchall(
            "SELECT chat_id FROM deliveries WHERE status = 'pending' AND not_before <= ?"
            " AND chat_id NOT IN (SELECT value FROM json_each(?)) ORDER BY not_before, id"
            " LIMIT ?",
            (stamp, excluded, max_chats * 4),
        )
        chat_ids = list(dict.fromkeys(int(r["chat_id"]) for r in chats))[:max_chats]
        if not chat_ids:
            return {}
        # CROSS JOIN keeps the chats as the outer loop: each chat's rows come from the index
        # `deliveries_by_chat`, whatever the number of other pending rows.
        rows = await tx.fetchall(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1"
            " WHERE id IN (SELECT d.id FROM json_each(?) j CROSS JOIN deliveries d"
            " INDEXED BY deliveries_by_chat"
            " ON d.chat_id = j.value WHERE d.status = 'pending' AND d.not_before <= ?)"
            " RETURNING id, alert_id, chat_id, attempts",
            (json.dumps(chat_ids), stamp),
        )
        alert_ids = sorted({int(r["alert_id"]) for r in rows})
        alerts = {
            int(a["id"]): a
            for a in await tx.fetchall(
                "SELECT id, visit_id, kind, payload, created_at FROM alerts"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(alert_ids),),
            )
        }
    parsed: dict[int, dict[str, Any]] = {}
    unreadable: list[int] = []
    by_chat: dict[int, list[DueDelivery]] = {}
    for r in sorted(rows, key=lambda r: int(r["id"])):
        alert = alerts[int(r["alert_id"])]
        payload = parsed.get(int(alert["id"]))
        if payload is None:
            try:
                payload = parsed[int(alert["id"])] = json.loads(alert["payload"])
            except (TypeError, ValueError):
                # Never written by visitbot itself (a hand-edited row); fail it, visibly.
                unreadable.append(int(r["id"]))
                continue
        by_chat.setdefault(int(r["chat_id"]), []).append(
            DueDelivery(
                id=int(r["id"]),
                alert_id=int(r["alert_id"]),
                chat_id=int(r["chat_id"]),
                attempts=int(r["attempts"]),
                kind=alert["kind"],
                visit_id=int(alert["visit_id"]),
                payload=payload,
                created_at=str(alert["created_at"]),
            )
        )
    if unreadable:
        log.error("deliveries %s have an unreadable alert payload; marked failed", unreadable)
        async with db.transaction() as tx:
            await tx.executemany(
                "UPDATE deliveries SET status = 'failed', last_error = 'unreadable alert payload'"
                " WHERE id = ?",
                [(i,) for i in unreadable],
            )
    extra = [d for ds in by_chat.values() for d in ds[max_per_chat:]]
    if extra:  # very long backlogs go out over several rounds
        await release(db, [d.id for d in extra])
        by_chat = {c: ds[:max_per_chat] for c, ds in by_chat.items()}
    return by_chat


async def postpone(db: Database, ids: Sequence[int], until: dt.datetime) -> None:
    """Put claimed rows back to 'pending' until `until` (not an attempt): quiet hours began."""
    async with db.transaction() as tx:
        await tx.executemany(
            "UPDATE deliveries SET status = 'pending', attempts = attempts - 1, not_before = ?"
            " WHERE id = ? AND status = 'sending'",
            [(to_db_time(until), i) for i in ids],
        )


async def release(db: Database, ids: Sequence[int]) -> None:
    """Put claimed rows back to 'pending' untouched (not an attempt)."""
    async with db.transaction() as tx:
        await tx.executemany(
            "UPDATE deliveries SET status = 'pending', attempts = attempts - 1"
            " WHERE id = ? AND status = 'sending'",
            [(i,) for i in ids],
        )


@dataclass(frozen=True)
class Outcome:
    """The result of one delivery attempt, recorded in batches by `record_outcomes`."""

    delivery_id: int
    status: DeliveryStatus
    message_id: int | None = None
    error: str | None = None
    sent_at: dt.datetime | None = None


async def record_outcomes(
    db: Database, outcomes: Sequence[Outcome], paid: dict[int, int] | None = None
) -> None:
    """Write many outcomes in one transaction (one transaction per message would cap speed),
    with the alerts' billed paid-broadcast totals when there are any (`add_paid_messages`)."""
    if not outcomes and not paid:
        return
    async with db.transaction() as tx:
        if paid:
            await add_paid_messages(tx, paid)
        await tx.executemany(
            "UPDATE deliveries SET status = ?, message_id = COALESCE(?, message_id),"
            " last_error = ?, sent_at = COALESCE(?, sent_at) WHERE id = ?",
            [
                (
                    o.status,
                    o.message_id,
                    o.error,
                    to_db_time(o.sent_at) if o.sent_at else None,
                    o.delivery_id,
                )
                for o in outcomes
            ],
        )


async def any_due(db: Database, now: dt.datetime) -> bool:
    """Whether any pending delivery is due at `now` (e.g. one waiting for a cooling chat)."""
    row = await db.fetchone(
        "SELECT 1 FROM deliveries WHERE status = 'pending' AND not_before <= ? LIMIT 1",
        (to_db_time(now),),
    )
    return row is not None


async def release_chat(db: Database, chat_id: int) -> None:
    """Put every row of a chat that is 'sending' back to 'pending' (flood control held it)."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE deliveries SET status = 'pending', attempts = attempts - 1"
            " WHERE chat_id = ? AND status = 'sending'",
            (chat_id,),
        )


async def next_due_at(db: Database, exclude_chats: Iterable[int] = ()) -> str | None:
    """The earliest `not_before` of a pending delivery (ISO UTC), for the worker's sleep.

    Chats the worker cannot send to yet (cooling down after a send) are left out: their rows
    are already due, and counting them would wake the worker at once, again and again.
    """
    value = await db.fetchval(
        "SELECT not_before FROM deliveries WHERE status = 'pending'"
        " AND chat_id NOT IN (SELECT value FROM json_each(?)) ORDER BY not_before LIMIT 1",
        (json.dumps(sorted(set(exclude_chats))),),
    )
    return None if value is None else str(value)


# --- statistics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryStats:
    alerts_by_kind: dict[str, int]
    deliveries: dict[str, int]  # status -> count
    last_sent_at: str | None
    paid_messages: int = 0  # billed paid-broadcast messages (0.1 Star each)


async def delivery_stats(db: Database, visit_id: int) -> DeliveryStats:
    """A visit's alerts and deliveries, from the per-alert totals (one row per alert, kept by
    triggers and through compaction), so the answer costs the same at a million deliveries."""
    kinds = await db.fetchall(
        "SELECT kind, COUNT(*) AS n FROM alerts WHERE visit_id = ? GROUP BY kind", (visit_id,)
    )
    row = await db.fetchone(
        "SELECT SUM(t.pending) AS pending, SUM(t.sending) AS sending, SUM(t.sent) AS sent,"
        " SUM(t.failed) AS failed, SUM(t.dropped) AS dropped, MAX(t.last_sent_at) AS last,"
        " SUM(t.paid_messages) AS paid"
        " FROM alert_totals t JOIN alerts a ON a.id = t.alert_id WHERE a.visit_id = ?",
        (visit_id,),
    )
    by_status: dict[str, int] = {s: int((row[s] if row else 0) or 0) for s in _STATUSES}
    last = row["last"] if row else None
    return DeliveryStats(
        alerts_by_kind={str(r["kind"]): int(r["n"]) for r in kinds},
        deliveries=by_status,
        last_sent_at=None if last is None else str(last),
        paid_messages=int((row["paid"] if row else 0) or 0),
    )


async def deliveries_by_status(db: Database) -> dict[str, int]:
    """Every delivery ever queued, by status (all visits: the process's own totals), compacted
    rows included."""
    row = await db.fetchone(
        "SELECT SUM(pending) AS pending, SUM(sending) AS sending, SUM(sent) AS sent,"
        " SUM(failed) AS failed, SUM(dropped) AS dropped FROM alert_totals"
    )
    return {s: int(row[s]) for s in _STATUSES if row is not None and row[s]}


async def alerts_by_kind(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT kind, COUNT(*) AS n FROM alerts GROUP BY kind")
    return {str(r["kind"]): int(r["n"]) for r in rows}


async def last_delivery_at(db: Database) -> dt.datetime | None:
    """When the latest alert went out (from the per-alert totals, so compaction keeps it)."""
    value = await db.fetchval("SELECT MAX(last_sent_at) FROM alert_totals")
    return _time(value)


def _time(value: object) -> dt.datetime | None:
    if not value:
        return None
    try:
        return from_db_time(str(value))
    except ValueError:
        return None


# --- compaction -----------------------------------------------------------------------------

TERMINAL: tuple[DeliveryStatus, ...] = ("sent", "failed", "dropped")


async def compact_deliveries(db: Database, before: dt.datetime, *, batch: int = 5000) -> int:
    """Delete up to `batch` finished delivery rows of alerts created before `before`.

    Their counts stay in `alert_totals` (the triggers counted them when their status changed;
    deleting does not uncount), with `compacted` saying how many rows are gone, so /stats and
    /metrics read the same numbers afterwards. Rows still pending or in flight are never
    touched. One short transaction per call: the caller repeats until it returns 0, and other
    work gets the database in between. Returns the number of rows deleted.
    """
    stamp = to_db_time(before)
    async with db.transaction() as tx:
        alerts = await tx.fetchall(
            "SELECT t.alert_id FROM alert_totals t JOIN alerts a ON a.id = t.alert_id"
            " WHERE a.created_at < ? AND t.sent + t.failed + t.dropped > t.compacted"
            " ORDER BY t.alert_id LIMIT 50",
            (stamp,),
        )
        deleted = 0
        for row in alerts:
            alert_id = int(row["alert_id"])
            count = await tx.execute_rowcount(
                "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries"
                " WHERE alert_id = ? AND status IN ('sent', 'failed', 'dropped') LIMIT ?)",
                (alert_id, batch - deleted),
            )
            if count:
                await tx.execute(
                    "UPDATE alert_totals SET compacted = compacted + ? WHERE alert_id = ?",
                    (count, alert_id),
                )
            deleted += count
            if deleted >= batch:
                break
    return deleted


async def add_paid_messages(tx: Tx, spent: dict[int, int]) -> None:
    """Raise each alert's count of billed paid-broadcast messages to at least the given total.

    Totals, not increments: writing the same total twice (a retried flush) changes nothing.
    """
    await tx.executemany(
        "UPDATE alert_totals SET paid_messages = MAX(paid_messages, ?) WHERE alert_id = ?",
        [(n, alert_id) for alert_id, n in spent.items()],
    )


async def paid_messages(db: Database, alert_id: int) -> int:
    """Billed paid-broadcast messages recorded for an alert (to resume its budget)."""
    value = await db.fetchval(
        "SELECT paid_messages FROM alert_totals WHERE alert_id = ?", (alert_id,)
    )
    return int(value or 0)
