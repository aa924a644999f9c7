"""Users' languages: the `language_code` Telegram last sent, and an explicit `/language` choice.

Recording every user on every update is the subscriptions feature's job
(`storage.subscriptions.record_user`, called from its tracking handler); this module owns the
*choice*. The choice is kept apart from `language_code` so that "automatic" stays possible: a
user who chose nothing follows their Telegram app, and one who chose can go back to following it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from storage.db import Database, to_db_time


@dataclass(frozen=True)
class UserLanguage:
    """What we know about a user's language: the explicit choice, and Telegram's code."""

    chosen: str | None  # set with /language; None means "follow Telegram"
    language_code: str | None  # last seen from Telegram, e.g. "ko" or "tr-TR"


async def user_language(db: Database, user_id: int) -> UserLanguage:
    """The stored language facts of a user (both None for a user never seen)."""
    row = await db.fetchone(
        "SELECT language, language_code FROM users WHERE user_id = ?", (user_id,)
    )
    if row is None:
        return UserLanguage(None, None)
    return UserLanguage(row["language"] or None, row["language_code"] or None)


async def set_language(
    db: Database,
    user_id: int,
    language: str | None,
    now: dt.datetime,
    *,
    language_code: str | None = None,
) -> None:
    """Store the user's choice (None: back to automatic), creating the user if needed.

    `language_code` is recorded too when given, so a user who chooses before the tracking
    handler ever saw them still resolves "automatic" correctly later.
    """
    stamp = to_db_time(now)
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO users (user_id, language, language_code, first_seen_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
            " language = excluded.language,"
            " language_code = COALESCE(excluded.language_code, users.language_code),"
            " last_seen_at = excluded.last_seen_at",
            (user_id, language, language_code, stamp, stamp),
        )


async def users_with_choice(db: Database, limit: int = 100) -> list[tuple[int, UserLanguage]]:
    """Users who chose a language, most recently seen first, at most `limit` of them.

    Those whose choice differs from their Telegram app get a command menu of their own; the
    limit keeps republishing those menus at start-up quick.
    """
    rows = await db.fetchall(
        "SELECT user_id, language, language_code FROM users WHERE language IS NOT NULL"
        " ORDER BY last_seen_at DESC LIMIT ?",
        (limit,),
    )
    return [
        (int(r["user_id"]), UserLanguage(str(r["language"]), r["language_code"] or None))
        for r in rows
    ]
