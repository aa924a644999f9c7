"""Shared services, created in `post_init` and closed in `post_shutdown`.

Handlers and jobs reach them with `services(context)`; nothing else is global.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import CallbackContext

from bot.config import Settings
from bot.i18n import DEFAULT_LANGUAGE, resolve_language
from storage.db import Database
from storage.users import user_language
from storage.visit import Visit

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Services:
    settings: Settings
    db: Database
    visit: Visit
    visit_id: int
    clock: Clock = system_clock
    # Extra services added by features (feed client, delivery worker, ...), by name.
    extras: dict[str, Any] = field(default_factory=dict)
    _last_admin_notice: float = field(default=0.0, repr=False)

    def now(self) -> dt.datetime:
        return self.clock()

    async def is_admin(self, user_id: int | None) -> bool:
        """Owners (ADMIN_IDS) and admins added in the database."""
        if user_id is None:
            return False
        if user_id in self.settings.admin_ids:
            return True
        row = await self.db.fetchone("SELECT 1 FROM admins WHERE user_id = ?", (user_id,))
        return row is not None

    def is_owner(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids

    async def admin_ids(self) -> set[int]:
        rows = await self.db.fetchall("SELECT user_id FROM admins")
        return set(self.settings.admin_ids) | {int(r["user_id"]) for r in rows}

    async def language(self, update: Update | None) -> str:
        """The reader's language: their `/language` choice, else the update's language_code.

        The update's own code is fresher than the stored one (people switch their Telegram
        app's language), so it wins over `users.language_code` when nothing was chosen.
        """
        user = update.effective_user if update else None
        if user is None:
            return DEFAULT_LANGUAGE
        stored = await user_language(self.db, user.id)
        return resolve_language(stored.chosen, user.language_code or stored.language_code)

    async def language_of(self, user_id: int) -> str:
        """A known user's language for messages they did not prompt (alerts, admin menus).

        Honours the `/language` choice first, then the last language_code Telegram sent; a
        group's alerts use this for whoever set the group's subscription.
        """
        stored = await user_language(self.db, user_id)
        return resolve_language(stored.chosen, stored.language_code)

    def admin_notice_due(self, every: float = 60.0) -> bool:
        """True at most once per `every` seconds: error notices must not flood admins."""
        now = time.monotonic()
        if now - self._last_admin_notice < every:
            return False
        self._last_admin_notice = now
        return True


SERVICES_KEY = "services"


def services(context: CallbackContext[Any, Any, Any, Any]) -> Services:
    found = context.bot_data.get(SERVICES_KEY)
    if not isinstance(found, Services):
        raise RuntimeError("services are not ready (post_init has not run)")
    return found
