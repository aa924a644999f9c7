"""Chats, users, subscriptions and per-chat preferences.

A chat is *subscribed* to a visit when it has a `subscriptions` row for it, or follows every
visit (an `all_visit_subscriptions` row, future visits included; in this module's functions
`visit_id=None` means "every visit"). It is *reachable* while
`chats.active` is 1. Telegram tells us when a chat stops being reachable (blocked, kicked, chat
not found): the chat is deactivated and its pending deliveries are dropped, because stale alerts
delivered days later help nobody. A later message from the chat reactivates it; the
subscription itself is kept throughout, so nobody has to subscribe again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Literal

from storage.alerts import ChatPrefs, reschedule_chat
from storage.db import Database, Tx, to_db_time

log = logging.getLogger(__name__)

Topics = Literal["all", "agreements", "agenda"]
SubscribeResult = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Subscription:
    chat_id: int
    wants_agreements: bool
    wants_agenda: bool
    set_by: int | None
    timezone: str | None
    quiet_start: int | None
    quiet_end: int | None
    digest_hour: int | None
    active: bool

    @property
    def prefs(self) -> ChatPrefs:
        return ChatPrefs(self.timezone, self.quiet_start, self.quiet_end, self.digest_hour)


async def upsert_chat(tx: Tx, chat_id: int, kind: str, title: str, now: dt.datetime) -> None:
    stamp = to_db_time(now)
    await tx.execute(
        "INSERT INTO chats (chat_id, type, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (chat_id) DO UPDATE SET type = excluded.type, title = excluded.title,"
        " updated_at = excluded.updated_at"
        " WHERE chats.type IS NOT excluded.type OR chats.title IS NOT excluded.title",
        (chat_id, kind, title, stamp, stamp),
    )


async def record_user(
    db: Database, user_id: int, language_code: str | None, now: dt.datetime
) -> None:
    """Remember a user and their Telegram language (groups use their subscriber's language)."""
    stamp = to_db_time(now)
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO users (user_id, language_code, first_seen_at, last_seen_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
            " language_code = COALESCE(excluded.language_code, users.language_code),"
            " last_seen_at = excluded.last_seen_at",
            (user_id, language_code, stamp, stamp),
        )


def _where(visit_id: int | None) -> tuple[str, tuple[int, ...]]:
    """The subscription table for one visit or for every visit, and the key columns' values."""
    if visit_id is None:
        return "all_visit_subscriptions", ()
    return "subscriptions", (visit_id,)


async def subscription(db: Database, visit_id: int | None, chat_id: int) -> Subscription | None:
    """A chat's subscription to one visit, or (`visit_id=None`) to every visit."""
    table, key = _where(visit_id)
    visit_clause = "s.visit_id = ? AND " if key else ""
    row = await db.fetchone(
        "SELECT s.chat_id, s.wants_agreements, s.wants_agenda, s.set_by, c.timezone,"
        " c.quiet_start, c.quiet_end, c.digest_hour, c.active"
        f" FROM {table} s JOIN chats c ON c.chat_id = s.chat_id"
        f" WHERE {visit_clause}s.chat_id = ?",
        (*key, chat_id),
    )
    if row is None:
        return None
    return Subscription(
        chat_id=int(row["chat_id"]),
        wants_agreements=bool(row["wants_agreements"]),
        wants_agenda=bool(row["wants_agenda"]),
        set_by=row["set_by"],
        timezone=row["timezone"],
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        digest_hour=row["digest_hour"],
        active=bool(row["active"]),
    )


async def chat_prefs(db: Database, chat_id: int) -> ChatPrefs:
    row = await db.fetchone(
        "SELECT timezone, quiet_start, quiet_end, digest_hour FROM chats WHERE chat_id = ?",
        (chat_id,),
    )
    if row is None:
        return ChatPrefs(None, None, None, None)
    return ChatPrefs(row["timezone"], row["quiet_start"], row["quiet_end"], row["digest_hour"])


async def feed_agenda(db: Database, chat_id: int) -> bool:
    """Whether the chat keeps feed-driven agenda alerts (on unless it turned them off)."""
    row = await db.fetchone("SELECT feed_agenda FROM chats WHERE chat_id = ?", (chat_id,))
    return row is None or bool(row["feed_agenda"])


async def set_feed_agenda(db: Database, chat_id: int, on: bool, now: dt.datetime) -> None:
    """Feed-driven agenda alerts on or off; admin-confirmed agenda alerts are not affected.
    Turning them off also drops the ones still waiting for the chat (quiet hours, digest, the
    hourly cap): off means none from now on."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE chats SET feed_agenda = ?, updated_at = ? WHERE chat_id = ?",
            (int(on), to_db_time(now), chat_id),
        )
        if not on:
            await tx.execute(
                "UPDATE deliveries SET status = 'dropped', last_error = 'feed alerts turned off'"
                " WHERE chat_id = ? AND status = 'pending' AND alert_id IN"
                " (SELECT id FROM alerts WHERE kind = 'programme')",
                (chat_id,),
            )


async def subscribe(
    db: Database,
    *,
    visit_id: int | None,
    chat_id: int,
    chat_type: str,
    title: str,
    set_by: int | None,
    topics: Topics,
    now: dt.datetime,
) -> SubscribeResult:
    """Subscribe a chat to a visit, or to every visit (`visit_id=None`), or change what it
    follows there; says whether anything changed."""
    async with db.transaction() as tx:
        return await subscribe_in(
            tx,
            visit_id=visit_id,
            chat_id=chat_id,
            chat_type=chat_type,
            title=title,
            set_by=set_by,
            topics=topics,
            now=now,
        )


async def subscribe_in(
    tx: Tx,
    *,
    visit_id: int | None,
    chat_id: int,
    chat_type: str,
    title: str,
    set_by: int | None,
    topics: Topics,
    now: dt.datetime,
) -> SubscribeResult:
    """`subscribe` inside the caller's transaction (linking a channel does more in it)."""
    agreements = topics in ("all", "agreements")
    agenda = topics in ("all", "agenda")
    stamp = to_db_time(now)
    await upsert_chat(tx, chat_id, chat_type, title, now)
    await tx.execute(
        "UPDATE chats SET active = 1, inactive_reason = NULL WHERE chat_id = ?", (chat_id,)
    )
    table, key = _where(visit_id)
    keys = "visit_id, chat_id" if key else "chat_id"
    row = await tx.fetchone(
        f"SELECT wants_agreements, wants_agenda FROM {table}"
        f" WHERE {'visit_id = ? AND ' if key else ''}chat_id = ?",
        (*key, chat_id),
    )
    if row is not None and (bool(row[0]), bool(row[1])) == (agreements, agenda):
        return "unchanged"
    marks = ", ".join("?" * (len(key) + 6))
    await tx.execute(
        f"INSERT INTO {table} ({keys}, wants_agreements, wants_agenda, set_by,"
        f" created_at, updated_at) VALUES ({marks})"
        f" ON CONFLICT ({keys}) DO UPDATE SET"
        " wants_agreements = excluded.wants_agreements, wants_agenda = excluded.wants_agenda,"
        " set_by = excluded.set_by, updated_at = excluded.updated_at",
        (*key, chat_id, int(agreements), int(agenda), set_by, stamp, stamp),
    )
    return "created" if row is None else "updated"


async def unsubscribe(db: Database, visit_id: int | None, chat_id: int) -> bool:
    """Remove the subscription (to one visit, or to every visit) and drop what was still
    queued for the chat that no remaining subscription asks for."""
    async with db.transaction() as tx:
        table, key = _where(visit_id)
        removed = await tx.execute_rowcount(
            f"DELETE FROM {table} WHERE {'visit_id = ? AND ' if key else ''}chat_id = ?",
            (*key, chat_id),
        )
        await tx.execute(
            "UPDATE deliveries SET status = 'dropped', last_error = 'unsubscribed'"
            " WHERE chat_id = ? AND status = 'pending'"
            " AND NOT EXISTS (SELECT 1 FROM all_visit_subscriptions WHERE chat_id = ?)"
            " AND alert_id IN (SELECT a.id FROM alerts a WHERE NOT EXISTS"
            " (SELECT 1 FROM subscriptions s WHERE s.chat_id = ? AND s.visit_id = a.visit_id))",
            (chat_id, chat_id, chat_id),
        )
    return removed > 0


async def followed_visit_ids(db: Database, chat_id: int) -> list[int]:
    """The visits a chat subscribed to one by one (not counting "every visit")."""
    rows = await db.fetchall(
        "SELECT visit_id FROM subscriptions WHERE chat_id = ? ORDER BY visit_id", (chat_id,)
    )
    return [int(r["visit_id"]) for r in rows]


# --- the current visit ------------------------------------------------------------------------


async def current_visit_id(db: Database, chat_id: int) -> int | None:
    """The visit a chat picked (what /facts, /agenda ... answer for); None: it picked none."""
    value = await db.fetchval("SELECT current_visit_id FROM chats WHERE chat_id = ?", (chat_id,))
    return None if value is None else int(value)


async def set_current_visit(
    db: Database, chat_id: int, chat_type: str, title: str, visit_id: int, now: dt.datetime
) -> None:
    async with db.transaction() as tx:
        await upsert_chat(tx, chat_id, chat_type, title, now)
        await tx.execute(
            "UPDATE chats SET current_visit_id = ?, updated_at = ? WHERE chat_id = ?",
            (visit_id, to_db_time(now), chat_id),
        )


async def set_preferences(
    db: Database,
    chat_id: int,
    *,
    now: dt.datetime,
    default_tz: dt.tzinfo,
    timezone: str | None | Literal[False] = False,
    quiet: tuple[int, int] | None | Literal[False] = False,
    digest_hour: int | None | Literal[False] = False,
) -> ChatPrefs:
    """Change some preferences (False = leave as is) and reschedule the chat's pending rows."""
    async with db.transaction() as tx:
        if timezone is not False:
            await tx.execute("UPDATE chats SET timezone = ? WHERE chat_id = ?", (timezone, chat_id))
        if quiet is not False:
            start, end = quiet if quiet is not None else (None, None)
            await tx.execute(
                "UPDATE chats SET quiet_start = ?, quiet_end = ? WHERE chat_id = ?",
                (start, end, chat_id),
            )
        if digest_hour is not False:
            await tx.execute(
                "UPDATE chats SET digest_hour = ? WHERE chat_id = ?", (digest_hour, chat_id)
            )
        await tx.execute(
            "UPDATE chats SET updated_at = ? WHERE chat_id = ?", (to_db_time(now), chat_id)
        )
        row = await tx.fetchone(
            "SELECT timezone, quiet_start, quiet_end, digest_hour FROM chats WHERE chat_id = ?",
            (chat_id,),
        )
        prefs = (
            ChatPrefs(None, None, None, None)
            if row is None
            else ChatPrefs(
                row["timezone"], row["quiet_start"], row["quiet_end"], row["digest_hour"]
            )
        )
        await reschedule_chat(tx, chat_id, prefs, now, default_tz)
    return prefs


# --- reachability ---------------------------------------------------------------------------


async def deactivate_in(tx: Tx, chat_id: int, reason: str, now: dt.datetime) -> None:
    await tx.execute(
        "UPDATE chats SET active = 0, inactive_reason = ?, updated_at = ? WHERE chat_id = ?",
        (reason[:200], to_db_time(now), chat_id),
    )
    await tx.execute(
        "UPDATE deliveries SET status = 'dropped', last_error = ?"
        " WHERE chat_id = ? AND status IN ('pending', 'sending')",
        (f"chat inactive: {reason}"[:200], chat_id),
    )


@dataclass(frozen=True)
class LostChat:
    """A chat just deactivated: who subscribed it (a channel: who linked it), and its title,
    to tell them."""

    chat_id: int
    title: str
    set_by: int | None
    reason: str
    channel: bool = False


async def deactivate(db: Database, chat_id: int, reason: str, now: dt.datetime) -> LostChat | None:
    """Stop sending to a chat that blocked or removed the bot (its subscription is kept).

    Returns the chat's subscriber and title when it was active until now, so whoever reacts
    (telling the subscriber) does so once, not on every failed alert; None otherwise.
    """
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT c.title, c.active, c.type, COALESCE("
            " (SELECT linked_by FROM channels WHERE chat_id = c.chat_id AND linked_at IS NOT NULL),"
            " (SELECT set_by FROM (SELECT set_by, updated_at FROM"
            " subscriptions WHERE chat_id = c.chat_id UNION ALL SELECT set_by, updated_at"
            " FROM all_visit_subscriptions WHERE chat_id = c.chat_id)"
            " ORDER BY updated_at DESC LIMIT 1)) AS set_by"
            " FROM chats c WHERE c.chat_id = ?",
            (chat_id,),
        )
        await deactivate_in(tx, chat_id, reason, now)
    log.info("chat %s deactivated: %s", chat_id, reason)
    if row is None or not row["active"]:
        return None
    channel = row["type"] == "channel"
    return LostChat(chat_id, str(row["title"] or ""), row["set_by"], reason, channel)


async def reactivate(db: Database, chat_id: int, now: dt.datetime) -> bool:
    """The chat talks to us again (e.g. /start after unblocking); True if it was inactive."""
    async with db.transaction() as tx:
        changed = await tx.execute_rowcount(
            "UPDATE chats SET active = 1, inactive_reason = NULL, updated_at = ?"
            " WHERE chat_id = ? AND active = 0 AND migrated_to IS NULL",
            (to_db_time(now), chat_id),
        )
    if changed:
        log.info("chat %s reactivated", chat_id)
    return changed > 0


async def migrate_chat_in(tx: Tx, old_id: int, new_id: int, now: dt.datetime) -> None:
    """A group became a supergroup: its subscription, preferences and queue follow it."""
    stamp = to_db_time(now)
    old = await tx.fetchone("SELECT * FROM chats WHERE chat_id = ?", (old_id,))
    if old is None or old["migrated_to"] == new_id:
        return
    new = await tx.fetchone("SELECT 1 FROM chats WHERE chat_id = ?", (new_id,))
    if new is None:
        await tx.execute(
            "INSERT INTO chats (chat_id, type, title, language, timezone, quiet_start, quiet_end,"
            " digest_hour, feed_agenda, active, created_at, updated_at)"
            " SELECT ?, 'supergroup', title, language, timezone, quiet_start, quiet_end,"
            " digest_hour, feed_agenda, 1, ?, ? FROM chats WHERE chat_id = ?",
            (new_id, stamp, stamp, old_id),
        )
    else:
        # The supergroup's row came first (its service message, a command there): what it
        # set itself wins, anything it left unset comes from the old group; quiet hours move
        # as a pair.
        await tx.execute(
            "UPDATE chats SET type = 'supergroup',"
            " title = CASE WHEN chats.title = '' THEN o.title ELSE chats.title END,"
            " language = COALESCE(chats.language, o.language),"
            " timezone = COALESCE(chats.timezone, o.timezone),"
            " quiet_start = CASE WHEN chats.quiet_start IS NULL THEN o.quiet_start"
            "   ELSE chats.quiet_start END,"
            " quiet_end = CASE WHEN chats.quiet_start IS NULL THEN o.quiet_end"
            "   ELSE chats.quiet_end END,"
            " digest_hour = COALESCE(chats.digest_hour, o.digest_hour),"
            " feed_agenda = MIN(chats.feed_agenda, o.feed_agenda),"
            " active = 1, inactive_reason = NULL, updated_at = ?"
            " FROM (SELECT * FROM chats WHERE chat_id = ?) AS o WHERE chats.chat_id = ?",
            (stamp, old_id, new_id),
        )
    # A subscription of the supergroup itself merges with the old one: the topics of both,
    # and who set it there (else who set the old one).
    await tx.execute(
        "INSERT INTO subscriptions (visit_id, chat_id, wants_agreements, wants_agenda,"
        " set_by, created_at, updated_at) SELECT visit_id, ?, wants_agreements, wants_agenda,"
        " set_by, created_at, ? FROM subscriptions WHERE chat_id = ?"
        " ON CONFLICT (visit_id, chat_id) DO UPDATE SET"
        " wants_agreements = MAX(subscriptions.wants_agreements, excluded.wants_agreements),"
        " wants_agenda = MAX(subscriptions.wants_agenda, excluded.wants_agenda),"
        " set_by = COALESCE(subscriptions.set_by, excluded.set_by),"
        " updated_at = excluded.updated_at",
        (new_id, stamp, old_id),
    )
    await tx.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old_id,))
    await tx.execute(
        "INSERT INTO all_visit_subscriptions (chat_id, wants_agreements, wants_agenda, set_by,"
        " created_at, updated_at) SELECT ?, wants_agreements, wants_agenda, set_by, created_at, ?"
        " FROM all_visit_subscriptions WHERE chat_id = ? ON CONFLICT (chat_id) DO UPDATE SET"
        " wants_agreements = MAX(all_visit_subscriptions.wants_agreements,"
        "   excluded.wants_agreements),"
        " wants_agenda = MAX(all_visit_subscriptions.wants_agenda, excluded.wants_agenda),"
        " set_by = COALESCE(all_visit_subscriptions.set_by, excluded.set_by),"
        " updated_at = excluded.updated_at",
        (new_id, stamp, old_id),
    )
    await tx.execute("DELETE FROM all_visit_subscriptions WHERE chat_id = ?", (old_id,))
    await tx.execute(
        "UPDATE chats SET current_visit_id = COALESCE(current_visit_id,"
        " (SELECT current_visit_id FROM chats WHERE chat_id = ?)) WHERE chat_id = ?",
        (old_id, new_id),
    )
    await tx.execute(
        "UPDATE OR IGNORE deliveries SET chat_id = ?, status = 'pending'"
        " WHERE chat_id = ? AND status IN ('pending', 'sending')",
        (new_id, old_id),
    )
    await tx.execute(
        "UPDATE deliveries SET status = 'dropped', last_error = 'migrated (duplicate)'"
        " WHERE chat_id = ? AND status IN ('pending', 'sending')",
        (old_id,),
    )
    await tx.execute(
        "UPDATE chats SET active = 0, inactive_reason = 'migrated', migrated_to = ?,"
        " updated_at = ? WHERE chat_id = ?",
        (new_id, stamp, old_id),
    )
    log.info("chat %s migrated to %s", old_id, new_id)


async def migrate_chat(db: Database, old_id: int, new_id: int, now: dt.datetime) -> None:
    async with db.transaction() as tx:
        await migrate_chat_in(tx, old_id, new_id, now)


# --- what the worker needs to render ------------------------------------------------------


@dataclass(frozen=True)
class ChatView:
    chat_id: int
    timezone: str | None
    digest_hour: int | None
    language: str | None  # an explicit choice (chat or user)
    language_code: str | None  # Telegram's code of the chat's user or subscriber
    quiet_start: int | None = None  # minutes after local midnight
    quiet_end: int | None = None
    several_visits: bool = False  # follows more than one visit: alerts say which visit
    channel: bool = False  # one post per alert, no quiet hours or digests


async def chat_views(db: Database, chat_ids: list[int]) -> dict[int, ChatView]:
    """Language and time zone of many chats in one query (groups speak the language of who
    set their latest subscription), and whether they follow more than one visit."""
    # Per chat, through the indexes on chat_id: a window over every subscription would cost
    # the whole table on each claim of a fan-out.
    rows = await db.fetchall(
        "SELECT c.chat_id, c.type, c.timezone, c.digest_hour, c.quiet_start, c.quiet_end,"
        " COALESCE(c.language, u.language) AS lang, u.language_code,"
        " (SELECT COUNT(*) FROM subscriptions s WHERE s.chat_id = c.chat_id)"
        "   + 2 * EXISTS (SELECT 1 FROM all_visit_subscriptions a WHERE a.chat_id = c.chat_id)"
        "   AS followed"
        " FROM json_each(?) j CROSS JOIN chats c ON c.chat_id = j.value"
        " LEFT JOIN users u ON u.user_id = CASE WHEN c.chat_id > 0 THEN c.chat_id ELSE ("
        "   SELECT set_by FROM (SELECT set_by, updated_at FROM subscriptions"
        "   WHERE chat_id = c.chat_id UNION ALL SELECT set_by, updated_at"
        "   FROM all_visit_subscriptions WHERE chat_id = c.chat_id)"
        "   ORDER BY updated_at DESC LIMIT 1) END",
        (json.dumps(chat_ids),),
    )
    return {
        int(r["chat_id"]): ChatView(
            int(r["chat_id"]),
            r["timezone"],
            r["digest_hour"],
            r["lang"],
            r["language_code"],
            r["quiet_start"],
            r["quiet_end"],
            int(r["followed"]) > 1,
            r["type"] == "channel",
        )
        for r in rows
    }


@dataclass(frozen=True)
class SubscriberStats:
    active: int
    inactive: int
    agreements: int
    agenda: int
    groups: int
    quiet: int
    digest: int


async def subscriber_stats(db: Database, visit_id: int) -> SubscriberStats:
    row = await db.fetchone(
        "SELECT SUM(c.active = 1) AS active, SUM(c.active = 0) AS inactive,"
        " SUM(c.active = 1 AND s.wants_agreements = 1) AS agreements,"
        " SUM(c.active = 1 AND s.wants_agenda = 1) AS agenda,"
        " SUM(c.active = 1 AND c.chat_id < 0) AS groups,"
        " SUM(c.active = 1 AND c.quiet_start IS NOT NULL) AS quiet,"
        " SUM(c.active = 1 AND c.digest_hour IS NOT NULL) AS digest"
        " FROM (SELECT chat_id, wants_agreements, wants_agenda FROM subscriptions"
        "   WHERE visit_id = ? UNION SELECT chat_id, wants_agreements, wants_agenda"
        "   FROM all_visit_subscriptions) s"
        " JOIN chats c ON c.chat_id = s.chat_id",
        (visit_id,),
    )
    assert row is not None

    def n(key: str) -> int:
        return int(row[key] or 0)

    return SubscriberStats(
        n("active"),
        n("inactive"),
        n("agreements"),
        n("agenda"),
        n("groups"),
        n("quiet"),
        n("digest"),
    )
