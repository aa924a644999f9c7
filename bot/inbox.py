"""Updates survive a crash: stored before Telegram is told they arrived, replayed at start-up.

Why
---
PTB's Updater confirms updates to Telegram (the next getUpdates' ``offset``) as soon as it has
fetched them, before they are handled. An admin command fetched just before the process was
killed was therefore gone: Telegram would not send it again, and nobody answered it.

How
---
* `InboxRequest` wraps the getUpdates request. Every update in a getUpdates answer is written
  to the ``update_inbox`` table (storage/inbox.py) before the answer reaches PTB, so before PTB
  can confirm it. In webhook mode, bot/webhook.py writes each POSTed update before it answers
  200 (Telegram's confirmation there).
* `InboxApplication.process_update` marks an update handled once the Application processed it
  (handler errors included: those are reported by the error handler, not retried). An update
  already handled (Telegram sent it again, or it was replayed and fetched) is skipped: updates
  are deduplicated by ``update_id``.
* `replay_unhandled` (from a start-up hook in bot/lifecycle.py, before polling or the webhook
  starts) puts the unhandled ones
  back into the Application's update queue, oldest first. One that was replayed
  `MAX_REPLAYS` times without being handled is given up (it may be what kills the process).
* Handled rows are kept for `KEEP_HANDLED` (long enough to recognise a repeat) and pruned.

A command interrupted in the middle may thus run twice (at least once, never lost), as for
deliveries.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest

from bot.ptb_private import WrappingRequest
from storage import inbox as inbox_store
from storage.db import Clock, Database

log = logging.getLogger(__name__)

INBOX_KEY = "update_inbox"
MAX_REPLAYS = 3
KEEP_HANDLED = dt.timedelta(hours=1)
PRUNE_JOB_NAME = "update-inbox-prune"
PRUNE_INTERVAL_SECONDS = 600.0


class Inbox:
    """The process's view of the inbox; attached to the database by `start_inbox`."""

    def __init__(self) -> None:
        self._db: Database | None = None
        self._clock: Clock | None = None
        self._in_progress: set[int] = set()

    def attach(self, db: Database, clock: Clock) -> None:
        self._db, self._clock = db, clock

    @property
    def db(self) -> Database | None:
        return self._db

    def detach(self) -> None:
        self._db = self._clock = None

    @property
    def attached(self) -> bool:
        return self._db is not None

    async def store(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """Persist raw updates; a failure propagates, so the caller does not confirm them."""
        if self._db is not None and self._clock is not None and updates:
            await inbox_store.store_updates(self._db, updates, self._clock())

    async def begin(self, update_id: int) -> bool:
        """True: handle this update now. False: it is being handled or was handled already."""
        if update_id in self._in_progress:
            return False
        if self._db is not None and await inbox_store.is_handled(self._db, update_id):
            return False
        self._in_progress.add(update_id)
        return True

    async def discarded(self, update: object) -> None:
        """An update the processor dropped (a flood) or merged: settled, never replayed."""
        if isinstance(update, Update):
            await self.finish(update.update_id, handled=True)

    async def finish(self, update_id: int, *, handled: bool) -> None:
        self._in_progress.discard(update_id)
        if handled and self._db is not None and self._clock is not None:
            await inbox_store.mark_handled(self._db, update_id, self._clock())


def inbox_of(app: Any) -> Inbox | None:
    found = app.bot_data.get(INBOX_KEY)
    return found if isinstance(found, Inbox) else None


class InboxApplication(Application):  # type: ignore[type-arg]
    """PTB's Application, deduplicating updates and marking them handled in the inbox."""

    async def process_update(self, update: object) -> None:
        inbox = inbox_of(self)
        if not isinstance(update, Update) or inbox is None or not inbox.attached:
            await super().process_update(update)
            return
        if not await inbox.begin(update.update_id):
            log.debug("update %d was handled already; skipped", update.update_id)
            return
        handled = False
        try:
            await super().process_update(update)
            handled = True
        finally:
            # Cancelled (shutdown mid-handler): not handled, so the next start replays it.
            await inbox.finish(update.update_id, handled=handled)


class InboxRequest(WrappingRequest):
    """The getUpdates request: stores each answer's updates before PTB sees (and confirms) them."""

    __slots__ = ("_inbox",)

    def __init__(self, inner: BaseRequest, inbox: Inbox) -> None:
        super().__init__(inner)
        self._inbox = inbox

    async def answered(self, url: str, status: int, payload: bytes) -> None:
        if status == 200 and url.rsplit("/", 1)[-1].lower() == "getupdates":
            updates = _result_list(payload)
            if updates:
                # If this fails, PTB sees an error instead of the updates and asks again with
                # the same offset: nothing is confirmed that was not stored.
                await self._inbox.store(updates)


def _result_list(payload: bytes) -> list[Mapping[str, Any]]:
    try:
        data = json.loads(payload)
    except ValueError:
        return []
    result = data.get("result") if isinstance(data, dict) else None
    return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []


async def replay_unhandled(app: Any, inbox: Inbox, now: dt.datetime) -> int:
    """Queue what a crash interrupted, oldest first (handled once the Application starts)."""
    assert inbox.db is not None
    pending, given_up = await inbox_store.take_unhandled(inbox.db, now, max_replays=MAX_REPLAYS)
    for update_id in given_up:
        log.error("update %d was not handled after %d restarts; given up", update_id, MAX_REPLAYS)
    for raw in pending:
        update = Update.de_json(raw, app.bot)
        if update is not None:
            await app.update_queue.put(update)
    if pending:
        log.warning("handling %d update(s) received before the last stop", len(pending))
    return len(pending)


async def prune(inbox: Inbox, now: dt.datetime) -> None:
    """Forget handled updates older than `KEEP_HANDLED` (long enough to recognise a repeat)."""
    if inbox.db is not None:
        await inbox_store.prune_handled(inbox.db, now - KEEP_HANDLED)
