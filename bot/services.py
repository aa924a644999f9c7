"""Shared services, created in `post_init` and closed in `post_shutdown`.

Handlers reach them with `services(context)`; nothing else is global. The long-lived parts
(feed client, poller, delivery worker, reminders, ops endpoint) are typed fields, filled in by
the start-up hooks of `bot.lifecycle` and empty until then (or when a feature is switched off).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from telegram import Update
from telegram.ext import Application, CallbackContext

from bot.config import Settings
from bot.i18n import DEFAULT_LANGUAGE, reading_language, resolve_language
from bot.inbox import Inbox
from jobs.delivery import DeliveryWorker
from jobs.polling import Poller
from jobs.reminders import Reminders
from storage.admins import admin_user_ids, is_listed_admin
from storage.db import Clock, Database
from storage.subscriptions import current_visit_id
from storage.users import user_language
from storage.visit import Catalog, LoadedVisit, Visit

AnyApp = Application[Any, Any, Any, Any, Any, Any]
__all__ = ["AnyApp", "Clock", "Lifecycle", "RecentUsers", "Services", "services", "services_of"]

USER_REFRESH_SECONDS = 600.0
RECENT_USERS_MAX = 10_000  # past this, the oldest half is forgotten (and simply re-recorded)


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Lifecycle(Protocol):
    """A service the start-up hooks start and the shutdown hooks stop."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class RecentUsers:
    """Users seen lately and their Telegram language, so tracking writes a user's row once per
    refresh period instead of on every update. Bounded: a busy visit sees many users once."""

    def __init__(
        self, limit: int = RECENT_USERS_MAX, refresh_seconds: float = USER_REFRESH_SECONDS
    ) -> None:
        self.limit = limit
        self.refresh_seconds = refresh_seconds
        self._seen: dict[int, tuple[str | None, float]] = {}  # oldest first

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def user_ids(self) -> list[int]:
        """Oldest first."""
        return list(self._seen)

    def needs_recording(self, user_id: int, language_code: str | None) -> bool:
        """True (and the user noted as recorded now) when their row should be written."""
        previous = self._seen.get(user_id)
        now = time.monotonic()
        fresh = previous is not None and now - previous[1] < self.refresh_seconds
        if fresh and previous is not None and previous[0] == language_code:
            return False
        self._seen.pop(user_id, None)  # re-inserted at the end: the dict stays oldest-first
        self._seen[user_id] = (language_code, now)
        if len(self._seen) > self.limit:
            for old in list(self._seen)[: len(self._seen) // 2]:
                del self._seen[old]
        return True


@dataclass
class Services:
    settings: Settings
    db: Database
    visits: Catalog
    clock: Clock = system_clock
    feed_client: httpx.AsyncClient | None = None
    poller: Poller | None = None
    delivery: DeliveryWorker | None = None
    reminders: Reminders | None = None
    ops: Lifecycle | None = None
    inbox: Inbox | None = None
    recent_users: RecentUsers = field(default_factory=RecentUsers)
    _last_admin_notice: float = field(default=0.0, repr=False)

    def now(self) -> dt.datetime:
        return self.clock()

    @property
    def default_visit(self) -> LoadedVisit:
        """What a chat that picked no visit sees: the live one, else the next, else the latest."""
        return self.visits.default(self.now())

    @property
    def visit(self) -> Visit:
        """The default visit's definition (the only one when the bot follows one visit)."""
        return self.default_visit.visit

    @property
    def visit_id(self) -> int:
        return self.default_visit.id

    async def current_visit(self, chat_id: int | None) -> LoadedVisit:
        """The visit a chat reads about: the one it picked, else the default visit."""
        if chat_id is not None:
            picked = self.visits.get(await current_visit_id(self.db, chat_id))
            if picked is not None:
                return picked
        return self.default_visit

    async def is_admin(self, user_id: int | None) -> bool:
        """Owners (ADMIN_IDS) and admins added in the database."""
        if user_id is None:
            return False
        if user_id in self.settings.admin_ids:
            return True
        return await is_listed_admin(self.db, user_id)

    def is_owner(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids

    async def admin_ids(self) -> set[int]:
        return set(self.settings.admin_ids) | await admin_user_ids(self.db)

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

    async def reading(self, update: Update | None, loaded: LoadedVisit) -> str:
        """The language of the visit's own texts for this reader (see `reading_language`)."""
        lang = await self.language(update)
        user = update.effective_user if update else None
        if user is None:
            return reading_language(lang, None, loaded.visit.languages)
        stored = await user_language(self.db, user.id)
        code = user.language_code or stored.language_code
        chosen = resolve_language(stored.chosen, None) == stored.chosen
        return reading_language(lang, code, loaded.visit.languages, chosen=chosen)

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
    """The services of the application handling `context` (a handler's or a job's)."""
    found = context.bot_data.get(SERVICES_KEY)
    if not isinstance(found, Services):
        raise RuntimeError("services are not ready (post_init has not run)")
    return found


def services_of(app: AnyApp) -> Services:
    """The services of a running application (tests, the console, the CLI)."""
    found = app.bot_data.get(SERVICES_KEY)
    if not isinstance(found, Services):
        raise RuntimeError("the application has not been initialised")
    return found
