"""Channels: which are linked, by whom, what they follow, and their state.

A channel is a chat like any other (`chats`, type 'channel'; its subscriptions are ordinary
`subscriptions` rows), with a row in `channels` for what only a channel has:

* `added_by`: who made the bot an administrator there (Telegram's my_chat_member update names
  them), the one person the bot can tell anything about the channel before it is linked;
* `linked_by`: who linked it, told in private when the bot loses the channel. Linking by
  posting `/subscribe` in the channel makes that `added_by` (a channel post carries no
  author); `/addchannel` makes it the bot admin who gave it. The channel's subscriptions carry
  the same user as `set_by`, so its posts speak their language until the channel picks one;
* `linked_via` ('post' or 'command'), `linked_at` (NULL: not linked), `last_post_at` (kept by a
  trigger on deliveries, so it survives compaction).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Literal

from storage.audit import Actor, audited
from storage.db import Database, Reader, Tx, to_db_time
from storage.subscriptions import SubscribeResult, Topics, subscribe_in, upsert_chat

LinkedVia = Literal["post", "command"]


@dataclass(frozen=True)
class Follow:
    """One subscription of a channel: a visit (None: every visit) and its kinds."""

    visit_id: int | None
    agreements: bool
    agenda: bool


@dataclass(frozen=True)
class Channel:
    chat_id: int
    title: str
    username: str | None
    added_by: int | None
    linked_by: int | None
    linked_via: LinkedVia | None
    linked_at: str | None
    last_post_at: str | None
    active: bool
    inactive_reason: str | None
    language: str | None  # chosen for the channel; None: its linker's language
    timezone: str | None
    follows: tuple[Follow, ...] = ()

    @property
    def linker(self) -> int | None:
        """Who speaks for the channel: who linked it, else who added the bot there."""
        return self.linked_by if self.linked_by is not None else self.added_by


async def _upsert(tx: Tx, chat_id: int, title: str, username: str | None, now: dt.datetime) -> None:
    await upsert_chat(tx, chat_id, "channel", title, now)
    await tx.execute(
        "INSERT INTO channels (chat_id, username) VALUES (?, ?)"
        " ON CONFLICT (chat_id) DO UPDATE SET username = excluded.username",
        (chat_id, username),
    )


async def record_channel(
    db: Database,
    chat_id: int,
    *,
    title: str,
    username: str | None,
    added_by: int | None,
    now: dt.datetime,
) -> None:
    """The bot was made an administrator of a channel (or its rights changed) by `added_by`."""
    async with db.transaction() as tx:
        await _upsert(tx, chat_id, title, username, now)
        if added_by is not None:
            await tx.execute(
                "UPDATE channels SET added_by = ? WHERE chat_id = ?", (added_by, chat_id)
            )


async def link_in(
    tx: Tx,
    chat_id: int,
    *,
    title: str,
    username: str | None,
    linked_by: int | None,
    via: LinkedVia,
    visit_id: int | None,
    topics: Topics,
    now: dt.datetime,
) -> SubscribeResult:
    """Link the channel (or link it again) and subscribe it, in the caller's transaction.

    `linked_by` None keeps whoever linked it before, else whoever added the bot there.
    """
    await _upsert(tx, chat_id, title, username, now)
    row = await tx.fetchone(
        "SELECT linked_by, added_by, linked_at FROM channels WHERE chat_id = ?", (chat_id,)
    )
    assert row is not None
    if linked_by is None:
        linked_by = row["linked_by"] if row["linked_at"] else None
        linked_by = linked_by if linked_by is not None else row["added_by"]
    await tx.execute(
        "UPDATE channels SET linked_by = ?, linked_via = ?, linked_at = ? WHERE chat_id = ?",
        (linked_by, via, to_db_time(now), chat_id),
    )
    # Every subscription of the channel speaks for the same person: its posts follow their
    # language until the channel picks one.
    for table in ("subscriptions", "all_visit_subscriptions"):
        await tx.execute(f"UPDATE {table} SET set_by = ? WHERE chat_id = ?", (linked_by, chat_id))
    return await subscribe_in(
        tx,
        visit_id=visit_id,
        chat_id=chat_id,
        chat_type="channel",
        title=title,
        set_by=linked_by,
        topics=topics,
        now=now,
    )


@dataclass(frozen=True)
class LinkRequest:
    """What a channel is linked with: its Telegram details and what it is to follow."""

    chat_id: int
    title: str
    username: str | None
    visit_id: int | None  # None: every visit
    topics: Topics


async def link(db: Database, request: LinkRequest, now: dt.datetime) -> SubscribeResult:
    """A channel's own `/subscribe`: linked for whoever linked it before, else whoever made
    the bot an administrator there (a channel post names nobody; no admin to audit)."""
    async with db.transaction() as tx:
        return await _link(tx, request, None, "post", now)


async def link_by_admin(db: Database, actor: Actor, request: LinkRequest) -> SubscribeResult:
    """/addchannel: the link, the subscription and the audit row, together."""
    async with audited(db, actor) as tx:
        result = await _link(tx, request, actor.user_id, "command", actor.now)
        after = {
            "title": request.title,
            "visit_id": request.visit_id,
            "topics": request.topics,
            "result": result,
        }
        await tx.log("addchannel", f"chat:{request.chat_id}", after=after)
    return result


async def _link(
    tx: Tx, r: LinkRequest, linked_by: int | None, via: LinkedVia, now: dt.datetime
) -> SubscribeResult:
    return await link_in(
        tx,
        r.chat_id,
        title=r.title,
        username=r.username,
        linked_by=linked_by,
        via=via,
        visit_id=r.visit_id,
        topics=r.topics,
        now=now,
    )


async def unlink_in(tx: Tx, chat_id: int, now: dt.datetime) -> bool:
    """Stop every alert to the channel: its subscriptions go, what was queued is dropped.

    The row stays (who added the bot there is still true); False if it was not linked.
    """
    changed = await tx.execute_rowcount(
        "UPDATE channels SET linked_at = NULL, linked_by = NULL, linked_via = NULL"
        " WHERE chat_id = ? AND linked_at IS NOT NULL",
        (chat_id,),
    )
    await tx.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))
    await tx.execute("DELETE FROM all_visit_subscriptions WHERE chat_id = ?", (chat_id,))
    await tx.execute(
        "UPDATE deliveries SET status = 'dropped', last_error = 'channel unlinked'"
        " WHERE chat_id = ? AND status = 'pending'",
        (chat_id,),
    )
    await tx.execute(
        "UPDATE chats SET updated_at = ? WHERE chat_id = ?", (to_db_time(now), chat_id)
    )
    return changed > 0


async def unlink(db: Database, chat_id: int, now: dt.datetime) -> bool:
    """`unlink_in` in its own transaction: the channel unsubscribed from everything itself."""
    async with db.transaction() as tx:
        return await unlink_in(tx, chat_id, now)


async def unlink_by_admin(db: Database, actor: Actor, chat_id: int) -> bool:
    async with audited(db, actor) as tx:
        changed = await unlink_in(tx, chat_id, actor.now)
        if changed:
            await tx.log("unlinkchannel", f"chat:{chat_id}")
    return changed


async def set_language(db: Database, chat_id: int, language: str | None, now: dt.datetime) -> None:
    """The language of the channel's posts (None: its linker's), set in the channel itself."""
    async with db.transaction() as tx:
        await _set_language(tx, chat_id, language, now)


async def set_language_by_admin(
    db: Database, actor: Actor, chat_id: int, language: str | None
) -> None:
    async with audited(db, actor) as tx:
        before = await tx.fetchone("SELECT language FROM chats WHERE chat_id = ?", (chat_id,))
        await _set_language(tx, chat_id, language, actor.now)
        await tx.log(
            "channellanguage",
            f"chat:{chat_id}",
            before={"language": before["language"] if before else None},
            after={"language": language},
        )


async def _set_language(tx: Tx, chat_id: int, language: str | None, now: dt.datetime) -> None:
    await tx.execute(
        "UPDATE chats SET language = ?, updated_at = ? WHERE chat_id = ?",
        (language, to_db_time(now), chat_id),
    )


_SELECT = (
    "SELECT c.chat_id, c.title, c.active, c.inactive_reason, c.language, c.timezone,"
    " h.username, h.added_by, h.linked_by, h.linked_via, h.linked_at, h.last_post_at"
    " FROM channels h JOIN chats c ON c.chat_id = h.chat_id"
)


async def _follows(db: Reader, chat_id: int) -> tuple[Follow, ...]:
    rows = await db.fetchall(
        "SELECT visit_id, wants_agreements, wants_agenda FROM subscriptions WHERE chat_id = ?"
        " UNION ALL SELECT NULL, wants_agreements, wants_agenda FROM all_visit_subscriptions"
        " WHERE chat_id = ? ORDER BY 1",
        (chat_id, chat_id),
    )
    return tuple(Follow(r[0], bool(r["wants_agreements"]), bool(r["wants_agenda"])) for r in rows)


async def _channel(db: Database, r: sqlite3.Row) -> Channel:
    chat_id = int(r["chat_id"])
    return Channel(
        chat_id=chat_id,
        title=str(r["title"] or ""),
        username=r["username"],
        added_by=r["added_by"],
        linked_by=r["linked_by"],
        linked_via=r["linked_via"],
        linked_at=r["linked_at"],
        last_post_at=r["last_post_at"],
        active=bool(r["active"]),
        inactive_reason=r["inactive_reason"],
        language=r["language"],
        timezone=r["timezone"],
        follows=await _follows(db, chat_id),
    )


async def channel(db: Database, chat_id: int) -> Channel | None:
    row = await db.fetchone(f"{_SELECT} WHERE h.chat_id = ?", (chat_id,))
    return None if row is None else await _channel(db, row)


async def linked_channels(db: Database) -> list[Channel]:
    """Every linked channel, by title (a bot has few: one query each is fine)."""
    rows = await db.fetchall(
        f"{_SELECT} WHERE h.linked_at IS NOT NULL ORDER BY c.title COLLATE NOCASE, c.chat_id"
    )
    return [await _channel(db, row) for row in rows]
